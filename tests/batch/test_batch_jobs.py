"""JOBS.yaml checks (no Ray needed): every problem listed at once, globs and templates, planning."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from batch_samples import write_clip, write_still

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import InputFormatError, SettingsError
from guangying.batch import load_jobs
from guangying.batch.plan import plan_shot
from guangying.cli.batch_command import command_options
from guangying.cli.matte_commands import composite, key
from guangying.keyer import ChromaKeyer
from guangying.media import open_reader

COMMANDS = {"key": command_options(key), "composite": command_options(composite)}


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jobs")
    (root / "takes").mkdir()
    for name, seed in (("c1", 1), ("c2", 2)):
        write_clip(root / "takes" / f"{name}.mp4", 6, seed=seed)
    write_still(root / "set.png", (0.4, 0.4, 0.4))
    return root


def _refused(jobs: Path) -> str:
    """The message of the batch file's refusal, which lists every problem."""
    with pytest.raises(SettingsError) as info:
        load_jobs(jobs, COMMANDS)
    return str(info.value)


def test_every_problem_listed_and_nothing_started(takes):
    jobs = takes / "bad.yaml"
    jobs.write_text("""
defaults:
  matte: chroma
  background: set.png
shots:
  - input: takes/missing.mp4
    output: out/a.mp4
  - input: takes/c1.mp4
    output: out/same.mov
    screen_gian: 1.1
  - input: takes/c2.mp4
    output: out/same.mov
    screen_gain: lots
  - input: "takes/nothing*.mov"
    output: "out/{stem}.mov"
  - input: takes/c1.mp4
    command: key
""")
    message = _refused(jobs)
    assert "7 problem(s)" in message, message
    assert "2 shots are named 'c1' (shots 2, 5: lines 8, 16)" in message  # found by hand in a long file
    assert "missing.mp4" in message
    assert "unknown key 'screen_gian' (did you mean 'screen_gain'?)" in message
    assert "screen_gain='lots'" in message
    assert "both write" in message and "same.mov" in message
    assert "no file matches input 'takes/nothing*.mov'" in message
    assert "key needs 'alpha:'" in message
    assert not (takes / "out").exists()  # nothing was started



def test_a_missing_batch_file_is_a_file_not_found_error(tmp_path):
    # a script's `except FileNotFoundError` did not catch it
    with pytest.raises(FileNotFoundError, match="the batch file .*shoot.yaml does not exist") as caught:
        load_jobs(tmp_path / "shoot.yaml", COMMANDS)
    assert isinstance(caught.value, SettingsError)  # still "nothing started" for the CLI's exit 2


def test_an_output_that_is_a_folder_is_listed(takes):
    # found at the join, after the shot had rendered
    (takes / "as_folder.mov").mkdir(exist_ok=True)
    jobs = takes / "folder.yaml"
    jobs.write_text("shots:\n  - input: takes/c1.mp4\n    command: key\n    alpha: as_folder.mov\n")
    with pytest.raises(SettingsError, match="alpha 'as_folder.mov' is a folder; name a file in it"):
        load_jobs(jobs, COMMANDS)


def test_a_shot_whose_output_and_alpha_are_one_file_is_said_as_one_shot(takes):
    # it was said as "shots 'c1' and 'c1' both write …"
    jobs = takes / "twice.yaml"
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, background: '#000000', output: out/d.mp4, "
                    "alpha: out/d.mp4}\n")
    with pytest.raises(SettingsError, match=r"shot 'c1': its output and its alpha are the same file .*d.mp4"):
        load_jobs(jobs, COMMANDS)


def test_a_background_that_is_neither_a_file_nor_a_colour_is_said_as_composite_says_it(takes):
    # "background /…/red does not exist", where `composite -b red` lists the colours it takes
    jobs = takes / "red.yaml"
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, command: composite, output: o.mov, background: red}\n")
    assert "background 'red' is neither a file nor a colour (use a path, #RRGGBB" in _refused(jobs)


def test_a_non_text_value_for_an_on_off_key_is_listed_not_a_traceback(takes):
    # click's bool type called .strip() on the YAML integer: an AttributeError, "a bug in Guangying".
    jobs = takes / "flags.yaml"
    jobs.write_text("""
shots:
  - input: takes/c1.mp4
    output: out/f.mov
    background: set.png
    unmix: 7
""")
    with pytest.raises(SettingsError, match="unmix=7: expected a boolean value"):
        load_jobs(jobs, COMMANDS)


def test_a_batch_file_saved_in_a_local_code_page_is_refused_with_the_line(takes):
    # Notepad on a Chinese Windows saves GBK: the UnicodeDecodeError was reported as "a bug in Guangying"
    jobs = takes / "gbk.yaml"
    jobs.write_bytes("shots:\n  - input: takes/镜头01.mp4\n    output: out/合成.mov\n".encode("gbk"))
    with pytest.raises(InputFormatError, match=r"gbk\.yaml, line 2: not UTF-8 text \(byte 0x.*save the "
                                               r"batch file as UTF-8"):
        load_jobs(jobs, COMMANDS)


