"""``report.json`` and ``report.html``: a night's render reviewed at a glance (status, frames, time,
outputs and a plate | matte | composite contact sheet per shot)."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import urllib.parse
from pathlib import Path

from guangying.base.atomic import write_text
from guangying.batch.runner import BatchReport

_STATUS_COLOUR = {"done": "#2e7d32", "skipped": "#546e7a", "failed": "#c62828"}
_DAMAGED_COLOUR = "#e65100"


def report_dict(report: BatchReport) -> dict:
    return {
        "cluster": report.cluster,
        "workers": report.workers,  # the pool's size
        "workers_rendering": report.workers_rendering,
        "worker_deaths": report.worker_deaths,
        "seconds": round(report.seconds, 3),
        "startup_s": round(report.startup_s, 3),
        "frames": report.frames,
        "frames_rendered": report.frames_rendered,  # less those of ranges an earlier run rendered
        "frames_per_s": round(report.frames_rendered / report.seconds, 3) if report.seconds > 0 else None,
        "model_loads": report.model_loads,
        "shots": [dataclasses.asdict(s) for s in report.shots],
    }


def _row(shot: dict, folder: Path) -> str:
    colour = _STATUS_COLOUR.get(shot["status"], "#000")
    if shot["status"] != "failed" and (shot.get("held_frames") or shot.get("artefact_frames")):
        colour = _DAMAGED_COLOUR  # done, from a damaged source: it showed green, its damage unseen
    outputs = "<br>".join(html.escape(o) for o in shot["outputs"])
    contact = ""
    if shot.get("contact"):
        # a URL: a name's '#' or '?' cut the address short, a '%' was read as an escape
        rel = urllib.parse.quote(Path(os.path.relpath(shot["contact"], folder)).as_posix())
        contact = f'<img src="{html.escape(rel)}" alt="contact sheet of {html.escape(shot["name"])}">'
    said = [shot["message"], shot.get("note"), *(f"warning: {w}" for w in shot.get("warnings", []))]
    message = "<br>".join(html.escape(m) for m in said if m)
    return (
        f"<tr><td>{html.escape(shot['name'])}</td>"
        f'<td style="color:{colour};font-weight:bold">{shot["status"]}</td>'
        f"<td>{shot['frames']}</td><td>{shot['seconds']:.1f}</td><td>{shot['ranges']}</td>"
        f"<td>{shot['retries']}</td><td class=o>{outputs}</td><td>{message}</td><td>{contact}</td></tr>"
    )


def write_report(report: BatchReport, folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``folder`` (created); returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = report_dict(report)
    json_path = write_text(folder / "report.json", json.dumps(data, indent=1))
    counts = {s: sum(1 for x in data["shots"] if x["status"] == s) for s in _STATUS_COLOUR}
    summary = (
        f"{counts['done']} done, {counts['skipped']} skipped (finished before), {counts['failed']} failed"
        f" · {data['frames_rendered']} frames rendered in {data['seconds']:.1f} s"
        f" ({data['frames_per_s'] or 0:.1f} frames/s)"
        f" on {html.escape(report.workers_said())} ({html.escape(report.cluster)})"
    )
    rows = "\n".join(_row(s, folder) for s in data["shots"])
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Guangying batch report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}td.o{{font-size:small}}
img{{height:120px}}</style></head><body>
<h1>Batch report</h1><p>{summary}</p>
<table><tr><th>shot</th><th>status</th><th>frames</th><th>time (s)</th><th>ranges</th><th>retries</th>
<th>outputs</th><th>message</th><th>plate | matte | composite</th></tr>
{rows}
</table></body></html>
"""
    html_path = write_text(folder / "report.html", page)
    return json_path, html_path
