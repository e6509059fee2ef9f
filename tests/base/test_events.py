"""A state that comes and goes in a live take (a source lost and back, tracking stopped and arriving
again) is said every time: Python prints a warning's words once per place in the code, so an all-day
take's second outage, worded as the first, went unsaid on the terminal."""

import subprocess
import sys

SAID_TWICE = """
import warnings
from guangying.base.events import say_again
for _ in range(2):
    say_again("FreeD camera tracking on port 40000 stopped")
for _ in range(2):
    warnings.warn("a plain warning")
"""


def test_a_recurring_warning_is_said_each_time_a_plain_one_once():
    # a fresh interpreter: Python's own filters, as the command line runs with them
    run = subprocess.run([sys.executable, "-c", SAID_TWICE], capture_output=True, text=True, check=True)
    err = run.stderr
    assert err.count("FreeD camera tracking on port 40000 stopped") == 2, err
    assert err.count("a plain warning") == 1, err  # what the recurring ones went through before
