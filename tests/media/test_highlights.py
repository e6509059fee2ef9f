"""Light above reference white into the pipeline's SDR picture: the BT.2390 EETF, hue kept, and plates
whose highlights pass 1 keyed solid.

The EETF's anchors are checked against published PQ figures (SMPTE ST 2084 / ITU-R BT.2408: 203 cd/m²
at signal 0.58, 1000 cd/m² at 0.7518) and the shape ITU-R BT.2390 prescribes (identity below the knee
KS = 1.5·maxLum − 0.5, continuous slope there, flat at the peak), not against our own output.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.colour import linear_to_srgb
from guangying.cli.main import cli
from guangying.media import display_srgb, open_reader, open_writer
from guangying.media.colour_tags import linear_to_pq, pq_to_linear
from guangying.media.highlights import bt2390_eetf, knee, roll_off_highlights

PQ_1000 = 1000 / 203  # a 1000 cd/m² grade's peak, relative to reference white


def test_knee_is_where_bt2390_puts_it():
    max_lum = 0.58 / 0.7518  # reference white's share of the 1000 cd/m² peak, in PQ signal
    expected_signal = (1.5 * max_lum - 0.5) * 0.7518
    assert float(linear_to_pq(np.float32(knee(PQ_1000)))) == pytest.approx(expected_signal, abs=0.003)


@pytest.mark.parametrize("peak", [PQ_1000, 3.78, 49.0])
def test_eetf_is_identity_below_the_knee_and_ends_flat_at_the_peak(peak):
    below = np.linspace(0.0, knee(peak) * 0.999, 200, dtype=np.float32)
    np.testing.assert_array_equal(bt2390_eetf(below, peak), below)
    light = np.linspace(0.0, peak * 1.5, 4000, dtype=np.float32)
    out = bt2390_eetf(light, peak)
    assert np.all(np.diff(out) >= -5e-5) and out.max() <= 1.0  # float32 PQ round trips: ±2e-5
    assert out[-1] == pytest.approx(1.0, abs=1e-4)  # past the peak: SDR white
    # in PQ signal: slope 1 on both sides of the knee, 0 at the peak
    e = np.float32(1e-3)
    ks = float(linear_to_pq(np.float32(knee(peak))))
    pq_in = np.array([ks - e, ks, ks + e, float(linear_to_pq(np.float32(peak))) - e,
                      float(linear_to_pq(np.float32(peak)))], np.float32)
    pq_out = linear_to_pq(bt2390_eetf(pq_to_linear(pq_in), peak))
    slopes = np.diff(pq_out) / np.diff(pq_in)
    assert slopes[0] == pytest.approx(1.0, abs=0.05) and slopes[1] == pytest.approx(1.0, abs=0.05)
    assert abs(slopes[3]) < 0.05


def test_roll_off_keeps_hue_and_leaves_the_rest_alone():
    rng = np.random.default_rng(3)
    rgb = rng.uniform(0.0, 0.45, (40, 50, 3)).astype(np.float32)
    bright = rng.uniform(0.1, 3.7, (40, 50, 3)).astype(np.float32)
    rgb[::2] = bright[::2]
    out = roll_off_highlights(rgb, 3.78)
    top = rgb.max(axis=2)
    still = top <= knee(3.78)
    np.testing.assert_array_equal(out[still], rgb[still])
    moved = ~still
    assert moved.sum() > 500 and out.max() <= 1.0 + 1e-6
    ratio = out[moved] / rgb[moved]
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(3, axis=1), rtol=1e-5)  # one gain per pixel
    assert np.all(out[moved].max(axis=1) < top[moved])


def test_linear_picture_of_unknown_peak_is_scaled_onto_one():
    rgb = np.array([[[1.8, 1.8, 1.8], [2.2, 1.2, 0.6], [0.5, 0.9, 0.2]]], np.float32)
    srgb = display_srgb(rgb, "linear")  # encoded by table: within 2e-4 of the formula
    np.testing.assert_allclose(srgb[0, 0], 1.0, atol=2e-4)
    np.testing.assert_allclose(srgb[0, 1], linear_to_srgb(np.float32([1.0, 1.2 / 2.2, 0.6 / 2.2])), atol=2e-4)
    np.testing.assert_allclose(srgb[0, 2], linear_to_srgb(rgb[0, 2]), atol=2e-4)
    sdr = np.full((2, 2, 3), 0.7, np.float32)
    assert display_srgb(sdr, "srgb") is sdr


def test_exr_plate_with_light_past_one_is_keyed_solid(tmp_path):
    """A render or a scan in linear EXR: a white shirt at 1.8 and an orange lamp at (3, 1.6, 0.7) in front
    of a green screen are opaque. Read raw, the keyer made the shirt 40 % transparent."""
    plate = tmp_path / "plate.%04d.exr"
    screen = np.array([0.04, 0.42, 0.06], np.float32)  # a lit green screen, linear
    rgb = np.tile(screen, (64, 160, 1))
    rgb[16:48, 16:64] = 1.8
    rgb[16:48, 96:144] = (3.0, 1.6, 0.7)
    rng = np.random.default_rng(0)
    with open_writer(plate, fps=25, content="rgb") as writer:
        for _ in range(3):
            writer.write(rgb * rng.uniform(0.98, 1.02, rgb.shape).astype(np.float32), transfer="linear")
    matte = tmp_path / "alpha.%04d.png"
    result = CliRunner().invoke(cli, ["key", str(plate), "--alpha", str(matte), "--quiet"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open_reader(matte) as reader:
        alpha = next(iter(reader)).rgb[..., 0]
    assert alpha[20:44, 20:60].min() > 0.98 and alpha[20:44, 100:140].min() > 0.98
    assert alpha[:8].max() < 0.02  # the screen is still keyed out
