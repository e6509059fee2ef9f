"""Reading the small settings files users write by hand (lens calibrations, lens files, focus marks):
JSON by extension, else YAML, with one clear error for a missing, unreadable or malformed file."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import yaml

from guangying.base.errors import GuangyingError, InputFormatError, MissingInputError


class FileContentError(ValueError):
    """What a YAML or JSON file says that no reader can take as meant: a key twice, a huge number."""


class DuplicateKeyError(FileContentError):
    """A key given twice in one mapping of a YAML or JSON file."""


class HugeNumberError(FileContentError):
    """A whole number no float holds (400 digits): every reader's float() of it was a traceback."""


def _checked_int(value: int, where: str) -> int:
    try:
        float(value)
    except OverflowError:
        raise HugeNumberError(f"{where}the number {str(value)[:12]}… ({len(str(abs(value)))} digits) is "
                              "larger than any setting can be") from None
    return value


def _json_int(text: str) -> int:
    return _checked_int(int(text), "")


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping, where the last silently won (a
    shot's second 'output:' wrote the only file; its first was dropped), and a whole number too large
    for a float."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        return _checked_int(super().construct_yaml_int(node), f"line {node.start_mark.line + 1}: ")

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *common`, which the own keys override
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise DuplicateKeyError(f"line {key_node.start_mark.line + 1}: '{key}' is given twice in one "
                                        "mapping; keep one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_document(self, node: yaml.Node) -> Any:  # noqa: ANN401
        # Aliases are shared, not copied, while loading: a few lines of nested aliases (a "billion
        # laughs") load in a moment, then a message or a check that walks the value ran for minutes
        # and took gigabytes.
        values = _expanded_values(node, {})
        if values > MOST_VALUES:
            raise FileContentError(f"its anchors and aliases expand to {values:,} values (more than "
                                   f"{MOST_VALUES:,}): write the values out, with fewer aliases of aliases")
        return super().construct_document(node)  # type: ignore[no-untyped-call]


UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", UniqueKeyLoader.construct_yaml_int)
MOST_VALUES = 1_000_000  # in a settings, jobs or set file, with its aliases written out


def _expanded_values(node: yaml.Node, counted: dict[int, int]) -> int:
    """How many values ``node`` holds with every alias written out (an alias is the node it names)."""
    known = counted.get(id(node))
    if known is not None:
        return known
    counted[id(node)] = 1  # (a node that holds itself counts once)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_values(item, counted) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_values(k, counted) + _expanded_values(v, counted) for k, v in node.value)
    counted[id(node)] = total
    return total


def _unique_json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKeyError(f"'{key}' is given twice in one object; keep one")
        seen.add(key)
    return dict(pairs)


def parse_problem(exc: BaseException) -> str:
    """A YAML or JSON parser's complaint in one line, with its place: PyYAML's own text runs over four
    lines, names the file "<unicode string>" and draws a caret."""
    if isinstance(exc, RecursionError):  # Python's own words: "maximum recursion depth exceeded …"
        return "nested too deeply (lists or mappings inside one another hundreds of levels down)"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return str(exc)
    hint = " (YAML indents with spaces, not tabs)" if "'\\t'" in problem else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}{hint}"


def parse_json_or_yaml(text: str, as_json: bool) -> Any:  # noqa: ANN401
    """JSON or YAML (safe) text, a key given twice in one mapping refused (DuplicateKeyError)."""
    if not as_json:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506  (a SafeLoader)
    try:
        return json.loads(text, object_pairs_hook=_unique_json_object, parse_int=_json_int)
    except DuplicateKeyError as exc:
        # json's hook sees no positions; YAML reads nearly every JSON file and says which line
        try:
            yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506  (a SafeLoader)
        except DuplicateKeyError as located:
            raise located from exc
        except yaml.YAMLError:
            pass
        raise


def read_json_or_yaml(
    path: str | Path, what: str, error: type[GuangyingError] = InputFormatError
) -> Any:
    """Parse ``path`` (``.json`` as JSON, anything else as YAML). Raises ``error`` naming ``what`` and the
    file when it is missing, unreadable, not UTF-8 or not parseable."""
    p = Path(path)
    if not p.exists() and error is InputFormatError:
        raise MissingInputError(f"{what} not found: {p}")
    if not p.is_file():
        raise error(f"{what} not found: {p}" if not p.exists() else f"{what} {p} is not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: Notepad and PowerShell start UTF-8 with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {p} ({exc}); save it as UTF-8 JSON or YAML") from exc
    try:
        return parse_json_or_yaml(text, as_json=p.suffix.lower() == ".json")
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError, FileContentError) as exc:
        raise error(f"{p}: cannot parse ({parse_problem(exc)}); expected JSON or YAML") from exc


def names_a_file(text: str | Path) -> bool:
    """Whether ``text`` names something that exists; a value longer than a file name can be (a garbage
    mask's polygon of 40 points) names nothing (asked, the system raised "File name too long")."""
    try:
        return Path(text).exists()
    except OSError:
        return False


def check_keys(data: dict[Any, Any], allowed: tuple[str, ...], where: str,
               error: type[GuangyingError] = InputFormatError) -> None:
    """Refuse a key of a hand-written file that nothing reads (``focus_unit`` for ``focus_units``), with
    the one it may mean: a misspelt setting was ignored without a word."""
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (it takes {', '.join(allowed)})"
            if isinstance(key, int | float) and data[key] is None:
                # `width_m: 4,5` in a {…} mapping is width_m 4 and a key 5
                hint += "; a decimal comma? Write numbers with a point (4.5)"
            raise error(f"{where}: unknown key {key!r}{hint}")


def unclosed_quote(lines: list[str]) -> int | None:
    """The index of the first line whose quotes do not pair up, or None. In a table of numbers and short
    names a quote never spans lines: one left open took the lines after it into one cell (a track read
    short without a word, or past csv's field limit, a traceback)."""
    return next((j for j, line in enumerate(lines) if line.count('"') % 2), None)


def decimal_number(text: str) -> float:
    """A table cell's number as a spreadsheet or a logger writes it (``2.5``, ``-1e-3``, ``nan``). Raises
    ValueError for Python's digit separators, which ``float()`` accepts: ``1_0`` read as 10."""
    if "_" in text:
        raise ValueError(f"{text!r} has an underscore; write the number's digits alone")
    return float(text)


def spreadsheet_delimiter(header_line: str) -> str:
    """The column separator of a CSV table from its header line: ``","``, or ``";"`` (``"\\t"``) for a
    table a spreadsheet saved (copied) where the decimal mark is the comma; its numbers then read
    ``2,97`` — turn them with ``text.replace(",", ".")``. Not ``csv.Sniffer``: it guesses from data
    rows too, where a decimal comma looks like a separator; the header's names hold none."""
    return next((d for d in (",", ";", "\t") if d in header_line), ",")