def test_masks_and_plates_are_checked_against_the_footage_before_anything_starts(takes):
    # these used to stop a shot only when its turn came; the clip is write_clip's size
    write_still(takes / "small_mask.png", (1.0, 1.0, 1.0), size=(8, 6))
    jobs = takes / "masks.yaml"
    jobs.write_text("""
defaults: {background: set.png}
shots:
  - input: takes/c1.mp4
    output: out/m1.mov
    garbage_mask: "0,0; 10,0; nan,5"
  - input: takes/c2.mp4
    output: out/m2.mov
    core_mask: small_mask.png
  - input: takes/c1.mp4
    name: plate
    output: out/m3.mov
    clean_plate: takes/no_plate.png
  - input: takes/c2.mp4
    name: good
    output: out/m4.mov
    garbage_mask: "0,0; 10,0; 10,5"
""")
    with pytest.raises(SettingsError) as info:
        load_jobs(jobs, COMMANDS)
    message = str(info.value)
    assert "3 problem(s)" in message, message
    assert "shot 1: garbage_mask: polygon" in message
    assert "shot 2: core_mask: mask image" in message and "8×6" in message
    assert "shot 3 ('plate'): clean_plate:" in message and "no_plate.png" in message
    assert not (takes / "out").exists()


def test_glob_templates_and_relative_paths(takes, tmp_path):
    jobs = takes / "good.yaml"
    jobs.write_text("""
defaults: {command: composite, background: set.png, screen_gain: 1.2}
shots:
  - input: "takes/c*.mp4"
    output: "out/{stem}_comp.%04d.png"
    alpha: "out/{stem}_alpha.mov"
    no_audio: true
    auto_plate: false
""")
    shots = load_jobs(jobs, COMMANDS)
    assert [s.name for s in shots] == ["c1", "c2"]
    assert shots[0].outputs == {
        "composite": str(takes / "out" / "c1_comp.%04d.png"),
        "alpha": str(takes / "out" / "c1_alpha.mov"),
    }
    assert shots[1].background == str(takes / "set.png")
    opts = shots[0].options
    assert opts["screen_gain"] == 1.2 and opts["no_audio"] is True and opts["auto_plate"] is False
    assert opts["light_wrap_intensity"] == 0.35  # the CLI's own default


def test_a_glob_over_shot_folders_finds_each_folders_sequence(tmp_path):
    """Plates kept as VFX keeps them, one folder per shot, each a plate.####.exr: one shot per folder
    (the glob matched no file), named by folder, outputs by {folder}."""
    for shot in ("sh010", "sh020", "sh030"):
        (tmp_path / "plates" / shot).mkdir(parents=True)
        if shot != "sh030":  # an empty folder (plates not delivered yet) is no shot
            for n in (1001, 1002):
                write_still(tmp_path / "plates" / shot / f"plate.{n}.png", (0.2, 0.6, 0.3))
    write_still(tmp_path / "set.png", (0.4, 0.4, 0.4))
    jobs = tmp_path / "seq.yaml"
    jobs.write_text("""
defaults: {command: composite, background: set.png, matte: chroma}
shots:
  - input: "plates/*/plate.####.png"
    output: "comps/{folder}_comp.mov"
""")
    shots = load_jobs(jobs, COMMANDS)
    assert [s.name for s in shots] == ["sh010_plate", "sh020_plate"]
    folders = ("sh010", "sh020")
    assert [s.source for s in shots] == [str(tmp_path / "plates" / f / "plate.####.png") for f in folders]
    comps = [str(tmp_path / "comps" / f"{f}_comp.mov") for f in folders]
    assert [s.outputs["composite"] for s in shots] == comps
    jobs.write_text("""
shots:
  - {input: "plates/sh0*/plate*.####.png", output: "{folder}.mov", background: set.png}
""")
    with pytest.raises(SettingsError, match="takes a glob in its folders only"):
        load_jobs(jobs, COMMANDS)


def test_plan_shares_the_keyers_screen_estimate(takes):
    jobs = takes / "plan.yaml"
    shot = "{input: takes/c1.mp4, background: set.png, output: o.mov, range_frames: 2}"
    jobs.write_text(f"shots:\n  - {shot}\n")
    shot = load_jobs(jobs, COMMANDS)[0]
    plan = plan_shot(shot, workers=3)
    assert [(r.first, r.last, r.warmup) for r in plan.ranges] == [(0, 1, 0), (2, 3, 0), (4, 5, 0)]
    # The same estimate the keyer makes on its own first frame.
    keyer = ChromaKeyer()
    with open_reader(shot.source) as reader:
        keyer.process(next(iter(reader)).rgb)
    assert plan.options["screen"] == keyer.screen
    shared = srgb_to_linear(np.asarray(plan.options["screen_colour"], np.float32))
    assert np.array_equal(shared, keyer.screen_colour_linear)
    kind = ("mosaic" if keyer.luma_refine_linear else "stored") if keyer.luma_refine_active else "off"
    assert plan.options["luma_refine"] == kind  # and which luma the refinement fits


