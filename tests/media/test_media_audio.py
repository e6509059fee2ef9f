"""Sound passthrough: generated clips with a tone track go through `guangying composite` / `key` and the
outputs' decoded sound is checked against what was put in (codec, rate, length, pitch, sync)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.media import MediaError, open_reader, open_writer
from guangying.media.audio import AudioPlan, mux_with_audio, plan_audio

W, H, FPS, N = 96, 64, 24, 24
RATE = 48_000
SAMPLES_PER_FRAME = RATE // FPS  # 2000
TONE_HZ = 1000.0
LOUD_FRAME = 12  # the tone jumps from quiet to loud exactly when this frame starts: a sync mark


def _tone(samples: int) -> np.ndarray:
    """float32 (2, samples): a 1 kHz sine, amplitude 0.2 before LOUD_FRAME and 0.8 from it on."""
    t = np.arange(samples) / RATE
    amplitude = np.where(np.arange(samples) < LOUD_FRAME * SAMPLES_PER_FRAME, 0.2, 0.8)
    mono = (amplitude * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.stack([mono, mono])


_PICTURE_CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".mov": ("prores_ks", "yuv422p10le"),
    ".mkv": ("ffv1", "yuv420p"),
}


def _make_clip(path: Path, audio_codec: str | None, late_samples: int = 0,
               pixel_aspect: Fraction | None = None) -> np.ndarray | None:
    """A green-screen clip (x264 in .mp4, ProRes in .mov, FFV1 in .mkv) with the tone, which starts
    ``late_samples`` after the picture; returns the sound as written (int16 for PCM and FLAC, float for
    AAC), None without."""
    sound = _tone(N * SAMPLES_PER_FRAME)[:, late_samples:]
    written = None
    with av.open(str(path), "w") as container:
        codec, pix_fmt = _PICTURE_CODECS[path.suffix]
        video = container.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = W, H, pix_fmt
        if pixel_aspect is not None:
            video.codec_context.sample_aspect_ratio = pixel_aspect
        audio = container.add_stream(audio_codec, rate=RATE, layout="stereo") if audio_codec else None
        for i, frame in enumerate(green_screen_clip(W, H, N, seed=1)):
            rgb = (np.clip(frame.rgb_srgb, 0, 1) * 255).astype(np.uint8)
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts = i
            container.mux(video.encode(picture))
        if audio is not None:
            if audio.format.name == "s16":
                written = np.round(sound * 32767).astype(np.int16)
                samples = np.ascontiguousarray(written.T).reshape(1, -1)
            else:
                written, samples = sound, sound
            block = av.AudioFrame.from_ndarray(samples, format=audio.format.name, layout="stereo")
            block.sample_rate, block.pts = RATE, late_samples
            container.mux(audio.encode(block))
            container.mux(audio.encode(None))
        container.mux(video.encode(None))
    return written


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray | None]]:
    folder = tmp_path_factory.mktemp("sound")
    made = {}
    for name, codec in [("aac.mp4", "aac"), ("pcm.mov", "pcm_s16le"), ("silent.mp4", None)]:
        made[name] = (folder / name, _make_clip(folder / name, codec))
    return made


def _invoke(*args: object) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _sound(path: Path) -> dict:
    """Decoded sound of ``path`` placed on the output's time line: samples float (channels, n)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return {}
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        frames = list(container.decode(stream))
    blocks = []
    for frame in frames:
        block = frame.to_ndarray()
        if not frame.format.is_planar:
            block = block.reshape(-1, len(frame.layout.channels)).T
        if block.dtype == np.int16:
            block = block / 32768.0
        blocks.append(block)
    samples = np.concatenate(blocks, axis=1)
    first_s = float(frames[0].time)
    return {
        "codec": ctx.name,
        "rate": ctx.sample_rate,
        "channels": ctx.channels,
        "first_s": first_s,
        "samples": samples,
        "raw": np.concatenate([f.to_ndarray() for f in frames], axis=1),
        "end_s": first_s + samples.shape[1] / ctx.sample_rate,
    }


def _video_frames(path: Path) -> int:
    with open_reader(path) as reader:
        return sum(1 for _ in reader)


