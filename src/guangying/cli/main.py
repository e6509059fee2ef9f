"""Entry point of the ``guangying`` command: a click group; each stage adds its own commands."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click
import yaml

from guangying import __version__


def load_config(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML settings file into a dict (keys use the CLI's option names)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"cannot parse config file {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(f"config file {path} must hold a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _default_map(config: dict[str, Any], commands: list[str]) -> dict[str, dict[str, Any]]:
    """Top-level keys apply to every command; a section named after a command applies to it only."""
    shared = {k: v for k, v in config.items() if k not in commands}
    out: dict[str, dict[str, Any]] = {}
    for name in commands:
        section = config.get(name) or {}
        if not isinstance(section, dict):
            raise click.BadParameter(f"config section '{name}' must be a mapping")
        out[name] = {**shared, **{str(k).replace("-", "_"): v for k, v in section.items()}}
    return out


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
                extra["default_map"] = _default_map(load_config(path), list(self.commands))
                break
        return super().make_context(info_name, args, parent=parent, **extra)


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
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(cli)


_register()


def main() -> None:
    cli(prog_name="guangying")


if __name__ == "__main__":
    main()
