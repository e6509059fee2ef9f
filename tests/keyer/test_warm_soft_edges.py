"""Wide soft edges of warm subjects (skin out of focus, a hand moving fast): a mix with a subject
redder than green keys more opaque than it is, and over a wide edge the mixes nearer the subject passed
as solid subject, so the subject-colour projection kept them opaque (skin half over the screen keyed
1.0). Screen light added to a warm subject (a bounce-lit rim beside a hard edge) must stay solid."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W = 180, 320
SCREEN = srgb_to_linear(np.array([0.14, 0.70, 0.28], np.float32))
SKIN = srgb_to_linear(np.array([0.86, 0.62, 0.52], np.float32))


def _plate(alpha: np.ndarray, subject_linear: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 2.0)
    shading = 1.0 + 0.05 * texture[..., None]
    linear = alpha[..., None] * subject_linear * shading + (1 - alpha[..., None]) * SCREEN
    srgb = linear_to_srgb(np.clip(linear, 0, 1)) + rng.normal(0, 0.004, (H, W, 3)).astype(np.float32)
    return np.clip(srgb, 0, 1).astype(np.float32)


def test_a_defocused_skin_edge_keys_near_its_coverage():
    disc = np.zeros((H, W), np.float32)
    cv2.circle(disc, (W // 2, H // 2), 60, 1.0, -1)
    kernel = np.zeros((41, 41), np.float32)
    cv2.circle(kernel, (20, 20), 20, 1.0, -1)  # a 40 px defocus disc
    truth = cv2.filter2D(disc, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)
    alpha = ChromaKeyer(KeyerSettings()).process(_plate(truth, SKIN, 1)).alpha
    band = (truth > 0.05) & (truth < 0.95)
    error = alpha[band] - truth[band]
    # before: mean error 0.22, all of it too opaque; now 0.14 (the mixes past the projection's reach
    # from the screen, 24 px, are still read too opaque)
    assert float(np.abs(error).mean()) < 0.18, float(np.abs(error).mean())
    assert float(error.mean()) < 0.18, float(error.mean())


def test_screen_light_on_a_warm_subject_beside_a_hard_edge_stays_solid():
    solid = np.zeros((H, W), np.float32)
    solid[30:150, 60:260] = 1.0
    plate_linear = np.where(solid[..., None] > 0, SKIN, SCREEN)
    # bounce from the screen, strongest at the subject's edge and gone 25 px in
    inside = cv2.distanceTransform((solid > 0).astype(np.uint8), cv2.DIST_L2, 3)
    bounce = (0.35 * np.clip(1 - inside / 25.0, 0, 1) * (solid > 0))[..., None] * SCREEN
    rgb = linear_to_srgb(np.clip(plate_linear + bounce, 0, 1)).astype(np.float32)
    alpha = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    core = cv2.erode((solid > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert float(alpha[core].min()) > 0.9, float(alpha[core].min())


@pytest.mark.parametrize("subject_srgb", [(0.86, 0.62, 0.52), (0.25, 0.35, 0.75)], ids=["skin", "blue"])
def test_the_inner_end_of_a_very_wide_soft_edge_is_no_solid_subject(subject_srgb):
    """A 64 px defocus: the edge's inner fifth reads under 0.3 of the screen's colour difference and
    was taken for solid subject with spill, whose floor and colour were spread over the rest of the
    edge: α 1.0 where the truth was 0.6–0.8 (mean error 0.20 on skin, 0.26 on blue). Those cells keep
    only part of the subject's own light, as a mix does, and now count as edge."""
    disc = np.zeros((H, W), np.float32)
    cv2.circle(disc, (W // 2, H // 2), 60, 1.0, -1)
    kernel = np.zeros((65, 65), np.float32)
    cv2.circle(kernel, (32, 32), 32, 1.0, -1)
    truth = cv2.filter2D(disc, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)
    subject = srgb_to_linear(np.array(subject_srgb, np.float32))
    alpha = ChromaKeyer(KeyerSettings()).process(_plate(truth, subject, 1)).alpha
    band = (truth > 0.05) & (truth < 0.95)
    error = float(np.abs(alpha[band] - truth[band]).mean())
    assert error < 0.16, error  # now 0.12 (skin) and 0.14 (blue): still too opaque, by the clip levels
