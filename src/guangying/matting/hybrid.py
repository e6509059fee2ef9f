"""Hybrid matte: green screen plus practical set, keyer and person matte each where they are right.

Inside the screen area (where the plate is screen-coloured: its convex hull, feathered inside its edge)
the chroma key decides: it keeps hair detail and any prop standing in front of the screen. Outside
it the person matte decides what is actor and what is studio or set. Within the person matte's
solid core the key can only add opacity, never remove it, so green clothing, spill or a screen-
coloured prop can never punch holes through the actor; those filled pixels still get despilled.
Colours are mixed premultiplied, so the seams are continuous.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.mattes import Matter, MatteResult
from guangying.matting.frames import check_rgb

_WORK_SCALE = 4  # the screen-area estimate is a large-scale shape: work at quarter resolution
_AREA_TAIL = 0.1  # the feather's faint outer tail, cut


def estimate_screen_area(
    key_alpha: np.ndarray, margin_frac: float = 0.02, min_area_frac: float = 0.005, *,
    person_alpha: np.ndarray | None = None,
) -> np.ndarray:
    """Soft screen-area mask (H, W) float32 0–1 from the chroma key's alpha (and the person matte's,
    both (H, W) float32 0–1).

    Pixels the key calls transparent (α < 0.05) are screen. Specks are removed, every sizeable
    screen region is replaced by its convex hull (so an actor standing in front of the screen is
    inside the area), and the hull is feathered over ``margin_frac`` of the frame's short side inside
    its edge, so nothing beside the screen is the key's. With ``person_alpha``, what lies inside the
    hull but joins the outside through neither screen nor person (a set piece in a corner of the
    screen, the floor at its foot) is taken out of the area whole: the hull's straight edge cut it,
    the key keeping a wedge of it solid and the person matte dropping the rest.
    """
    alpha = np.asarray(key_alpha, np.float32)
    h, w = alpha.shape
    sw, sh = max(w // _WORK_SCALE, 8), max(h // _WORK_SCALE, 8)
    screen = (cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA) < 0.05).astype(np.uint8)
    screen = cv2.morphologyEx(screen, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(screen, connectivity=8)
    area = np.zeros((sh, sw), np.uint8)
    min_area = min_area_frac * sw * sh
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < min_area:
            continue
        points = cv2.findNonZero((labels == label).astype(np.uint8))
        cv2.fillConvexPoly(area, cv2.convexHull(points), 1)
    if person_alpha is not None:
        area &= ~_joined_to_outside(area, screen, person_alpha, (sw, sh))
    # feathered inside the hull's edge, not across it: grown past the screen, the key's "not screen"
    # made a band of the practical set beside it opaque (a dark seam in every frame)
    margin = max(1, int(round(margin_frac * min(sw, sh))))
    area = cv2.erode(area, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)),
                     borderType=cv2.BORDER_REPLICATE)
    soft = cv2.GaussianBlur(area.astype(np.float32), (0, 0), margin / 2.0, borderType=cv2.BORDER_REPLICATE)
    soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    # the blur's tail past the screen's edge gave the wall or a set piece beside it the key's opacity
    # in part: a faint line (α up to 0.06) along the screen's outline in every frame
    return np.clip((soft - _AREA_TAIL) / (1.0 - _AREA_TAIL), 0.0, 1.0)


_OUTSIDE_SHARE = 1 / 3  # a piece this much outside the hull lies beside the screen, not in front of it


def _joined_to_outside(area: np.ndarray, screen: np.ndarray, person_alpha: np.ndarray,
                       size: tuple[int, int]) -> np.ndarray:
    """1 where a pixel (at the work size) is neither screen nor person (grown by a pixel) and joins,
    through such pixels, pixels outside the hull ``area`` that are a third of all so joined; else 0.
    A box standing well inside the screen, joined to the frame's corner only by a dark screen corner
    the key calls solid (12 % of it outside the hull), was taken out whole: α 0 on a solid prop."""
    person = cv2.resize(np.asarray(person_alpha, np.float32), size, interpolation=cv2.INTER_AREA) > 0.1
    person = cv2.dilate(person.astype(np.uint8), np.ones((3, 3), np.uint8))
    other = ((screen == 0) & (person == 0)).astype(np.uint8)
    count, labels = cv2.connectedComponents(other, connectivity=8)
    pixels = np.bincount(labels.ravel(), minlength=count)
    beyond = np.bincount(labels[area == 0], minlength=count)
    outside = beyond >= _OUTSIDE_SHARE * np.maximum(pixels, 1)
    outside &= beyond > 0
    outside[0] = False  # label 0: screen or person
    return outside[labels].astype(np.uint8)


def screen_channel(rgb: np.ndarray, key_alpha: np.ndarray) -> int:
    """Index of the screen's dominant channel (1 green, 2 blue) from the pixels the key removed."""
    transparent = key_alpha < 0.05
    if int(transparent.sum()) < 16:
        return 1
    mean = rgb[transparent].mean(axis=0)
    return 2 if mean[2] > mean[1] else 1


