"""Lazy package attributes (PEP 562): ``import guangying`` stays fast, and a name's module (with its
OpenCV, PyAV or ONNX Runtime imports) loads only when the name is first used."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import ``exports[name]`` (a module path)
    on first use of ``name`` and keep the value in the package's namespace. ``dir()`` lists the
    exports, the package's ``__all__`` and its subpackages, not the package's own imports."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        module = sys.modules[package]
        subpackages = {info.name for info in pkgutil.iter_modules(getattr(module, "__path__", []))}
        return sorted(set(exports) | set(getattr(module, "__all__", ())) | subpackages)

    return __getattr__, __dir__
