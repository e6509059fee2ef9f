"""A float foreground (EXR) keeps the plate's scene-linear light: what the keyer did not change passes
as it was, light above 1 included, and what it changed (despill) is scaled back up where the keyer's SDR
picture had rolled the highlight off."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.media import open_reader, open_writer

H, W = 96, 128
SCREEN = np.array([0.06, 0.42, 0.09], np.float32)  # a lit green screen, linear


def _plate() -> np.ndarray:
    """A VFX plate as a linear EXR holds it: a subject in front of the screen with a practical lamp
    (light at 6 × white), a sunlit white sleeve (1.8), skin, a saturated red outside BT.709 (its green
    below 0, as a wide-gamut camera's), and an edge lit green by the screen."""
    rgb = np.tile(SCREEN, (H, W, 1))
    rgb[20:76, 30:98] = [0.32, 0.2, 0.15]  # skin
    rgb[24:44, 36:56] = [6.0, 5.4, 4.2]  # the lamp
    rgb[24:44, 64:84] = [1.8, 1.75, 1.7]  # the sleeve
    rgb[50:70, 36:56] = [0.6, -0.02, 0.03]  # red beyond BT.709
    rgb[50:70, 64:98] = [1.6, 1.85, 1.5]  # a bright sleeve with the screen's bounce on it
    return rgb.astype(np.float32)


def test_exr_foreground_keeps_the_plates_light(tmp_path):
    plate = _plate()
    with open_writer(tmp_path / "plate.%04d.exr", fps=24, content="rgb") as writer:
        for _ in range(3):
            writer.write(plate, transfer="linear")
    result = CliRunner().invoke(cli, ["key", str(tmp_path / "plate.%04d.exr"),
                                      "--foreground", str(tmp_path / "fg.%04d.exr"), "--quiet"])
    assert result.exit_code == 0, result.output
    with open_reader(tmp_path / "fg.%04d.exr") as reader:
        frame = list(reader)[-1]
    fg, alpha = frame.rgb, frame.alpha
    assert alpha is not None and alpha[30:40, 40:50].min() > 0.99

    def patch(y: slice, x: slice) -> np.ndarray:
        return fg[y, x].reshape(-1, 3).mean(0)

    # unchanged by the keyer: the plate's own light, not the SDR picture's (lamp and sleeve at 1)
    np.testing.assert_allclose(patch(slice(28, 40), slice(40, 52)), [6.0, 5.4, 4.2], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(28, 40), slice(68, 80)), [1.8, 1.75, 1.7], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(22, 48), slice(88, 96)), [0.32, 0.2, 0.15], rtol=1e-3)
    np.testing.assert_allclose(patch(slice(54, 66), slice(40, 52)), [0.6, -0.02, 0.03], atol=1e-3)
    # the bounce-lit sleeve: despilled (green no longer above red and blue) yet still above 1
    sleeve = patch(slice(54, 66), slice(70, 92))
    assert sleeve.min() > 1.0 and sleeve[1] <= max(sleeve[0], sleeve[2]) + 0.02, sleeve
    luma = np.array([0.2126, 0.7152, 0.0722])  # the keyer's despill keeps a pixel's brightness
    assert sleeve @ luma == pytest.approx(np.dot([1.6, 1.85, 1.5], luma), rel=0.03)


def test_exr_foreground_is_premultiplied_as_openexr_defines_unless_asked_straight(tmp_path):
    # Written straight, Nuke (which takes an EXR's colour as premultiplied) laid the soft edges' full
    # colour over the set: bright fringes on hair. Read back, frames come out straight again.
    import OpenEXR

    plate = _plate()
    mix = np.linspace(0.0, 1.0, 14, dtype=np.float32)[None, :, None]  # a soft edge, as hair gives
    plate[20:76, 98:112] = (1 - mix) * np.float32([0.32, 0.2, 0.15]) + mix * SCREEN
    with open_writer(tmp_path / "plate.%04d.exr", fps=24, content="rgb") as writer:
        writer.write(plate, transfer="linear")
    runner = CliRunner()
    for name, flag in (("fg", []), ("straight", ["--straight"])):
        result = runner.invoke(cli, ["key", str(tmp_path / "plate.%04d.exr"), *flag,
                                     "--foreground", str(tmp_path / f"{name}.exr"), "--quiet"])
        assert result.exit_code == 0, result.output
    stored = {name: OpenEXR.File(str(tmp_path / f"{name}.exr")).channels()["RGBA"].pixels.astype(np.float32)
              for name in ("fg", "straight")}
    alpha = stored["fg"][..., 3]
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert edge.sum() > 20  # the subject's soft edge
    straight = stored["straight"][..., :3][edge]
    premultiplied = straight * alpha[edge, None]
    np.testing.assert_allclose(stored["fg"][..., :3][edge], premultiplied, rtol=5e-3, atol=1e-3)
    with open_reader(tmp_path / "fg.exr") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[edge], straight, rtol=5e-3, atol=1e-3)
