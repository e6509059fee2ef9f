"""What a converted model's graph takes and gives: its inputs and outputs, as the catalog names them.

Kept apart from the converter so that the catalog (read by every command's ``--help``) loads without
``onnx``, which takes about a second to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class InputSpec:
    """A graph input: the TF placeholder, its ONNX name and shape *in the stored layout*."""

    tf_name: str
    onnx_name: str
    shape: Sequence[int | str | None]
    nchw: bool = False
    dtype: type = np.float32


@dataclass
class OutputSpec:
    tf_ref: str
    onnx_name: str
    nchw: bool = False