def _peak_hz(samples: np.ndarray) -> float:
    window = samples[0, : RATE // 4] * np.hanning(RATE // 4)
    spectrum = np.abs(np.fft.rfft(window))
    return float(np.fft.rfftfreq(window.size, 1 / RATE)[np.argmax(spectrum)])


def _loud_from_s(sound: dict) -> float:
    """Output time where the tone turns loud (first sample above 0.5)."""
    return sound["first_s"] + int(np.argmax(np.abs(sound["samples"][0]) > 0.5)) / RATE


CASES = [  # source, output, codec expected in the output
    ("aac.mp4", "out.mp4", "aac"),  # copied
    ("aac.mp4", "out.mkv", "aac"),  # copied
    ("pcm.mov", "out.mov", "pcm_s16le"),  # kept PCM, sample-exact
    ("pcm.mov", "out.mp4", "aac"),  # mp4 takes no PCM: transcoded
]


@pytest.mark.parametrize("trim", [None, (5, 17)], ids=["whole", "trimmed"])
@pytest.mark.parametrize(("source", "output", "codec"), CASES)
def test_composite_keeps_the_sound_in_sync(clips, tmp_path, source, output, codec, trim):
    src, _ = clips[source]
    out = tmp_path / output
    first, last = trim or (0, N - 1)
    extra = ["--start", first, "--end", last] if trim else []
    _invoke("composite", src, "-b", "#000000", "-o", out, "--quiet", *extra)
    frames = _video_frames(out)
    assert frames == last - first + 1
    sound = _sound(out)
    assert sound, f"{out.name} has no sound"
    assert (sound["codec"], sound["rate"], sound["channels"]) == (codec, RATE, 2)
    frame_s = 1 / FPS
    assert abs(sound["first_s"]) < frame_s / 4  # starts with the picture
    if out.suffix != ".mkv":  # matroska stores no end trim, mov/mp4 an exact one
        with av.open(str(out)) as container:
            stream = container.streams.audio[0]
            assert stream.start_time == 0  # first audio pts = 0 with the picture's first frame
            assert abs(float(stream.duration * stream.time_base) - frames / FPS) < frame_s / 2
    assert abs(sound["end_s"] - frames / FPS) < frame_s
    assert abs(_peak_hz(sound["samples"]) - TONE_HZ) < 10
    # The loud step sits on the same picture frame as in the source (to a few ms).
    assert abs(_loud_from_s(sound) - (LOUD_FRAME - first) / FPS) < 0.003


@pytest.mark.parametrize("first_number", [10, 1001])
def test_a_first_number_for_the_sequences_leaves_the_videos_sound_alone(clips, tmp_path, first_number):
    """`--first-number` numbers sequences: given with a video composite beside a matte sequence, it was
    taken as the video's first source frame too, so its sound started that many frames late (10: the
    sound 0.4 s early and short) or past the clip's end (1001: no sound), unsaid."""
    src, _ = clips["aac.mp4"]
    out = tmp_path / "comp.mov"
    _invoke("composite", src, "-b", "#000000", "-o", out, "--alpha", tmp_path / "matte.####.png",
            "--first-number", first_number, "--quiet")
    assert sorted(p.name for p in tmp_path.glob("matte.*.png"))[0] == f"matte.{first_number:04d}.png"
    sound = _sound(out)
    assert sound, "the composite lost its sound"
    assert abs(sound["end_s"] - N / FPS) < 1 / FPS
    assert abs(_loud_from_s(sound) - LOUD_FRAME / FPS) < 0.003  # on its frame, as without the option


def test_pcm_into_mov_is_sample_exact(clips, tmp_path):
    src, written = clips["pcm.mov"]
    out = tmp_path / "out.mov"
    _invoke("composite", src, "-b", "#000000", "-o", out, "--quiet", "--start", 9, "--end", 15)
    raw = _sound(out)["raw"].reshape(-1, 2).T
    expected = written[:, 9 * SAMPLES_PER_FRAME : 16 * SAMPLES_PER_FRAME]  # crosses the loud step
    np.testing.assert_array_equal(raw, expected)


def test_aac_into_mp4_copies_packets(clips, tmp_path):
    src, _ = clips["aac.mp4"]
    out = tmp_path / "out.mp4"
    _invoke("composite", src, "-b", "#000000", "-o", out, "--quiet", "--start", 4)

    def payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]

    copied, original = payloads(out), payloads(src)
    assert copied and copied == original[-len(copied) :]  # not re-encoded


