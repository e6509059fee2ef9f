"""A take never overwrites an earlier one: the same `--record` given twice records the second take
under the next free number, the whole take alike; `--overwrite` replaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.live.take_names import describe_renumbered, unused_take_paths


def _take(tmp_path: Path, *extra: str) -> str:
    res = CliRunner().invoke(cli, [
        "live", str(tmp_path / "clip.mp4"), "--no-monitor", "--duration", "1", "-b", "black",
        "--record", str(tmp_path / "take.mp4"), "--record-matte", str(tmp_path / "matte.mov"), *extra,
    ])
    assert res.exit_code == 0, res.output
    return res.output


def test_a_second_take_of_the_same_name_is_numbered_and_the_first_kept(plate_clip, tmp_path):
    """Before, the second take replaced the first one's recording, matte and sidecar without a word."""
    (tmp_path / "clip.mp4").write_bytes(plate_clip.read_bytes())
    _take(tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert {"take.mp4", "take.frames.jsonl", "matte.mov"} <= set(first)
    said = r"take\.mp4 holds an earlier take: this take is recorded as .*take-2\.mp4"
    with pytest.warns(UserWarning, match=said):
        output = _take(tmp_path)
    assert "wrote " + str(tmp_path / "take-2.mp4") in output
    for name, data in first.items():  # the first take untouched
        assert (tmp_path / name).read_bytes() == data, name
    now = {p.name for p in tmp_path.iterdir()}
    assert {"take-2.mp4", "take-2.frames.jsonl", "matte-2.mov"} <= now
    _take(tmp_path, "--overwrite")
    assert not any(name.startswith(("take-3", "matte-3")) for name in {p.name for p in tmp_path.iterdir()})
    assert (tmp_path / "take.frames.jsonl").read_bytes() != first["take.frames.jsonl"]  # replaced


@pytest.mark.parametrize(("existing", "expected"), [
    ([], {"composite": "t.mov", "plate": "p.mkv", "sidecar": "t.frames.jsonl"}),
    (["p.mkv"], {"composite": "t-2.mov", "plate": "p-2.mkv", "sidecar": "t-2.frames.jsonl"}),
    (["t.frames.jsonl"], {"composite": "t-2.mov", "plate": "p-2.mkv", "sidecar": "t-2.frames.jsonl"}),
    (["t.mov", "t-2.mov", "p-3.mkv"],
     {"composite": "t-4.mov", "plate": "p-4.mkv", "sidecar": "t-4.frames.jsonl"}),
])
def test_the_whole_take_takes_the_first_number_free_for_all_its_files(tmp_path, existing, expected):
    for name in existing:
        (tmp_path / name).write_bytes(b"an earlier take")
    chosen, _ = unused_take_paths({"composite": tmp_path / "t.mov", "plate": tmp_path / "p.mkv",
                                   "matte": None, "sidecar": None})
    assert {k: p.name for k, p in chosen.items() if p is not None} == expected


def test_a_recorded_sequence_counts_as_taken_by_any_of_its_frames(tmp_path):
    (tmp_path / "m.0042.exr").write_bytes(b"a frame of an earlier take")
    chosen, number = unused_take_paths({"composite": None, "plate": None,
                                        "matte": tmp_path / "m.%04d.exr", "sidecar": tmp_path / "log.csv"})
    assert number == 2
    assert chosen["matte"] == tmp_path / "m-2.%04d.exr" and chosen["sidecar"] == tmp_path / "log-2.csv"


def test_an_earlier_takes_sidecar_left_alone_is_named_as_what_numbers_the_take(tmp_path):
    # Its recording deleted, the sidecar beside it numbered the take, and saying why crashed (StopIteration)
    (tmp_path / "t.frames.jsonl").write_bytes(b"an earlier take's log")
    given = {"composite": tmp_path / "t.mov", "plate": None, "matte": None, "sidecar": None}
    chosen, number = unused_take_paths(given)
    assert number == 2
    said = describe_renumbered(given, chosen)
    assert said.startswith(f"{tmp_path / 't.frames.jsonl'} holds an earlier take: this take is recorded as "
                           f"{tmp_path / 't-2.mov'}, {tmp_path / 't-2.frames.jsonl'}"), said
