"""The decode-ahead / encode-behind threads: bounded, and their errors reach the caller with context."""

from __future__ import annotations

import threading
import time

import pytest

from guangying.media import MediaError
from guangying.media.io_threads import BackgroundSink, Prefetcher


def test_prefetcher_runs_at_most_depth_items_ahead():
    produced = []

    def produce():
        for i in range(100):
            produced.append(i)
            yield i

    prefetcher = Prefetcher(produce, depth=3, context="test")
    assert next(prefetcher) == 0
    time.sleep(0.2)  # give the thread every chance to run ahead
    # 1 taken + 3 queued + 1 held by the blocked put: memory is bounded whatever the clip length.
    assert len(produced) <= 5
    prefetcher.close()
    assert list(range(len(produced))) == produced


def test_prefetcher_reraises_thread_errors_with_context():
    def produce():
        yield 1
        raise ValueError("bad sector")

    prefetcher = Prefetcher(produce, depth=2, context="reading shot.mov")
    assert next(prefetcher) == 1
    with pytest.raises(MediaError, match="reading shot.mov: ValueError: bad sector") as caught:
        next(prefetcher)
    assert isinstance(caught.value.__cause__, ValueError)


def test_prefetcher_close_closes_the_generator():
    closed = threading.Event()

    def produce():
        try:
            yield from range(1000)
        finally:
            closed.set()

    prefetcher = Prefetcher(produce, depth=2, context="test")
    next(prefetcher)
    prefetcher.close()
    assert closed.is_set()


def test_sink_error_surfaces_on_the_next_submit_and_does_not_hang():
    def consume(item):
        if item == 2:
            raise OSError("encoder exploded")

    sink = BackgroundSink(consume, lambda: None, depth=1, context="writing out.mp4")
    with pytest.raises(MediaError, match="writing out.mp4: OSError: encoder exploded"):
        for i in range(50):
            sink.submit(i)
    sink.abort()


def test_sink_finish_consumes_everything_then_flushes_in_order():
    seen = []
    sink = BackgroundSink(seen.append, lambda: seen.append("flush"), depth=2, context="test")
    for i in range(10):
        sink.submit(i)
    sink.finish()
    assert seen == [*range(10), "flush"]


def test_sink_blocks_the_caller_when_the_encoder_falls_behind():
    release = threading.Event()
    submitted = []

    def slow_consume(item):
        release.wait()

    sink = BackgroundSink(slow_consume, lambda: None, depth=2, context="test")

    def producer():
        for i in range(20):
            sink.submit(i)
            submitted.append(i)

    thread = threading.Thread(target=producer)
    thread.start()
    time.sleep(0.2)
    # 1 being consumed + 2 queued: the caller waits instead of piling frames up in memory.
    assert len(submitted) <= 3
    release.set()
    thread.join()
    sink.finish()
    assert len(submitted) == 20
