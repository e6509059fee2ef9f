"""Live on set: capture → matte → the one per-frame compositor → monitor, recordings and streams.

The capture thread never waits for processing: when processing falls behind, the oldest waiting
frames are dropped and counted, so latency stays bounded instead of growing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use, so importing one live module does not start the whole live stack.
_EXPORTS = {
    "CapturedFrame": "guangying.live.capture",
    "LiveSource": "guangying.live.capture",
    "open_live_source": "guangying.live.capture",
    "LiveSession": "guangying.live.session",
    "SessionOutputs": "guangying.live.session",
    "LiveSettings": "guangying.live.settings",
    "LiveStats": "guangying.live.stats",
    "LiveTake": "guangying.live.launch",
    "open_live": "guangying.live.launch",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.live.capture import CapturedFrame, LiveSource, open_live_source
    from guangying.live.launch import LiveTake, open_live
    from guangying.live.session import LiveSession, SessionOutputs
    from guangying.live.settings import LiveSettings
    from guangying.live.stats import LiveStats