def test_a_clip_whose_count_is_estimated_is_planned_to_its_real_end(takes):
    # An mkv whose Duration says 6 frames though it holds 12 (see test_source_quirks.py)
    path = write_clip(takes / "takes" / "long.mkv", 12, seed=3)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88") + 3
    data[at: at + 8] = struct.pack(">d", struct.unpack(">d", data[at: at + 8])[0] / 2)
    path.write_bytes(bytes(data))
    jobs = takes / "estimated.yaml"
    shot = "{input: takes/long.mkv, background: set.png, output: o.mov, range_frames: 2}"
    jobs.write_text(f"shots:\n  - {shot}\n")
    plan = plan_shot(load_jobs(jobs, COMMANDS)[0], workers=3)
    assert [(r.first, r.last) for r in plan.ranges] == [(0, 1), (2, 3), (4, None)]
    with open_reader(path, start=4, end=plan.ranges[-1].last) as reader:
        assert [f.index for f in reader] == list(range(4, 12))


def test_outputs_on_inputs_or_each_other_are_found_as_places_on_disk(takes, tmp_path):
    """Compared as text, an output through a link to the plates' folder overwrote the plate (composite
    refused the same), and ``%04d`` and ``####`` of one sequence let one shot's mattes replace the
    other's, both reported done."""
    import shutil

    (tmp_path / "real").mkdir()
    shutil.copy(takes / "takes" / "c1.mp4", tmp_path / "real" / "plate.mp4")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"""
shots:
  - {{input: real/plate.mp4, background: "#000000", output: link/plate.mp4, name: overwrites}}
  - {{input: {takes}/takes/c1.mp4, command: key, alpha: out/k.%04d.png, name: A}}
  - {{input: {takes}/takes/c2.mp4, command: key, alpha: out/../out/k.####.png, name: B}}
  - {{input: {takes}/takes/c2.mp4, background: link/plate.mp4, output: out/bg.mp4, name: C}}
""")
    with pytest.raises(SettingsError) as info:
        load_jobs(jobs, COMMANDS)
    message = str(info.value)
    assert "2 problem(s)" in message, message  # shot C reads what 'overwrites' would write: said once
    assert "link/plate.mp4 would overwrite the input " + str(tmp_path / "real" / "plate.mp4") in message
    assert "shots 'A' and 'B' both write" in message and "../" not in message  # as written, normalised
    # a shot writing over another shot's input: it was named as if the input were its own
    jobs.write_text(f"""
shots:
  - {{input: {takes}/takes/c1.mp4, command: key, alpha: real/plate.mp4, name: a}}
  - {{input: real/plate.mp4, command: key, alpha: out/p.%04d.png, name: b}}
""")
    with pytest.raises(SettingsError, match=r"shot 'a': output .*real/plate.mp4 would overwrite the input "
                       r".*plate.mp4 of shot 'b'"):
        load_jobs(jobs, COMMANDS)


def test_the_fingerprint_sees_every_file_a_shot_reads(takes, tmp_path):
    """--resume skipped shots whose background, mask or plate frames had been replaced: only the
    input's size and time were taken, and not at all for a sequence."""
    import os

    plates = tmp_path / "seq"
    plates.mkdir()
    for n in range(3):
        write_still(plates / f"plate.{n + 1:04d}.png", (0.1, 0.6 + 0.1 * n, 0.1))
    write_still(tmp_path / "set.png", (0.4, 0.4, 0.4))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("""
shots:
  - {input: seq/plate.####.png, fps: 24, background: set.png, output: out/a.mp4}
""")

    def fingerprint() -> str:
        return load_jobs(jobs, COMMANDS)[0].fingerprint()

    first = fingerprint()
    assert fingerprint() == first  # nothing changed
    prints = {first}
    for changed in (plates / "plate.0002.png", tmp_path / "set.png"):
        stat = os.stat(changed)
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # replaced
        prints.add(fingerprint())
    assert len(prints) == 3


def test_names_that_are_paths_and_keys_the_file_cannot_mean_are_refused(takes):
    """A shot named '../../sets/hall' wrote its contact sheet over the set it read (names become file
    names: the report's contact sheet, the render's staging folder). A top-level 'default:' (for
    'defaults:') and a key given twice in one shot were dropped without a word."""
    jobs = takes / "names.yaml"
    jobs.write_text("""
default:
  screen_gain: 1.5
defaults:
  background: set.png
shots:
  - input: takes/c1.mp4
    name: ../../sets/hall
    output: out/a.mp4
  - input: takes/c2.mp4
    name: .hidden
    output: out/b.mp4
""")
    with pytest.raises(SettingsError) as info:
        load_jobs(jobs, COMMANDS)
    message = str(info.value)
    assert "unknown top-level key 'default' (did you mean 'defaults'?)" in message
    assert "name '../../sets/hall' becomes file names" in message and "name '.hidden'" in message
    twice = takes / "twice.yaml"
    twice.write_text("shots:\n  - input: takes/c1.mp4\n    output: out/a.mp4\n    output: out/a_v2.mp4\n"
                     "    background: set.png\n")
    with pytest.raises(InputFormatError, match=r"line 4: 'output' is given twice"):
        load_jobs(twice, COMMANDS)


