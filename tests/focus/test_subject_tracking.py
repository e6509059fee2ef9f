import numpy as np
import pytest

from guangying.focus.tracking import Detection, SubjectSelector, SubjectTracker, iou_matrix


def _box(cx, cy, w=60, h=80):
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def test_iou_matrix():
    m = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    assert m[0] == pytest.approx([1.0, 1 / 3, 0.0])


def test_ids_stay_stable_through_crossing_and_occlusion():
    tr = SubjectTracker(max_missed=10)
    ids_a, ids_b = [], []
    for f in range(40):
        a = Detection(_box(100 + 8 * f, 200), distance_m=3.0)
        b = Detection(_box(420 - 8 * f, 210), distance_m=2.0)
        dets = [b, a] if f % 2 else [a, b]  # detector order must not matter
        if 18 <= f <= 22:
            dets = [a]  # B hidden behind A for 5 frames
        tracks = tr.update(dets)
        by_pos = {round(t.centre[0]): t.track_id for t in tracks if t.missed == 0}
        ids_a.append(by_pos.get(round(100 + 8 * f)))
        if not 18 <= f <= 22:
            ids_b.append(by_pos.get(round(420 - 8 * f)))
    assert len(set(ids_a)) == 1
    assert len(set(ids_b)) == 1 and ids_b[0] != ids_a[0]


def test_lost_track_is_dropped_after_hold():
    tr = SubjectTracker(max_missed=3)
    tr.update([Detection(_box(100, 100))])
    for _ in range(3):
        assert len(tr.update([])) == 1
    assert tr.update([]) == []


def test_selector_rules_and_lock():
    tr = SubjectTracker()
    dets = [
        Detection(_box(100, 100, 40, 40), distance_m=4.0),
        Detection(_box(320, 240, 80, 100), distance_m=2.5),
        Detection(_box(600, 300, 60, 60), distance_m=1.5),
    ]
    tracks = tr.update(dets)
    ids = [t.track_id for t in tracks]
    assert SubjectSelector("largest").select(tracks).track_id == ids[1]
    assert SubjectSelector("centre", frame_size=(640, 480)).select(tracks).track_id == ids[1]
    assert SubjectSelector("nearest").select(tracks).track_id == ids[2]
    assert SubjectSelector("id", target_id=ids[0]).select(tracks).track_id == ids[0]
    assert SubjectSelector("point", point=(110, 95)).select(tracks).track_id == ids[0]
    assert SubjectSelector("box", box=(580, 280, 640, 330)).select(tracks).track_id == ids[2]

    sel = SubjectSelector("largest")
    assert sel.select(tracks).track_id == ids[1]
    # the locked subject leaves; a bigger person appears: focus must not jump on its own
    tr2_tracks = tr.update([dets[0], Detection(_box(500, 200, 200, 300))])
    for _ in range(20):
        tr2_tracks = tr.update([dets[0], Detection(_box(500, 200, 200, 300))])
    assert sel.select(tr2_tracks) is None
    sel.reselect("largest")
    assert sel.select(tr2_tracks).area == pytest.approx(200 * 300)
