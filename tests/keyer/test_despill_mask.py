"""A green prop inside a solid subject: despill (any method) greys it as it greys spill, and the
despill mask gives it its own colour back, in the library and from the command line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.cli.main import cli
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W = 120, 200
PROP = (slice(40, 80), slice(60, 100))  # a plant's leaves on a grey coat
EDGE_ROW = 30


def _plate() -> np.ndarray:
    """Built in linear light (not the keyer's own spill model): a grey coat on a saturated screen,
    a foliage green on the coat, and a soft top edge of the coat mixed with the screen."""
    screen = np.array([0.05, 0.45, 0.07], np.float32)
    coat = np.array([0.21, 0.21, 0.21], np.float32)
    foliage = np.array([0.10, 0.26, 0.05], np.float32)
    linear = np.empty((H, W, 3), np.float32)
    linear[:] = screen
    linear[EDGE_ROW + 1 : 110, 30:170] = coat
    linear[EDGE_ROW, 30:170] = 0.5 * coat + 0.5 * screen  # a soft edge outside the prop
    linear[PROP] = foliage
    return linear_to_srgb(linear)


def _prop_error(fg_srgb: np.ndarray, plate_srgb: np.ndarray) -> float:
    inner = (slice(PROP[0].start + 3, PROP[0].stop - 3), slice(PROP[1].start + 3, PROP[1].stop - 3))
    return float(np.abs(srgb_to_linear(fg_srgb[inner]) - srgb_to_linear(plate_srgb[inner])).max())


def test_the_despill_mask_keeps_a_green_props_colour_and_only_there():
    plate = _plate()
    greyed = ChromaKeyer().process(plate)
    assert _prop_error(greyed.foreground_rgb, plate) > 0.1  # the leaves turned grey
    mask = np.zeros((H, W), np.float32)
    mask[35:85, 55:105] = 1.0  # drawn loosely around the prop
    kept = ChromaKeyer(KeyerSettings(despill_mask=mask)).process(plate)
    assert _prop_error(kept.foreground_rgb, plate) < 0.01
    np.testing.assert_array_equal(kept.alpha, greyed.alpha)  # the matte is the keyer's own
    # outside the mask the despill is as before: the soft edge's green is still taken out
    np.testing.assert_array_equal(kept.foreground_rgb[EDGE_ROW], greyed.foreground_rgb[EDGE_ROW])


def test_a_despill_mask_in_0_255_is_refused():
    with pytest.raises(ValueError, match=r"despill_mask has values in \[255, 255\]: .*divide 8-bit masks"):
        KeyerSettings(despill_mask=np.full((H, W), 255, np.uint8))


def test_the_despill_mask_from_the_command_line(tmp_path):
    plate = tmp_path / "plate.png"
    cv2.imwrite(str(plate), np.round(_plate()[..., ::-1] * 65535).astype(np.uint16))
    for name, extra in (("greyed", []), ("kept", ["--despill-mask", "55,35;105,35;105,85;55,85"])):
        res = CliRunner().invoke(cli, ["key", str(plate), "--foreground", str(tmp_path / f"{name}.png"),
                                       "--straight", *extra])  # fmt: skip
        assert res.exit_code == 0, res.output
    read = {n: cv2.imread(str(tmp_path / f"{n}.png"), cv2.IMREAD_UNCHANGED) for n in ("greyed", "kept")}
    fg = {n: read[n][..., 2::-1].astype(np.float32) / 65535 for n in read}
    assert _prop_error(fg["greyed"], _plate()) > 0.1
    assert _prop_error(fg["kept"], _plate()) < 0.01
