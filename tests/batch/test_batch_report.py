"""The batch report's page and JSON, written from a report as a run makes it (no Ray needed)."""

from __future__ import annotations

import re
import urllib.parse

import pytest
import ray

from guangying.batch import run_batch
from guangying.batch.report import write_report
from guangying.batch.runner import BatchReport, ShotOutcome


def test_a_contact_sheet_of_any_name_opens_from_the_page(tmp_path):
    # '#' in a shot's name cut the image's address short (a fragment); '?' and '%' broke it too
    name = "镜头 #2 ?50% <b>&"
    sheet = tmp_path / "rep" / "contacts" / f"{name}.png"
    sheet.parent.mkdir(parents=True)
    sheet.write_bytes(b"png")
    shot = ShotOutcome(name, "done", frames=3, contact=str(sheet))
    _, page = write_report(BatchReport([shot], 1.0, 1, "local", 0.1, 0), tmp_path / "rep")
    src = re.search(r'<img src="([^"]*)"', page.read_text()).group(1)
    address = src.replace("&amp;", "&")  # as the browser reads the attribute
    assert urllib.parse.urlsplit(address).fragment == "" and urllib.parse.urlsplit(address).query == ""
    assert (page.parent / urllib.parse.unquote(address)).read_bytes() == b"png"


def test_no_shots_start_no_cluster(tmp_path):
    before = ray.is_initialized()  # a cluster test earlier in this process may hold a session
    with pytest.warns(UserWarning, match="no shots to render"):
        report = run_batch([], tmp_path / "jobs.yaml", show_progress=False)
    assert report.shots == [] and ray.is_initialized() == before
