"""Generated test pictures for the media tests: small (64×48), distinct per frame, smooth enough that
lossy codecs keep them close."""

from __future__ import annotations

import numpy as np

HEIGHT, WIDTH, FRAMES = 48, 64, 10


def picture(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """float32 RGB: horizontal red ramp, vertical green ramp, blue = frame number / FRAMES (0.05–0.95)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    blue = np.full_like(x, 0.05 + 0.9 * index / FRAMES)
    return np.stack([0.1 + 0.8 * x / (width - 1), 0.1 + 0.8 * y / (height - 1), blue], axis=-1)


def matte(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """float32 alpha: 0 on the left, 1 on the right, a soft ramp between."""
    x = np.linspace(-1.0, 2.0, width, dtype=np.float32)
    return np.broadcast_to(np.clip(x, 0.0, 1.0), (height, width)).copy()


def blue_index(rgb: np.ndarray) -> int:
    """Recover the frame number a picture() was made from."""
    return round((float(rgb[..., 2].mean()) - 0.05) / 0.9 * FRAMES)



def write_with_pyav(path, codec: str, pix_fmt: str, frames_rgb48: list[np.ndarray], fps: int = 25,
                    options: dict[str, str] | None = None) -> None:
    """Encode uint16 RGB frames with PyAV directly (an input made without our writer)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames_rgb48[0].shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = options or {}
        for i, rgb in enumerate(frames_rgb48):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le")
            frame = frame.reformat(format=pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