def despill_limit(rgb: np.ndarray, channel: int) -> np.ndarray:
    """Classic spill limit: the screen channel may not exceed the larger of the two others."""
    others = [c for c in range(3) if c != channel]
    out = np.array(rgb, np.float32, copy=True)
    out[..., channel] = np.minimum(out[..., channel], np.maximum(rgb[..., others[0]], rgb[..., others[1]]))
    return out


def person_core(person_alpha: np.ndarray, erode_frac: float = 0.004) -> np.ndarray:
    """The person matte pulled in by a few pixels: its soft rim is left to the key."""
    h, w = person_alpha.shape
    r = max(1, int(round(erode_frac * min(h, w))))
    return cv2.erode(np.asarray(person_alpha, np.float32), np.ones((2 * r + 1, 2 * r + 1), np.uint8))


def combine_hybrid(rgb: np.ndarray, key: MatteResult, person: MatteResult) -> MatteResult:
    """Merge a chroma key and a person matte of the same frame (see the module docstring)."""
    screen = estimate_screen_area(key.alpha, person_alpha=person.alpha)
    core = person_core(person.alpha)
    inside_alpha = np.maximum(key.alpha, core)
    # premultiplied colour inside the screen: the key's unmixed foreground where the key is opaque,
    # the despilled frame where only the person core made the pixel opaque
    spill_free = despill_limit(rgb, screen_channel(rgb, key.alpha))
    inside_premult = (
        key.foreground_rgb * key.alpha[..., None] + spill_free * (inside_alpha - key.alpha)[..., None]
    )
    alpha = screen * inside_alpha + (1.0 - screen) * person.alpha
    premult = screen[..., None] * inside_premult + (1.0 - screen)[..., None] * (
        person.foreground_rgb * person.alpha[..., None]
    )
    foreground = np.where(alpha[..., None] > 1e-4, premult / np.maximum(alpha, 1e-4)[..., None], spill_free)
    return MatteResult(
        alpha=np.clip(alpha, 0.0, 1.0).astype(np.float32),
        foreground_rgb=np.clip(foreground, 0.0, 1.0).astype(np.float32),
    )


class HybridMatter:
    """Green screen with practical set pieces: ``keyer`` inside the screen area, ``person_matter``
    elsewhere, both any :class:`~guangying.base.mattes.Matter` (e.g. ``ChromaKeyer`` and ``RvmMatter``)."""

    def __init__(self, keyer: Matter, person_matter: Matter) -> None:
        self.keyer = keyer
        self.person_matter = person_matter
        if hasattr(keyer, "without_screen"):  # the chroma keyer's warning: frames without a screen are
            keyer.without_screen = "the person matte alone decides"  # the person matte's, not opaque

    @property
    def remembers_frames(self) -> bool:
        return bool(getattr(self.person_matter, "remembers_frames", False))

    def reset(self) -> None:
        self.keyer.reset()
        self.person_matter.reset()

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        frame = check_rgb(rgb, "hybrid matting")
        key = self.keyer.process(frame, background_rgb)
        person = self.person_matter.process(frame, background_rgb)
        return combine_hybrid(frame, key, person)