def test_shapes_that_crashed_the_checks_are_listed_as_problems(takes, tmp_path, monkeypatch):
    """Each of these was a traceback (exit 70) in the checks that run before anything starts; one
    printed a 2 GB file name. A path option was looked for from the current folder, not the file's."""
    (takes / "focus").mkdir(exist_ok=True)
    (takes / "focus" / "track.csv").write_text("frame,focus_distance_m\n0,2.0\n")
    # a track's contents, read only at the shot's turn: rows out of order, and one written at 50 fps
    (takes / "focus" / "sorted.csv").write_text("frame,focus_distance_m\n1,2.0\n0,2.5\n")
    (takes / "focus" / "fast.csv").write_text("frame,t_s,focus_distance_m\n"
                                              + "".join(f"{k},{k / 50},2\n" for k in range(6)))
    jobs = takes / "shapes.yaml"
    big = "9" * 400
    jobs.write_text(f"""
shots:
  - {{input: takes/c1.mp4, output: out/a.mp4, background: set.png, command: [key]}}
  - {{input: takes/c1.mp4, output: out/b.mp4, background: set.png, 1: x}}
  - {{input: takes/c1.mp4, output: "out/{{stem.foo}}.mp4", background: set.png}}
  - {{input: takes/c1.mp4, output: "out/{{stem:>2000000000}}.mp4", background: set.png}}
  - {{input: "takes/c1\\0.mp4", output: out/e.mp4, background: set.png}}
  - {{input: takes/c1.mp4, output: "out/{'n' * 300}.mp4", background: set.png}}
  - {{input: takes/c1.mp4, output: out/g.mp4, background: takes}}
  - {{input: takes/c1.mp4, output: out/h.mp4, background: set.png, screen_gain: yes}}
  - {{input: takes/c1.mp4, output: out/i.mp4, background: set.png, focus_track: focus/track.csv,
     focal_length: 50, f_number: 2}}
  - {{input: takes/c1.mp4, output: out/j.mp4, background: set.png, focus_track: focus/sorted.csv,
     focal_length: 50, f_number: 2}}
  - {{input: takes/c1.mp4, output: out/k.mp4, background: set.png, focus_track: focus/fast.csv,
     focal_length: 50, f_number: 2}}
  - {{input: takes/c1.mp4, output: out/l.mp4, background: set.png, end: 2.5}}
""")
    monkeypatch.chdir(tmp_path)  # the file's paths are the file's folder's, wherever batch runs
    message = _refused(jobs)
    assert "12 problem(s)" in message, message  # and: 10 shots named c1
    for said in ("shot 1: command ['key'] is not one of", "shot 2: key 1 is not a name",
                 "shot 3: output 'out/{stem.foo}.mp4': unknown name 'stem.foo'",
                 "shot 4: output 'out/{stem:>2000000000}.mp4': unknown name",
                 "shot 5: input holds a NUL byte",
                 "shot 6: output 'out/nnn", "shot 7: background", "is a folder",
                 "shot 8: screen_gain=True: expected a float value",
                 "shot 10: focus_track: focus track", "frame 0 after frame 1",
                 "shot 11: focus_track: focus track", "fast.csv was written at 50 fps",
                 "shot 12: end=2.5: expected a whole number"):  # it was cut to 2
        assert said in message, (said, message)
    assert "shot 9" not in message and len(message) < 5000
    jobs.write_text(f"shots:\n  - {{input: takes/c1.mp4, output: out/a.mp4, background: set.png, "
                    f"screen_gain: {big}}}\n")
    with pytest.raises(InputFormatError, match=r"line 2: the number 999999999999… \(400 digits\) is larger"):
        load_jobs(jobs, COMMANDS)


def test_places_the_batch_writes_are_tried_before_anything_starts(takes, tmp_path, monkeypatch):
    """A report folder that cannot be written stopped the batch after its first shot had rendered,
    and the rest never did; a job file's folder that cannot be written (a read-only share) failed at
    the first save of the batch's progress. Made unwritable here by a file where a folder must go:
    permission bits do not stop root."""
    from guangying.batch import run_batch
    from guangying.batch.manifest import manifest_path

    jobs = takes / "one.yaml"
    jobs.write_text("shots:\n  - input: takes/c1.mp4\n    command: key\n    alpha: out/one.mov\n")
    (tmp_path / "afile").write_text("")
    with pytest.raises(SettingsError, match=r"--report .*afile/rep cannot be written .* nothing was started"):
        run_batch(load_jobs(jobs, COMMANDS), jobs, report_dir=tmp_path / "afile" / "rep")
    assert not (takes / "out" / "one.mov").exists()
    share = tmp_path / "share"
    share.mkdir()
    (share / ".shoot.batch").write_text("")  # where the progress goes, and cannot
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.warns(UserWarning, match=r"cannot keep its progress beside .*shoot\.yaml .*: it is kept in"):
        kept = manifest_path(share / "shoot.yaml")
    assert kept.parent.parent == tmp_path / "state" / "guangying" / "batch" and kept.parent.is_dir()
    with pytest.warns(UserWarning):
        assert manifest_path(share / "shoot.yaml") == kept  # the same on every run: --resume finds it


