"""Hybrid matte logic on a generated green-screen plate with a practical set piece."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from guangying.base.mattes import MatteResult
from guangying.matting.hybrid import HybridMatter, combine_hybrid, despill_limit, estimate_screen_area

GREEN = np.array([0.15, 0.7, 0.2], np.float32)
H, W = 180, 320


def _plate():
    """Studio wall, a green screen (x 60–260, y 0–150), floor, a brown set piece outside the screen,
    a red lamp in front of the screen, and an actor (ellipse) whose shirt has a green patch."""
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:] = (0.45, 0.45, 0.45)
    screen = (xx >= 60) & (xx < 260) & (yy < 150)
    rgb[screen] = GREEN
    rgb[yy >= 150] = (0.35, 0.3, 0.25)
    set_piece = (xx >= 270) & (xx < 310) & (yy >= 100) & (yy < 170)
    rgb[set_piece] = (0.5, 0.3, 0.15)
    lamp = (xx >= 80) & (xx < 95) & (yy >= 60) & (yy < 120)
    rgb[lamp] = (0.8, 0.1, 0.1)
    actor = ((xx - 160) / 35.0) ** 2 + ((yy - 120) / 80.0) ** 2 < 1.0
    rgb[actor] = (0.8, 0.6, 0.5)
    shirt = actor & (yy >= 110) & (yy < 130) & (np.abs(xx - 160) < 12)
    rgb[shirt] = (0.2, 0.65, 0.25)
    masks = {"screen": screen & ~actor & ~lamp, "set": set_piece, "lamp": lamp, "actor": actor,
             "shirt": shirt}
    return rgb, masks


def _key(rgb: np.ndarray) -> MatteResult:
    """A plain colour-distance key of the plate: transparent wherever the colour is screen-like."""
    d = np.linalg.norm(rgb - GREEN, axis=2)
    alpha = np.clip((d - 0.1) / 0.1, 0, 1).astype(np.float32)
    return MatteResult(alpha=alpha, foreground_rgb=despill_limit(rgb, 1))


def _person(masks) -> MatteResult:
    alpha = cv2.GaussianBlur(masks["actor"].astype(np.float32), (0, 0), 1.0)
    return MatteResult(alpha=alpha, foreground_rgb=np.zeros((H, W, 3), np.float32) + 0.5)


def test_screen_area_covers_screen_and_actor_in_front_but_not_the_set():
    rgb, masks = _plate()
    area = estimate_screen_area(_key(rgb).alpha)
    assert area.shape == (H, W) and area.dtype == np.float32
    inner = cv2.erode(masks["screen"].astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    assert area[inner].mean() > 0.95  # feathered over its edge's last 12 px
    assert area[masks["actor"] & (np.mgrid[0:H, 0:W][0] < 140)].mean() > 0.95
    assert area[masks["set"]].mean() < 0.05
    # nothing beside the screen: grown past it, the key made a band of the set there opaque; its feather's
    # tail left a faint line there (0.04 here, up to 0.06 on a stage)
    assert area[:, :60].max() == 0 and area[:150, 260:].max() == 0


def test_hybrid_keeps_actor_and_lamp_drops_screen_and_set():
    rgb, masks = _plate()
    out = combine_hybrid(rgb, _key(rgb), _person(masks))
    assert out.alpha.shape == (H, W) and out.foreground_rgb.shape == (H, W, 3)
    assert out.alpha.min() >= 0 and out.alpha.max() <= 1
    assert out.alpha[masks["screen"]].mean() < 0.02
    assert out.alpha[masks["set"]].max() < 0.05  # outside the screen: the person matte decides
    assert out.alpha[:, :30].max() < 0.05
    assert out.alpha[masks["lamp"]].mean() > 0.95  # inside the screen: the key decides
    core = cv2.erode(masks["actor"].astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert out.alpha[core].min() > 0.97


def test_green_never_leaks_through_the_person_matte():
    rgb, masks = _plate()
    key = _key(rgb)
    assert key.alpha[masks["shirt"]].max() < 0.05  # the key alone would punch a hole here
    out = combine_hybrid(rgb, key, _person(masks))
    assert out.alpha[masks["shirt"]].min() > 0.97
    fg = out.foreground_rgb[masks["shirt"]]
    assert np.all(fg[:, 1] <= np.maximum(fg[:, 0], fg[:, 2]) + 1e-5)  # despilled, not green


class _Fixed:
    """A matter that always returns the same matte (stands in for a trained network's output)."""

    def __init__(self, result: MatteResult) -> None:
        self.result = result
        self.resets = 0

    def process(self, rgb, background_rgb=None):
        return self.result

    def reset(self):
        self.resets += 1


def test_hybrid_matter_runs_both_and_resets_both():
    rgb, masks = _plate()
    key, person = _Fixed(_key(rgb)), _Fixed(_person(masks))
    hybrid = HybridMatter(key, person)
    out = hybrid.process(rgb)
    ref = combine_hybrid(rgb, key.result, person.result)
    assert np.array_equal(out.alpha, ref.alpha)
    hybrid.reset()
    assert key.resets == 1 and person.resets == 1


@pytest.mark.models
def test_hybrid_with_real_keyer_and_rvm_on_a_person_in_front_of_a_partial_screen():
    """The astronaut (matted once by RVM) stands in front of a green screen that covers only the
    left 70 % of the frame; right of it a grey studio wall with a brown set piece."""
    from skimage import data

    from guangying.keyer import ChromaKeyer, KeyerSettings
    from guangying.matting import RvmMatter

    person = cv2.resize((data.astronaut() / 255.0).astype(np.float32), (360, 360))
    cut = RvmMatter().process(person)
    h, w = 360, 640
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = (0.5, 0.5, 0.48)  # studio wall
    plate[:, :450] = GREEN  # the screen
    plate[200:330, 520:600] = (0.45, 0.28, 0.12)  # set piece, off the screen
    frame = plate.copy()
    x0 = 80
    a = cut.alpha[..., None]
    frame[:, x0 : x0 + 360] = cut.foreground_rgb * a + plate[:, x0 : x0 + 360] * (1 - a)

    hybrid = HybridMatter(ChromaKeyer(KeyerSettings()), RvmMatter())
    out = hybrid.process(frame)
    person_alpha = np.zeros((h, w), np.float32)
    person_alpha[:, x0 : x0 + 360] = cut.alpha
    assert np.mean(out.alpha[person_alpha > 0.95] > 0.9) > 0.97
    assert np.mean(out.alpha[(person_alpha < 0.05) & (np.arange(w) < 450)[None]] < 0.1) > 0.97
    assert out.alpha[200:330, 520:600].max() < 0.2  # set piece dropped by the person matte
    assert out.alpha[:, 610:].max() < 0.2  # studio wall dropped
    solid = out.alpha > 0.9
    fg = out.foreground_rgb[solid]
    assert np.mean(fg[:, 1] > np.maximum(fg[:, 0], fg[:, 2]) + 0.05) < 0.01  # no green on the actor


def test_hybrid_without_a_screen_in_shot_says_the_person_matte_decides():
    """A hybrid shot whose first frames show no screen (the camera pointed at the practical set): the
    keyer's warning said frames pass through opaque, while the person matte decided them."""
    from guangying.keyer import ChromaKeyer, KeyerSettings

    rgb = np.zeros((H, W, 3), np.float32) + (0.5, 0.35, 0.3)  # no screen anywhere
    _, masks = _plate()
    person = _Fixed(_person(masks))
    with pytest.warns(UserWarning, match="the person matte alone decides until a screen appears") as said:
        out = HybridMatter(ChromaKeyer(KeyerSettings()), person).process(rgb)
    assert not [w for w in said if "opaque" in str(w.message)]
    assert np.allclose(out.alpha, person.result.alpha, atol=1e-5)


def test_a_set_piece_in_a_corner_of_the_screen_is_one_thing_not_cut_by_the_screens_outline():
    # A screen filling the frame but for a table in its lower-left corner: the screen's convex hull
    # cut the table along a diagonal, the key keeping the wedge inside it solid and the person matte
    # dropping the rest (11–12 thousand of its 60 thousand pixels opaque in every frame).
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:] = GREEN
    table = (xx < 100) & (yy >= 110)
    texture = 0.1 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    rgb[table] = np.stack([0.5 + texture, 0.32 + texture, 0.15 + texture / 2], axis=-1)[table]
    actor = ((xx - 200) / 30.0) ** 2 + ((yy - 100) / 70.0) ** 2 < 1.0
    rgb[actor] = (0.8, 0.6, 0.5)
    person = _person({"actor": actor})
    out = combine_hybrid(rgb, _key(rgb), person)
    inner_table = cv2.erode(table.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert out.alpha[inner_table].max() < 0.05  # the person matte's: not a person, so not kept
    inner_actor = cv2.erode(actor.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert out.alpha[inner_actor].min() > 0.95
    assert out.alpha[(yy < 100) & (xx < 150)].max() < 0.05  # the screen


def test_a_prop_inside_the_screen_joined_to_its_corner_by_a_dark_smudge_stays_the_key_s():
    """A box standing well inside an unevenly lit screen, joined to the frame's corner by the dark
    corner the key calls solid: taken out of the key's area whole as if it were a set piece beside the
    screen, so the hybrid gave the solid box α 0 (the person matte's: not a person)."""
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    key_alpha = np.zeros((h, w), np.float32)
    box = (yy >= 230) & (yy < 330) & (xx >= 60) & (xx < 160)
    smudge = (xx < 70) & (yy > 290)  # the dark corner, keyed solid, touching the box
    key_alpha[box | smudge] = 1.0
    area = estimate_screen_area(key_alpha, person_alpha=np.zeros((h, w), np.float32))
    assert area[260:300, 90:130].min() > 0.95  # the box: in the key's area


def test_a_piece_mostly_beside_the_screen_is_still_taken_out_whole():
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    key_alpha = np.zeros((h, w), np.float32)
    key_alpha[(xx < 200) & (yy >= 220)] = 1.0  # a table in the screen's corner
    area = estimate_screen_area(key_alpha, person_alpha=np.zeros((h, w), np.float32))
    assert area[(xx < 200) & (yy >= 220)].max() < 0.05
