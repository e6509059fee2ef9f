"""Radiance HDR, PFM and float TIFF pictures (an HDRI panorama of a set, a renderer's float output, a
32-bit Photoshop or Krita file) hold linear light: read as such, light above 1 kept and the right way up.

The files are written here byte by byte from their formats' definitions (Radiance's flat RGBE
scanlines with the standard ``-Y H +X W`` top-down header; PFM's little-endian floats, bottom row
first), not by the OpenCV that reads them.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from guangying.media import display_srgb, open_reader

# A sun well above 1, a grey card, and a top half brighter than the bottom: order and orientation
LIGHT = np.zeros((8, 12, 3), np.float32)
LIGHT[:, :4] = (24.0, 20.0, 12.0)
LIGHT[:, 4:8] = 0.18
LIGHT[:4, 8:], LIGHT[4:, 8:] = (0.5, 0.25, 0.125), (0.0625, 0.125, 0.25)  # powers of two: exact in RGBE


def _rgbe(rgb: np.ndarray) -> bytes:
    top = rgb.max(axis=-1)
    exponent = np.where(top > 0, np.floor(np.log2(np.maximum(top, 1e-38))) + 1, -128).astype(np.int32)
    mantissa = np.where(top[..., None] > 0, np.floor(rgb / np.exp2(exponent)[..., None] * 256), 0)
    return np.dstack([mantissa, exponent + 128]).clip(0, 255).astype(np.uint8).tobytes()


def test_a_radiance_hdr_panorama_is_linear_light_above_one(tmp_path):
    height, width = LIGHT.shape[:2]
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()
    (tmp_path / "studio.hdr").write_bytes(header + _rgbe(LIGHT))
    with open_reader(tmp_path / "studio.hdr") as reader:
        frame = next(iter(reader))
    assert frame.transfer == "linear"
    np.testing.assert_allclose(frame.rgb, LIGHT, rtol=1 / 128)


def test_a_pfm_is_linear_and_the_right_way_up(tmp_path):
    height, width = LIGHT.shape[:2]
    body = np.ascontiguousarray(LIGHT[::-1]).astype("<f4").tobytes()  # bottom row first
    (tmp_path / "render.0001.pfm").write_bytes(f"PF\n{width} {height}\n-1.0\n".encode() + body)
    (tmp_path / "render.0002.pfm").write_bytes(f"PF\n{width} {height}\n-1.0\n".encode() + body)
    with open_reader(tmp_path / "render.%04d.pfm") as reader:
        frames = list(reader)
    assert len(frames) == 2 and frames[0].transfer == "linear"
    np.testing.assert_allclose(frames[1].rgb, LIGHT, rtol=1e-6)
    assert frames[0].rgb[0, 0, 0] == pytest.approx(24.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_float_tiff_is_linear_light(tmp_path, dtype):
    # Read as sRGB code values, the sun reached the keyer at 24 and the grey card as 3 % light.
    tifffile.imwrite(tmp_path / "plate.tif", LIGHT.astype(dtype), photometric="rgb")
    with open_reader(tmp_path / "plate.tif") as reader:
        frame = next(iter(reader))
    assert frame.transfer == "linear"
    np.testing.assert_allclose(frame.rgb, LIGHT, rtol=1e-3)
    keyed = display_srgb(frame.rgb, frame.transfer)  # what the keyer sees: within 0–1, grey as grey
    assert keyed.max() <= 1.0 and keyed[0, 5, 1] == pytest.approx(0.4614, abs=2e-3)
