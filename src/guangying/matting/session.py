"""Thin adapter between the matters and the converted ONNX networks of :mod:`guangying.models`.

It hides the tensor layout (the converted graphs keep TensorFlow.js's NHWC) and the input/output
names, read from the session itself, so the matters only deal with (H, W, C) float32 images.
"""

from __future__ import annotations

import numpy as np

from guangying.models.installer import ModelInstallError

_STATE_NAMES = ("r1", "r2", "r3", "r4")


class NetworkSession:
    """An onnxruntime session for one converted model, loaded through ``guangying.models``."""

    def __init__(self, name: str, threads: int | None = None, providers: list[str] | None = None) -> None:
        from guangying.models import load_session  # late import: the models package is optional here

        self.name = name
        self.session = load_session(name, threads=threads, providers=providers)
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]

    # -- Robust Video Matting ---------------------------------------------------------------------
    def _find(self, names: list[str], stem: str) -> str:
        for n in names:
            if n == stem or n.split(":")[0] == stem:
                return n
        raise ModelInstallError(
            f"model {self.name}: no tensor named {stem!r} among {names}; reinstall the models"
        )

    def run_rvm(
        self, src_rgb: np.ndarray, state: list[np.ndarray] | None, raw: bool = False
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """One recurrent step. ``src_rgb`` float32 (h, w, 3) 0–1; ``state`` the previous frame's
        [r1, r2, r3, r4] or None for a first frame. Returns (fgr (h, w, 3), alpha (h, w), new state);
        with ``raw`` the unclipped foreground *residual* (fgr − src) and alpha instead, the inputs of
        RVM's refiner (``rvm_base`` only)."""
        in_names = list(self.inputs)
        feed: dict[str, np.ndarray] = {self._find(in_names, "src"): src_rgb[None]}
        for k, stem in enumerate(_STATE_NAMES):
            # RVM broadcasts a zero tensor to the right state shape on the first frame.
            feed[self._find(in_names, stem + "i")] = (
                np.zeros((1, 1, 1, 1), np.float32) if state is None else state[k]
            )
        if "downsample_ratio" in self.inputs:
            feed["downsample_ratio"] = np.array([1.0], np.float32)
        heads = ("fgr_residual", "pha_raw") if raw else ("fgr", "pha")
        want = [self._find(self.outputs, s) for s in (*heads, "r1o", "r2o", "r3o", "r4o")]
        fgr, pha, *new_state = self.session.run(want, feed)
        if not np.isfinite(pha).all():  # the input was checked finite: only broken weights give this
            from guangying.models import ModelDamagedError

            raise ModelDamagedError(
                f"model {self.name} gives NaN for a whole picture: its weights are damaged. Reinstall the "
                "models with `guangying models install --force`")
        return fgr[0], pha[0, ..., 0], new_state

    def run_rvm_full(
        self, src_rgb: np.ndarray, state: list[np.ndarray] | None, downsample_ratio: float
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """One step of the whole converted graph (``rvm_full``), refiner included: the baseline."""
        feed: dict[str, np.ndarray] = {"src": src_rgb[None],
                                       "downsample_ratio": np.array([downsample_ratio], np.float32)}
        for k, stem in enumerate(_STATE_NAMES):
            feed[stem + "i"] = np.zeros((1, 1, 1, 1), np.float32) if state is None else state[k]
        fgr, pha, *new_state = self.session.run(["fgr", "pha", "r1o", "r2o", "r3o", "r4o"], feed)
        return fgr[0], pha[0, ..., 0], new_state

    # -- person segmentation ----------------------------------------------------------------------
    @property
    def input_hw(self) -> tuple[int, int]:
        """(height, width) of a fixed-size image input (NHWC)."""
        shape = next(iter(self.inputs.values())).shape
        return int(shape[1]), int(shape[2])

    def run_image(self, rgb: np.ndarray) -> np.ndarray:
        """Run a single-input image model on (h, w, 3) float32; returns its first output (h', w', C)."""
        name = next(iter(self.inputs))
        return self.session.run([self.outputs[0]], {name: rgb[None]})[0][0]
