"""Entry point of the ``guangying`` command: a click group; each stage adds its own commands."""

from __future__ import annotations

import difflib
import math
import re
import signal
import sys
import tomllib
import traceback
import warnings
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from guangying import __version__
from guangying.base.errors import GuangyingError, StopSignal, brief
from guangying.base.events import RecurringWarning
from guangying.base.files import FileContentError, parse_json_or_yaml, parse_problem
from guangying.cli.signals import install_stop_handlers, run_finished, stop_behind, stopped_by

BUG_REPORT = (
    "This is a bug in Guangying {version}, not something you did. Please report it with the "
    "traceback above and the command you ran."
)


def load_config(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML settings file into a dict (keys use the CLI's option names)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: TOML refuses the BOM Notepad may write
    except UnicodeDecodeError as exc:
        raise click.UsageError(
            f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise click.UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        # a key given twice: the last won without a word (TOML refuses it itself)
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else parse_json_or_yaml(text, False)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError,
            FileContentError) as exc:
        raise click.UsageError(f"cannot parse config file {path}: {parse_problem(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.UsageError(f"config file {path} must hold a mapping of option names to values")
    return _option_names(data, path)


def _option_names(mapping: dict[Any, Any], path: Path) -> dict[str, Any]:
    """Keys as option names (``screen-gain`` → ``screen_gain``), sections' too; two spellings of one
    option are refused (the last won without a word)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = str(key).replace("-", "_")
        if name in out:
            raise click.UsageError(f"config file {path}: '{name}' is given twice (as {key!r} too); keep one")
        out[name] = _option_names(value, path) if isinstance(value, dict) else value
    return out


def _option_aliases(command: click.Command) -> dict[str, str]:
    """The names a config key may give each option of ``command`` by: its flag without dashes
    (``focal_length`` for ``--focal-length``, as a batch file names it) and the name its value goes to
    (``focal_length_mm``, as a saved look writes it). Not ``--no-…`` flags: ``no_loop: true`` is no
    ``loop: true``."""
    aliases: dict[str, str] = {}
    for param in command.params:
        if param.name:
            aliases[param.name] = param.name
            for flag in param.opts:
                if flag.startswith("--"):
                    aliases.setdefault(flag[2:].replace("-", "_"), param.name)
    return aliases


def _flag(param: click.Parameter) -> str:
    return next((f for f in param.opts if f.startswith("--")), f"--{(param.name or '').replace('_', '-')}")


def _as_param_names(values: dict[str, Any], aliases: dict[str, str], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in values.items():
        name = aliases.get(key, key)
        if name in out:
            raise click.UsageError(f"config file {path}: '{given[name]}' and '{key}' are one option; keep "
                                   "one")
        out[name], given[name] = value, key
    return out


def _sections(config: dict[str, Any], group: click.Group) -> dict[str, str]:
    """The config's keys that are sections (key → command): a command's name (``focus-live`` or
    ``focus_live``) holding a mapping. One holding a value is the option of that name where a command
    has one (``focus: 3``, ``distance: 2``, ``board: b.json`` were refused as sections)."""
    every = {key for cmd in group.commands.values() for key in _option_aliases(cmd)}
    sections = {}
    for name in group.commands:
        key = name.replace("-", "_")
        if key not in config:
            continue
        if isinstance(config[key], dict) or config[key] is None:
            sections[key] = name
        elif key not in every:
            raise click.UsageError(f"config section '{name}' must be a mapping")
    return sections


def _default_map(config: dict[str, Any], group: click.Group, path: Path) -> dict[str, dict[str, Any]]:
    """Top-level keys apply to every command; a section named after a command (``focus-live`` or
    ``focus_live``) applies to it only. Keys become the names click's defaults go by."""
    sections = _sections(config, group)
    shared = {k: v for k, v in config.items() if k not in sections}
    out: dict[str, dict[str, Any]] = {}
    for name in group.commands:
        key = name.replace("-", "_")
        section = (config[key] if key in sections else None) or {}
        aliases = _option_aliases(group.commands[name])
        values = {**_as_param_names(shared, aliases, path), **_as_param_names(section, aliases, path)}
        params = {p.name: p for p in group.commands[name].params}
        out[name] = {opt: _from_config_folder(value, params.get(opt), path) for opt, value in values.items()}
    return out


_FILE_NAME = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")  # ends in an extension (not "2.5", not "grey")
_RATIO = re.compile(r"^\s*[\d.]+\s*(/\s*[\d.]+\s*)?$")  # 24000/1001


def _from_config_folder(value: Any, param: click.Parameter | None, path: Path) -> Any:  # noqa: ANN401
    """A relative file name in a config file, for an option that takes one, is read from the file's
    folder, as in jobs and set files (``background: bg.png`` beside ``look/look.yaml`` was looked for in
    the current folder, and another bg.png there used without a word); ``~`` is the home folder."""
    if param is None or not isinstance(value, str) or "://" in value:
        return value
    if not (isinstance(param.type, click.Path) or param.type is click.STRING):
        return value
    if _RATIO.match(value) or not (value.startswith("~") or "/" in value or _FILE_NAME.search(value)):
        return value  # a colour, a name, a host, a frame rate
    name = Path(value).expanduser()
    return str(name if name.is_absolute() else path.parent / name)


def _expected(param: click.Parameter) -> str:
    kind = param.type
    if isinstance(kind, click.Choice):
        return "expected one of " + ", ".join(map(str, kind.choices))
    if isinstance(kind, click.types.BoolParamType):
        return "expected true or false"
    if param.nargs > 1:  # a text for a tuple was taken letter by letter ("5 were given" for "green")
        return f"expected a list of {param.nargs} numbers, e.g. [{', '.join(['0.5'] * param.nargs)}]"
    return f"expected a single {kind.name} value"


def _check_config(group: click.Group, config: dict[str, Any], path: Path, command: str | None = None) -> None:
    """Refuse keys no command takes (with a did-you-mean) and values of the wrong kind, naming the file:
    a misspelt setting must not be silently ignored. ``command``: the one being run, whose options a
    value is checked against first."""
    params = {name: {p.name: p for p in cmd.params if p.name} for name, cmd in group.commands.items()}
    aliases = {name: _option_aliases(cmd) for name, cmd in group.commands.items()}
    every = {key for names in aliases.values() for key in names}

    def check(key: str, value: Any, allowed: set[str], commands: list[str], where: str) -> None:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"config file {path}: unknown setting '{key}'{where}{hint}")
        for name in commands:
            param = params[name].get(aliases[name].get(key, key))
            if param is None:
                continue
            try:
                if isinstance(value, str) and param.nargs > 1:
                    raise TypeError(value)
                if isinstance(value, float) and math.isnan(value):  # .nan: refused later, the file unnamed
                    raise ValueError(value)
                if isinstance(value, bool) and isinstance(param.type, click.types.FloatParamType
                                                          | click.types.IntParamType):
                    raise TypeError(value)  # `latency_s = true` was 1 s, `yes` 1.0
                param.type_cast_value(click.Context(group.commands[name], info_name=name), value)
            except (click.BadParameter, TypeError, ValueError, AttributeError, OverflowError) as exc:
                # click's own text for a YAML list or number is Python's ("'int' object has no
                # attribute 'strip'"): say what the option takes instead
                message = exc.format_message() if isinstance(exc, click.ClickException) else _expected(param)
                raise click.UsageError(  # not BadParameter: no option of this command is wrong
                    f"config file {path}: {key} = {brief(value)} is not a valid value for "
                    f"`{name} {_flag(param)}` ({message})"
                ) from exc

    sections = _sections(config, group)  # [focus-live] was "unknown"
    # the command being run first: "focal_length: 50mm" with dof was said as not valid for `composite`
    commands = sorted(group.commands, key=lambda name: name != command)
    for key, value in config.items():
        if key in sections:
            name = sections[key]
            for sub_key, sub_value in (value or {}).items():
                check(sub_key, sub_value, set(aliases[name]), [name], f" in section [{name}]")
        else:
            check(key, value, every, commands, "")


_LONG_WORD = re.compile(r"\S{240,}")


def _readable(message: str) -> str:
    """``message`` with each run of over 240 characters without a space cut to its ends: a value from a
    file written out whole (a 2-million-letter sensor name) filled 2 MB of terminal and log."""
    return _LONG_WORD.sub(lambda m: f"{m[0][:100]}…({len(m[0]):,} characters)…{m[0][-20:]}", message)


class _Failure(click.ClickException):
    """A GuangyingError's message, ending the command with the error's own exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(_readable(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click keeps it as a class default


_as_program = False  # run as the program (main), not called from a script or a test


class _ConfigGroup(click.Group):
    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        # Peek at --config before click parses the subcommand, so its values become defaults
        # that explicit flags still override.
        for i, arg in enumerate(args):
            value = None
            if arg == "--config" and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith("--config="):
                value = arg.split("=", 1)[1]
            if value is not None:
                path = Path(value)
                if not path.is_file():
                    raise click.UsageError(f"config file not found: {path}")
                config = load_config(path)
                extra["default_map"] = _default_map(config, self, path)
                _check_config(self, config, path, next((a for a in args if a in self.commands), None))
                ctx = super().make_context(info_name, args, parent=parent, **extra)
                ctx.meta["guangying.config"] = path  # an input of the run: see invoke
                return ctx
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        # The one place errors are turned into messages: a GuangyingError is something the user can
        # fix and gets its sentence; anything else is a bug and keeps its traceback.
        from guangying.media.outputs import run_input

        try:
            with run_input(ctx.meta.get("guangying.config")):  # no output may be written over it
                done = super().invoke(ctx)
            if _as_program:
                # the outputs are complete and said: a Ctrl-C now stops nothing (it ended the process
                # by "Aborted!", exit 130, or by the signal, as if the run had failed)
                run_finished()
            return done
        except GuangyingError as exc:
            raise _Failure(str(exc), exc.exit_code) from exc
        except KeyboardInterrupt as interrupt:
            _say_stopped(ctx, _signal_of(interrupt))
        except SystemExit:
            signum = stopped_by()
            if signum is not None:  # a SIGTERM or SIGHUP, once cleaned up: said as a Ctrl-C is
                _say_stopped(ctx, signum)
            raise
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MemoryError as exc:
            # no bug: a picture too large for the memory free (a 96-megapixel still needs about 7 GB)
            detail = f" ({exc})" if str(exc) else ""
            raise _Failure(
                f"out of memory{detail}: the pictures are too large for the memory free on this machine; "
                "work on a smaller copy (a proxy) or free memory, and run it again. Unfinished outputs were "
                "removed.", 1) from exc
        except BrokenPipeError:
            # `guangying models list | head -1`: the reader went away, which is no bug. Click ends it
            # quietly (its EPIPE handling); it was reported as one, with a traceback and exit 70.
            raise
        except Exception as exc:
            stop = stop_behind(exc)
            if stop is not None:
                _say_stopped(ctx, _signal_of(stop))
            traceback.print_exc(file=sys.stderr)
            click.echo("\n" + BUG_REPORT.format(version=__version__), err=True)
            ctx.exit(70)  # EX_SOFTWARE


def _signal_of(stop: BaseException) -> int:
    if isinstance(stop, StopSignal):  # a live take's start turns a SIGTERM into an interrupt
        return stop.signum
    if isinstance(stop, SystemExit) and isinstance(stop.code, int) and stop.code > 128:
        return stop.code - 128  # the stop handler's exit
    return stopped_by() or signal.SIGINT


def _say_stopped(ctx: click.Context, signum: int) -> NoReturn:
    """Ctrl-C, SIGTERM or SIGHUP: what became of the outputs, where click said only "Aborted!" (and a
    SIGTERM nothing once cleaned up). The writers' with-blocks have run by now (a partial file removed,
    an earlier version kept)."""
    cause = "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    said = f"\nguangying: {cause}; unfinished outputs were removed and earlier files kept."
    if ctx.invoked_subcommand == "batch":
        said += " Finished shots are kept: run it again with --resume."
    click.echo(said, err=True)
    raise click.exceptions.Exit(128 + signum)


@click.group(cls=_ConfigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="guangying")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or TOML file of settings: top-level keys for every command, "
    "or a section per command (e.g. [key] screen_gain = 1.1). Flags override it.",
)
def cli(config: Path | None) -> None:
    """Guangying (光影): key, matte, focus and composite footage into virtual sets.

    \b
    Quick examples:
      guangying key shot.mp4 --matte chroma --alpha matte.%04d.png
      guangying composite shot.mp4 --matte chroma --background set.jpg -o comp.mp4
      guangying dof --focal-length 135 --f-number 2 --distance 5 --sensor s35
      guangying models install
    """


def _register() -> None:
    # Each stage owns its command module; importing it adds its commands to the group.
    import importlib

    for module in (
        "guangying.cli.matte_commands",
        "guangying.cli.models_commands",
        "guangying.cli.focus_commands",
        "guangying.cli.demo_command",
        "guangying.cli.live_command",
        "guangying.cli.batch_command",
        "guangying.cli.track_commands",
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(cli)


_register()


_SAID: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    # Each text once (a RecurringWarning each time): Python keys "once" by the code's place, and that
    # registry is cleared whenever a filter changes; a live --loop of a 3-frame log clip said the
    # clip's colour note 24 times in 2 s, once each time the clip was opened again.
    text = str(message)
    if not issubclass(category, RecurringWarning):
        if text in _SAID:
            return
        _SAID.add(text)
    click.echo(f"warning: {_readable(text)}", err=True)


def main() -> None:
    global _as_program
    _as_program = True
    install_stop_handlers()
    warnings.showwarning = _show_warning  # one plain line per warning, not a source listing
    try:
        cli(prog_name="guangying")
    except SystemExit as exc:
        # Shells and schedulers read 128 + the signal. Click ends a Ctrl-C with "Aborted!" and status 1,
        # and Ray turns a stop that lands in its waits into SystemExit(1): the stop is what ended it.
        stop = stopped_by()
        if stop is not None and exc.code != 128 + stop:
            raise SystemExit(128 + stop) from None
        raise


if __name__ == "__main__":
    main()
