"""Sound passthrough: remux a finished video file with the source clip's audio for the same time span.

Every audio track is carried, in its order: a pro camera or recorder writes one microphone per mono
track (MXF, MOV), and keeping only the first would silently drop the boom or the second lavalier.

Lossy sound the container accepts (AAC, MP3, AC-3, Opus …) is copied packet by packet (no generation
loss); lossless sound (PCM, FLAC, ALAC) is decoded and re-encoded to the same codec (bit-identical, and
trimmed to the exact sample: FLAC packets can be 100 ms long, too coarse to cut a single frame); anything
else is transcoded (AAC for .mp4, 24-bit PCM for .mov, FLAC for .mkv). The video packets are copied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from guangying.base.atomic import describe_os_error, partial_path, remove_quietly, through_link
from guangying.base.errors import MediaError

_PCM_ANY_ENDIAN = ("s16", "s24", "s32", "f32", "f64")
_PCM_LE = {f"pcm_{kind}le" for kind in _PCM_ANY_ENDIAN}
_PCM_ALL = _PCM_LE | {f"pcm_{kind}be" for kind in _PCM_ANY_ENDIAN} | {"pcm_u8"}
_LOSSLESS = _PCM_ALL | {"flac", "alac"}  # re-encoded to the same codec: same samples, exact cut
_COMPRESSED_COMMON = {"aac", "mp3", "ac3", "eac3", "alac"}
# Audio codecs each output carries, and what anything else becomes. An MP4 is the review copy that must
# play everywhere: ffmpeg's muxer also takes FLAC and Opus, but QuickTime, Final Cut, Premiere and
# Windows' player do not play them in MP4 (a picture without sound, or "incompatible media"), so they
# become AAC there; MKV keeps them, and MOV gets 24-bit PCM.
_ACCEPTS = {
    ".mp4": _COMPRESSED_COMMON,
    ".mov": _COMPRESSED_COMMON | _PCM_ALL,
    ".mkv": _COMPRESSED_COMMON | {"flac", "opus", "vorbis", "pcm_u8"} | _PCM_LE,
}
_FALLBACK = {".mp4": "aac", ".mov": "pcm_s24le", ".mkv": "flac"}
# mov/mp4 write an edit list for negative timestamps, so a copied stream can start one packet early
# (the decoder's pre-roll) and still play from exactly the cut; matroska would shift both streams instead.
_EDIT_LISTS = {".mp4", ".mov"}
_AAC_BITS_PER_S_PER_CHANNEL = 96_000
# ffmpeg's default speaker order per channel count, for sound that names none
# A longer stretch without sound between packets is a gap (a live take's outage), filled with silence:
# over two AAC packets, so the timing jitter of sound placed at its arrival is not
_GAP_S = Fraction(1, 20)
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


class SoundError(MediaError):
    """The source's sound cannot be carried (a codec ffmpeg cannot decode, damaged packets); the picture
    can still be written alone."""


@dataclass(frozen=True, slots=True)
class AudioPlan:
    """What happens to the source's sound in one output."""

    source_codec: str
    output_codec: str  # the source's where the container takes it; sample rate and layout are kept
    copy_packets: bool  # True: compressed packets copied as they are


def has_audio(source: str | os.PathLike[str]) -> bool:
    """True when ``source`` is a media file with at least one audio stream (pictures and patterns: False)."""
    path = Path(source)
    if not path.is_file():
        return False
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return bool(container.streams.audio)
    except av.error.FFmpegError:
        return False


def plan_audio(source: str | os.PathLike[str], target_suffix: str, track: int = 0) -> AudioPlan:
    """Decide copy or transcode for audio stream ``track`` of ``source`` into a ``target_suffix`` file."""
    with _open_source(Path(source)) as container:
        return _plan_for(_audio_stream(container, Path(source), track), target_suffix)


def _plan_for(stream: av.audio.stream.AudioStream, target_suffix: str) -> AudioPlan:
    suffix = target_suffix.lower()
    if stream.codec_context is None:  # ffmpeg has no decoder for it (or its codec tag is damaged)
        raise SoundError(f"the sound of {stream.container.name} (stream {stream.index}) is in a format "
                         "ffmpeg cannot decode; use --no-audio to write the picture alone")
    codec = stream.codec_context.name
    accepted = codec in _ACCEPTS[suffix]
    return AudioPlan(
        source_codec=codec,
        output_codec=codec if accepted else _FALLBACK[suffix],
        copy_packets=accepted and codec not in _LOSSLESS,
    )


