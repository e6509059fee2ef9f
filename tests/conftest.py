"""Suite-wide rule for the neural models: a test that needs them carries the one marker ``models``.

Without the converted models such tests skip, saying why — unless ``GUANGYING_REQUIRE_MODELS=1``
(set by ``make test``, which installs them first): then a missing model fails the run, so a broken
install can never pass as a green suite of skips.
"""

from __future__ import annotations

import functools
import os

import pytest


@functools.cache
def _models_problem() -> str | None:
    from guangying.models import models_dir
    from guangying.models.installer import cache_is_complete

    folder = models_dir()
    return None if cache_is_complete(folder) else f"the converted models are not installed in {folder}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("models") is None:
        return
    problem = _models_problem()
    if problem is None:
        return
    if os.environ.get("GUANGYING_REQUIRE_MODELS") == "1":
        pytest.fail(f"{problem}, and GUANGYING_REQUIRE_MODELS=1 expects them: run `guangying models install`",
                    pytrace=False)
    pytest.skip(f"{problem}; `guangying models install` (run by `make test`) installs them")
