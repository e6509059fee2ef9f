"""JOBS.yaml → validated shots. Every problem in the file is listed at once; nothing runs on error.

The file has ``defaults`` (any shot key) and ``shots``. A shot names its ``input`` (a file, a sequence
pattern or a glob), its outputs (``output`` for composite's -o, ``alpha``, ``foreground``), and any
option of its ``command`` (key or composite) with underscores for dashes. Which options exist, their
types and defaults come from the caller (the CLI passes its own click options), so there is one list.
Relative paths are relative to the YAML file; output names may use ``{stem}`` (the input's name
without extension or frame number), ``{folder}`` (the name of the input's folder: a glob over
``plates/*/plate.####.exr`` gives one shot per folder), ``{ext}`` (the input's extension: a glob over
``IMG_0001.*`` matches a camera's .MOV and its .mp4 export) and ``{name}`` (the shot's name). A glob
entry's ``name`` may use ``{stem}``, ``{folder}`` and ``{ext}`` too (``name: "{stem}_b"``).
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from guangying.base.errors import GuangyingError, InputFormatError, NothingStartedError
from guangying.base.files import FileContentError, UniqueKeyLoader, names_a_file, parse_problem
from guangying.keyer import KeyerSettings
from guangying.keyer.masks import load_clean_plate, load_mask
from guangying.media import open_reader
from guangying.media.image_writer import NO_DPX_MATTES, WRITTEN_EXTENSIONS
from guangying.media.outputs import LONGEST_NAME_BYTES, DiskPlace, disk_place
from guangying.media.patterns import parse_pattern
from guangying.media.reader import resolve_range
from guangying.media.video_writer import VIDEO_EXTENSIONS
from guangying.pipeline.background import neither_file_nor_colour, parse_colour_srgb
from guangying.pipeline.frame import CompositeSettings
from guangying.pipeline.job import H264Options, JobOutputs, check_single_pictures, refuse_shortening_videos
from guangying.pipeline.job_options import settings_from_options, unused_settings_note
from guangying.pipeline.lens_defocus import LensSettings, load_focus_track

COMMANDS = ("key", "composite")
OUTPUT_KEYS = ("output", "alpha", "foreground")  # YAML key → output kind composite / alpha / foreground
_OUTPUT_KIND = {"output": "composite", "alpha": "alpha", "foreground": "foreground"}
# Keys of the batch itself (not options of the command).
BATCH_KEYS = {
    "command": "key or composite",
    "input": "the footage: a file, a sequence pattern or a glob",
    "name": "the shot's name in the report (default: the input's name)",
    "range_frames": "frames per range when a long shot is split across workers (0: never split)",
    "warmup_frames": "frames run before each range to warm the neural matte's memory up",
}
_ARRAY_FIELDS = {"garbage_mask", "core_mask", "despill_mask", "clean_plate"}


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command: where its value goes (``dest``), its default and how to check a value."""

    dest: str
    default: Any
    convert: Callable[[Any], Any]  # raises ValueError with a message for a bad value
    is_path: bool = False


CommandOptions = Mapping[str, Mapping[str, OptionSpec]]  # command → YAML key → spec