def test_ranges_encoder_settings_and_output_types_are_checked_before_anything_starts(takes):
    # each passed the check and failed the shot hours later, when its turn came (the output type's
    # message naming the render's temporary file)
    jobs = takes / "late.yaml"
    jobs.write_text("""
defaults:
  background: set.png
shots:
  - {input: takes/c1.mp4, output: out/a.mp4, start: 5, end: 2}
  - {input: takes/c2.mp4, output: out/b.mp4, start: 100}
  - {input: takes/c1.mp4, output: out/c.mp4, name: c, crf: 99}
  - {input: takes/c2.mp4, output: out/d.xyz, name: d}
  - {input: takes/c2.mp4, command: key, alpha: out/e.%04d.dpx, name: e}
""")
    message = _refused(jobs)
    assert "5 problem(s)" in message, message
    assert "alpha 'out/e.%04d.dpx': mattes are not written as DPX here" in message
    assert "end frame 2 is before start frame 5" in message
    assert "start frame 100 is outside" in message
    assert "crf" in message and "99" in message
    assert "output 'out/d.xyz': unknown output type" in message


def test_what_an_interrupted_run_staged_under_other_settings_is_swept(takes):
    # Interrupted, then run again with a setting changed: the old staging (another fingerprint) was
    # never used nor removed, gigabytes at 4K EXR in a hidden folder. A shot whose name only begins
    # the same way keeps its own.
    from guangying.batch.join import sweep_stale_staging
    from guangying.batch.render import STAGING_FOLDER, shot_staging

    jobs = takes / "sweep.yaml"
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, command: key, alpha: sweep/c1.mov}\n")
    (shot,) = load_jobs(jobs, COMMANDS)
    root = takes / "sweep" / STAGING_FOLDER
    stale, other, current = root / "c1-0badf00d", root / "c1-x-12345678", shot_staging(
        shot.outputs["alpha"], "c1", shot.fingerprint())
    for folder in (stale, other, current):
        (folder / "alpha" / "0-5").mkdir(parents=True)
        (folder / "alpha" / "0-5" / "segment.mov").write_bytes(b"x" * 100)
    assert sweep_stale_staging(shot, shot.fingerprint()) == [stale]
    assert not stale.exists() and other.is_dir() and current.is_dir()


@pytest.mark.parametrize("problem", ["job file", "report folder"])
def test_nothing_started_exits_2_not_as_failed_shots(takes, tmp_path, problem):
    # A wrong job file and "some shots failed" both exited 1: a pipeline had to read the text to tell a
    # batch that never started (fix the file, rerun) from one whose shots failed (look at those shots).
    from click.testing import CliRunner

    from guangying.cli.main import cli

    jobs = takes / f"exit_{problem[0]}.yaml"
    shot = "  - input: takes/c1.mp4\n    command: key\n    alpha: out/exit_c1.mov\n"
    jobs.write_text("shots:\n" + shot + ("    crf: 99\n" if problem == "job file" else ""))
    (tmp_path / "a_file").write_text("")
    report = tmp_path / "a_file" / "rep"
    result = CliRunner().invoke(cli, ["batch", str(jobs), "--quiet", "--report", str(report)])
    assert result.exit_code == 2, result.output
    assert ("crf" if problem == "job file" else "--report") in result.output
    assert not (takes / "out" / "exit_c1.mov").exists()


def test_a_linked_job_file_reads_its_paths_from_the_links_folder(takes, tmp_path):
    # a template job file linked into each shot folder read its paths from the template's folder
    template = tmp_path / "templates" / "jobs.yaml"
    template.parent.mkdir()
    template.write_text("shots:\n  - input: takes/c1.mp4\n    command: key\n    alpha: out/linked.mov\n")
    link = takes / "linked_jobs.yaml"
    link.unlink(missing_ok=True)
    link.symlink_to(template)
    (shot,) = load_jobs(link, COMMANDS)
    assert Path(shot.source) == takes / "takes" / "c1.mp4"
    assert Path(shot.outputs["alpha"]) == takes / "out" / "linked.mov"


