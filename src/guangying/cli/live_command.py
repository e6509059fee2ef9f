"""``guangying live``: camera or stream in, the live composite out to a browser monitor, recordings and
streams, with the same engines and settings as ``key`` / ``composite``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from guangying.cli.dataclass_options import dataclass_options
from guangying.cli.engine_options import background_log_option, camera_log_option, engine_options
from guangying.cli.focus_commands import LIDAR_OFFSET_HELP
from guangying.cli.frame_rate import FRAME_RATE
from guangying.cli.wording import frames
from guangying.keyer import KeyerSettings
from guangying.pipeline.frame import CompositeSettings
from guangying.pipeline.job_options import KEYER_FILE_FIELDS


def _live_options(func):  # type: ignore[no-untyped-def]
    decorators: list[Callable[[Any], Any]] = [
        click.argument("source", type=str),
        *engine_options("Matte engine, as in `guangying composite` (changeable on the page)."),
        click.option(
            "--background",
            "-b",
            default="grey",
            show_default=True,
            help="Virtual set: image, clip, or colour (#RRGGBB, grey, black …).",
        ),
        background_log_option(),
        click.option(
            "--screen-colour",
            type=(float, float, float),
            help="Keyer: screen colour as sRGB R G B in 0–1 (or pick it on the page).",
        ),
        click.option("--garbage-mask", help="Keyer: outside matte, an image or 'x,y;x,y;…' (or draw it)."),
        # a look's core_mask was dropped live without a word: post kept a green prop the take keyed out
        click.option("--core-mask", help="Keyer: inside matte, an image (white = solid) or 'x,y;x,y;…'."),
        click.option("--despill-mask", help="Keyer: where the solid subject keeps its own colour (green "
                     "props, plants), an image (white = keep) or 'x,y;x,y;…'."),
        click.option("--clean-plate", help="Keyer: a frame of the empty screen (same camera, lens and "
                     "framing), for unevenly lit screens; read in the camera's --camera-log."),
        dataclass_options(KeyerSettings, skip=KEYER_FILE_FIELDS),
        dataclass_options(CompositeSettings),
        # source
        click.option("--loop", is_flag=True, help="Replay a file (reconnect a stream) when it ends."),
        click.option("--fps", type=FRAME_RATE, help="Image sequence or picture: frame rate, e.g. 25 or "
                     "24000/1001 [default: what its EXR or DPX headers say, else 24]."),
        camera_log_option(),
        click.option(
            "--source-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=5.0,
            show_default=True,
            help="Seconds a stream or camera may take to deliver its first picture.",
        ),
        click.option(
            "--lost-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=2.0,
            show_default=True,
            help="Seconds without a picture (or with only damaged ones) after which a stream counts as lost.",
        ),
        click.option("--video-size", help="Camera (V4L2): capture size, e.g. 1920x1080."),
        click.option("--input-fps", type=FRAME_RATE, help="Camera (V4L2): capture frame rate, e.g. 25."),
        click.option("--input-format", help="Camera (V4L2): pixel format, e.g. mjpeg or yuyv422."),
        click.option(
            "--queue-frames",
            type=click.IntRange(1, 8),
            default=2,
            show_default=True,
            help="Frames that may wait for processing; more are dropped, oldest first.",
        ),
        # monitor
        click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            help="Monitor address; 0.0.0.0 serves the set's network (tablets).",
        ),
        click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                     help="Monitor port."),
        click.option(
            "--monitor-key",
            envvar="GUANGYING_MONITOR_KEY",
            help="Key the monitor asks for (8-128 letters, digits or .-_~), or 'off'. Default: none on "
            "127.0.0.1; on the set's network the key kept in ~/.config/guangying/monitor-key (made once).",
        ),
        click.option("--no-monitor", is_flag=True, help="No browser monitor."),
        click.option(
            "--monitor-width",
            type=click.IntRange(64, 7680),
            default=960,
            show_default=True,
            help="Width of the monitor picture in pixels.",
        ),
        click.option(
            "--settings-out",
            type=click.Path(dir_okay=False, path_type=Path),
            default=Path("live-look.yaml"),
            show_default=True,
            help="Where the page's 'save settings' writes the look (a --config file); an earlier "
            "session's file is kept, this one's look written under the next free number (look-2.yaml).",
        ),
        # outputs
        click.option("--record", type=str, help="Record the composite: .mp4 (H.264), .mov (ProRes) or .mkv "
                     "(FFV1, lossless); with the sender's sound when a stream or camera sends one."),
        click.option("--record-plate", type=str,
                     help="Record every frame the camera delivers, for post. A stream or camera sending "
                     "H.264, HEVC or MJPEG is copied as sent, with its sound, from the keyframe before "
                     "the take (.mov, .mkv, .mp4, .ts); anything else is "
                     "encoded: .mov (ProRes 422 HQ), .mkv (FFV1, lossless) or .mp4 (H.264)."),
        click.option("--record-matte", type=str, help="Record the matte: .mov (ProRes), .mkv or .mp4."),
        click.option(
            "--sidecar",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Per-frame log (.jsonl or .csv) [next to the first recording].",
        ),
        click.option("--overwrite", is_flag=True, help="Replace an earlier take's recordings and saved look "
                     "of the same names [default: the next free number, take-2.mov …]."),
        click.option("--out", "out_url", help="Stream the composite as MPEG-TS: udp://HOST:PORT, srt://…, "
                     "rtp://… or tcp://… (with the sender's sound, in sync, when a stream or camera sends "
                     "one)."),
        click.option("--out-bitrate", type=click.FloatRange(min=0.05), default=6.0, show_default=True,
                     help="Stream Mbit/s."),
        click.option("--virtual-cam", is_flag=True, help="Send the composite to a v4l2loopback webcam."),
        click.option("--duration", type=click.FloatRange(min=0, min_open=True),
                     help="Stop after this many seconds."),
        # tracked virtual set
        click.option(
            "--set",
            "set_path",
            help="Tracked virtual set (with --camera-track): 360° picture/clip, 2.5D .yaml or "
            "3D .glb/.gltf.",
        ),
        click.option(
            "--camera-track",
            help="Set: the camera, live FreeD D1 (freed://0.0.0.0:PORT; with --lens-file or "
            "--focal-length) or a track file.",
        ),
        click.option(
            "--lens-file",
            type=click.Path(exists=True, dir_okay=False),
            help="Set, live FreeD: lens file mapping zoom counts to focal length (as `guangying track`).",
        ),
        click.option(
            "--freed-delay",
            type=click.IntRange(0, 100),
            default=0,
            show_default=True,
            help="Set, live FreeD: take the camera this many video frames late (tracking runs ahead of "
            "the picture), between the messages around that time.",
        ),
        click.option(
            "--freed-camera-id",
            type=click.IntRange(0, 255),
            help="Set, live FreeD: the head to follow [default: the first heard; another's messages are "
            "said and left out].",
        ),
        # focus
        click.option("--lidar", help="Serial port of a TF-Luna LiDAR for focus, e.g. /dev/ttyUSB0."),
        click.option("--baud", type=int, default=115200, show_default=True, help="LiDAR baud rate."),
        click.option("--lidar-unit", type=click.Choice(["cm", "mm"]), default="cm", show_default=True,
                     help="The LiDAR's frames carry centimetres (its default) or millimetres."),
        click.option("--lidar-range", "lidar_range_m", type=click.FloatRange(0, 1e4, min_open=True),
                     default=8.0, show_default=True,
                     help="The LiDAR's far limit in metres: readings beyond it are not used (TF-Luna 8, "
                     "TF02-Pro 40, TF03 180)."),
        click.option("--lidar-offset", "lidar_offset_m", type=click.FloatRange(-5, 5), default=0.0,
                     show_default=True, help=f"Focus (with --lidar): {LIDAR_OFFSET_HELP}."),
        click.option("--freed", "freed_target", help="Send FreeD focus to HOST:PORT (with --lidar)."),
        click.option(
            "--steady-walk",
            is_flag=True,
            help="Focus (with --lidar): the subject walks at a steady pace (as `focus --steady-walk`).",
        ),
        click.option(
            "--focal-length",
            "focal_length_mm",
            type=float,
            help="Lens: focal length in mm (DoF band; with --f-number, lens defocus of the set).",
        ),
        click.option("--f-number", type=float, help="Lens: aperture, e.g. 2 for f/2."),
        click.option("--sensor", default="s35", show_default=True, help="Lens: sensor preset."),
        click.option(
            "--subject-distance",
            "subject_distance_m",
            type=float,
            default=2.0,
            show_default=True,
            help="Lens: actor's distance in metres until the LiDAR measures it.",
        ),
        click.option(
            "--background-distance",
            "background_distance_m",
            type=float,
            default=math.inf,
            help="Lens: virtual set's distance in metres (default: infinity).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.command("live")
@_live_options
def live(**options: Any) -> None:
    """Key or matte SOURCE live and composite it, with a browser monitor at http://HOST:PORT/.

    SOURCE: a camera (/dev/video0), a stream (udp://…, srt://…, rtsp://…, rtmp://…) or a file or
    image sequence played at its own frame rate as if it were a camera; a single picture stays on
    until the take is stopped.

    \b
    Examples:
      guangying live /dev/video0 --background set.jpg --record take1.mp4
      guangying live udp://0.0.0.0:5000 -b set.jpg --out udp://192.168.1.20:6000 --host 0.0.0.0
      guangying live plate.mp4 --loop -b set.jpg          # rehearse with a recorded plate
    """
    from guangying.live.capture import source_kind
    from guangying.live.launch import open_live
    from guangying.live.session import STARTING_MESSAGE
    from guangying.live.stats import DropWatch

    if source_kind(options["source"]) != "file":  # nothing was said while an encoder or camera started
        timeout_s = options["source_timeout"]
        click.echo(f"waiting for {options['source']}: its first picture (up to {timeout_s:g} s, "
                   "--source-timeout) …", err=True)
    def say_waiting(urls: list[str]) -> None:  # the address works from now on: a page that says it waits
        click.echo(f"monitor (waiting for the first picture): {urls[0]}", err=True)

    take = open_live(options, on_waiting=say_waiting)
    source, server = take.source, take.server
    matte = take.settings.snapshot()[1].get("matte", "chroma")
    click.echo(f"live: {source.spec} {source.width}×{source.height} at {float(source.fps):g} fps, "
               f"matte {matte}")
    if server is not None:
        urls = server.opening_urls()
        click.echo(f"monitor: {urls[0]}  (stats: {server.url}stats.json; Ctrl-C or the page's stop ends)")
        for url in urls[1:]:
            click.echo(f"monitor on the set's network: {url}")
        if server.key:
            click.echo("  the monitor asks for its key: the addresses above carry it; scripts send "
                       "'Authorization: Bearer KEY'")
    ended = threading.Event()

    def say_when_it_runs() -> None:  # why it waits, only when the start is slow (a cold compile cache)
        started = take.session.stats_.started
        if not started.wait(3.0) and not ended.is_set():
            click.echo(f"starting: {STARTING_MESSAGE}", err=True)
        while not started.wait(0.2):
            if ended.is_set():
                return
        # without a monitor nothing else says the take now runs (scripts and tests wait for this)
        click.echo("running: the take has started")
        while not ended.wait(1.0):
            stats = take.session.stats()
            note = drops.check(stats["frames_in"], stats["dropped"], time.monotonic())
            if note is not None:
                click.echo(f"warning: {note}", err=True)

    smaller = {"device": "a smaller picture (--video-size)", "stream": "a smaller picture from the sender"}
    neural = matte in ("ai", "hybrid")
    lighter = "a lighter matte (--int8; --matte chroma on a screen, fast without one), " if neural else ""
    drops = DropWatch(f"To keep up: {lighter}{smaller.get(source_kind(options['source']), 'a smaller clip')} "
                      "or a faster machine")

    notice = threading.Thread(target=say_when_it_runs, name="live-start-notice", daemon=True)
    notice.start()
    try:
        report = take.run(options["duration"])
    finally:
        ended.set()
        notice.join(timeout=1.0)
    for path in report.written:
        click.echo(f"wrote {path}")
    p50 = "–" if report.latency_ms_p50 is None else f"{report.latency_ms_p50:.0f}"
    p95 = "–" if report.latency_ms_p95 is None else f"{report.latency_ms_p95:.0f}"
    click.echo(
        f"{frames(report.frames_out)} out of {report.frames_in} in, {report.dropped} dropped, "
        + (f"{report.damaged} damaged (skipped), " if report.damaged else "")
        + (f"{report.artefacts} with artefacts (data lost in transit or a sender restarted), "
           if report.artefacts else "")
        + f"latency p50 {p50} ms p95 {p95} ms" + ("" if report.lost else f"; {report.reason}")
    )  # a lost take's reason is its error, below: said twice, a disk-full take read as two stops
    if (note := drops.at_end(report.frames_in, report.dropped)) is not None:
        click.echo(f"warning: {note}", err=True)
    for note in report.outputs_stopped:  # said when it happened; again here, where the take is summed up
        click.echo(f"warning: {note}", err=True)
    if report.lost:
        # the show's end: the operator asked how to ride through the next one
        raise click.ClickException(f"{report.reason}; the recording was finalised up to the last frame. "
                                   "--loop waits for the source to come back, --lost-timeout S gives it "
                                   "longer before the take ends")


def register(cli: click.Group) -> None:
    cli.add_command(live)
