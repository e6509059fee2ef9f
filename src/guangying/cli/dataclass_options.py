"""Turn a settings dataclass into click options, so every setting is a flag and a config-file key."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Collection
from typing import Any

import click

from guangying.pipeline.job_options import settings_from_options


def _click_type(annotation: Any) -> tuple[Any, bool] | None:
    """click type and is-flag for a field annotation; None for fields that are not plain values."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)]), False
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _click_type(args[0])
    if annotation is bool:
        return None, True
    if annotation in (int, float, str):
        return annotation, False
    if origin is tuple and args and all(a is float for a in args):
        return click.Tuple([float] * len(args)), False
    return None


def _docstring_help(cls: type) -> dict[str, str]:
    """Field help from docstring bullets of the form ``- ``name``: text`` (continuation lines joined)."""
    helps: dict[str, str] = {}
    bullets = re.finditer(
        r"^\s*- ((?:``\w+``(?: / )?)+): (.*?)(?=^\s*- ``|\Z)", cls.__doc__ or "", re.M | re.S
    )
    for match in bullets:
        text = " ".join(match.group(2).split())
        for name in re.findall(r"``(\w+)``", match.group(1)):
            helps[name] = text
    return helps


def dataclass_options(cls: type, skip: Collection[str] = frozenset()) -> Callable[[Callable], Callable]:
    """Decorator adding one ``--field-name`` option per plain-valued field of dataclass ``cls``.

    Help text comes from the field's ``metadata["help"]`` or the class docstring's bullet for it.
    Array-valued fields (masks, plates) are skipped: commands load them from files themselves.
    """
    hints = typing.get_type_hints(cls)
    doc_help = _docstring_help(cls)

    def decorate(func: Callable) -> Callable:
        for f in reversed(dataclasses.fields(cls)):
            if f.name in skip:
                continue
            kind = _click_type(hints[f.name])
            if kind is None:
                continue
            click_type, is_flag = kind
            default = f.default if f.default is not dataclasses.MISSING else None
            flag = "--" + f.name.replace("_", "-")
            help_text = f.metadata.get("help", doc_help.get(f.name, ""))
            if is_flag:
                decl = f"{flag}/--no-{flag[2:]}"
                func = click.option(decl, f.name, default=default, show_default=True, help=help_text)(func)
            else:
                func = click.option(
                    flag, f.name, type=click_type, default=default, show_default=True, help=help_text
                )(func)
        return func

    return decorate


# Parsed options → a settings dataclass; the pipeline owns it (batch workers build settings the same way).
dataclass_from_options = settings_from_options
