"""HEIF stills, as phones (``.heic``) and cameras (``.hif``, 10-bit HLG) write them.

The files are encoded here by libheif's writer (pillow-heif, x265) the way a phone stores a photo: a
grid of 256-pixel tiles, turned by an orientation, tagged by an ICC profile or by nclx codes. The
expected pixels are the arrays encoded (turned by numpy) and, for HLG, the figures of ITU-R BT.2408
(reference white at 75 % signal, an 18 % grey card at 38 %), as in test_colour_tags.py.
"""

from __future__ import annotations

import numpy as np
import pillow_heif
import pytest
from PIL import Image
from skimage import data as skdata
from test_icc_profiles import P3_TO_709, display_p3_profile

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import DamagedMediaError
from guangying.media import display_srgb, open_reader

HLG, BT2020, BT2020_MATRIX = 18, 9, 9
EXIF_ORIENTATION, TURNED_90_CLOCKWISE = 0x0112, 6


def _save(path, rgb: np.ndarray, **options) -> None:
    mode = "RGB;16" if rgb.dtype == np.uint16 else "RGB"
    heif = pillow_heif.from_bytes(mode=mode, size=(rgb.shape[1], rgb.shape[0]), data=rgb.tobytes())
    heif.save(path, **options)


def _read(path):
    with open_reader(path) as reader:
        return next(iter(reader)), reader.info


def _phone_photo() -> np.ndarray:
    """A 512×900 landscape photo, different in every tile (ffmpeg shows only the first tile)."""
    astronaut = skdata.astronaut()
    return np.ascontiguousarray(np.concatenate([astronaut, astronaut[::-1, :388]], axis=1))


def test_a_phone_photo_stored_as_tiles_and_turned_is_read_whole_and_upright(tmp_path):
    photo = _phone_photo()  # 512 × 900
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = TURNED_90_CLOCKWISE  # held in portrait: libheif writes it as an irot box
    heif = pillow_heif.from_bytes(mode="RGB", size=(photo.shape[1], photo.shape[0]), data=photo.tobytes())
    heif.info["exif"] = exif.tobytes()
    heif.save(tmp_path / "IMG_0001.HEIC", quality=95, tile_size=256)
    assert pillow_heif.open_heif(tmp_path / "IMG_0001.HEIC").info["tiling"]["num_columns"] == 2

    frame, info = _read(tmp_path / "IMG_0001.HEIC")
    upright = np.rot90(photo, -1).astype(np.float32) / 255
    assert (info.width, info.height, info.kind) == (512, 900, "image")
    assert frame.transfer == "srgb" and frame.alpha is None
    assert np.abs(frame.rgb - upright).mean() < 0.01  # x265 at quality 95


def test_a_display_p3_iphone_photo_is_read_in_srgb(tmp_path):
    patches = np.array([[200, 100, 80], [60, 160, 90], [90, 110, 210], [128, 128, 128]], np.uint8)
    picture = np.repeat(np.repeat(patches[None], 32, axis=0), 32, axis=1)
    _save(tmp_path / "p3.heic", picture, quality=-1, chroma=444, icc_profile=display_p3_profile())
    frame, _ = _read(tmp_path / "p3.heic")
    expected = linear_to_srgb(np.clip(srgb_to_linear(patches / np.float32(255)) @ P3_TO_709.T, 0, 1))
    np.testing.assert_allclose(frame.rgb[16, 16::32], expected, atol=3 / 255)


