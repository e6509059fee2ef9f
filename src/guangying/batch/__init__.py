"""Render a whole shoot: a batch file of shots, split into frame ranges, on Ray (this machine or a cluster).

``load_jobs`` reads and checks the batch file, ``run_batch`` renders it, ``write_report`` writes the
review pages. Workers composite through :class:`guangying.pipeline.frame.FrameCompositor` (via
``run_job``), like every other path.
"""

from guangying.batch.jobs import OptionSpec, Shot, load_jobs
from guangying.batch.report import write_report
from guangying.batch.runner import BatchReport, ShotOutcome, run_batch

__all__ = ["BatchReport", "OptionSpec", "Shot", "ShotOutcome", "load_jobs", "run_batch", "write_report"]