def mux_with_audio(
    video: Path,
    source: Path,
    target: Path,
    start_s: Fraction,
    duration_s: Fraction,
    container_options: dict[str, str] | None = None,
    frame_rate: Fraction | None = None,
    sound_name: str | None = None,
) -> None:
    """Write ``target`` atomically: ``video``'s video stream (copied) plus ``source``'s sound from
    ``start_s`` for ``duration_s`` seconds, where 0 s is the source's first video frame. ``video`` is
    left in place; on failure nothing is left at ``target``: :class:`SoundError` when the sound is what
    failed (the picture could be written alone), MediaError otherwise (a full disk). ``frame_rate``: the
    video's own (see :func:`copy_video_stream`). ``sound_name``: what warnings call the sound's source
    (default its path; a live take's sound is kept in a hidden side file, said as the take's)."""
    target = through_link(target)
    temp = partial_path(target)
    name = sound_name or str(source)
    try:
        _mux(video, source, temp, start_s, duration_s, container_options or {}, frame_rate, name)
        os.replace(temp, target)
    except OSError as exc:
        remove_quietly(temp)
        raise MediaError(describe_os_error(exc, target)) from exc
    except av.error.FFmpegError as exc:
        remove_quietly(temp)
        raise SoundError(f"cannot carry the sound of {name} into {target} ({exc})") from exc
    except BaseException:
        remove_quietly(temp)
        raise