def test_a_camera_10_bit_hlg_still_is_scene_linear_with_its_highlights(tmp_path):
    # reference white, an 18 % grey card, and a BT.2020 red at reference level, 10-bit full range, tiled
    signals = np.array([[0.75, 0.75, 0.75], [0.38, 0.38, 0.38], [0.75, 0.0, 0.0], [1.0, 1.0, 1.0]])
    rgb16 = (np.repeat(np.repeat(signals[None], 160, axis=0), 160, axis=1) * 65535 + 0.5).astype(np.uint16)
    _save(tmp_path / "C0001.HIF", rgb16, quality=-1, chroma=444, color_primaries=BT2020, tile_size=256,
          transfer_characteristics=HLG, matrix_coefficients=BT2020_MATRIX, full_range_flag=1)
    with pytest.warns(UserWarning, match=r"C0001\.HIF is tagged HLG, BT\.2020: .* scene-linear BT\.709"):
        frame, info = _read(tmp_path / "C0001.HIF")
    assert frame.transfer == "linear" and info.bit_depth == 10 and info.width == 640
    means = frame.rgb[80, 80::160]
    np.testing.assert_allclose(means[0], 1.0, atol=0.01)
    np.testing.assert_allclose(means[1], 0.18, atol=0.01)
    # BT.2087's BT.2020 → BT.709 matrix, first column: a BT.2020 red lies outside BT.709
    np.testing.assert_allclose(means[2], [1.6605, -0.1246, -0.0182], atol=0.02)
    assert info.highlight_peak == pytest.approx(means[3].mean(), rel=0.02) and info.highlight_peak > 3.5
    assert display_srgb(frame.rgb, frame.transfer, info.highlight_peak)[80, 560].max() <= 1.0


def test_alpha_and_grey_and_12_bit_pictures(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 180, np.linspace(0, 255, 64)[None].astype(np.uint8)
    pillow_heif.from_bytes(mode="RGBA", size=(64, 64), data=rgba.tobytes()).save(
        tmp_path / "a.heic", quality=-1)
    frame, info = _read(tmp_path / "a.heic")
    assert info.has_alpha and frame.alpha is not None
    np.testing.assert_allclose(frame.alpha[5], np.linspace(0, 1, 64), atol=0.02)

    grey = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    pillow_heif.from_bytes(mode="I;16", size=(64, 64), data=grey.tobytes()).save(
        tmp_path / "g.heif", quality=-1, save_to_12bit=True)
    frame, info = _read(tmp_path / "g.heif")
    assert frame.rgb.shape == (64, 64, 3) and info.bit_depth in (10, 12)
    np.testing.assert_allclose(frame.rgb[5, :, 1], np.linspace(0, 1, 64), atol=0.01)
    assert frame.rgb[5, -1, 1] == pytest.approx(1.0, abs=1e-3)  # full scale is white, not 0.999


def test_a_heic_cut_short_is_damaged_not_read_with_green_tiles(tmp_path):
    # libheif decodes the tiles it has and fills the rest flat green, without an error
    photo = _phone_photo()
    for number in range(1, 4):
        _save(tmp_path / f"still.{number:04d}.heic", np.roll(photo, 40 * number, axis=1), quality=90,
              tile_size=256)
    whole = (tmp_path / "still.0002.heic").read_bytes()
    (tmp_path / "still.0002.heic").write_bytes(whole[: len(whole) * 2 // 3])  # an interrupted copy
    with pytest.raises(DamagedMediaError, match=r"still\.0002\.heic; the file is damaged.*cut short"):
        _read(tmp_path / "still.0002.heic")
    with pytest.warns(UserWarning, match=r"still\.0002\.heic"):
        with open_reader(tmp_path / "still.%04d.heic") as reader:
            frames = list(reader)
    assert [(f.index, f.damage) for f in frames] == [(1, None), (2, "held"), (3, None)]
    assert np.array_equal(frames[1].rgb, frames[0].rgb)


def test_pictures_are_read_by_what_they_hold_not_their_name(tmp_path):
    # a HEIC photo handed on as "IMG_0003.JPG" (a phone's share sheet, a converter that only renamed)
    photo = _phone_photo()
    _save(tmp_path / "IMG_0003.JPG", photo, quality=95, tile_size=256)
    frame, info = _read(tmp_path / "IMG_0003.JPG")
    assert (info.width, info.height) == (900, 512)
    assert np.abs(frame.rgb - photo / np.float32(255)).mean() < 0.01
    # and a JPEG named .heic
    Image.fromarray(photo).save(tmp_path / "export.heic", format="JPEG", quality=95)
    frame, info = _read(tmp_path / "export.heic")
    assert (info.width, info.height) == (900, 512)
    assert np.abs(frame.rgb - photo / np.float32(255)).mean() < 0.02