@dataclass
class Shot:
    """One validated shot: the command's full option values (``options``, by destination name)."""

    name: str
    command: str
    source: str
    outputs: dict[str, str]  # kind (composite / alpha / foreground) → path or pattern
    background: str | None
    options: dict[str, Any]
    range_frames: int | None = None
    warmup_frames: int | None = None
    problems: list[str] = field(default_factory=list)  # why it cannot start (load_jobs's keep_going)
    reads: tuple[str, ...] = ()  # every file or sequence the shot reads: input, background, masks, tracks
    from_glob: bool = False  # one of the takes a glob entry matched (named by its file, not 'name:')
    entry: int = 0  # the number of its entry under ``shots:`` in the batch file (1-based)

    def fingerprint(self) -> str:
        """Changes when anything that decides the pictures changes: settings, outputs, and the size and
        time of every file the shot reads (each frame of a sequence). Before, only the input's was
        taken, and not at all for a sequence: ``--resume`` kept shots whose background, mask or plate
        frames had been replaced."""
        files = [[path, _file_ids(path)] for path in (self.source, *self.reads)]
        blob = json.dumps(
            [self.command, self.source, files, self.outputs, self.background, self.options],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_ids(path: str) -> list[int]:
    """Size and modification time of ``path``, or of every frame of the sequence it names."""
    pattern = parse_pattern(path)
    if pattern is not None and not Path(path).is_file():
        names = [pattern.path(n) for n in pattern.find_numbers()]
    else:
        names = [Path(path)]
    ids: list[int] = []
    for name in names:
        try:
            stat = os.stat(name)
        except OSError:
            continue
        ids += [stat.st_size, stat.st_mtime_ns]
    return ids


def _stem(source: str) -> str:
    name = Path(source).name
    pattern = parse_pattern(source)
    if pattern is not None:
        name = pattern.prefix + pattern.suffix
    stem = Path(name).stem
    return stem.rstrip("._-") or stem


def _resolve(value: str, base: Path) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else base / path)


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[") and not Path(text).exists()


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_TOP_LEVEL_KEYS = ("defaults", "shots")


class JobFileFormatError(NothingStartedError, InputFormatError):
    """The batch file cannot be read as one (not YAML, not UTF-8, no shots): nothing started, exit 2."""


class MissingJobFileError(JobFileFormatError, FileNotFoundError):
    """The batch file is not there (also a ``FileNotFoundError``, as a script catches a missing file)."""


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=UniqueKeyLoader)
    except FileNotFoundError as exc:
        raise MissingJobFileError(f"the batch file {path} does not exist") from exc
    except OSError as exc:
        raise JobFileFormatError(f"cannot read the batch file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:  # a Windows editor's local code page (GBK, Windows-1252): was a crash
        line = exc.object[: exc.start].count(b"\n") + 1
        raise JobFileFormatError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02X}); save the batch file "
            "as UTF-8 (Notepad: Save as, Encoding UTF-8) so its names and paths read as written"
        ) from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise JobFileFormatError(f"{path} is not valid YAML: {parse_problem(exc)}") from exc
    except FileContentError as exc:
        raise JobFileFormatError(f"{path}, {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list) or not data["shots"]:
        empty = isinstance(data, dict) and data.get("shots") == []
        raise JobFileFormatError(f"{path}: its 'shots:' list is empty; add the shots to render" if empty else
                                 f"{path} needs a 'shots:' list (and optionally 'defaults:'); see --help")
    if not isinstance(data.get("defaults") or {}, dict):
        raise JobFileFormatError(f"{path}: 'defaults' must be a mapping of shot keys")
    return data


def _unwritable_folder(output: Path) -> Path | None:
    """The folder ``output`` would be made in (its nearest existing one) when this user cannot write
    there: found otherwise as each shot's render failed with a bare "Read-only file system"."""
    folder = output.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return None if os.access(folder, os.W_OK) else folder


def _check_name(name: str, where: str, problems: list[str]) -> None:
    """A shot's name becomes file names (its contact sheet in the report, its staging folder): one
    with a folder in it wrote outside the report, over any file there, a source included."""
    if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in '/\\:\0'):
        problems.append(f"{where}: name '{name}' becomes file names (the report's contact sheet, the "
                        "render's staging folder): give one without / \\ : or a leading dot")




