"""Live on set: capture → matte → the one per-frame compositor → monitor, recordings and streams.

The capture thread never waits for processing: when processing falls behind, the oldest waiting
frames are dropped and counted, so latency stays bounded instead of growing.
"""

from guangying.live.capture import CapturedFrame, LiveSource, open_live_source
from guangying.live.session import LiveSession, SessionOutputs
from guangying.live.settings import LiveSettings
from guangying.live.stats import LiveStats

__all__ = [
    "CapturedFrame",
    "LiveSession",
    "LiveSettings",
    "LiveSource",
    "LiveStats",
    "SessionOutputs",
    "open_live_source",
]
