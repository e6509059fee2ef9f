"""The demo job: the main workflow end to end on built-in footage (generated plates, scikit-image
photos), so ``make demo`` needs nothing downloaded by hand."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
from skimage import data as skdata

from guangying.base.mattes import Matter
from guangying.evaluation.clips import camera_move_clip, green_screen_clip
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.media import open_reader, open_writer
from guangying.media.opencv import cv2
from guangying.pipeline.job import CompositeSettings, JobOutputs, run_job

_WIDTH, _HEIGHT, _FPS = 960, 540, Fraction(25)


def _write_clip(path: Path, frames, fps: Fraction = _FPS) -> None:  # type: ignore[no-untyped-def]
    with open_writer(path, fps=fps, width=_WIDTH, height=_HEIGHT, content="rgb") as writer:
        for rgb in frames:
            writer.write(rgb, transfer="srgb")


def _write_image(path: Path, rgb_srgb: np.ndarray) -> None:
    h, w = rgb_srgb.shape[:2]
    with open_writer(path, fps=_FPS, width=w, height=h, content="rgb") as writer:
        writer.write(rgb_srgb, transfer="srgb")


def _frame_at(path: Path, index: int) -> np.ndarray:
    with open_reader(path, start=index, end=index) as reader:
        frame = next(iter(reader))
    return frame.rgb if frame.alpha is None else np.repeat(frame.alpha[..., None], 3, axis=2)


def _contact_sheet(path: Path, panels: list[tuple[str, np.ndarray]]) -> None:
    """Side-by-side panels with captions, written as one PNG."""
    tiles = []
    for caption, rgb in panels:
        tile = np.ascontiguousarray(rgb[..., :3], np.float32).copy()
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 34), (0.0, 0.0, 0.0), -1)
        cv2.putText(tile, caption, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (1.0, 1.0, 1.0), 2, cv2.LINE_AA)
        tiles.append(tile)
    _write_image(path, np.concatenate(tiles, axis=1))


def _composite_with_contact(
    out: Path, tag: str, plate: Path, matter: Matter, set_image: Path, wrap_px: float, mid: int
) -> list[Path]:
    """Composite ``plate`` over ``set_image`` and write a plate / matte / composite contact sheet."""
    comp, matte, contact = out / f"composite_{tag}.mp4", out / f"matte_{tag}.mp4", out / f"contact_{tag}.png"
    run_job(
        plate,
        matter,
        JobOutputs(composite=comp, alpha=matte),
        background=set_image,
        settings=CompositeSettings(light_wrap_width_px=wrap_px),
    )
    panels = [("plate", plate), (f"matte ({tag})", matte), ("composite", comp)]
    _contact_sheet(contact, [(caption, _frame_at(path, mid)) for caption, path in panels])
    return [plate, comp, matte, contact]


def _tracked_shot(out: Path, plate: Path, frames: int) -> list[Path]:
    """A generated camera move (pan, tilt, zoom, dolly) over a 360° set built from scikit-image photos,
    composited behind the keyed plate; contact sheet of the first, middle and last frames."""
    from guangying.evaluation.sets import camera_move_rows, gallery_panorama_srgb
    from guangying.pipeline.virtual_set import SetBackground, SetSettings
    from guangying.tracking.camera_track import write_camera_track

    pano, track = out / "virtual_set_360.png", out / "camera_move.csv"
    _write_image(pano, gallery_panorama_srgb(4096))
    write_camera_track(track, camera_move_rows(frames, _FPS))
    comp, contact = out / "composite_tracked_360.mp4", out / "contact_tracked_360.png"
    set_bg = SetBackground(SetSettings(str(pano), str(track), sensor="s35", shadow=0.5))
    run_job(plate, ChromaKeyer(KeyerSettings()), JobOutputs(composite=comp), background=set_bg,
            settings=CompositeSettings(light_wrap_width_px=6.0), layer_hook=set_bg.layer_hook())  # fmt: skip
    picks = [(f"frame {i}", i) for i in (0, frames // 2, frames - 1)]
    _contact_sheet(contact, [(caption, _frame_at(comp, i)) for caption, i in picks])
    return [pano, track, comp, contact]


def run_demo(
    out: Path, frames: int = 48, with_ai: bool = True, log: Callable[[str], None] = print
) -> list[Path]:
    """The main job end to end on built-in footage, written into folder ``out``: a generated
    green-screen plate keyed over a scikit-image set, and (``with_ai``, needs the models) a real
    person photo under a camera move matted without a screen; each with a plate / matte / composite
    contact sheet; and the keyed plate under a tracked camera move over a 360° set. ``log`` gets
    progress lines. Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    mid = frames // 2

    # 1. Green screen: a furry subject with motion blur and spill on an unevenly lit screen.
    plate = out / "green_screen_plate.mp4"
    truth = []

    def plate_frames():  # type: ignore[no-untyped-def]
        for f in green_screen_clip(_WIDTH, _HEIGHT, frames, seed=7):
            truth.append(f.alpha_true)
            yield f.rgb_srgb

    _write_clip(plate, plate_frames())
    set_image = out / "virtual_set_launchpad.png"
    _write_image(set_image, skdata.rocket().astype(np.float32) / 255.0)
    log("keying the green-screen plate ...")
    keyed = _composite_with_contact(out, "chroma", plate, ChromaKeyer(KeyerSettings()), set_image, 6.0, mid)
    written = [set_image, *keyed]  # the set: an input of the commands printed at the end
    alpha_mid = _frame_at(out / "matte_chroma.mp4", mid)[..., 0]
    mad = float(np.abs(alpha_mid - truth[mid]).mean() * 1e3)
    log(f"  matte against the exact one, frame {mid}: off by {mad / 10:.2f} % on average (mean absolute "
        "difference, after H.264 both ways)")
    log("tracked shot: a camera move over a 360° set ...")
    written += _tracked_shot(out, plate, frames)

    # 2. No green screen: neural matting of a real person photo under a synthetic camera move.
    if with_ai:
        from guangying.matting import RvmMatter

        person = out / "astronaut_camera_move.mp4"
        _write_clip(person, camera_move_clip(skdata.astronaut(), _WIDTH, _HEIGHT, frames))
        space = out / "virtual_set_space.png"
        _write_image(space, skdata.hubble_deep_field().astype(np.float32) / 255.0)
        log("neural matting (no screen) ...")
        written.append(space)
        written += _composite_with_contact(out, "ai", person, RvmMatter(), space, 4.0, mid)
    return written
