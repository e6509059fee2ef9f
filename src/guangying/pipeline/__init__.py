"""Jobs that string the stages together: the one per-frame compositor, file-to-file jobs, plates.

- :class:`FrameCompositor` / :func:`composite_frame`: matte → layer hook → levels → light wrap → over.
- :func:`run_job` with :class:`JobOutputs` (and :class:`H264Options`): footage in, files out.
- :func:`make_matter` / :func:`key_frame` / :func:`keyer_settings_for`: the matte engine by mode.
- :class:`LensDefocus` / :class:`LensSettings`: the set and actor blurred as the lens would.
- :class:`Background`: colour, picture or clip plates fitted to the frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use, so importing one module of the package does not import all the others.
_EXPORTS = {
    "FrameCompositor": "guangying.pipeline.frame",
    "FrameResult": "guangying.pipeline.frame",
    "CompositeSettings": "guangying.pipeline.frame",
    "LayerHook": "guangying.pipeline.frame",
    "composite_frame": "guangying.pipeline.frame",
    "run_job": "guangying.pipeline.job",
    "JobOutputs": "guangying.pipeline.job",
    "JobReport": "guangying.pipeline.job",
    "H264Options": "guangying.pipeline.job",
    "make_matter": "guangying.pipeline.matters",
    "key_frame": "guangying.pipeline.matters",
    "keyer_settings_for": "guangying.pipeline.matters",
    "MATTE_MODES": "guangying.pipeline.matters",
    "LensDefocus": "guangying.pipeline.lens_defocus",
    "LensSettings": "guangying.pipeline.lens_defocus",
    "read_focus_track": "guangying.pipeline.lens_defocus",
    "Background": "guangying.pipeline.background",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.pipeline.background import Background
    from guangying.pipeline.frame import (
        CompositeSettings,
        FrameCompositor,
        FrameResult,
        LayerHook,
        composite_frame,
    )
    from guangying.pipeline.job import H264Options, JobOutputs, JobReport, run_job
    from guangying.pipeline.lens_defocus import LensDefocus, LensSettings, read_focus_track
    from guangying.pipeline.matters import MATTE_MODES, key_frame, keyer_settings_for, make_matter