def test_a_glob_entrys_clashes_are_advised_by_what_it_can_change(takes):
    # "give each a distinct name:" could not be followed: a glob's shots take no name of their own
    jobs = takes / "globclash.yaml"
    jobs.write_text("""
shots:
  - input: "takes/c*.mp4"
    command: key
    alpha: out/all.mov
  - input: takes/c1.mp4
    command: key
    alpha: out/c1_alone.mov
""")
    with pytest.raises(SettingsError) as info:
        load_jobs(jobs, COMMANDS)
    message = str(info.value)
    assert "both write" in message and "name a glob entry's outputs by their take: {stem}" in message
    assert "2 shots are named 'c1' (shots 1, 2: lines" in message
    assert "; a glob entry's shots are named by their files" in message
    assert 'by their take (name: "{stem}_b")' in message


def test_two_glob_entries_over_the_same_takes_are_told_apart_by_a_name_template(takes):
    """`name: B` on a glob of two takes was dropped without a word, so the advice "give the other entries
    a distinct name" could not be followed: two passes over one shoot could not be written."""
    jobs = takes / "twopasses.yaml"
    jobs.write_text("""
shots:
  - {input: "takes/c*.mp4", command: key, alpha: "out/{stem}_a.mov"}
  - {input: "takes/c*.mp4", command: key, alpha: "out/{name}.mov", name: "{stem}_b"}
""")
    shots = load_jobs(jobs, COMMANDS)
    first = [s for s in shots if not s.name.endswith("_b")]
    second = [s for s in shots if s.name.endswith("_b")]
    assert len(first) >= 2 and sorted(f"{s.name}_b" for s in first) == sorted(s.name for s in second)
    assert all(Path(s.outputs["alpha"]).name == f"{s.name}.mov" for s in second)
    jobs.write_text('shots:\n  - {input: "takes/c*.mp4", command: key, alpha: "out/{stem}.mov", name: B}\n')
    with pytest.raises(SettingsError, match=r"name 'B' would name all \d+ takes of its glob alike.*"
                                            r"name: \"\{stem\}_B\"") as refused:
        load_jobs(jobs, COMMANDS)
    assert str(refused.value).count("would name all") == 1  # said once for the entry, not per take


def test_a_glob_over_a_takes_copies_in_two_formats_names_each_by_its_extension(tmp_path):
    # IMG_0001.MOV beside its export IMG_0001.mp4: both shots were named 'ph_IMG_0001', and the advice
    # ("{stem} (or {folder})") named nothing that tells them apart
    (tmp_path / "ph").mkdir()
    write_clip(tmp_path / "ph" / "IMG_0001.MOV", 4, seed=1)
    write_clip(tmp_path / "ph" / "IMG_0001.mp4", 4, seed=2)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text('shots:\n  - {input: "ph/IMG_0001.*", command: key, alpha: "out/{stem}.mov"}\n')
    message = _refused(jobs)
    assert "both write" in message and "(or {folder}, {ext})" in message and "named 'ph_IMG" not in message
    jobs.write_text('shots:\n  - {input: "ph/IMG_0001.*", command: key, alpha: "out/{stem}_{ext}.mov"}\n')
    shots = load_jobs(jobs, COMMANDS)
    assert sorted(s.name for s in shots) == ["IMG_0001_MOV", "IMG_0001_mp4"]
    assert sorted(Path(s.outputs["alpha"]).name for s in shots) == ["IMG_0001_MOV.mov", "IMG_0001_mp4.mov"]


def test_composite_and_lens_settings_are_checked_before_anything_starts(takes):
    # each shot failed only at its turn ("composite setting light_wrap_width_px=nan"), hours in
    jobs = takes / "looks.yaml"
    jobs.write_text("""
defaults: {background: set.png}
shots:
  - {input: takes/c1.mp4, output: out/w.mov, light_wrap_width_px: .nan}
  - {input: takes/c2.mp4, output: out/i.mov, light_wrap_intensity: 5}
  - {input: takes/c1.mp4, name: lens, output: out/l.mov, focal_length: 50, f_number: -2}
  - {input: takes/c2.mp4, name: near, output: out/n.mov, focal_length: 50, f_number: 2, subject_distance: -3}
""")
    message = _refused(jobs)
    assert "4 problem(s)" in message, message
    assert "shot 1: composite setting light_wrap_width_px=nan" in message
    assert "shot 2: composite setting light_wrap_intensity=5" in message
    assert "shot 3 ('lens'): lens setting f_number=-2" in message
    assert "shot 4 ('near'): lens setting subject_distance_m=-3" in message


