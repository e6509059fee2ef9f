"""Pictures with an ICC profile (a phone photo in Display P3) are read in sRGB, converted by littleCMS.

The profile is built here, byte by byte from the ICC specification (v2 matrix/TRC: the Display P3
primaries adapted to D50 by Bradford, the sRGB curve as a parametric curve), not taken from our code;
the expected sRGB values come from the published Display P3 → BT.709 matrix.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.media import open_reader
from guangying.media.opencv import cv2

P3_TO_709 = np.array([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
D65, D50 = (0.3127, 0.3290), (0.3457, 0.3585)


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    return np.array([xy[0] / xy[1], 1.0, (1 - xy[0] - xy[1]) / xy[1]])


def _p3_colorants_d50() -> np.ndarray:
    primaries = np.stack([_xyz(xy) for xy in ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))], axis=1)
    to_xyz = primaries * np.linalg.solve(primaries, _xyz(D65))
    adapt = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ _xyz(D50)) / (BRADFORD @ _xyz(D65))) @ BRADFORD
    return adapt @ to_xyz  # columns: red, green, blue in D50 XYZ


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def display_p3_profile(curve: bytes | None = None) -> bytes:
    """An ICC v2 display profile: desc, wtpt, r/g/bXYZ and one curve for r/g/bTRC (default the
    parametric sRGB curve)."""
    name = b"Display P3 (test)"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name) + 1) + name + b"\0" + bytes(8) + bytes(3 + 67)
    xyz = lambda v: b"XYZ " + bytes(4) + b"".join(_s15(c) for c in v)  # noqa: E731
    curve = curve or b"para" + bytes(4) + struct.pack(">H", 3) + bytes(2) + b"".join(
        _s15(p) for p in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    colorants = _p3_colorants_d50()
    tags = [(b"desc", desc), (b"wtpt", xyz(_xyz(D50) / _xyz(D50)[1])), (b"rXYZ", xyz(colorants[:, 0])),
            (b"gXYZ", xyz(colorants[:, 1])), (b"bXYZ", xyz(colorants[:, 2])), (b"rTRC", curve)]
    table, data, offset = [], b"", 128 + 4 + 12 * (len(tags) + 2)
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table.append((signature, offset + len(data), len(body)))
        data += body
    curve_entry = table[-1]
    table += [(b"gTRC", *curve_entry[1:]), (b"bTRC", *curve_entry[1:])]
    size = offset + len(data)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4)
              + b"".join(_s15(c) for c in (0.9642, 1.0, 0.8249)) + bytes(4 + 16 + 28))
    entries = struct.pack(">I", len(table)) + b"".join(s + struct.pack(">II", o, n) for s, o, n in table)
    return header + entries + data


PATCHES = np.array([[200, 100, 80], [60, 160, 90], [90, 110, 210], [128, 128, 128]], np.uint8)


def _picture() -> np.ndarray:
    return np.repeat(np.repeat(PATCHES[None], 16, axis=0), 16, axis=1)  # 16 × 64, four flat patches


def _expected_srgb() -> np.ndarray:
    linear = srgb_to_linear(PATCHES.astype(np.float32) / 255) @ P3_TO_709.T
    return linear_to_srgb(np.clip(linear, 0, 1))


def test_the_hand_built_profile_is_one_littlecms_reads_as_display_p3():
    profile = ImageCms.ImageCmsProfile(io.BytesIO(display_p3_profile()))
    assert ImageCms.getProfileDescription(profile).strip() == "Display P3 (test)"


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_display_p3_photo_is_read_in_srgb(tmp_path, ext):
    path = tmp_path / f"phone{ext}"
    options = {"quality": 100, "subsampling": 0} if ext == ".jpg" else {}
    Image.fromarray(_picture()).save(path, icc_profile=display_p3_profile(), **options)
    with open_reader(path) as reader:
        frame = next(iter(reader))
    got = frame.rgb[8, 8::16]
    np.testing.assert_allclose(got, _expected_srgb(), atol=2.5 / 255)
    assert np.abs(got - PATCHES / 255).max() > 10 / 255  # the conversion moved the colours


def test_srgb_profile_leaves_the_picture_as_it_is(tmp_path):
    path = tmp_path / "camera.png"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_picture()).save(path, icc_profile=srgb)
    with open_reader(path) as reader:
        np.testing.assert_array_equal(np.round(next(iter(reader)).rgb[8, 8::16] * 255), PATCHES)


def _png_with_iccp(path, rgb16: np.ndarray, profile: bytes) -> None:
    """A 16-bit PNG (OpenCV) with an iCCP chunk put after IHDR (the PNG specification's layout)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    assert ok
    data = buf.tobytes()
    body = b"P3\0\0" + zlib.compress(profile)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    ihdr_end = 8 + 4 + 4 + 13 + 4
    path.write_bytes(data[:ihdr_end] + chunk + data[ihdr_end:])


def test_sixteen_bit_picture_with_a_profile_is_read_in_srgb_at_sixteen_bits(tmp_path):
    """A 16-bit export (Photoshop, Lightroom) in Display P3 was read as sRGB, with a warning: red
    came out 17 codes off. Converted now from the profile's own tags, to the published matrix's
    values, and with its 16 bits: a smooth ramp keeps far more than 256 levels."""
    path = tmp_path / "grade.png"
    picture = _picture().astype(np.uint16) * 257
    ramp = np.linspace(0, 65535, 64 * 4).round().astype(np.uint16).reshape(4, 64)  # a slow red ramp
    picture[:4, :, 0], picture[:4, :, 1], picture[:4, :, 2] = ramp, 20000, 20000
    _png_with_iccp(path, picture, display_p3_profile())
    with open_reader(path) as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[8, 8::16], _expected_srgb(), atol=1.5 / 255)
    assert len(np.unique(frame.rgb[:4, :, 0])) > 200  # 8-bit through littleCMS would give ≤ 64 here