def test_no_audio_flag_and_mattes_have_no_sound(clips, tmp_path):
    src, _ = clips["aac.mp4"]
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "a.mp4", "--quiet", "--no-audio")
    assert _sound(tmp_path / "a.mp4") == {}
    _invoke("key", src, "--alpha", tmp_path / "m.mov", "--foreground", tmp_path / "fg.mov", "--quiet")
    assert _sound(tmp_path / "m.mov") == {}  # a matte is not a review file
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "c.%04d.png", "--quiet", "--end", 2)
    assert sorted(p.name for p in tmp_path.glob("c.*.png")) == ["c.0000.png", "c.0001.png", "c.0002.png"]
    assert _sound(tmp_path / "fg.mov")["codec"] == "aac"
    with open_reader(tmp_path / "fg.mov") as reader:  # the remux keeps ProRes 4444 and its alpha
        assert reader.info.has_alpha and reader.info.frame_count == N
        assert next(iter(reader)).alpha is not None


def test_source_without_sound_writes_picture_only(clips, tmp_path):
    src, _ = clips["silent.mp4"]
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "c.mp4", "--quiet")
    assert _sound(tmp_path / "c.mp4") == {}
    assert _video_frames(tmp_path / "c.mp4") == N


def test_open_writer_without_audio_from_has_no_sound(clips, tmp_path):
    src, _ = clips["aac.mp4"]
    with open_reader(src) as reader, open_writer(tmp_path / "c.mov", fps=reader.info.fps) as writer:
        for frame in reader:
            writer.write(frame.rgb, transfer=frame.transfer)
    assert _sound(tmp_path / "c.mov") == {}


def test_failed_sound_keeps_the_picture_and_says_so(clips, tmp_path):
    src, _ = clips["aac.mp4"]
    copy = tmp_path / "take.mp4"
    copy.write_bytes(src.read_bytes())
    target = tmp_path / "comp.mp4"
    writer = open_writer(target, fps=Fraction(FPS), audio_from=copy)
    frames = 0
    with open_reader(copy) as reader:
        for frame in reader:
            writer.write(frame.rgb, transfer=frame.transfer)
            frames += 1
    copy.write_bytes(b"not a video any more")  # the source goes bad before the sound is muxed
    # the render is kept (hours of it, on a real shot), without sound, and the warning names the source
    with pytest.warns(UserWarning, match=r"take\.mp4.*comp\.mp4 is written without sound"):
        writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp.mp4", "take.mp4"]  # no temp files
    assert _sound(target) == {}
    with open_reader(target) as reader:
        assert sum(1 for _ in reader) == frames


def test_sound_in_a_codec_ffmpeg_cannot_decode_is_refused_before_the_render(clips, tmp_path):
    src, _ = clips["pcm.mov"]
    data = bytearray(src.read_bytes())
    at = data.find(b"sowt")  # the sound's sample entry: a codec tag nothing decodes (damaged, or exotic)
    assert at > 0
    data[at:at + 4] = b"zzzz"
    take = tmp_path / "take.mov"
    take.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"sound of .*take\.mov .* cannot decode; use --no-audio"):
        open_writer(tmp_path / "comp.mov", fps=Fraction(FPS), audio_from=take)


def _rewrite_saying(source: Path, target: Path, said: str) -> None:
    """Write ``source``'s frames to ``target`` with its sound, warning ``said`` (a pattern)."""
    with pytest.warns(UserWarning, match=said):
        with open_reader(source) as reader, open_writer(target, fps=FPS, audio_from=source) as writer:
            for frame in reader:
                writer.write(frame.rgb, transfer=frame.transfer)