def test_an_option_is_named_by_its_flag_or_by_the_name_its_value_goes_to(takes):
    # focal_length_mm (as a --config file or a look saved on set names it) was "unknown key"
    jobs = takes / "names.yaml"
    jobs.write_text("""
defaults: {background: set.png, focal_length_mm: 85, f_number: 2}
shots:
  - {input: takes/c1.mp4, name: a, output: out/a.mov, subject_distance_m: 3}
  - {input: takes/c2.mp4, name: b, output: out/b.mov, focal_length: 50, subject_distance: 4}
""")
    first, second = load_jobs(jobs, COMMANDS)
    assert (first.options["focal_length_mm"], first.options["subject_distance_m"]) == (85, 3)
    assert (second.options["focal_length_mm"], second.options["subject_distance_m"]) == (50, 4)  # shot wins
    jobs.write_text("""
shots:
  - {input: takes/c1.mp4, output: out/a.mov, background: set.png, focal_length: 50, focal_length_mm: 85}
""")
    assert "shot 1: 'focal_length' and 'focal_length_mm' are one option; keep one" in _refused(jobs)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder this user cannot write in: a read-only tmpfs for root (whom modes do not stop), a
    mode-555 folder for anyone else."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_an_output_in_a_folder_this_user_cannot_write_is_listed(takes, read_only_folder):
    # each shot failed at its turn with "OSError(30, 'Read-only file system')", naming no file
    jobs = takes / "ro.yaml"
    shot = f"{{input: takes/c1.mp4, command: key, alpha: '{read_only_folder}/sub/a.mov'}}"
    jobs.write_text(f"shots:\n  - {shot}\n")
    said = rf"shot 1: alpha '.*/sub/a.mov': no permission to write in folder {read_only_folder} \(read-only"
    with pytest.raises(SettingsError, match=said):
        load_jobs(jobs, COMMANDS)


def test_settings_a_shots_matte_does_not_use_are_said_at_the_check(tmp_path):
    """A batch shot with matte: ai and a garbage mask rendered its person with the mask ignored, unsaid."""
    write_clip(tmp_path / "a.mp4", 3, seed=1)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("shots:\n  - {input: a.mp4, command: key, matte: ai, garbage_mask: '0,0;10,0;10,10', "
                    "alpha: out/a.mov}\n")
    with pytest.warns(UserWarning, match=r"shot 1.*--garbage-mask: the keyer's, and --matte ai does not"):
        load_jobs(jobs, COMMANDS)


def test_a_mistyped_default_is_said_once_and_shots_are_named(takes, tmp_path):
    """`screen_gian` in defaults was said for every shot by number ("shot 1: unknown key … shot 50: …"),
    each pointing at a shot without it; a shot with a name was not named."""
    jobs = takes / "named.yaml"
    jobs.write_text("""
defaults: {background: set.png, screen_gian: 1.2}
shots:
  - {input: takes/c1.mp4, output: out/a.mp4, name: alpha_take, range_frame: 10}
  - {input: takes/c1.mp4, output: out/b.mp4, name: beta_take}
""")
    message = _refused(jobs)
    assert message.count("screen_gian") == 1 and "defaults: unknown key 'screen_gian'" in message, message
    assert "shot 1 ('alpha_take'): unknown key 'range_frame'" in message, message
    assert "beta_take" not in message


def test_shots_share_settings_by_yaml_merge_keys(takes):
    """`<<: *common`, a pipeline's usual YAML, was refused as "could not determine a constructor for the
    tag 'tag:yaml.org,2002:merge'"; a shot's own key overrides the merged one, and a key twice in the
    shot itself is still refused."""
    jobs = takes / "merged.yaml"
    jobs.write_text("""
defaults: &common {background: set.png, screen_gain: 1.2}
shots:
  - {<<: *common, input: takes/c1.mp4, output: out/a.mp4}
  - {<<: *common, input: takes/c2.mp4, output: out/b.mp4, screen_gain: 0.9}
""")
    first, second = load_jobs(jobs, COMMANDS)
    assert first.options["screen_gain"] == 1.2 and second.options["screen_gain"] == 0.9
    assert first.background == second.background == str(takes / "set.png")
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, output: out/a.mp4, crf: 18, crf: 20}\n")
    with pytest.raises(InputFormatError, match="'crf' is given twice"):
        load_jobs(jobs, COMMANDS)
    # an anchor block of its own, the usual place (a top-level 'common:' was refused as unknown)
    jobs.write_text("x-common: &common {background: set.png, screen_gain: 1.3}\n"
                    "shots:\n  - {<<: *common, input: takes/c1.mp4, output: out/a.mp4}\n")
    (shot,) = load_jobs(jobs, COMMANDS)
    assert shot.options["screen_gain"] == 1.3
    jobs.write_text("common: &common {background: set.png}\nshots:\n  - {<<: *common, input: takes/c1.mp4, "
                    "output: out/a.mp4}\n")
    assert "under a key starting x-: x-common: &common" in _refused(jobs)


def test_a_refused_run_leaves_no_earlier_report_looking_like_its_own(takes, tmp_path):
    """`batch bad.yaml --report rep` exited 2 with the previous run's report.json (three shots "done")
    still in rep, which a farm's script read as this run's result."""
    from click.testing import CliRunner

    from guangying.cli.main import cli

    report = tmp_path / "rep"
    report.mkdir()
    (report / "report.json").write_text('{"shots": [{"name": "a", "status": "done"}]}')
    (report / "report.html").write_text("<html></html>")
    jobs = takes / "refused.yaml"
    jobs.write_text("shots:\n  - {input: takes/nothere.mp4, command: key, alpha: out/x.mov}\n")
    result = CliRunner().invoke(cli, ["batch", str(jobs), "--report", str(report)])
    assert result.exit_code == 2, result.output
    assert not list(report.iterdir())


