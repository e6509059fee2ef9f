"""Long sensor logs stream through `guangying focus` with flat memory (issue 8: a 10 M-row log must
finish; here 4 k vs 40 k rows under tracemalloc, the benchmark runs 10 M)."""

import json
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.focus.controller import ControllerConfig
from guangying.focus.replay import ReplaySettings, iter_replay
from guangying.focus.track_io import TrackWriter, iter_sensor_log, read_sensor_log


def _long_log(path, n, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.01
    d = 3.0 + 1.5 * np.sin(t / 7.0) + rng.normal(0, 0.012, n)
    strength = np.where(rng.random(n) < 0.02, 30, 900)
    with path.open("w") as fh:
        fh.write("t_s,distance_m,strength\n")
        fh.write("\n".join(f"{a:.2f},{b:.3f},{c}" for a, b, c in zip(t, d, strength, strict=True)) + "\n")


def _peak_bytes(log, out):
    cfg = ControllerConfig(135, 2.0, 0.025, latency_s=0.04)
    tracemalloc.start()
    try:
        with TrackWriter(out) as w:
            for batch in iter_replay(iter_sensor_log(log, block_rows=1024), ReplaySettings(25), cfg):
                w.write(batch)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_log_grows(tmp_path):
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _long_log(small, 4_000)
    _long_log(big, 40_000)
    peak_small = _peak_bytes(small, tmp_path / "s.csv")
    peak_big = _peak_bytes(big, tmp_path / "b.csv")
    rows = sum(1 for _ in (tmp_path / "b.csv").open()) - 1
    assert rows == 10_000  # 400 s at 25 fps (frame times up to the last reading)
    # the whole-file reader held every reading and every row: 10× the log, 10× the memory
    assert peak_big < 1.3 * peak_small + 2e5, (peak_small, peak_big)


def test_streamed_reader_keeps_the_rules_of_the_whole_file_reader(tmp_path):
    p = tmp_path / "l.csv"
    # CRLF line ends, a BOM, spaces, extra columns, a blank line, a weak and an "unreliable" return
    p.write_bytes("\ufeff t_s , distance_m, strength, note\r\n0.0, 2.0, 500, a\r\n\r\n0.01,2.1,65535,b\r\n"
                  "0.02,2.2,20,c\r\n0.03,0,900,d\r\n0.04,2.4,900,e".encode())
    rs = read_sensor_log(p)
    assert [r.t_s for r in rs] == [0.0, 0.01, 0.02, 0.03, 0.04]
    assert [r.valid for r in rs] == [True, False, False, False, True]
    assert rs[-1].distance_m == 2.4
    blocks = list(iter_sensor_log(p, block_rows=1))
    assert sum(b.t_s.size for b in blocks) == 5


def test_focus_cli_streams_a_long_log(tmp_path):
    log = tmp_path / "day.csv"
    _long_log(log, 30_000)
    out = tmp_path / "track.json"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "24", "--focal-length", "85",
                                   "--f-number", "2", "--sensor", "ff", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["columns"][-1] == "command_t_s" and len(data["frames"]) == 7_200
    assert data["frames"][0]["focus_distance_m"] is None and data["frames"][-1]["focus_distance_m"] > 0
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_a_track_named_for_another_format_is_refused(tmp_path):
    # gy.write_track("x.txt", rows) wrote CSV under a name that says text
    from guangying.base.errors import SettingsError
    from guangying.focus.track_io import write_track

    with pytest.raises(SettingsError, match=r"x\.txt: a focus track is written as \.csv or \.json"):
        write_track(tmp_path / "x.txt", [])
    assert not list(tmp_path.iterdir())
