"""Whether a process still runs: what a killed run left (hidden partial files, staging folders, Ray's
session folders) is named by its process id and swept once that process has ended."""

from __future__ import annotations

import os


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs; a zombie (killed, not yet reaped by its parent) counts as ended."""
    if os.path.isdir("/proc"):  # Linux
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                return stat.read().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