def test_the_summary_counts_the_workers_that_rendered():
    # "on 4 workers" was the pool's size: also when one shot of one range left three idle, or a node
    # died with two of them
    from guangying.batch.runner import EARLIER_RUN, BatchReport, ShotOutcome

    one = ShotOutcome("a", "done", workers=["n1:11"])
    earlier = ShotOutcome("b", "done", workers=[EARLIER_RUN, "n1:11"])
    assert BatchReport([one, earlier], 1.0, 4, "local", 0.0, 0).workers_said() == "1 worker"
    lost = ShotOutcome("c", "done", workers=["n1:11", "n2:21", "n1:12"], retries=2)
    assert BatchReport([lost], 1.0, 4, "cluster", 0.0, 0).workers_said() == "3 workers (2 died under a range)"


def test_a_glob_over_the_folder_its_shots_write_into_leaves_their_outputs_out(tmp_path):
    """`input: "c*.mp4"` with `output: "{stem}_comp.mp4"` beside the takes: the first run passed, and
    every later run (and --resume) found c1_comp.mp4 a take of its own, writing over an input: refused."""
    for name, seed in (("c1", 1), ("c2", 2)):
        write_clip(tmp_path / f"{name}.mp4", 6, seed=seed)
    write_clip(tmp_path / "c1_comp.mp4", 6, seed=3)  # the first run's output
    jobs = tmp_path / "glob.yaml"
    jobs.write_text('shots:\n  - {input: "c*.mp4", command: key, alpha: "{stem}_comp.mp4"}\n')
    left_out = r"the input glob also matches what its shots write \(c1_comp\.mp4\)"
    with pytest.warns(UserWarning, match=left_out):
        shots = load_jobs(jobs, COMMANDS)
    assert [shot.name for shot in shots] == ["c1", "c2"]
    # every file it matches one its shots would write (outputs named as the takes): it rendered nothing
    # and exited 0 ("no shots to render"), where a glob matching nothing stops with 2
    jobs.write_text('shots:\n  - {input: "*.mp4", command: key, alpha: "{stem}.mp4"}\n')
    with pytest.warns(UserWarning, match="also matches what its shots write"):
        message = _refused(jobs)
    assert "line 2, shot 1: every file the input glob matches is one its shots would write" in message


def test_a_shot_into_one_picture_is_listed_with_the_clips_frame_count(takes):
    # `alpha: k_alpha.png` (no %04d) on a 6-frame clip passed the check; the shot failed at its turn
    # saying the range's count (2, not 6) and offering the same single picture as "a pattern"
    jobs = takes / "single.yaml"
    jobs.write_text("""
shots:
  - {input: takes/c1.mp4, command: key, alpha: out/k_alpha.png, range_frames: 2}
  - {input: takes/c2.mp4, command: key, alpha: out/poster.png, start: 3, end: 3, name: one}
""")
    message = _refused(jobs)
    assert "1 problem(s)" in message, message
    assert "k_alpha.png is a single picture, for 6 frames of" in message
    assert "k_alpha.%04d.png" in message and "(start: N and end: N)" in message  # a jobs file's keys
    assert "  - line 3, shot 1: " in message  # where the shot is in the file ("shot 57" is hard to find)


def test_a_problem_under_defaults_is_led_by_its_line(takes):
    # "defaults: unknown key 'focal_lenght'" was the one problem without a line to find it by
    jobs = takes / "defaults.yaml"
    jobs.write_text("""x-common: &common {matte: chroma}
defaults:
  <<: *common
  focal_lenght: 35
  fps: 25
  focus_lenght: 3
shots:
  - {input: takes/c1.mp4, command: key, alpha: out/a.%04d.png}
""")
    message = _refused(jobs)
    assert "  - line 4, defaults: unknown key 'focal_lenght'" in message, message
    assert "  - line 6, defaults: unknown key 'focus_lenght'" in message, message


def test_a_shots_range_over_a_longer_video_is_refused(takes):
    # the whole 6-frame clip a render wrote before was replaced by the shot's 2 frames, exit 0, unsaid
    (takes / "out").mkdir(exist_ok=True)
    write_clip(takes / "out" / "whole.mp4", 6, seed=3)
    jobs = takes / "range.yaml"
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, command: composite, background: set.png, "
                    "output: out/whole.mp4, start: 2, end: 3}\n")
    message = _refused(jobs)
    assert "whole.mp4 holds 6 frames, and this range only 2" in message, message
    jobs.write_text("shots:\n  - {input: takes/c1.mp4, command: composite, background: set.png, "
                    "output: out/whole.mp4}\n")  # the whole clip again: replaced, as a render is
    assert len(load_jobs(jobs, COMMANDS)) == 1