def test_damaged_sound_packets_become_silence_and_the_rest_stays_in_sync(tmp_path):
    """FLAC whose packets were damaged (a bad sector, a cut-short copy): each packet that does not decode
    is silence of its own length, the sound around it is kept sample for sample, and a warning counts
    them. All the sound was lost with them (and, before that, the render too)."""
    source = tmp_path / "take.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(source), "w") as container:
        video = container.add_stream("ffv1", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 36, "yuv420p"
        sound = container.add_stream("flac", rate=48000, layout="stereo")
        picture = np.zeros((36, 64, 3), np.uint8)
        picture[:] = (40, 180, 60)
        for i in range(10):
            container.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
            samples = (rng.standard_normal(48000 // FPS) * 3000).astype(np.int16)
            chunk = av.AudioFrame.from_ndarray(np.stack([samples, samples]).reshape(1, -1), format="s16",
                                               layout="stereo")
            chunk.sample_rate, chunk.pts = 48000, i * (48000 // FPS)
            container.mux(sound.encode(chunk))
        container.mux(video.encode())
        container.mux(sound.encode())
    clean = _sound(source)["samples"]
    data = bytearray(source.read_bytes())
    with av.open(str(source)) as container:
        packets = [(p.pos, p.size, p.pts, p.duration) for p in container.demux(container.streams.audio[0])
                   if p.size]
    damaged = packets[2:4]
    for at, size, _, _ in damaged:
        for k in range(10, size, 7):
            data[at + k] ^= 0x5A
    source.write_bytes(bytes(data))
    target = tmp_path / "comp.mkv"
    _rewrite_saying(source, target, r"take\.mkv: 2 damaged packet\(s\) could not be decoded and are silence")
    kept = _sound(target)["samples"]
    assert kept.shape == clean.shape  # the picture's span, 0.4 s
    # packet times are in ms (Matroska): the damaged stretch in samples
    lo, hi = damaged[0][2] * 48, (damaged[-1][2] + damaged[-1][3]) * 48
    assert not kept[:, lo:hi].any()
    np.testing.assert_array_equal(kept[:, :lo], clean[:, :lo])
    np.testing.assert_array_equal(kept[:, hi:], clean[:, hi:])
    with open_reader(target) as reader:
        assert sum(1 for _ in reader) == 10


def test_damaged_sound_that_would_be_copied_is_decoded_into_silence_and_said(tmp_path):
    """AAC into an MP4 is copied packet for packet: damaged packets were copied as they were, and the
    review copy clicked and dropped out where the source does, without a word (the warning was the
    decode path's only). Now a span with damaged packets is decoded: they become silence, said."""
    source = tmp_path / "phone.mp4"
    _make_clip(source, "aac")
    data = bytearray(source.read_bytes())
    with av.open(str(source)) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.audio[0]) if p.size]
    for at, size in packets[4:7]:
        data[at:at + size] = np.random.default_rng(at).integers(0, 256, size, dtype=np.uint8).tobytes()
    source.write_bytes(bytes(data))

    def undecodable(path: Path) -> int:
        with av.open(str(path)) as container:
            bad = 0
            for packet in container.demux(container.streams.audio[0]):
                try:
                    packet.decode()
                except av.error.InvalidDataError:
                    bad += 1
            return bad

    assert undecodable(source) >= 1
    target = tmp_path / "review.mp4"
    _rewrite_saying(source, target, r"phone\.mp4: \d damaged packet\(s\) could not be decoded and are")
    assert undecodable(target) == 0
    assert abs(_sound(target)["samples"].shape[-1] - N * SAMPLES_PER_FRAME) <= SAMPLES_PER_FRAME // 2


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_remux_keeps_the_picture_and_its_tags(clips, tmp_path, ext):
    """The remux copies the picture: same frames, codec flavour, alpha and timecode as the silent file.
    (Two separate encodes would not do: threaded x264 need not give identical bits twice.)"""
    src, _ = clips["pcm.mov"]
    content = "rgb" if ext == ".mp4" else "rgba"
    plain, sound = tmp_path / f"plain{ext}", tmp_path / f"sound{ext}"
    with (
        open_reader(src) as reader,
        open_writer(plain, fps=FPS, content=content, timecode="01:00:00:05") as writer,
    ):
        for frame in reader:
            alpha = np.full(frame.rgb.shape[:2], 0.5, np.float32) if content == "rgba" else None
            writer.write(frame.rgb, alpha=alpha, transfer=frame.transfer)
    mux_with_audio(plain, src, sound, start_s=Fraction(0), duration_s=Fraction(N, FPS))
    infos, pictures = [], []
    for path in (plain, sound):
        with open_reader(path) as reader:
            infos.append(dataclasses.replace(reader.info, path=""))
            pictures.append([(f.rgb, f.alpha) for f in reader])
    assert bool(_sound(sound)) and not _sound(plain)
    assert infos[0] == infos[1] and infos[1].timecode == "01:00:00:05"
    for (rgb_a, alpha_a), (rgb_b, alpha_b) in zip(*pictures, strict=True):
        np.testing.assert_array_equal(rgb_a, rgb_b)
        np.testing.assert_array_equal(alpha_a, alpha_b)


@pytest.mark.parametrize("output", ["out.mov", "out.mp4"])  # kept PCM / transcoded to AAC
def test_sound_that_starts_late_stays_in_sync(tmp_path, output):
    late = 6 * SAMPLES_PER_FRAME  # the recorder started a quarter second after the camera
    src = tmp_path / "late.mov"
    _make_clip(src, "pcm_s16le", late_samples=late)
    out = tmp_path / output
    _invoke("composite", src, "-b", "#000000", "-o", out, "--quiet", "--start", 2)
    sound = _sound(out)
    # AAC's priming block (21 ms, near silence) sits just before the sound; PCM starts on the sample.
    assert late / RATE - 2 / FPS - 0.025 < sound["first_s"] <= late / RATE - 2 / FPS
    assert abs(_loud_from_s(sound) - (LOUD_FRAME - 2) / FPS) < 0.003


def test_flac_stays_flac_in_mkv_becomes_24_bit_pcm_in_mov_and_aac_in_mp4(tmp_path):
    src = tmp_path / "take.mkv"
    written = _make_clip(src, "flac")
    # lossless: re-encoded to the same samples, so it can be cut to the sample
    assert plan_audio(src, ".mkv") == AudioPlan("flac", "flac", copy_packets=False)
    assert plan_audio(src, ".mov") == AudioPlan("flac", "pcm_s24le", copy_packets=False)  # mov has no FLAC
    # the review MP4 must play everywhere: QuickTime, Premiere and Windows play no FLAC (or Opus) in MP4
    assert plan_audio(src, ".mp4") == AudioPlan("flac", "aac", copy_packets=False)
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "c.mkv", "--quiet")
    copied = _sound(tmp_path / "c.mkv")
    assert copied["codec"] == "flac"
    np.testing.assert_array_equal(copied["raw"].reshape(-1, 2).T, written)
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "c.mov", "--quiet", "--start", 4)
    sound = _sound(tmp_path / "c.mov")
    assert (sound["codec"], sound["rate"], sound["channels"]) == ("pcm_s24le", RATE, 2)
    decoded = sound["raw"].reshape(-1, 2).T  # 24-bit samples in the top of int32
    np.testing.assert_array_equal(decoded >> 16, written[:, 4 * SAMPLES_PER_FRAME :])  # lossless
    _invoke("composite", src, "-b", "#000000", "-o", tmp_path / "c.mp4", "--quiet")
    sound = _sound(tmp_path / "c.mp4")
    assert (sound["codec"], sound["rate"], sound["channels"]) == ("aac", RATE, 2)
    assert abs(_loud_from_s(sound) - LOUD_FRAME / FPS) < 0.003  # in sync


