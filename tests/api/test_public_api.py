"""The top-level API: lazy (PEP 562), complete, and each subpackage says what it offers."""

import importlib
import pkgutil
import subprocess
import sys

import guangying

HEAVY = ("cv2", "onnxruntime", "numba", "av", "scipy", "numpy")


def test_import_guangying_is_light():
    code = f"import sys, guangying; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "", f"import guangying loaded {out.stdout.strip()}"


def test_first_use_of_a_name_loads_only_its_module():
    code = (
        "import sys, guangying; d = guangying.depth_of_field(50, 2, 3, sensor='s35'); "
        "print(round(d.near_m, 3), ','.join(m for m in ('cv2', 'onnxruntime', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    near, loaded = (out.stdout.strip().split(" ") + [""])[:2]
    assert near == "2.833" and loaded == ""


def test_every_exported_name_resolves_and_unknown_names_fail():
    for name in guangying.__all__:
        assert getattr(guangying, name) is not None, name
    assert set(guangying.__all__) <= set(dir(guangying))
    try:
        guangying.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


def test_each_subpackage_declares_what_it_offers():
    for info in pkgutil.iter_modules(guangying.__path__):
        if not info.ispkg:
            continue
        package = importlib.import_module(f"guangying.{info.name}")
        assert package.__doc__, f"guangying.{info.name} has no docstring"
        if info.name == "cli":
            continue
        offered = getattr(package, "__all__", None)
        assert offered, f"guangying.{info.name} has no __all__"
        for name in offered:
            assert getattr(package, name) is not None, f"guangying.{info.name}.{name}"


def test_dir_shows_the_front_door_not_the_package_internals():
    # dir() listed os, Path, TYPE_CHECKING, lazy_exports, clear_stale_jit_cache beside the API
    shown = set(dir(guangying))
    assert not shown & {"os", "Path", "TYPE_CHECKING", "lazy_exports", "clear_stale_jit_cache", "_EXPORTS"}
    assert {"open_reader", "run_batch", "load_jobs", "SettingsError", "keyer", "media"} <= shown


def test_the_package_docstring_names_every_function_and_class_it_exports():
    doc = guangying.__doc__ or ""
    missing = [name for name in guangying.__all__
               if not name.startswith("_") and name[0].isalpha() and name.upper() != name
               and f"`{name}`" not in doc and f":func:`{name}`" not in doc and f":class:`{name}`" not in doc]
    assert not missing, f"exported but not named in guangying's docstring: {missing}"