_GAMMA_22 = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256))  # Adobe RGB's kind of curve
_TABLE = b"curv" + bytes(4) + struct.pack(">I", 1024) + struct.pack(
    ">1024H", *np.round(np.linspace(0, 1, 1024) ** 1.8 * 65535).astype(int))  # ProPhoto's gamma, tabled


@pytest.mark.parametrize("curve", [None, _GAMMA_22, _TABLE], ids=["parametric", "gamma", "table"])
def test_sixteen_bit_conversion_agrees_with_littlecms_on_eight_bit_values(curve):
    """The 16-bit path (our reading of the profile's tags) and littleCMS's 8-bit transform, on the same
    colours: within a code value."""
    from guangying.media.icc import bgr_to_srgb

    rng = np.random.default_rng(3)
    rgb8 = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    profile = display_p3_profile(curve)
    by_littlecms = bgr_to_srgb(rgb8[..., ::-1].copy(), profile, "a")[..., ::-1]
    by_tags = bgr_to_srgb(rgb8[..., ::-1].astype(np.uint16) * 257, profile, "b")[..., ::-1]
    assert np.abs(by_tags / 257 - by_littlecms).max() <= 1.0


def test_garbage_profile_is_read_as_srgb_not_a_crash(tmp_path):
    """A profile littleCMS cannot parse (a broken export) leaves the picture as it is."""
    path = tmp_path / "broken.png"
    Image.fromarray(_picture()).save(path, icc_profile=b"not an ICC profile at all" * 8)
    with open_reader(path) as reader:
        np.testing.assert_array_equal(np.round(next(iter(reader)).rgb[8, 8::16] * 255), PATCHES)


def _png_with_chunks(path, codes: np.ndarray, chunks: list[tuple[bytes, bytes]]) -> None:
    """An 8-bit RGB PNG with the given ancillary chunks placed after IHDR, as a renderer writes them."""
    buffer = io.BytesIO()
    Image.fromarray(codes, "RGB").save(buffer, format="PNG")
    data = buffer.getvalue()
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length and type, its 13 bytes, its CRC
    extra = b"".join(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
                     for kind, body in chunks)
    path.write_bytes(data[:ihdr_end] + extra + data[ihdr_end:])


@pytest.mark.parametrize(("chunks", "light"), [
    ([(b"gAMA", struct.pack(">I", 100000))], "linear"),  # gAMA 1.0: a linear render
    ([(b"gAMA", struct.pack(">I", 45455))], "srgb"),  # what writers put for sRGB
    # ffmpeg's frames of BT.709 video, read as that video is (they were read 10 codes brighter)
    ([(b"gAMA", struct.pack(">I", 50994)),
      (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))], "srgb"),
    ([(b"sRGB", b"\x00"), (b"gAMA", struct.pack(">I", 100000))], "srgb"),  # sRGB overrides gAMA
])
def test_a_pngs_gamma_chunk_is_followed_unless_srgb_overrides_it(tmp_path, chunks, light):
    # A PNG of linear light marked gAMA 1.0 was read as sRGB: grey 128 came out 55 (-73/255), where
    # browsers, as PNG says, read it as light.
    codes = np.repeat(np.arange(0, 256, 16, dtype=np.uint8), 3).reshape(1, 16, 3).repeat(4, axis=0)
    _png_with_chunks(tmp_path / "render.png", codes, chunks)
    with open_reader(tmp_path / "render.png") as reader:
        frame = next(iter(reader))
    assert frame.transfer == light
    np.testing.assert_allclose(frame.rgb[2], codes[2] / 255, atol=1e-6)