@pytest.mark.parametrize("output", ["out.mkv", "out.mp4"])
def test_span_without_sound_gets_no_audio_track(tmp_path, output):
    src = tmp_path / "late.mov"
    _make_clip(src, "pcm_s16le", late_samples=18 * SAMPLES_PER_FRAME)  # sound from frame 18 only
    out = tmp_path / output
    _invoke("composite", src, "-b", "#000000", "-o", out, "--quiet", "--end", 10)
    with av.open(str(out)) as container:
        assert not container.streams.audio and container.streams.video
    assert _video_frames(out) == 11


def _two_microphones(path: Path, layouts: tuple[str, str] = ("1 channels", "1 channels")) -> None:
    """A camera's MOV with one mono track per microphone, 1 kHz and 3 kHz (peak 0.4), whose layout names
    no speaker ("1 channels", as MXF and field recorders write it) or one side of a stereo pair (FL, FR:
    a stereo track split into its channels)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("prores_ks", rate=FPS)
        video.width, video.height, video.pix_fmt = W, H, "yuv422p10le"
        tracks = [container.add_stream("pcm_s24le", rate=RATE, layout=layout) for layout in layouts]
        for frame in green_screen_clip(W, H, N, seed=2):
            rgb = (np.clip(frame.rgb_srgb, 0, 1) * 255).astype(np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        t = np.arange(N * SAMPLES_PER_FRAME) / RATE
        for track, hz, layout in zip(tracks, (1000, 3000), layouts, strict=True):
            samples = (0.4 * np.sin(2 * np.pi * hz * t) * 2**31).astype(np.int32)[None]
            samples = np.repeat(samples, len(av.AudioLayout(layout).channels), axis=1)  # interleaved
            block = av.AudioFrame.from_ndarray(samples, format="s32", layout=layout)
            block.sample_rate, block.pts = RATE, 0
            container.mux(track.encode(block))
            container.mux(track.encode(None))
        container.mux(video.encode(None))


@pytest.mark.parametrize("layouts", [("1 channels", "1 channels"), ("FL", "FR"), ("FL+FC", "FL+FC")])
@pytest.mark.parametrize("output", ["out.mov", "out.mp4", "out.mkv"])
def test_every_microphone_track_is_carried(tmp_path, output, layouts):
    # Only the first track was carried (the boom of a lav + boom take was lost), and into .mp4 the
    # speakerless layout stopped the job: "avcodec_open2("aac") returned 22"; a split stereo pair's
    # tracks (FL, FR) were left out of the .mp4 too, "mend the source's"
    _two_microphones(tmp_path / "take.mov", layouts)
    _invoke("composite", tmp_path / "take.mov", "-b", "#202020", "-o", tmp_path / output, "--quiet")
    with av.open(str(tmp_path / output)) as container:
        streams = list(container.streams.audio)
        assert len(streams) == 2
        peaks = []
        for index in range(2):
            track = container.streams.audio[index]
            channels = track.codec_context.channels
            frames = [f.to_ndarray().astype(np.float64) for f in container.decode(track)]
            # the first channel: a planar frame's first row, a packed one's every n-th sample
            sound = np.concatenate([f[:1] if f.shape[0] == channels > 1 else f[:, ::channels]
                                    for f in frames], axis=1)
            peaks.append(_peak_hz(sound))
            scale = 2.0**31 if track.codec_context.format.name.startswith("s32") else 1.0
            level = np.sqrt(2) * np.sqrt(np.mean(np.square(sound[:, 4096:-4096]))) / scale
            assert level == pytest.approx(0.4, rel=0.03)  # not remixed (a lone FL into mono: −3 dB)
            container.seek(0)
    assert peaks == [pytest.approx(1000, abs=10), pytest.approx(3000, abs=10)]


def test_an_anamorphic_clip_with_sound_keeps_its_pixel_aspect(tmp_path):
    """The sound is laid in by copying the picture's packets into a new file; a MOV keeps the pixel
    aspect outside them (its pasp atom), which that copy dropped: the composite came out square."""
    src = tmp_path / "anamorphic.mov"
    _make_clip(src, "pcm_s16le", pixel_aspect=Fraction(2))
    for output in ("c.mov", "c.mp4"):
        _invoke("composite", src, "-b", "#000000", "-o", tmp_path / output, "--quiet")
        assert _sound(tmp_path / output)["channels"] == 2
        with open_reader(tmp_path / output) as reader:
            assert reader.info.pixel_aspect == 2, output


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_a_video_with_gaps_and_sound_keeps_its_timecode(clips, tmp_path, suffix):
    """A live take's composite has gaps (outages, dropped frames) and gets the sender's sound laid in:
    the muxer took the average rate (15.6 fps for a 25 fps take) for the timecode track, which then read
    9 frames to 2 s off the take's own. The track counts at the video's own rate."""
    target = tmp_path / f"take{suffix}"
    source, _ = clips["aac.mp4"]
    with open_writer(target, fps=Fraction(FPS), width=W, height=H, content="rgb", timecode="07:43:39:17",
                     source_timing=True, audio_from=source) as writer:
        for n, frame in enumerate(green_screen_clip(W, H, 12, seed=2)):
            writer.write(frame.rgb_srgb, time_s=(n + (6 if n >= 4 else 0)) / FPS)  # 6 frames gone
    with av.open(str(target)) as container:
        assert container.streams.audio, "the sound was laid in"
        tags = [container.metadata, *(stream.metadata for stream in container.streams)]
        assert {t.get("timecode") for t in tags} - {None} == {"07:43:39:17"}
    with open_reader(target) as reader:
        assert reader.info.timecode == "07:43:39:17"


@pytest.mark.parametrize("output", ["out.mp4", "out.mkv"])
def test_a_gap_in_the_sound_is_silence_in_the_output(tmp_path, output):
    """A live take's sound after an outage: the packets jump in time with nothing between. Copied so,
    the gap held no samples, and a WAV export or an editor that reads the sound sample after sample
    put every sound after it early by the gap (6 s after a sender's outage). It is silence, said."""
    source = tmp_path / "take.mp4"
    _make_clip(source, None)
    gap_s = (4 / FPS, 10 / FPS)  # a quarter second without sound, from frame 4 to 10
    with_sound = tmp_path / "take_sound.mp4"
    with av.open(str(source)) as video_in, av.open(str(with_sound), "w") as out:
        video = out.add_stream_from_template(video_in.streams.video[0])
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        block = av.AudioFrame.from_ndarray(_tone(N * SAMPLES_PER_FRAME), format="fltp", layout="stereo")
        block.sample_rate, block.pts = RATE, 0
        for packet in [*audio.encode(block), *audio.encode(None)]:
            if not gap_s[0] <= float(packet.pts * packet.time_base) < gap_s[1]:  # the outage's: never sent
                out.mux(packet)
        for packet in video_in.demux(video_in.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
    target = tmp_path / output
    said = r"take_sound\.mp4 has 1 gap\(s\) without sound \(the longest 0\.2\d s"
    with pytest.warns(UserWarning, match=said):
        _invoke("composite", with_sound, "-b", "black", "-o", target)
    sound = _sound(target)
    # read sample after sample from its first, the loud step lands on its frame: it came a gap early
    loud_s = sound["first_s"] + int(np.argmax(np.abs(sound["samples"][0]) > 0.5)) / RATE
    assert loud_s == pytest.approx(LOUD_FRAME / FPS, abs=0.03)


@pytest.mark.parametrize("sound", [True, False])
def test_a_cameras_reel_name_reaches_the_outputs_timecode_track(tmp_path, sound):
    # the reel (a conform relinks by reel and timecode) was dropped from every output without a word
    from guangying.media.audio import container_tag

    src = tmp_path / "A001C003.mov"
    _make_clip(src, "pcm_s16le" if sound else None)
    tagged = tmp_path / "tagged.mov"
    with av.open(str(src)) as inp, av.open(str(tagged), "w") as out:
        out.metadata["timecode"] = "10:00:00:00"
        streams = {}
        for stream in inp.streams:
            streams[stream.index] = out.add_stream_from_template(stream)
            if stream.type == "video":  # as a camera's MOV: its timecode track names the reel
                streams[stream.index].codec_context.framerate = stream.average_rate
                streams[stream.index].metadata["reel_name"] = "A001C003"
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    with open_reader(tagged) as reader:
        assert reader.info.reel_name == "A001C003"
    _invoke("composite", tagged, "-b", "#000000", "--start", "2", "-o", tmp_path / "comp.mov", "--quiet")
    with av.open(str(tmp_path / "comp.mov")) as comp:
        assert container_tag(comp, "reel_name") == "A001C003"
        assert container_tag(comp, "timecode") == "10:00:00:02"
        assert bool(comp.streams.audio) == sound


def test_a_cameras_reel_name_reaches_exr_headers_and_back(tmp_path):
    # EXR has a standard reelName (OpenEXR 3.2); EXR outputs dropped the reel, and a conform relinking an
    # EXR render by reel and timecode found none
    import OpenEXR

    from guangying.media.audio import container_tag

    src = tmp_path / "A001C004.mov"
    _make_clip(src, None)
    tagged = tmp_path / "tagged.mov"
    with av.open(str(src)) as inp, av.open(str(tagged), "w") as out:
        out.metadata["timecode"] = "10:00:00:00"
        template = inp.streams.video[0]
        stream = out.add_stream_from_template(template)
        stream.codec_context.framerate = template.average_rate
        stream.metadata["reel_name"] = "A001C004"
        for packet in inp.demux(template):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    _invoke("composite", tagged, "-b", "#000000", "--end", "3", "-o", tmp_path / "comp.%04d.exr", "--quiet")
    pictures = sorted(tmp_path.glob("comp.*.exr"))
    assert len(pictures) == 4
    with OpenEXR.File(str(pictures[0])) as exr:
        assert exr.header()["reelName"] == "A001C004"
    _invoke("composite", tmp_path / "comp.%04d.exr", "-b", "#000000", "-o", tmp_path / "again.mov", "--quiet")
    with av.open(str(tmp_path / "again.mov")) as again:
        assert container_tag(again, "reel_name") == "A001C004"