def _open_source(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (OSError, av.error.FFmpegError) as exc:
        raise SoundError(f"cannot read the sound of {path} ({exc}); check the file or use --no-audio") \
            from exc


def _audio_stream(
    container: av.container.InputContainer, path: Path, track: int = 0
) -> av.audio.stream.AudioStream:
    if len(container.streams.audio) <= track:
        raise MediaError(f"{path} has no audio stream {track}")
    return container.streams.audio[track]


def container_tag(container: av.container.InputContainer, name: str) -> str | None:
    """The first non-empty ``name`` tag (``timecode``, ``reel_name``) of the container or any of its
    streams, in either case: mov/mp4 keep them on the video and tmcd streams, mkv on the container."""
    for metadata in [container.metadata, *(s.metadata for s in container.streams)]:
        for key, value in metadata.items():
            if key.lower() == name and value:
                return value
    return None


def _video_start_s(container: av.container.InputContainer) -> Fraction:
    """Time of the source's first video frame: the zero point of the frame numbering."""
    if not container.streams.video:
        return Fraction(0)
    stream = container.streams.video[0]
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return stream.start_time * stream.time_base


def _mux(
    video: Path,
    source: Path,
    temp: Path,
    start_s: Fraction,
    duration_s: Fraction,
    container_options: dict[str, str],
    frame_rate: Fraction | None,
    name: str,
) -> None:
    suffix = temp.suffix.lower()
    with contextlib.ExitStack() as stack:
        video_in = stack.enter_context(av.open(str(video), metadata_errors="ignore"))
        out = stack.enter_context(av.open(str(temp), "w", options=container_options))
        video_stream = video_in.streams.video[0]
        timecode = container_tag(video_in, "timecode")
        if timecode:
            out.metadata["timecode"] = timecode  # the muxer rebuilds the timecode track from it
        out_video = copy_video_stream(out, video_stream, frame_rate, container_tag(video_in, "reel_name"))
        tracks = []
        audio_in = stack.enter_context(_open_source(source))
        for track in range(len(audio_in.streams.audio)):
            if track:  # one reader per track: each track's packets are taken in its own pass over the file
                audio_in = stack.enter_context(_open_source(source))
            packets = _track_packets(audio_in, source, name, track, suffix, out, start_s, duration_s)
            if packets is not None:
                tracks.append(packets)
        video_packets = _video_packets(video_in, video_stream, out_video)
        # Interleave by time so the muxer streams instead of buffering one track whole.
        for _, packet in heapq.merge(video_packets, *tracks, key=lambda item: item[0]):
            out.mux(packet)


def _track_packets(
    audio_in: av.container.InputContainer,
    source: Path,
    name: str,
    track: int,
    suffix: str,
    out: av.container.OutputContainer,
    start_s: Fraction,
    duration_s: Fraction,
) -> Iterator[tuple[Fraction, av.Packet]] | None:
    """Audio track ``track``'s packets for the span, on an output stream added to ``out``; None (and no
    stream) when the track has no sound in the span."""
    audio_stream = _audio_stream(audio_in, source, track)
    plan = _plan_for(audio_stream, suffix)
    # Source time of output time 0, then the cut in that time line.
    begin_s = _video_start_s(audio_in) + start_s
    end_s = begin_s + duration_s
    if plan.copy_packets and _needs_decoding(source, audio_stream.index, begin_s, end_s):
        # Damaged packets, copied as they were, clicked and dropped out in the review copy, unsaid;
        # decoded, each becomes silence of its length, said (_decoded). A gap (a live take's outage)
        # copied as a jump in the timestamps had no samples: a WAV export, or an editor that reads the
        # sound sample after sample, put everything after it early by the gap (6 s after an outage).
        plan = dataclasses.replace(plan, output_codec=_FALLBACK[suffix.lower()], copy_packets=False)
    items = (
        _copied_packets(audio_in, audio_stream, begin_s, end_s, preroll=suffix in _EDIT_LISTS)
        if plan.copy_packets
        else _trimmed_frames(audio_in, audio_stream, begin_s, end_s, name)
    )
    first = next(items, None)  # peeked before the header: a span without sound gets no track
    if first is None:
        return None
    items = itertools.chain([first], items)
    if plan.copy_packets:
        return _restreamed(items, out.add_stream_from_template(audio_stream))
    return _encoded(items, _add_encoder(out, plan, audio_stream))


def copy_video_stream(out: av.container.OutputContainer, template: Any,  # noqa: ANN401
                      frame_rate: Fraction | None = None, reel_name: str | None = None) -> Any:  # noqa: ANN401
    """A stream of ``out`` for ``template``'s packets, copied as they are, with what the copied codec
    parameters leave out: the rate (mov needs it for the timecode track), the codec tag (the ProRes
    flavour: ap4h is 4444 with alpha; left unset, mov would pick 422 HQ) and the pixel aspect (mov keeps
    it in its pasp atom: an anamorphic plate's outputs came out square). ``frame_rate``: the video's own,
    where it has gaps (a live take's outages, a source's skipped frames): the average of such a video
    (25 fps with gaps: 15.6) made the timecode track count frames at it, 9 frames to 2 s off.
    ``reel_name``: the source's, for the timecode track (:func:`set_reel_name`)."""
    stream = out.add_stream_from_template(template)
    set_reel_name(stream, reel_name)
    stream.codec_context.framerate = frame_rate or template.average_rate
    stream.codec_context.codec_tag = template.codec_context.codec_tag
    if template.sample_aspect_ratio:
        stream.codec_context.sample_aspect_ratio = template.sample_aspect_ratio
    return stream


def set_reel_name(stream: Any, reel_name: str | None) -> None:  # noqa: ANN401
    """Name the camera roll a video ``stream`` came from, as a conform relinks by it with the timecode: a
    MOV's timecode track carries it (ffmpeg takes it from the video stream's tags), an MKV as a tag; an
    MP4 has no place for it."""
    if reel_name:
        stream.metadata["reel_name"] = reel_name


def _video_packets(
    container: av.container.InputContainer, stream: Any, out_stream: Any
) -> Iterator[tuple[Fraction, av.Packet]]:
    for packet in container.demux(stream):
        if packet.dts is None and packet.pts is None:
            continue  # the demuxer's end-of-stream marker
        time = packet.dts if packet.dts is not None else packet.pts
        key = time * packet.time_base
        packet.stream = out_stream
        yield key, packet


def _copied_packets(
    container: av.container.InputContainer,
    stream: Any,
    begin_s: Fraction,
    end_s: Fraction,
    preroll: bool,
) -> Iterator[tuple[Fraction, av.Packet]]:
    """Packets of the span, shifted so ``begin_s`` is 0. With an edit list (``preroll``) the packet
    straddling the start is kept together with the one before it: an MDCT codec (AAC) needs the previous
    packet to decode the first samples right (the source's own priming packet, at a negative time, is
    such a one); the edit list hides them, and the last packet's duration is cut to end on the frame
    (the muxer's edit list then ends there too). Without, packets straddling either cut are kept or
    dropped by their midpoint, so the ends are within half a packet (≈ 11 ms of AAC at 48 kHz)."""
    time_base = stream.time_base
    offset = round(begin_s / time_base)
    held: av.Packet | None = None  # the packet before the span: decoder pre-roll
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        start = packet.pts * time_base
        length = (packet.duration or 0) * time_base
        middle = start + length / 2
        if (start >= end_s) if preroll else (middle >= end_s):
            break
        if preroll and start + length > end_s:
            packet.duration = max(1, round((end_s - start) / time_base))
        if start + length <= begin_s if preroll else middle < begin_s:
            held = packet if preroll else None
            continue
        for kept in (held, packet) if held is not None else (packet,):
            kept.pts -= offset
            if kept.dts is not None:
                kept.dts -= offset
            yield kept.pts * time_base, kept
        held = None


def _needs_decoding(source: Path, stream_index: int, begin_s: Fraction, end_s: Fraction) -> bool:
    """Whether the span of stream ``stream_index`` has a packet that does not decode (a damaged stretch
    of the file) or a gap in its timestamps (:data:`_GAP_S`). Decoding compressed sound is cheap next to
    the picture (AAC: an hour in seconds)."""
    with _open_source(source) as container:
        stream = container.streams[stream_index]
        ctx = stream.codec_context
        # a packet's stored duration may span a gap (MP4 derives it from the next packet's time); an AAC
        # packet holds its codec's frame of samples
        frame_s = Fraction(ctx.frame_size, ctx.sample_rate) if ctx.frame_size and ctx.sample_rate else None
        sound_until: Fraction | None = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = packet.pts * stream.time_base
            if start >= end_s:
                break
            end = start + (frame_s if frame_s is not None else (packet.duration or 0) * stream.time_base)
            if sound_until is not None and begin_s < start and start - sound_until > _GAP_S:
                return True
            sound_until = end if sound_until is None else max(sound_until, end)
            try:
                packet.decode()
            except av.error.InvalidDataError:
                if end > begin_s:
                    return True
    return False


def _restreamed(
    items: Iterator[tuple[Fraction, av.Packet]], out_stream: Any
) -> Iterator[tuple[Fraction, av.Packet]]:
    for time, packet in items:
        packet.stream = out_stream
        yield time, packet


def _add_encoder(out: av.container.OutputContainer, plan: AudioPlan, stream: Any) -> Any:
    ctx = stream.codec_context
    layout = ctx.layout.name
    if layout.endswith("channels"):  # no speaker order ("1 channels": MXF, recorders): AAC refuses it
        layout = _DEFAULT_LAYOUTS.get(ctx.channels, layout)
    elif plan.output_codec == "aac" and ctx.channels <= 2:
        # one side of a split stereo pair ("1 channels (FL)", a camera's dual-mono mics): AAC takes only
        # mono and stereo, and the MP4 was written without sound, its source blamed
        layout = _DEFAULT_LAYOUTS[ctx.channels]
    out_stream = out.add_stream(plan.output_codec, rate=ctx.sample_rate, layout=layout)
    if plan.output_codec == "aac":
        out_stream.bit_rate = _AAC_BITS_PER_S_PER_CHANNEL * ctx.channels
    elif plan.output_codec == plan.source_codec and plan.output_codec in ("flac", "alac"):
        out_stream.codec_context.format = ctx.format.name  # 24/32-bit sound keeps every bit
    return out_stream


def _trimmed_frames(
    container: av.container.InputContainer,
    stream: Any,
    begin_s: Fraction,
    end_s: Fraction,
    name: str,
) -> Iterator[tuple[Fraction, av.AudioFrame]]:
    """Decoded sound cut to the exact sample; timestamps count samples from the cut (``name``: the
    sound's source, as warnings call it). A gap in the sound
    over :data:`_GAP_S` (a live take's outage) is filled with silence, said; a late start stays one."""
    rate = stream.codec_context.sample_rate
    first_sample = round(begin_s * rate)
    last_sample = round(end_s * rate)  # exclusive
    filled: list[tuple[int, int]] = []  # (the gap's first sample from the cut, its length)
    next_sample: int | None = None  # where the sound so far ends, from the cut
    for frame in _decoded(container, stream, name):
        if frame.pts is None:
            continue
        at = round(frame.pts * frame.time_base * rate)
        lo, hi = max(at, first_sample), min(at + frame.samples, last_sample)
        if at >= last_sample:
            break
        if hi <= lo:
            continue
        piece = frame if (lo, hi) == (at, at + frame.samples) else _slice(frame, lo - at, hi - at)
        if next_sample is not None and lo - first_sample - next_sample > _GAP_S * rate:
            gap = lo - first_sample - next_sample
            filled.append((next_sample, gap))
            yield Fraction(next_sample, rate), _silent_frame(piece.format.name, piece.layout.name, rate, gap,
                                                            next_sample)
        piece.pts = lo - first_sample
        piece.time_base = Fraction(1, rate)
        next_sample = max(next_sample or 0, hi - first_sample)
        yield Fraction(piece.pts, rate), piece
    if filled:
        longest = max(filled, key=lambda gap: gap[1])
        warnings.warn(f"the sound of {name} has {len(filled)} gap(s) without sound (the longest "
                      f"{longest[1] / rate:.2f} s, {longest[0] / rate:.2f} s into the output; a live take's "
                      "outage): they are silence in the output, so what reads its sound sample after sample "
                      "stays in sync", stacklevel=2)


def _decoded(container: av.container.InputContainer, stream: Any, name: str) -> Iterator[av.AudioFrame]:
    """Every frame of ``stream``. A packet that does not decode (a damaged stretch of the file) becomes
    silence of its own length, and a warning counts them: the sound before and after it stays, in sync."""
    ctx = stream.codec_context
    silenced = 0
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError as damage:
            if packet.pts is None or not packet.duration or ctx.format is None:
                raise  # no span to fill: the sound cannot be carried (SoundError upstream)
            try:
                silence = _silence(ctx, packet)
            except (ValueError, TypeError, av.error.FFmpegError):  # a layout PyAV cannot make a frame of
                raise damage from None
            silenced += 1
            yield silence
    if silenced:
        warnings.warn(f"the sound of {name}: {silenced} damaged packet(s) could not be decoded and "
                      "are silence in the output", stacklevel=2)


def _silence(ctx: Any, packet: av.Packet) -> av.AudioFrame:
    """Silence as long as ``packet``, in the decoder's own sample format and layout, at its time."""
    samples = max(1, round(packet.duration * packet.time_base * ctx.sample_rate))
    frame = _silent_frame(ctx.format.name, ctx.layout.name, ctx.sample_rate, samples, packet.pts)
    frame.time_base = packet.time_base
    return frame


def _silent_frame(sample_format: str, layout: str, rate: int, samples: int, pts: int) -> av.AudioFrame:
    """``samples`` of silence at ``pts`` (in 1/``rate`` s unless its time base is set after)."""
    frame = av.AudioFrame(format=sample_format, layout=layout, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = rate
    frame.pts, frame.time_base = pts, Fraction(1, rate)
    return frame


def _encoded(
    frames: Iterator[tuple[Fraction, av.AudioFrame]], out_stream: Any
) -> Iterator[tuple[Fraction, av.Packet]]:
    layout = out_stream.codec_context.layout
    for _, frame in frames:
        if frame.layout.name != layout.name and len(frame.layout.channels) == len(layout.channels):
            # two channels that are no stereo pair (FL+FC) under AAC's stereo: the encoder refused them
            frame = _with_layout(frame, layout.name)
        yield from _timed(out_stream.encode(frame))
    yield from _timed(out_stream.encode(None))


def _with_layout(frame: av.AudioFrame, layout: str) -> av.AudioFrame:
    """``frame``'s samples and time under another channel layout of as many channels."""
    named = av.AudioFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name, layout=layout)
    named.sample_rate, named.pts, named.time_base = frame.sample_rate, frame.pts, frame.time_base
    return named


def _slice(frame: av.AudioFrame, lo: int, hi: int) -> av.AudioFrame:
    samples = frame.to_ndarray()
    # Planar formats hold (channels, samples); packed ones (1, samples × channels) interleaved.
    if frame.format.is_planar:
        part = samples[:, lo:hi]
    else:
        channels = len(frame.layout.channels)
        part = samples[:, lo * channels : hi * channels]
    piece = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(part), format=frame.format.name, layout=frame.layout.name
    )
    piece.sample_rate = frame.sample_rate
    return piece


def _timed(packets: list[av.Packet]) -> Iterator[tuple[Fraction, av.Packet]]:
    for packet in packets:
        yield packet.pts * packet.time_base, packet
