"""Warnings about a state that comes and goes during a live take (a source lost and back, tracking
stopped and arriving again): each occurrence is said. Python prints a warning's words once per place in
the code, so an all-day take's second outage, worded as the first, went unsaid on the terminal."""

from __future__ import annotations

import warnings


class RecurringWarning(UserWarning):
    """A warning that is printed every time it is raised, not once per text."""


warnings.filterwarnings("always", category=RecurringWarning)


def say_again(message: str, stacklevel: int = 2) -> None:
    """``warnings.warn(message)`` as a :class:`RecurringWarning`: said each time."""
    warnings.warn(message, RecurringWarning, stacklevel=stacklevel + 1)
