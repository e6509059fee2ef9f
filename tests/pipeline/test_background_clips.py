"""A background clip at another frame rate than the footage plays at its own speed (taken by time), as an
editor's timeline plays it: stock footage at 50 fps behind a 25 fps shoot used to run twice as fast.

Each background frame is a flat grey that counts its frame number, so the composite says which
background frame it took; the footage is all screen, so the composite is the background."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import guangying as gy
from guangying.media import open_reader, open_writer
from guangying.pipeline.background import Background
from guangying.pipeline.job import JobOutputs, run_job
from guangying.pipeline.matters import make_matter

LEVELS = 4  # code values per background frame


def _clip(path, fps: int, frames: int, colour=None) -> None:
    with open_writer(path, fps=fps, content="rgb") as writer:
        for k in range(frames):
            rgb = np.empty((32, 48, 3), np.float32)
            rgb[:] = colour if colour is not None else (LEVELS * (k + 4)) / 255
            writer.write(rgb, transfer="srgb")


def _background_frames_taken(tmp_path, background_fps: int, background_frames: int = 40,
                             start: int | None = None) -> list[int]:
    _clip(tmp_path / "screen.mkv", 25, 10, colour=(0.1, 0.7, 0.2))  # FFV1: lossless, so levels stay exact
    _clip(tmp_path / f"stock{background_fps}.mkv", background_fps, background_frames)
    out = tmp_path / f"comp{background_fps}.%04d.png"
    run_job(tmp_path / "screen.mkv", make_matter("chroma"), JobOutputs(composite=out),
            background=str(tmp_path / f"stock{background_fps}.mkv"), show_progress=False, start=start)
    with open_reader(out) as reader:
        return [round(float(f.rgb.mean()) * 255 / LEVELS) - 4 for f in reader]


def test_a_faster_background_clip_is_taken_by_time(tmp_path):
    with pytest.warns(UserWarning, match=r"runs at 50 fps and the footage at 25 fps: .* \(dropping frames\)"):
        taken = _background_frames_taken(tmp_path, 50)
    assert taken == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]


def test_a_slower_background_clip_repeats_and_the_same_rate_goes_frame_for_frame(tmp_path):
    with pytest.warns(UserWarning, match="repeating frames"):
        assert _background_frames_taken(tmp_path, 10) == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert _background_frames_taken(tmp_path, 25) == list(range(10))


def test_a_background_clip_shorter_than_the_footage_is_said_where_it_is_held(tmp_path):
    # Its last frame was held for the rest of the shot, a freeze nobody was told of.
    with pytest.warns(UserWarning, match=r"background clip .*stock25\.mkv ends after 6 frames, before the "
                                         r"footage does: its last frame is held"):
        assert _background_frames_taken(tmp_path, 25, background_frames=6) == [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one just long enough is not questioned
        assert _background_frames_taken(tmp_path, 25, background_frames=10) == list(range(10))


def test_a_range_of_the_footage_takes_the_background_frames_of_that_range(tmp_path):
    # `composite --start 6` gave the background clip's frames 0, 1, 2 … behind footage frames 6, 7, 8
    # (its focus and camera tracks followed the footage's numbering): a re-render of part of a shot
    # did not match the whole render.
    assert _background_frames_taken(tmp_path, 25, start=6) == [6, 7, 8, 9]
    with pytest.warns(UserWarning, match="dropping frames"):
        assert _background_frames_taken(tmp_path, 50, start=6) == [12, 14, 16, 18]


def test_a_360_set_clip_plays_at_its_own_speed_too(tmp_path):
    from guangying.base.colour import linear_to_srgb
    from guangying.sets.panorama import PanoramaSet

    with open_writer(tmp_path / "sky50.mkv", fps=50, content="rgb") as writer:
        for k in range(20):
            writer.write(np.full((32, 64, 3), (LEVELS * (k + 4)) / 255, np.float32), transfer="srgb")
    with pytest.warns(UserWarning, match=r"panorama clip .*sky50\.mkv runs at 50 fps and the footage at 25"):
        pano = PanoramaSet(tmp_path / "sky50.mkv", footage_fps=25)
    taken = [round(float(linear_to_srgb(pano.pyramid(k).flat[0, 0])) * 255 / LEVELS) - 4 for k in range(5)]
    pano.close()
    assert taken == [0, 2, 4, 6, 8]


def test_a_background_with_transparent_areas_is_said(tmp_path):
    # a set exported with alpha (a title card, a cut-out) showed black where it is clear, without a word
    import cv2

    rgba = np.zeros((32, 48, 4), np.uint8)
    rgba[..., :3], rgba[:16, :, 3] = 200, 255  # the lower half clear
    cv2.imwrite(str(tmp_path / "card.png"), rgba)
    _clip(tmp_path / "screen.mkv", 25, 3, colour=(0.1, 0.7, 0.2))
    with pytest.warns(UserWarning, match=r"card.png is transparent in 50% of its picture: the set shows"):
        run_job(tmp_path / "screen.mkv", make_matter("chroma"), JobOutputs(composite=tmp_path / "c.%04d.png"),
                background=str(tmp_path / "card.png"), show_progress=False)


def test_a_background_of_another_shape_is_said_when_most_of_it_is_cropped(tmp_path):
    # A portrait set behind a landscape plate filled the frame by losing 72 % of its height, unsaid; a
    # set of the plate's shape at another size, or a little wider, is framed without a word.
    import cv2

    from guangying.pipeline.background import Background

    cv2.imwrite(str(tmp_path / "portrait.png"), np.full((400, 200, 3), 90, np.uint8))
    cv2.imwrite(str(tmp_path / "wide.png"), np.full((180, 400, 3), 90, np.uint8))
    with pytest.warns(UserWarning, match=r"portrait.png is 0.50:1, the frame 1.78:1: filling the frame "
                                         r"keeps 28% of its height"):
        Background(tmp_path / "portrait.png", 320, 180)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Background(tmp_path / "wide.png", 320, 180)
    with pytest.raises(gy.MediaError, match="the background is empty: give a picture, a clip or a colour"):
        Background("", 320, 180)  # it was refused as ". is a folder"


def test_a_foreground_written_where_alpha_cannot_go_is_said(tmp_path):
    # --foreground fg.mp4 wrote the subject over black without its matte, unsaid
    _clip(tmp_path / "screen.mkv", 25, 2, colour=(0.1, 0.7, 0.2))
    with pytest.warns(UserWarning, match=r"fg.mp4: .mp4 holds no alpha, so the foreground is written over "
                                         r"black without its matte; write .mov"):
        run_job(tmp_path / "screen.mkv", make_matter("chroma"), JobOutputs(foreground=tmp_path / "fg.mp4"),
                show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_job(tmp_path / "screen.mkv", make_matter("chroma"), JobOutputs(foreground=tmp_path / "fg.mov"),
                show_progress=False)


def test_a_background_file_not_there_is_a_file_not_found_error(tmp_path):
    # docs/python.md: a file that is not there is also a FileNotFoundError; a missing set picture was not
    with pytest.raises(FileNotFoundError, match="neither a file nor a colour"):
        Background(str(tmp_path / "set_not_copied_yet.png"), 64, 48)
