"""Made-up green-screen frames that compile the keyer's passes before a take or a batch needs them.

On a cold numba cache (the first run after an install or an update) the keyer's passes compile for
1–3 minutes on a 2-core laptop. A live take warms its engine on these frames before its clock starts;
a batch worker does it as it starts, so the compiling is counted as the workers' start-up and not as
the first shot's render time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.lit_surface import compile_shaded_side
from guangying.pipeline.frame import FrameCompositor


def warm_up_frames(height: int, width: int, screen_srgb: np.ndarray | None = None) -> list[np.ndarray]:
    """Made-up green-screen frames, sRGB float32 (H, W, 3), that take the keyer down every pass a real
    plate does; each is keyed as a clip's first frame. A flat screen with a hard-edged subject left the
    soft-edge passes (edge-band patches, luma refine, colour fit, strand colour) and the lit-surface
    tests to the first real frames: on a cold numba cache the first frame waited a minute after the
    warm-up's half minute. So: a lit screen with grain, a subject with a soft edge and strands of
    another colour over the screen; then the same subject in a dark coat with a fold the screen's
    bounce lights (which takes the keyer down other passes than the light coat). ``screen_srgb``
    (H, W, 3): the take's clean plate, as the frames' screen (against a made-up one the keyer said the
    plate was a third darker than the take's screen, and kept quiet when the take's exposure changed)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    screen = np.array([0.15, 0.6, 0.25], np.float32) * (0.9 + 0.2 * y / max(height, 1))[..., None]
    if screen_srgb is not None:
        screen = np.asarray(screen_srgb, np.float32)
    grain = rng.normal(0.0, 0.01, (height, width, 3)).astype(np.float32)
    # the subject: an ellipse whose edge fades over a few pixels (focus blur, motion)
    r = np.hypot((x - width / 2) / (0.2 * width + 1), (y - height / 2) / (0.3 * height + 1))
    alpha = np.clip((1.0 - r) * min(height, width) / 8.0, 0.0, 1.0)[..., None]
    light = np.broadcast_to(np.array([0.6, 0.45, 0.4], np.float32), screen.shape)
    dark = np.broadcast_to(np.array([0.04, 0.035, 0.03], np.float32), screen.shape).copy()
    fold = (r < 0.4) & (np.abs(x - width / 2) < 0.03 * width + 1)
    # 0.4 of the screen's light added, in linear light: read as partly clear, enclosed by the subject
    dark[fold] = linear_to_srgb(srgb_to_linear(dark[fold]) + 0.4 * srgb_to_linear(screen[fold]))
    strand = np.array([0.85, 0.75, 0.55], np.float32)
    frames = []
    for subject in (light, dark):
        frame = alpha * subject + (1 - alpha) * (screen + grain)
        # pale strands, one pixel wide and partly covering, crossing the screen
        for k in range(1, 6):
            col = min(width - 1, int(width * (0.1 + 0.15 * k)))
            frame[: height // 3, col] = 0.5 * frame[: height // 3, col] + 0.5 * strand
        frames.append(np.clip(frame, 0.0, 1.0).astype(np.float32))
    return frames



def with_every_pass(settings: KeyerSettings) -> KeyerSettings:
    """``settings`` with the matte shrunk, colour fit and strand colour on: the passes the defaults leave
    out (a page's grow control and those switches took the keyer down them, uncompiled)."""
    return dataclasses.replace(settings, grow_px=-3.0, colour_fit=True, strand_colour="on")


def compile_keyer(height: int = 144, width: int = 256) -> None:
    """Compile (or load from numba's cache) the chroma keyer's passes and the composite's: the warm-up
    frames keyed over a grey set with the default settings, then with the matte shrunk, colour fit and
    strand colour on (settings that take the keyer down other passes)."""
    background_srgb = np.full((height, width, 3), 0.3, np.float32)
    for settings in (KeyerSettings(), with_every_pass(KeyerSettings())):
        compositor = FrameCompositor(ChromaKeyer(settings))
        for frame in warm_up_frames(height, width):
            compositor.process(frame, background_srgb)
            compositor.reset()
    compile_shaded_side()
