"""Stills with an EXIF orientation tag (a phone or camera held in portrait) are read as viewers show them:
sets, plates and masks alike. Pillow's own ``ImageOps.exif_transpose`` is the reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image, ImageOps

from guangying.base.errors import MediaError
from guangying.cli.main import cli
from guangying.keyer.masks import mask_from_image
from guangying.media import open_reader
from guangying.media.opencv import cv2
from guangying.media.video_reader import stream_colour

# Blocks of 8 px so a JPEG's 8×8 DCT keeps each colour; no two blocks alike, so every turn and mirror
# is told apart.
_BLOCKS = np.array(
    [[(230, 20, 20), (20, 200, 30), (30, 40, 220), (240, 220, 30)],
     [(20, 20, 20), (250, 250, 250), (200, 30, 200), (30, 210, 210)],
     [(130, 70, 20), (90, 160, 90), (60, 60, 150), (180, 120, 140)]], np.uint8)
_STORED = np.repeat(np.repeat(_BLOCKS, 8, axis=0), 8, axis=1)  # 24 × 32, as the sensor read it


def _save_tagged(path, orientation: int, **options) -> None:
    picture = Image.fromarray(_STORED)
    exif = picture.getexif()
    exif[0x0112] = orientation
    picture.save(path, exif=exif, **options)


def _as_viewers_show(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(ImageOps.exif_transpose(picture).convert("RGB"), np.float32) / 255


FORMATS = {"jpg": {"quality": 98}, "png": {}, "webp": {"lossless": True}, "tif": {}}


@pytest.mark.parametrize("ext", list(FORMATS))
@pytest.mark.parametrize("orientation", range(1, 9))
def test_tagged_still_is_read_turned_as_a_viewer_shows_it(tmp_path, ext, orientation):
    # OpenCV's IMREAD_UNCHANGED ignores the tag in JPEG, PNG and WebP, and reads no TIFF tagged 5–8.
    path = tmp_path / f"still.{ext}"
    _save_tagged(path, orientation, **FORMATS[ext])
    with open_reader(path) as reader:
        frame = next(iter(reader))
        size = (reader.info.width, reader.info.height)
    shown = _as_viewers_show(path)
    assert frame.rgb.shape == shown.shape
    assert size == (shown.shape[1], shown.shape[0])
    tolerance = 0.06 if ext == "jpg" else 1e-6  # a JPEG's blocks ring a little at their edges
    assert np.median(np.abs(frame.rgb - shown)) < tolerance / 4
    assert np.abs(frame.rgb - shown).max() < (0.25 if ext == "jpg" else tolerance)


def test_sixteen_bit_tiff_with_alpha_turned_a_quarter_keeps_depth_and_alpha(tmp_path):
    # TIFF 6.0, Orientation 6: "the 0th row represents the visual right-hand side of the image, and
    # the 0th column represents the visual top" — the stored top-left corner is shown top right.
    stored = np.zeros((20, 36, 4), np.uint16)
    stored[..., 3] = 65535
    stored[:4, :6, 0] = 40000  # marker in the stored top-left corner
    stored[:4, :6, 3] = 30000
    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, stored, photometric="rgb", extrasamples=["unassalpha"],
                     extratags=[(0x0112, "H", 1, 6, True)])
    with open_reader(path) as reader:
        frame = next(iter(reader))
        assert reader.info.bit_depth == 16
    assert frame.rgb.shape == (36, 20, 3) and frame.alpha is not None
    marker = np.argwhere(frame.rgb[..., 0] > 0.5)
    assert marker[:, 0].min() == 0 and marker[:, 0].max() == 5  # the top six rows …
    assert marker[:, 1].min() == 16 and marker[:, 1].max() == 19  # … the right four columns
    assert frame.rgb[0, 19, 0] == pytest.approx(40000 / 65535, abs=1e-6)
    assert frame.alpha[0, 19] == pytest.approx(30000 / 65535, abs=1e-6) and frame.alpha[30, 2] == 1.0


@pytest.mark.parametrize("orientation", [0, 9, 300])
def test_out_of_range_orientation_is_read_as_stored(tmp_path, orientation):
    path = tmp_path / "odd.png"
    _save_tagged(path, orientation)
    with open_reader(path) as reader:
        frame = next(iter(reader))
    assert np.abs(frame.rgb - _STORED / np.float32(255)).max() < 1e-6


def test_damaged_tagged_tiff_is_still_reported_as_damaged(tmp_path):
    path = tmp_path / "cut.tif"
    _save_tagged(path, 6)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MediaError, match="damaged"):
        open_reader(path)


def test_mask_image_with_orientation_tag_is_turned_like_the_plate(tmp_path):
    stored = np.zeros((30, 50), np.uint8)
    stored[:10, :10] = 255  # garbage in the stored top-left corner
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 8  # a quarter turn anticlockwise: the stored top-left is shown bottom left
    path = tmp_path / "garbage.png"
    picture.save(path, exif=exif)
    mask = mask_from_image(path, (50, 30))
    assert mask.shape == (50, 30)
    assert mask[45, 5] == 1.0 and mask[5, 5] == 0.0 and mask[45, 25] == 0.0


def test_portrait_phone_photo_as_the_set_stands_upright_in_the_composite(tmp_path):
    # The set: a portrait photo, red above blue, stored sideways with tag 6 as a phone stores it.
    upright = np.zeros((320, 180, 3), np.uint8)
    upright[:160] = (220, 30, 30)
    upright[160:] = (30, 30, 220)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))  # a viewer turns it back clockwise
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "set.jpg", exif=exif, quality=95)
    plate = np.zeros((180, 320, 3), np.uint8)
    plate[:] = (40, 190, 60)  # an empty green screen
    cv2.imwrite(str(tmp_path / "plate.png"), plate[..., ::-1])
    out = tmp_path / "comp.png"
    res = CliRunner().invoke(cli, ["composite", str(tmp_path / "plate.png"),
                                   "--background", str(tmp_path / "set.jpg"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    comp = cv2.imread(str(out))[..., ::-1].astype(int)
    # Filling the landscape frame crops the portrait set's middle: red above the middle, blue below.
    assert comp[5, 160, 0] > 200 and comp[5, 160, 2] < 60
    assert comp[-5, 160, 2] > 200 and comp[-5, 160, 0] < 60


def test_tagged_jpeg_under_a_name_opencv_does_not_take_is_read_upright_through_ffmpeg(tmp_path):
    # `.jfif` goes to ffmpeg, whose JPEG frames carry the EXIF block as side data of a type PyAV 18
    # cannot name: listing the side data raised ValueError and the read crashed.
    path = tmp_path / "phone.jfif"
    _save_tagged(path, 6, quality=98)
    with open_reader(path) as reader:
        frame = next(iter(reader))
    shown = _as_viewers_show(path)
    assert frame.rgb.shape == shown.shape
    assert np.median(np.abs(frame.rgb - shown)) < 0.02


def test_pq_frame_whose_side_data_pyav_cannot_list_falls_back_to_the_default_peak_with_a_warning():
    # No encoder here writes a PQ frame with an EXIF block; this stands in for its frame object.
    class PqFrameWithUnlistableSideData:
        color_trc, color_primaries = 16, 9

        @property
        def side_data(self):
            raise ValueError("31 is not a valid Type")

    with pytest.warns(UserWarning, match="HDR10 metadata"):
        colour = stream_colour(PqFrameWithUnlistableSideData())
    assert colour.peak_cd_m2 is None and colour.transfer == 16


@pytest.mark.parametrize("payload", [b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12",
                                     b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", b"Exif\x00\x00garbage"])
def test_corrupt_exif_block_is_read_as_stored_without_a_warning_per_frame(tmp_path, payload):
    for n in (1, 2, 3):
        Image.fromarray(_STORED).save(tmp_path / f"f.{n:04d}.jpg", exif=payload, quality=98)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reader(tmp_path / "f.%04d.jpg") as reader:
            frames = [f.rgb for f in reader]
    assert len(frames) == 3 and all(f.shape == _STORED.shape for f in frames)
    assert not [w for w in caught if "EXIF" in str(w.message)]  # Pillow's, one line per frame