def _fill_names(template: str, names: dict[str, str]) -> str:
    """``{stem}``, ``{name}``, ``{folder}`` and ``{ext}`` of an output template; anything else in braces is
    refused (KeyError). Not str.format: ``{stem.__class__}`` named a file ``<class 'str'>``, and
    ``{stem:>2000000000}`` built a 2 GB name."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            raise KeyError(match.group(1))
        return names[match.group(1)]

    return re.sub(r"\{([^{}]*)\}", fill, template)


def _flag_keys(entry: dict[str, Any], flag_of: dict[str, str], where: str,
               problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if not isinstance(key, str):  # `1: x` or `~: x`: a traceback in the key's did-you-mean
            problems.append(f"{where}: key {key!r} is not a name")
            continue
        flag = flag_of.get(key, key)
        if flag in out:
            problems.append(f"{where}: '{flag}' and '{key}' are one option; keep one")
        out[flag] = value
    return out


def _shot_options(
    entry: dict[str, Any], base: Path, specs: Mapping[str, OptionSpec], where: str, problems: list[str]
) -> dict[str, Any]:
    options = {spec.dest: spec.default for spec in specs.values()}
    for key, value in entry.items():
        if key in BATCH_KEYS or key in OUTPUT_KEYS or key == "background":
            continue
        spec = specs.get(key)
        if spec is None:
            known = [*specs, *BATCH_KEYS, *OUTPUT_KEYS]
            problems.append(f"{where}: unknown key '{key}'{_suggest(key, known)}")
            continue
        if spec.is_path and isinstance(value, str):  # before click's check that it exists: from here
            value = _resolve(value, base)
        try:
            converted = spec.convert(value)
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {key}={value!r}: {exc}")
            continue
        if not spec.is_path and isinstance(converted, str) and not Path(converted).is_absolute() and \
                names_a_file(base / converted):
            converted = str(base / converted)  # a mask or plate file next to the YAML
        options[spec.dest] = converted
    return options


def _check_settings(options: dict[str, Any], where: str, problems: list[str]) -> None:
    plain = {k: v for k, v in options.items() if k not in _ARRAY_FIELDS}
    if plain.get("screen_colour") is not None:
        plain["screen_colour"] = tuple(plain["screen_colour"])
    try:
        settings_from_options(KeyerSettings, plain)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: {exc}")
    # the composite's and the lens's settings too: refused only at the shot's turn, hours into a batch
    checks: list[Callable[[], object]] = [lambda: settings_from_options(CompositeSettings, plain)]
    if options.get("crf") is not None:
        checks.append(lambda: H264Options(crf=options["crf"]))
    if options.get("f_number") is not None and options.get("focal_length_mm") is None:
        problems.append(f"{where}: lens depth of field needs focal_length as well as f_number")
    elif options.get("f_number") is not None:
        checks.append(lambda: settings_from_options(LensSettings, plain))
    for check in checks:
        try:
            check()
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {exc}")
    if options.get("set_path"):
        problems.append(f"{where}: batch does not render tracked virtual sets (set:) yet")
    note = unused_settings_note(options)
    if note is not None:  # said at the check, before anything renders, as key/composite say it
        warnings.warn(f"{where}: {note}", stacklevel=4)


def _check_input(
    source: str,
    options: dict[str, Any],
    outputs: dict[str, str],
    where: str,
    problems: list[str],
    checked: dict[tuple[str, str, tuple[int, int]], str | None],
) -> None:
    """The input opens and has frames, not into one picture (``outputs``: by kind) unless it is one; its
    masks and clean plate fit its frame size. ``checked`` remembers each (key, file, size) tried within
    one jobs file (a glob's takes share one plate)."""
    try:
        log = options.get("camera_log", "auto")
        with open_reader(source, fps=options.get("fps"), camera_log=log) as reader:
            info = reader.info
            if info.frame_count == 0:
                problems.append(f"{where}: {source} has no frames")
            shape = (info.height, info.width)
            pixel_aspect = float(info.pixel_aspect)
        # a range outside the clip, or backwards, failed only when the shot's turn came
        count = info.frame_count if info.frame_count and info.frame_count_exact else None
        last = None if count is None else info.first_frame + count - 1
        lo, hi = resolve_range(source, options.get("start"), options.get("end"), info.first_frame, last)
    except (GuangyingError, ValueError, OSError) as exc:
        problems.append(f"{where}: input {source}: {exc}")
        return
    try:
        # found only by a range's worker, at the shot's turn, with the range's frame count
        products = {kind: Path(path) for kind, path in outputs.items()}
        wanted = JobOutputs(products.get("composite"), products.get("alpha"), products.get("foreground"))
        check_single_pictures(wanted, source, None if hi is None else hi - lo + 1, "start: N and end: N")
        if options.get("start") is not None or options.get("end") is not None:
            # a shot's range over the whole clip a render wrote before: replaced by the range, unsaid
            refuse_shortening_videos(wanted, None if hi is None else hi - lo + 1)
    except GuangyingError as exc:
        problems.append(f"{where}: {exc}")
    if options.get("focus_track") and options.get("f_number") is not None:
        # a track of other rows or another rate stopped the shot only when its turn came
        try:
            load_focus_track(options["focus_track"]).check_rate(float(info.fps))
        except (GuangyingError, ValueError, OSError) as exc:
            problems.append(f"{where}: focus_track: {exc}")
    # a bad polygon or a mask of the wrong size would otherwise stop this shot only when its turn comes,
    # hours into a batch
    for key in ("garbage_mask", "core_mask", "despill_mask", "clean_plate"):
        if not options.get(key):
            continue
        seen = (key, str(options[key]), shape)
        if seen not in checked:
            try:
                if key == "clean_plate":
                    load_clean_plate(options[key], shape)
                else:
                    load_mask(options[key], shape, pixel_aspect)
                checked[seen] = None
            except (GuangyingError, ValueError, OSError) as exc:
                checked[seen] = str(exc)
        if checked[seen] is not None:
            problems.append(f"{where}: {key}: {checked[seen]}")


def _int_key(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{where}: {key} must be a whole number ≥ 0, got {value!r}")
        return None
    return value


def _expand(
    entry: dict[str, Any], base: Path, where: str, problems: list[str], unmatched: list[str]
) -> list[str]:
    raw = entry.get("input")
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{where}: needs 'input: FILE' (a video, a sequence pattern or a glob)")
        return []
    source = _resolve(raw, base)
    if not _is_glob(source):
        return [source]
    pattern = parse_pattern(source)
    if pattern is not None:
        # plates kept one folder per shot (plates/*/plate.####.exr): a sequence in each folder that has
        # frames; a glob in the file name itself would mix the frames of several sequences
        if _is_glob(os.path.basename(source)):
            problems.append(f"{where}: input '{raw}': a sequence pattern takes a glob in its folders only "
                            "(plates/*/plate.####.exr), not in its file name")
            return []
        name = os.path.basename(source)
        folders = sorted(f for f in glob.glob(str(pattern.folder)) if os.path.isdir(f))
        matches = [os.path.join(f, name) for f in folders if replace(pattern, folder=Path(f)).find_numbers()]
    else:
        matches = sorted(glob.glob(source))
    if not matches:
        unmatched.append(f"{where}: no file matches input '{raw}'")
    return matches


def _without_own_outputs(sources: list[str], wanted: dict[str, Any], base: Path, where: str) -> list[str]:
    """A glob's takes less the files its own shots write (``c*.mp4`` with ``output: {stem}_comp.mp4``
    in the takes' folder): a second run took c05_comp.mp4 for a take, and refused every later run and
    ``--resume`` as writing over an input. Said once."""
    written = set()
    for source in sources:
        names = {"stem": _stem(source), "name": _stem(source), "folder": Path(source).parent.name}
        for template in wanted.values():
            try:
                written.add(os.path.abspath(_resolve(_fill_names(str(template), names), base)))
            except (KeyError, IndexError, ValueError):
                continue  # said where the outputs are named
    kept = [s for s in sources if os.path.abspath(s) not in written]
    if len(kept) < len(sources):
        left = ", ".join(Path(s).name for s in sources if s not in kept)
        warnings.warn(f"{where}: the input glob also matches what its shots write ({left}): left out",
                      stacklevel=3)
    return kept


def load_jobs(path: str | os.PathLike[str], commands: CommandOptions, keep_going: bool = False) -> list[Shot]:
    """Read and check a batch file; raise :class:`~guangying.base.errors.NothingStartedError` (a
    SettingsError) listing every problem, one per line. ``keep_going``: a shot whose own files cannot
    be used (an input that does not open, a mask of another size) keeps its problems in
    :attr:`Shot.problems`, to be reported as failed while the others render; the file's other problems
    still stop everything."""
    path = Path(path)
    data = _load_yaml(path)
    # the folder the job file is in as named, not a link's target: a shot folder holding a link to a
    # template job file read its paths from the template's folder
    base = Path(os.path.abspath(path)).parent
    defaults = data.get("defaults") or {}
    problems: list[str] = []
    for key in data:
        # x-…: a block that only holds YAML anchors for the shots' merge keys (as compose files have it)
        if key not in _TOP_LEVEL_KEYS and not str(key).startswith("x-"):  # its settings were dropped
            problems.append(f"unknown top-level key '{key}'{_suggest(str(key), list(_TOP_LEVEL_KEYS))}: the "
                            "file holds 'defaults:' and 'shots:' (and anchors for merge keys under a key "
                            "starting x-: x-common: &common {matte: chroma})")
    # an option by the name its value goes to (focal_length_mm, as a --config file or a saved look
    # names it) is the option of that flag (focal_length): one was refused where the other was taken
    flag_of = {spec.dest: key for specs in commands.values() for key, spec in specs.items()}
    flag_of.update({key: key for specs in commands.values() for key in specs})  # a flag's name is its own
    # a key no shot can have, said once for the defaults (it was said for every shot, by number)
    known = [*flag_of, *BATCH_KEYS, *OUTPUT_KEYS, "background"]
    unknown = [key for key in defaults if key not in known]
    problems += [f"defaults: unknown key '{key}'{_suggest(str(key), known)}" for key in unknown]
    defaults = {key: value for key, value in defaults.items() if key not in unknown}
    checked: dict[tuple[str, str, tuple[int, int]], str | None] = {}
    shots: list[Shot] = []
    for number, raw_entry in enumerate(data["shots"], start=1):
        named = raw_entry.get("name") if isinstance(raw_entry, dict) else None
        where = f"shot {number}" + (f" ('{named}')" if isinstance(named, str) else "")
        if not isinstance(raw_entry, dict):
            problems.append(f"{where}: must be a mapping with input and outputs, got {raw_entry!r}")
            continue
        entry = {**_flag_keys(defaults, flag_of, "defaults", problems),
                 **_flag_keys(raw_entry, flag_of, where, problems)}
        command = entry.get("command", "composite")
        if not isinstance(command, str) or command not in commands:
            problems.append(f"{where}: command {command!r} is not one of {', '.join(commands)}")
            continue
        nul = next((key for key, value in entry.items() if isinstance(value, str) and "\0" in value), None)
        if nul is not None:  # the file system's "embedded null byte", as a traceback
            problems.append(f"{where}: {nul} holds a NUL byte (\\0): a name cannot")
            continue
        specs = commands[command]
        options = _shot_options(entry, base, specs, where, problems)
        _check_settings(options, where, problems)
        range_frames = _int_key(entry, "range_frames", where, problems)
        warmup_frames = _int_key(entry, "warmup_frames", where, problems)
        wanted = {key: entry[key] for key in OUTPUT_KEYS if entry.get(key)}
        if command == "composite" and "output" not in wanted:
            problems.append(f"{where}: composite needs 'output:' (the -o of guangying composite)")
        if command == "key" and "output" in wanted:
            problems.append(f"{where}: key writes 'alpha:' and/or 'foreground:', not 'output:'")
        if command == "key" and not wanted:
            problems.append(f"{where}: key needs 'alpha:' and/or 'foreground:'")
        background = entry.get("background")
        if command == "composite" and not background:
            problems.append(f"{where}: composite needs 'background:' (an image, a clip or a colour)")
        if background is not None:
            background = written = str(background)
            if parse_colour_srgb(background) is None:
                background = _resolve(background, base)
                if not Path(background).exists() and parse_pattern(background) is None:
                    problems.append(f"{where}: {neither_file_nor_colour(written)}")
                elif Path(background).is_dir():  # else found at the shot's turn
                    problems.append(f"{where}: background {background} is a folder; name a picture or a clip")
        unmatched: list[str] = []
        sources = _expand(entry, base, where, problems, unmatched)
        if unmatched and keep_going:  # a take not copied yet: failed, as an unreadable input is
            name = str(entry.get("name", entry["input"]))
            shots.append(Shot(name, command, _resolve(entry["input"], base), {}, background, options,
                              problems=unmatched, from_glob=True, entry=number))
            continue
        problems += unmatched
        from_glob = isinstance(entry.get("input"), str) and _is_glob(_resolve(entry["input"], base))
        if from_glob and sources:
            sources = _without_own_outputs(sources, wanted, base, where)
            if not sources:  # it ran nothing and exited 0, where a glob matching nothing stops with 2
                problems.append(f"{where}: every file the input glob matches is one its shots would write: "
                                "nothing to render; name the outputs apart from the takes (e.g. "
                                "{stem}_comp.mp4, or another folder)")
        stems = [_stem(source) for source in sources]
        places = [(Path(source).parent.name, stem) for source, stem in zip(sources, stems, strict=True)]
        for source, stem in zip(sources, stems, strict=True):
            folder = Path(source).parent.name
            ext = Path(source).suffix.lstrip(".")
            if "name" in entry and (len(sources) == 1 or "{" in str(entry["name"])):
                # a glob's entry names its takes by a template ("{stem}_b"): a plain name was dropped
                # once the glob matched two takes, and two entries over the same takes could not be told
                try:
                    name = _fill_names(str(entry["name"]), {"stem": stem, "folder": folder, "ext": ext})
                except KeyError as exc:
                    said = (f"{where}: name '{entry['name']}': unknown name {exc} (use {{stem}}, {{folder}} "
                            "or {ext})")
                    problems += [said] if said not in problems else []  # once for the entry, not per take
                    name = stem
            elif "name" in entry:
                said = (f"{where}: name '{entry['name']}' would name all {len(sources)} takes of its glob "
                        f"alike: name them by their take, e.g. name: \"{{stem}}_{entry['name']}\"")
                problems += [said] if said not in problems else []
                name = stem
            elif len(sources) == 1:
                name = stem
            elif stems.count(stem) == 1:
                name = stem
            elif places.count((folder, stem)) == 1:  # sequences of one name in folders of their own
                name = f"{folder}_{stem}"
            else:  # a phone's IMG_0001.MOV beside its export IMG_0001.mp4: both were named 'folder_IMG_0001'
                name = f"{stem}_{ext}"
            _check_name(name, where, problems)
            outputs = {}
            for key, template in wanted.items():
                try:
                    text = _fill_names(str(template),
                                       {"stem": stem, "name": name, "folder": folder, "ext": ext})
                    outputs[_OUTPUT_KIND[key]] = _resolve(text, base)
                    if any(len(part.encode()) > LONGEST_NAME_BYTES for part in Path(text).parts):
                        problems.append(f"{where}: {key} '{text[:60]}…' has a name longer than a file "
                                        f"system takes ({LONGEST_NAME_BYTES} bytes)")
                    elif Path(text).suffix.lower() not in (*VIDEO_EXTENSIONS, *WRITTEN_EXTENSIONS):
                        # said at render time, naming the render's temporary file, not this one
                        problems.append(f"{where}: {key} '{text}': unknown output type; use .mp4, .mov, "
                                        ".mkv, a picture (.png/.exr/.tif/.jpg/.dpx) or a sequence such "
                                        "as shot.%04d.png")
                    elif key == "alpha" and Path(text).suffix.lower() == ".dpx":  # else after others rendered
                        problems.append(f"{where}: alpha '{text}': {NO_DPX_MATTES}")
                    elif Path(outputs[_OUTPUT_KIND[key]]).is_dir():  # else found after the shot rendered
                        problems.append(f"{where}: {key} '{text}' is a folder; name a file in it")
                    elif (closed := _unwritable_folder(Path(outputs[_OUTPUT_KIND[key]]))) is not None:
                        problems.append(f"{where}: {key} '{text}': no permission to write in folder {closed} "
                                        "(read-only, or another user's)")
                except (KeyError, IndexError, ValueError) as exc:
                    hint = "use {stem}, {name}, {folder} or {ext}"
                    problems.append(f"{where}: {key} '{template}': unknown name {exc} ({hint})")
            shown = Path(source).name if stems.count(stem) == 1 else f"{folder}/{Path(source).name}"
            shot_where = where if len(sources) == 1 else f"{where} ({shown})"
            own_problems: list[str] = []
            _check_input(source, options, outputs, shot_where, own_problems if keep_going else problems,
                         checked)
            reads = [background] if background and parse_colour_srgb(background) is None else []
            reads += [options[spec.dest] for spec in specs.values()
                      if spec.is_path and isinstance(options.get(spec.dest), str)]
            shots.append(
                Shot(name, command, source, outputs, background, options, range_frames, warmup_frames,
                     problems=own_problems, reads=tuple(reads), from_glob=from_glob, entry=number)
            )
    _check_collisions(shots, problems)
    if problems:
        lines = _file_lines(path)
        listing = "\n".join(f"  - {_with_line(p, lines)}" for p in problems)
        raise NothingStartedError(f"{path}: {len(problems)} problem(s), nothing was started:\n{listing}")
    return shots


_SHOT_NUMBER = re.compile(r"shot (\d+)\b")
_ENTRY_LIST = re.compile(r"\(shots ([\d, ]+)\)")
_DEFAULTS_KEY = re.compile(r"defaults: .*?'([^']+)'")


def _lines_of(found: re.Match[str], lines: _Lines) -> str:
    """"(shots 3, 9)" as "(shots 3, 9: lines 12, 40)" where the file's lines are known."""
    numbers = [int(n) for n in found.group(1).split(", ")]
    if not numbers or not all(0 < n <= len(lines.shots) for n in numbers):
        return found.group(0)
    return f"(shots {found.group(1)}: lines {', '.join(str(lines.shots[n - 1]) for n in numbers)})"


@dataclass(frozen=True)
class _Lines:
    """Where a batch file's entries start (1-based lines), to lead each problem with its line."""

    shots: list[int]  # each entry of ``shots:``, in order
    defaults: int | None = None  # the ``defaults:`` key
    default_keys: dict[str, int] = field(default_factory=dict)  # each key under it


def _file_lines(path: Path) -> _Lines:
    """The lines of ``path``'s shots and defaults; empty where the file cannot say."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=UniqueKeyLoader)
    except (OSError, ValueError, yaml.YAMLError, FileContentError, RecursionError):
        return _Lines([])
    if not isinstance(root, yaml.MappingNode):
        return _Lines([])
    top = {getattr(key, "value", None): (key, value) for key, value in root.value}
    shots = top.get("shots", (None, None))[1]
    defaults_key, defaults = top.get("defaults", (None, None))
    return _Lines(
        [item.start_mark.line + 1 for item in shots.value] if isinstance(shots, yaml.SequenceNode) else [],
        defaults_key.start_mark.line + 1 if defaults_key is not None else None,
        {str(key.value): key.start_mark.line + 1 for key, _ in defaults.value}
        if isinstance(defaults, yaml.MappingNode) else {},
    )


def _with_line(problem: str, lines: _Lines) -> str:
    """A problem led by its line in the file: "shot 57" was hard to find in a file of anchors."""
    if problem.startswith("defaults:"):
        named = _DEFAULTS_KEY.match(problem)
        line = lines.default_keys.get(named.group(1)) if named else None
        line = line or lines.defaults
        return problem if line is None else f"line {line}, {problem}"
    problem = _ENTRY_LIST.sub(lambda m: _lines_of(m, lines), problem)
    found = _SHOT_NUMBER.match(problem)
    if found is None or not 0 < int(found.group(1)) <= len(lines.shots):
        return problem
    return f"line {lines.shots[int(found.group(1)) - 1]}, {problem}"


def _check_collisions(shots: list[Shot], problems: list[str]) -> None:
    """Outputs on an input or on each other, compared as places on disk (links, ``..``, hard links,
    ``%04d`` = ``####``): compared as text, an output through a link to the plate's folder overwrote the
    plate, and two spellings of one sequence let one shot's frames replace the other's."""
    writers: list[tuple[DiskPlace, Shot, str]] = []  # each output's place, shot and kind (alpha …)
    names: dict[str, list[Shot]] = {}
    read_by: dict[Any, list[str]] = {}  # each input, and the shots that read it
    for s in shots:
        for path in (s.source, *s.reads):
            read_by.setdefault(path, []).append(s.name)
    inputs = [(disk_place(path, as_output=False), readers) for path, readers in read_by.items()]
    for shot in shots:
        names.setdefault(shot.name, []).append(shot)
        for kind, target in shot.outputs.items():
            place = disk_place(target, as_output=True)
            clash = next(((src, readers) for src, readers in inputs if place.clashes(src)), None)
            if clash is not None:
                src, readers = clash
                # the input may be another shot's: it was named as if it were this one's
                whose = "" if shot.name in readers else f" of shot '{readers[0]}'"
                problems.append(f"shot '{shot.name}': output {target} would overwrite the input "
                                f"{src.text}{whose}")
            other, other_kind = next(((owner, what) for written, owner, what in writers
                                      if place.clashes(written)), (None, ""))
            if other is shot:  # it was said as "shots 'd' and 'd' both write …"
                keys = {kind: key for key, kind in _OUTPUT_KIND.items()}  # as the file says them
                problems.append(f"shot '{shot.name}': its {keys[other_kind]} and its {keys[kind]} are the "
                                f"same file {os.path.normpath(target)}; name them apart")
            elif other is not None:
                # a glob entry's shots are named by their takes: their outputs must be too
                hint = ("; name a glob entry's outputs by their take: {stem} (or {folder}, {ext})"
                        if shot.from_glob or other.from_glob else "")
                # as the user would write it (it showed o/../o/a.mp4 when two entries named one file so)
                problems.append(f"shots '{other.name}' and '{shot.name}' both write "
                                f"{os.path.normpath(target)}{hint}")
            writers.append((place, shot, kind))
    for name, same in names.items():
        if len(same) > 1:
            advice = ("a glob entry's shots are named by their files: give the entries distinct names "
                      "by their take (name: \"{stem}_b\"), or narrow the globs so each take is matched once"
                      if any(s.from_glob for s in same) else "give each a distinct 'name:'")
            entries = sorted({shot.entry for shot in same})  # said without where: found by hand
            problems.append(f"{len(same)} shots are named '{name}' (shots {', '.join(map(str, entries))}); "
                            f"{advice}")
