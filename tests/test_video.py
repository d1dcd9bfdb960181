"""Clips in and out (`cyclegan translate` on video and animated GIF), temporal consistency, and the flicker
metric. Every clip is made here, a few frames of a few dozen pixels."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from cyclegan.cli import main
from cyclegan.errors import CycleGANError, install_extra

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from helpers import copied_back, handed_to_a_device, save_tiny_checkpoint, unwritable_stderrs  # noqa: E402

W, H = 48, 32


def moving_frames(n: int, seed: int = 0) -> np.ndarray:
    """n frames (H, W, 3) uint8 of a smooth random picture sliding right by 2 px a frame."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (H // 4 + 1, (W + 2 * n) // 4 + 1, 3)).astype(np.uint8)
    wide = np.asarray(Image.fromarray(base).resize((W + 2 * n, H), Image.Resampling.BILINEAR))
    return np.stack([wide[:, 2 * t : 2 * t + W] for t in range(n)])


def make_clip(path: Path, n: int = 10, rate: int = 15, audio: bool = True, options: dict | None = None) -> Path:
    """An H.264 (VP9 for .webm) clip of n frames, with a sine tone (AAC, Opus in WebM) when `audio`; `options`:
    the muxer's."""
    webm = path.suffix == ".webm"
    with av.open(str(path), "w", options=options or {}) as c:
        v = c.add_stream("libvpx-vp9" if webm else "libx264", rate=rate)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        a = c.add_stream("libopus" if webm else "aac", rate=48000) if audio else None
        for f in moving_frames(n):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
        if a is not None:
            tone = (0.2 * np.sin(np.arange(48000 * n // rate) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for k in range(0, len(tone), 960):
                frame = av.AudioFrame.from_ndarray(tone[None, k : k + 960], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, k
                c.mux(a.encode(frame))
            c.mux(a.encode(None))
    return path


def two_flat_frames(clip: Path, width: int, height: int) -> Path:
    """An FFV1 MKV of two flat frames of width x height (lossless: any size, odd sides too)."""
    with av.open(str(clip), "w") as c:
        v = c.add_stream("ffv1", rate=10)
        v.width, v.height, v.pix_fmt = width, height, "yuv444p"
        for i in range(2):
            frame = np.full((height, width, 3), 60 * i, np.uint8)
            c.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(v.encode(None))
    return clip


def clip_facts(path: Path) -> tuple[int, Fraction, tuple[int, int], list[str]]:
    """(decoded frame count, average rate, (W, H), kinds of streams)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        kinds = [s.type for s in c.streams]
        rate, size = v.average_rate, (v.width, v.height)
        return sum(1 for _ in c.decode(video=0)), rate, size, kinds


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def translate(ckpt: Path, out: Path, *inputs, extra=()) -> int:
    return main(["translate", "--checkpoint", str(ckpt), "--out", str(out), "--no-progress", *extra, *map(str, inputs)])


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_clip_keeps_frame_count_rate_size_and_audio(ckpt, tmp_path, suffix):
    clip = make_clip(tmp_path / f"walk{suffix}", n=10, rate=15)
    assert translate(ckpt, tmp_path / "out", clip) == 0
    out = tmp_path / "out" / f"walk{suffix}"
    n, rate, size, kinds = clip_facts(out)
    assert (n, rate, size) == (10, 15, (W, H))
    assert kinds == ["video", "audio"]
    with av.open(str(out)) as c, av.open(str(clip)) as d:
        assert c.format.name == d.format.name  # the same container kind
        assert abs(c.duration - d.duration) < 0.1 * d.duration
    assert not (tmp_path / "out" / "walk.png").exists()


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".mp4"])
def test_a_clips_progress_bar_counts_to_its_frames(ckpt, tmp_path, monkeypatch, suffix):
    """An MKV or WebM declares no frame count: its bar had no total (nor time left); its duration tells it."""
    import cyclegan.clipio

    totals = []

    bar = cyclegan.clipio.progress_bar

    def counted(*args, **kwargs):
        totals.append(kwargs.get("total"))
        return bar(*args, **kwargs)

    monkeypatch.setattr(cyclegan.clipio, "progress_bar", counted)
    clip = make_clip(tmp_path / f"walk{suffix}", n=12, rate=12, audio=False)
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert totals == [12]


def test_subtitles_are_copied_where_the_container_takes_them_else_named(ckpt, tmp_path, capsys):
    """An MKV's subtitle stream was dropped from its translation without a word."""
    import cyclegan

    clip = tmp_path / "film.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        s = c.add_stream("ass")
        s.time_base = Fraction(1, 1000)
        for f in moving_frames(4):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        line = av.Packet(b"0,0,Default,,0,0,0,,hello")
        line.stream, line.pts, line.dts, line.duration, line.time_base = s, 0, 0, 300, Fraction(1, 1000)
        c.mux(line)
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    with av.open(str(tmp_path / "out" / "film.mkv")) as c:
        assert [t.type for t in c.streams] == ["video", "subtitle"]
        assert [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size] == [b"0,0,Default,,0,0,0,,hello"]
    assert "warning" not in capsys.readouterr().err
    cyclegan.translate_video(cyclegan.load_generator(ckpt), clip, tmp_path / "film.mp4", progress=False)
    assert f"warning: {clip}: left out of film.mp4: subtitle " in capsys.readouterr().err  # an MP4 takes no ASS


def test_a_matroska_clips_font_attachments_are_copied_into_an_mkv_else_named(ckpt, tmp_path, capsys):
    """An MKV's fonts (what its styled subtitles are drawn with) were left out of its translation, named as
    'attachment of a codec FFmpeg does not know'."""
    import cyclegan

    clip = tmp_path / "anime.mkv"
    font = bytes(range(256)) * 4
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        c.add_attachment("Sans.ttf", "font/ttf", font)
        for f in moving_frames(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    with av.open(str(tmp_path / "out" / "anime.mkv")) as c:
        assert [t.type for t in c.streams] == ["video", "attachment"]
        assert (c.streams[1].name, c.streams[1].mimetype, bytes(c.streams[1].data)) == ("Sans.ttf", "font/ttf", font)
    assert "warning" not in capsys.readouterr().err
    cyclegan.translate_video(cyclegan.load_generator(ckpt), clip, tmp_path / "anime.mp4", progress=False)
    assert f"warning: {clip}: left out of anime.mp4: attachment Sans.ttf (" in capsys.readouterr().err


@pytest.mark.parametrize("n, rate", [(10, 15), (7, 24)])
def test_an_mkvs_copied_sound_keeps_its_duration_tag(ckpt, tmp_path, n, rate):
    """An MKV keeps its AAC track's last frame's true length (a few ms of its 1024 samples) only in the track's
    DURATION tag; the copied packets said a whole frame, and the output's tag was up to 21 ms longer than the
    source's for the same packets (0.703 s for 0.687). Now the last packet is trimmed to the source's end."""
    clip = make_clip(tmp_path / "walk.mkv", n=n, rate=rate)
    assert translate(ckpt, tmp_path / "out", clip) == 0

    def sound(path: Path) -> tuple[str, list]:
        with av.open(str(path)) as c:
            a = c.streams.audio[0]
            return a.metadata["DURATION"], [(p.pts, bytes(p)) for p in c.demux(a) if p.size]

    (tag, packets), (source_tag, source_packets) = sound(tmp_path / "out" / "walk.mkv"), sound(clip)
    assert packets == source_packets
    assert tag == source_tag


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_clips_chapters_are_kept(ckpt, tmp_path, suffix):
    """A film's chapters were dropped from its translation without a word."""
    with av.open(str(tmp_path / f"c{suffix}"), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        c.set_chapters(
            [{"id": 1, "start": 0, "end": 200, "time_base": Fraction(1, 1000), "metadata": {"title": "Intro"}}]
        )
        for f in moving_frames(4):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", tmp_path / f"c{suffix}") == 0
    with av.open(str(tmp_path / "out" / f"c{suffix}")) as c:
        chapters = c.chapters()
    assert [(ch["start"] * ch["time_base"], ch["metadata"]["title"]) for ch in chapters] == [(0, "Intro")]
    assert chapters[0]["end"] * chapters[0]["time_base"] == Fraction(1, 5)


def test_clips_data_streams_left_out_are_named_in_one_line_for_all(ckpt, tmp_path, capsys):
    """A phone's clips each hold a timed-metadata track: a warning per clip ("left out of a.mp4: data") buried
    the run's output in lines a user can do nothing about. Now one line names them all."""
    for name in ("a", "b", "c"):
        with av.open(str(tmp_path / f"{name}.mp4"), "w") as c:
            v = c.add_stream("libx264", rate=10)
            v.width, v.height, v.pix_fmt = W, H, "yuv420p"
            d = c.add_data_stream("bin_data")
            for f in moving_frames(3):
                c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            meta = av.Packet(b"gps")
            meta.stream, meta.pts, meta.dts, meta.time_base = d, 0, 0, Fraction(1, 1000)
            c.mux(meta)
            c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", *(tmp_path / f"{n}.mp4" for n in "abc")) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    assert warnings == [
        "warning: 3 clips hold data streams (timed metadata, a timecode), left out of their translations: "
        "a.mp4, b.mp4, c.mp4"
    ]
    assert clip_facts(tmp_path / "out" / "a.mp4")[3] == ["video"]


def test_streams_in_a_codec_ffmpeg_does_not_know_are_named_not_a_traceback(ckpt, tmp_path, capsys):
    """A sound or subtitle track in a codec PyAV's FFmpeg has no decoder for (a TTML subtitle in an MP4) has no
    codec context: reading its name was an AttributeError traceback, and a video in such a codec too."""
    whole = make_clip(tmp_path / "whole.mkv", n=4).read_bytes()
    assert whole.count(b"A_AAC") == 1 and whole.count(b"V_MPEG4/ISO/AVC") == 1  # the tracks' Matroska codec IDs
    (tmp_path / "sound.mkv").write_bytes(whole.replace(b"A_AAC", b"A_XYZ"))
    (tmp_path / "video.mkv").write_bytes(whole.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"))
    assert translate(ckpt, tmp_path / "out", tmp_path / "sound.mkv", tmp_path / "video.mkv") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"warning: {tmp_path / 'sound.mkv'}: left out of sound.mkv: audio of a codec FFmpeg does not know" in err
    assert f"error: cannot read clip {tmp_path / 'video.mkv'}: its video is in a codec FFmpeg" in err
    assert clip_facts(tmp_path / "out" / "sound.mkv")[3] == ["video"]
    assert not (tmp_path / "out" / "video.mkv").exists()


def test_a_videos_sound_left_out_of_a_gif_made_of_it_is_named(ckpt, tmp_path, capsys):
    """`translate_video(G, "walk.mp4", "walk.gif")` dropped the sound without a word (into a video, every stream
    left out is named)."""
    import cyclegan

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "walk.mp4", n=3)
    assert cyclegan.translate_video(G, clip, tmp_path / "walk.gif", progress=False) == 3
    assert f"warning: {clip}: left out of walk.gif: audio aac (a GIF holds pictures alone)" in capsys.readouterr().err
    silent = make_clip(tmp_path / "silent.mp4", n=3, audio=False)
    assert cyclegan.translate_video(G, silent, tmp_path / "silent.webp", progress=False) == 3
    assert "warning" not in capsys.readouterr().err


def test_translate_videos_paths_take_tilde_as_the_home_folder(ckpt, tmp_path, monkeypatch):
    """No shell expands a Python caller's `~`: `translate_video(G, "~/walk.mp4", "~/out.mp4")` said "clip not
    found". Now `~` is the home folder, as in `load_generator` and `save_generator`."""
    import cyclegan

    home = tmp_path / "home"
    home.mkdir()
    make_clip(home / "walk.mp4", n=3, audio=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    assert cyclegan.translate_video(G, "~/walk.mp4", "~/out.mp4", progress=False) == 3
    assert (home / "out.mp4").is_file() and not (tmp_path / "~").exists()


def test_translate_video_with_stderr_closed_or_missing_translates_the_clip(ckpt, tmp_path, monkeypatch, capsys):
    """`translate_video` without `progress` asked `sys.stderr.isatty()` whether to draw a bar: a caller's closed
    stderr raised ValueError and pythonw's None AttributeError, before any frame. Now (`progress.on_terminal`) it
    is no terminal, and the clip is translated; the sound a GIF leaves out is still named on an open stderr."""
    import cyclegan

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "walk.mp4", n=3)
    for i, stream in enumerate(unwritable_stderrs()):
        with monkeypatch.context() as m:
            m.setattr(sys, "stderr", stream)
            assert cyclegan.translate_video(G, clip, tmp_path / f"walk{i}.gif") == 3
    assert capsys.readouterr().out == ""
    assert cyclegan.translate_video(G, clip, tmp_path / "walk.gif") == 3
    assert capsys.readouterr().err.startswith(f"warning: {clip}: left out of walk.gif: audio aac")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_clips_title_creation_time_and_track_languages_are_kept(ckpt, tmp_path, suffix):
    """Before: every tag was dropped: the clip's title, when and where it was shot, and which soundtrack was which
    language, and (in an MP4) each track's title. Now copied as FFmpeg copies them, but for the tags the muxer writes of
    its own output and, unless --keep-location, where it was shot (a posted output told where a phone shot it)."""
    clip = tmp_path / f"trip{suffix}"
    with av.open(str(clip), "w") as c:
        c.metadata.update(title="Trip", creation_time="2024-05-01T10:00:00.000000Z", location="+48.8577+002.2950/")
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.metadata["title"] = "Front camera"
        tracks = [c.add_stream("aac", rate=48000) for _ in range(2)]
        for a, language, title in zip(tracks, ("eng", "fra"), ("Commentary", "Original")):
            a.metadata.update(language=language, title=title)
        for f in moving_frames(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
        for a in tracks:
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, 0
            c.mux(a.encode(frame))
            c.mux(a.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert translate(ckpt, tmp_path / "kept", clip, extra=["--keep-location"]) == 0
    with av.open(str(tmp_path / "kept" / clip.name)) as c:
        assert {k.lower(): v for k, v in c.metadata.items()}["location"] == "+48.8577+002.2950/"
    with av.open(str(tmp_path / "out" / clip.name)) as c:
        tags = {k.lower(): v for k, v in c.metadata.items()}
        assert (tags["title"], tags["creation_time"]) == ("Trip", "2024-05-01T10:00:00.000000Z")
        assert not any("location" in k for k in tags), tags
        assert [a.metadata.get("language") for a in c.streams.audio] == ["eng", "fra"]
        # a track's title: FFmpeg reads an MP4's back as `name` (an MKV's as `title`); it was lost in an MP4
        title = "name" if suffix == ".mp4" else "title"
        assert [t.metadata.get(title) for t in c.streams] == ["Front camera", "Commentary", "Original"]


def test_every_soundtrack_is_copied(ckpt, tmp_path):
    """A clip with two audio streams (a second language) kept only the first, without a word."""
    clip = tmp_path / "two.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        tracks = [c.add_stream("aac", rate=48000) for _ in range(2)]
        for f in moving_frames(4):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
        for k, a in enumerate(tracks):  # two tones, so that the copies can be told apart
            tone = (0.2 * np.sin(np.arange(19200) * 2 * np.pi * (440 + 220 * k) / 48000)).astype(np.float32)
            for j in range(0, len(tone), 960):
                frame = av.AudioFrame.from_ndarray(tone[None, j : j + 960], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, j
                c.mux(a.encode(frame))
            c.mux(a.encode(None))

    def sound(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            return [b"".join(bytes(p) for p in c.demux(a) if p.size) for a in c.streams.audio]

    assert translate(ckpt, tmp_path / "out", clip) == 0
    out = tmp_path / "out" / "two.mkv"
    assert clip_facts(out)[3] == ["video", "audio", "audio"]
    assert sound(out) == sound(clip) and len(set(sound(clip))) == 2  # each track's packets, as they were


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [round(float(f.pts * f.time_base), 3) for f in c.decode(video=0)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_variable_rate_clip_keeps_each_frames_time(ckpt, tmp_path, suffix):
    """Before: the output's clock was 1/(average rate), so times off that grid were rounded onto one another:
    an MKV came back with frames shown together and gaps, an MP4 was refused ('Invalid argument')."""
    ms = [0, 10, 20, 100, 110, 400, 410, 420]
    clip = tmp_path / f"vfr{suffix}"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.time_base = v.time_base = Fraction(1, 1000)
        for t, f in zip(ms, moving_frames(len(ms))):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert frame_times(tmp_path / "out" / clip.name) == frame_times(clip) == [t / 1000 for t in ms]
    # Into a GIF (translate_video): each frame lasts until the next; before, all the average rate's 60 ms.
    import cyclegan

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    cyclegan.translate_video(G, clip, tmp_path / "vfr.gif", progress=False)
    with Image.open(tmp_path / "vfr.gif") as im:
        durations = [im.seek(i) or im.info["duration"] for i in range(im.n_frames)]
    assert durations[:-1] == [10, 10, 80, 10, 290, 10, 10]


def tagged_clip(path: Path, pix_fmt: str, **tags: int) -> Path:
    """An H.264 clip of three frames of red, green and blue bars, its colours tagged `tags` (codec context names:
    color_primaries, color_trc, colorspace, color_range) and encoded in that matrix."""
    bars = np.zeros((H, W, 3), np.uint8)
    for k, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        bars[:, k * W // 3 : (k + 1) * W // 3] = colour
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        for tag, value in tags.items():
            setattr(v.codec_context, tag, value)
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(bars, format="rgb24")
            frame.colorspace, frame.color_range = tags["colorspace"], tags.get("color_range", 1)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    return path


def colours(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """(the video's colour tags: primaries, transfer, matrix, range; its first frame's bars as RGB)."""
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        tags = (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range)
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")  # in the matrix the file names
        return tags, rgb[H // 2, [W // 6, W // 2, 5 * W // 6]].astype(int)


@pytest.mark.parametrize(
    "pix_fmt, tags",
    [
        ("yuv420p", dict(color_primaries=1, color_trc=1, colorspace=1)),  # BT.709: an HD phone clip
        ("yuv420p", dict(color_primaries=1, color_trc=1, colorspace=1, color_range=2)),  # full range (Android)
        ("yuv420p10le", dict(color_primaries=9, color_trc=16, colorspace=9)),  # HDR10: BT.2020, PQ, 10-bit
    ],
)
def test_a_clips_colour_tags_are_kept_and_its_bit_depth_lost_is_named(tmp_path, capsys, pix_fmt, tags):
    """Before: the output was untagged and encoded in BT.601's matrix: a BT.709 clip's hues shifted where a player
    takes HD for BT.709, and an HDR clip's BT.2020/PQ tags were dropped (its PQ-coded picture played as washed-out
    SDR), its 10 bits made 8 without a word."""
    from cyclegan.clipio import transcode

    clip = tagged_clip(tmp_path / "hdr.mp4", pix_fmt, **tags)
    transcode(clip, tmp_path / "out.mp4", lambda frames: frames, progress=False)
    (tags_in, rgb_in), (tags_out, rgb_out) = colours(clip), colours(tmp_path / "out.mp4")
    assert tags_out == tags_in and tags_in[:3] == (tags["color_primaries"], tags["color_trc"], tags["colorspace"])
    assert np.abs(rgb_out - rgb_in).max() <= 6  # encoded in the matrix it is tagged with
    err = capsys.readouterr().err
    said = "its 10-bit picture is translated at 8 bits a channel in out.mp4: smooth gradients (a sky) may show bands"
    assert (said in err) == (pix_fmt == "yuv420p10le")
    assert ("keep hdr.mp4 for work that needs its 10 bits" in err) == (pix_fmt == "yuv420p10le")  # what to do
    transcode(clip, tmp_path / "out.gif", lambda frames: frames, progress=False)  # a GIF holds no colour tags
    said = "hdr.mp4 is HDR (PQ): out.gif holds its PQ-coded picture as SDR, with no tone mapping"
    assert (said in capsys.readouterr().err) == (tags["color_trc"] == 16)


def encoded_clip(path: Path, codec: str, pix_fmt: str, options: dict | None = None) -> Path:
    """Three moving frames at 10 fps in `codec`, stored as `pix_fmt` (a grey clip, a lossless RGB one)."""
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=10, options=options or {})
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        for f in moving_frames(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    return path


def test_a_grey_clips_translation_keeps_its_colour(ckpt, tmp_path):
    """Before: an FFV1 clip in grey (a scan, a security camera's) was written in its own grey pixel format, so its
    translation's colour was thrown away without a word. Now the output's pixel format holds colour."""
    clip = encoded_clip(tmp_path / "grey.mkv", "ffv1", "gray")
    assert translate(ckpt, tmp_path / "out", clip, extra=["--flow-blend", "0"]) == 0
    with av.open(str(tmp_path / "out" / clip.name)) as c:
        assert not c.streams.video[0].codec_context.pix_fmt.startswith("gray")
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).mean() > 5  # the generator's colour, kept


def test_a_lossless_rgb_h264_clip_keeps_its_colour_at_every_pixel(ckpt, tmp_path):
    """A lossless RGB H.264 clip (libx264rgb, decoded as gbrp, which libx264 does not take) was written as 4:2:0,
    a quarter of its colour resolution, without a word. Now as 4:4:4, which libx264 writes."""
    clip = encoded_clip(tmp_path / "rgb.mkv", "libx264rgb", "bgr0", options={"qp": "0"})
    assert translate(ckpt, tmp_path / "out", clip, extra=["--flow-blend", "0"]) == 0
    with av.open(str(tmp_path / "out" / clip.name)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"


@pytest.mark.parametrize("size", [None, 35])
def test_a_prores_4444_clip_stays_4_4_4(ckpt, tmp_path, size):
    """A ProRes 4444 clip, decoded in 12 bits (which FFmpeg's ProRes encoders do not take), was written as ProRes
    422: half its colour resolution, without a word. Now in the 4:4:4 its encoder takes, at an even width (its
    encoder refuses an odd one in 4:4:4 too: --size 35 on 48x32 makes it 36x23)."""
    clip = encoded_clip(tmp_path / "master.mov", "prores_ks", "yuva444p10le")
    extra = ["--flow-blend", "0", *(["--size", str(size)] if size else [])]
    assert translate(ckpt, tmp_path / "out", clip, extra=extra) == 0
    with av.open(str(tmp_path / "out" / clip.name)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.codec_tag) == ("prores", "ap4h")  # ProRes 4444 (422 is apcn)
        assert v.codec_context.pix_fmt.startswith("yuv444")  # decoded in 12 bits, as its source
        assert (v.width, v.height) == ((36, 23) if size else (W, H))


@pytest.mark.parametrize("suffix", [".webm", ".gif"])
def test_a_vp9_webms_transparent_pixels_are_translated_on_white(tmp_path, suffix):
    """Before: FFmpeg's own VP9 decoder drops a WebM's alpha channel, so a transparent clip's hidden colours were
    translated (dark here) where a still's or a ProRes 4444 clip's transparency is put on white."""
    from cyclegan.clipio import transcode

    clip = tmp_path / "logo.webm"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libvpx-vp9", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuva420p"
        for _ in range(3):  # dark, and wholly transparent
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 4), (40, 40, 40, 0), np.uint8), format="rgba")))
        c.mux(v.encode(None))
    transcode(clip, tmp_path / f"out{suffix}", lambda frames: frames, progress=False)
    with av.open(str(tmp_path / f"out{suffix}")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == (1 if suffix == ".gif" else 3)  # a GIF's writer merges identical frames
    assert all(f.min() > 240 for f in frames), [int(f.min()) for f in frames]


def test_a_vp9_webm_with_alpha_is_read_where_pyav_has_no_libvpx_decoder(tmp_path, monkeypatch):
    """The alpha channel is read through libvpx's decoder: a PyAV built without it raised UnknownCodecError, a
    traceback, for a WebM FFmpeg's own VP9 decoder reads (its alpha left out, as before that decoder was used, and
    said in a warning)."""
    from types import SimpleNamespace

    from cyclegan.clipio import transcode

    clip = tmp_path / "logo.webm"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libvpx-vp9", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuva420p"
        for _ in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 4), (40, 40, 40, 0), np.uint8), format="rgba")))
        c.mux(v.encode(None))
    built = av.CodecContext

    def create(name, mode=None):
        if name.startswith("libvpx"):
            raise av.codec.codec.UnknownCodecError(name)
        return built.create(name, mode)

    monkeypatch.setattr(av, "CodecContext", SimpleNamespace(create=create))
    said: list[str] = []
    assert transcode(clip, tmp_path / "out.mp4", lambda frames: frames, progress=False, warn=said.append) == 3
    # its transparency lost, said once (it went without a word), with what to install
    assert said == [
        f"warning: {clip}: its transparency is lost: this PyAV's FFmpeg has no libvpx, whose VP9 decoder alone reads "
        "a WebM's alpha channel, so the colours hidden under its transparent pixels are translated; install PyAV's "
        "own wheel, which has it: pip install --force-reinstall --only-binary av av"
    ]


def test_an_rgb_clip_written_in_another_codec_stays_4_2_0(tmp_path):
    """Only a source written again in its own codec keeps its colour at every pixel (4:4:4, as the lossless RGB
    H.264 above): a PNG clip (RGB) written as VP9 into a WebM is 4:2:0, which every player plays (untested, this
    came back as 4:4:4)."""
    from cyclegan.clipio import transcode

    clip = tmp_path / "frames.mov"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("png", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "rgb24"
        for f in moving_frames(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    assert transcode(clip, tmp_path / "out.webm", lambda frames: frames, progress=False) == 3
    with av.open(str(tmp_path / "out.webm")) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.video[0].codec_context.pix_fmt) == ("vp9", "yuv420p")


def test_an_mpeg4_clip_on_a_90khz_clock_is_translated(ckpt, tmp_path):
    """MPEG-4 Part 2 takes no clock finer than 1/65535 s: the source's 1/90000 was refused ('Invalid argument')."""
    clip = tmp_path / "cam.mov"
    with av.open(str(clip), "w", format="mov") as c:
        v = c.add_stream("mpeg4", rate=25)
        v.width, v.height, v.pix_fmt, v.time_base = W, H, "yuv420p", Fraction(1, 90000)
        for i, f in enumerate(moving_frames(5)):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert frame_times(tmp_path / "out" / clip.name) == frame_times(clip) == [0, 0.04, 0.08, 0.12, 0.16]


def phone_clip(clip: Path, n: int) -> Path:
    """A phone's portrait clip of n frames: stored W x H, with a display rotation of -90 (shown turned clockwise:
    H wide, W high)."""
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.set_display_rotation(-90)
        for f in moving_frames(n):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    return clip


def test_a_phone_clip_keeps_its_display_rotation(ckpt, tmp_path):
    """Before: the display matrix of a portrait phone clip was dropped, so its translation played on its side
    (and a GIF made of it was sideways)."""
    import cyclegan

    clip = phone_clip(tmp_path / "phone.mp4", 4)
    assert translate(ckpt, tmp_path / "out", clip) == 0
    with av.open(str(tmp_path / "out" / "phone.mp4")) as c:
        assert [f.rotation for f in c.decode(video=0)] == [-90] * 4
    from cyclegan.clipio import iter_frames  # upright as a player shows them (they came sideways)

    assert [f.shape for f in iter_frames(tmp_path / "out" / "phone.mp4")] == [(W, H, 3)] * 4
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    cyclegan.translate_video(G, clip, tmp_path / "phone.gif", progress=False)
    with Image.open(tmp_path / "phone.gif") as im:
        assert im.size == (H, W) and im.n_frames == 4


def test_a_clip_whose_frame_size_changes_is_written_at_its_first_size(ckpt, tmp_path):
    """Before: frames of two sizes in one batch were a raw ValueError traceback ('all input arrays must have
    the same shape'); now each is scaled to the stream's first size, as FFmpeg does."""
    clip = tmp_path / "cut.mkv"
    with av.open(str(clip), "w", format="matroska") as c:
        s = c.add_stream("mjpeg", rate=12)  # every frame a whole JPEG: the size may change between two
        s.width, s.height, s.pix_fmt = W, H, "yuvj420p"
        packets = []
        for w, h in ((W, H), (64, 48)):
            enc = av.CodecContext.create("mjpeg", "w")
            enc.width, enc.height, enc.pix_fmt, enc.time_base = w, h, "yuvj420p", Fraction(1, 12)
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), 40 * i, np.uint8), format="rgb24")
                frame = frame.reformat(format="yuvj420p")
                frame.pts = i
                packets += enc.encode(frame)
            packets += enc.encode(None)
        for i, p in enumerate(packets):
            p.stream, p.pts, p.dts, p.time_base = s, i, i, Fraction(1, 12)
            c.mux(p)
    assert translate(ckpt, tmp_path / "out", clip) == 0
    with av.open(str(tmp_path / "out" / "cut.mkv")) as c:
        assert [(f.width, f.height) for f in c.decode(video=0)] == [(W, H)] * 6
    from cyclegan.clipio import iter_frames  # read as translated: frames of two sizes could not be stacked

    assert [f.shape for f in iter_frames(clip)] == [(H, W, 3)] * 6


def test_translate_passes_the_temporal_options_to_its_clips(ckpt, tmp_path, monkeypatch):
    import cyclegan.video as video

    seen = []
    real = video.translate_clips
    monkeypatch.setattr(video, "translate_clips", lambda *a, **kw: seen.append(kw["temporal"]) or real(*a, **kw))
    clip = make_clip(tmp_path / "walk.mp4", n=4)
    assert translate(ckpt, tmp_path / "out", clip, extra=("--flow-blend", "0.7", "--norm-stats", "frame")) == 0
    assert (seen[0].flow_blend, seen[0].norm_stats) == (0.7, "frame")  # before: None, the defaults used


def test_shared_statistics_with_a_generator_without_instance_norm_are_named_as_changing_nothing(ckpt, tmp_path, capsys):
    """`--norm-stats shared` with a batch-norm generator was taken without a word: nothing to share, the clip was
    translated frame by frame as without it."""
    from cyclegan.checkpoint import FORMAT
    from cyclegan.config import resolve
    from cyclegan.models import build_models

    cfg = resolve({"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32, "norm": "batch"})
    models = build_models(cfg.model)
    batch = tmp_path / "batch.pt"
    state = {
        "format": FORMAT,
        "config": cfg.to_dict(),
        "step": 1,
        "models": {k: m.state_dict() for k, m in models.items()},
    }
    torch.save(state, batch)
    clip = make_clip(tmp_path / "c.mp4", n=2, audio=False)
    assert translate(batch, tmp_path / "out", clip, extra=["--norm-stats", "shared"]) == 0
    assert "warning: --norm-stats shared changes nothing here: this generator has no InstanceNorm layers" in (
        capsys.readouterr().err
    )
    assert translate(ckpt, tmp_path / "out2", clip, extra=["--norm-stats", "shared"]) == 0
    assert "warning" not in capsys.readouterr().err  # an InstanceNorm generator's are shared


def test_norm_momentum_without_shared_statistics_is_refused(ckpt, tmp_path, capsys):
    """Before: --norm-momentum with the default --norm-stats frame was ignored without a word."""
    clip = make_clip(tmp_path / "walk.mp4", n=2, audio=False)
    assert translate(ckpt, tmp_path / "out", clip, extra=("--norm-momentum", "0.5")) == 2
    assert "'--norm-momentum' 0.5 takes effect only with --norm-stats shared" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert translate(ckpt, tmp_path / "out", clip, extra=("--norm-momentum", "0.5", "--norm-stats", "shared")) == 0


def test_gif_gives_an_animated_gif(ckpt, tmp_path):
    frames = [Image.fromarray(f) for f in moving_frames(6)]
    (tmp_path / "in").mkdir()
    frames[0].save(tmp_path / "in" / "loop.gif", save_all=True, append_images=frames[1:], duration=70, loop=0)
    assert translate(ckpt, tmp_path / "out", tmp_path / "in") == 0  # found in a folder
    with Image.open(tmp_path / "out" / "loop.gif") as im:
        assert im.format == "GIF" and im.n_frames == 6 and im.info["duration"] == 70 and im.size == (W, H)


@pytest.mark.parametrize(
    "pix_fmt, size", [("yuv420p", (36, 24)), ("yuv422p", (36, 23)), ("yuv444p", (35, 23))], ids=["420", "422", "444"]
)
def test_size_rounds_a_videos_sides_up_as_its_pixel_format_needs_and_not_a_gifs(ckpt, tmp_path, pix_fmt, size):
    """4:2:0 video needs an even width and height, 4:2:2 an even width; 4:4:4, a GIF or WebP any. --size 33 on a
    48x32 GIF stretched it to 34x22, and --size 35 on a 4:4:4 clip to 36x24, as its 4:2:0 would be."""
    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    encoded_clip(tmp_path / "b.mp4", "libx264", pix_fmt)
    assert translate(ckpt, tmp_path / "out", tmp_path / "a.gif", tmp_path / "b.mp4", extra=["--size", "35"]) == 0
    with Image.open(tmp_path / "out" / "a.gif") as im:
        assert im.size == (35, 23)
    assert clip_facts(tmp_path / "out" / "b.mp4")[2] == size
    with av.open(str(tmp_path / "out" / "b.mp4")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt  # kept, not another one the size fits


@pytest.mark.parametrize(
    "codec, suffix", [("mpeg4", ".mp4"), ("libsvtav1", ".mp4"), ("libvpx", ".webm"), ("libvpx-vp9", ".webm")]
)
def test_size_keeps_odd_sides_where_the_encoder_takes_them_in_4_2_0(ckpt, tmp_path, codec, suffix):
    """--size rounded every 4:2:0 clip's sides up to even, as libx264 needs; MPEG-4, AV1 (SVT), VP8 and VP9 take odd
    ones: --size 35 on a 48x32 clip made 36x24, stretched. Now 35x23, still in 4:2:0."""
    if codec not in av.codecs_available:
        pytest.skip(f"no {codec} encoder in this FFmpeg build")
    from cyclegan.clipio import _not_real_time

    with _not_real_time():  # SVT-AV1 run as root left this thread real-time (`written_off_real_time`)
        encoded_clip(tmp_path / f"b{suffix}", codec, "yuv420p")
    assert translate(ckpt, tmp_path / "out", tmp_path / f"b{suffix}", extra=["--size", "35"]) == 0
    assert clip_facts(tmp_path / "out" / f"b{suffix}")[2] == (35, 23)
    with av.open(str(tmp_path / "out" / f"b{suffix}")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_a_gif_is_written_as_translated_keeping_each_frames_duration(ckpt, tmp_path, monkeypatch):
    """The translated frames go to the GIF writer as they come: before, all of them were held (as RGB, beside the
    writer's own palette copies) until the last was translated; a long GIF needed 4 bytes a pixel per frame."""
    import weakref

    from cyclegan import clipio

    n = 16
    frames = [Image.fromarray(f) for f in moving_frames(n)]
    durations = [40 + 10 * i for i in range(n)]  # each its own: no two neighbours merged by the writer
    frames[0].save(tmp_path / "long.gif", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    live, peak = [0], [0]
    fromarray = Image.fromarray

    def counted(a, *args, **kwargs):
        im = fromarray(a, *args, **kwargs)
        live[0] += 1
        peak[0] = max(peak[0], live[0])
        weakref.finalize(im, lambda: live.__setitem__(0, live[0] - 1))
        return im

    monkeypatch.setattr(clipio.Image, "fromarray", counted)
    assert translate(ckpt, tmp_path / "out", tmp_path / "long.gif", extra=("--batch-size", "4")) == 0
    assert peak[0] <= 4 + 1  # a batch and the frame being written, not all 16
    with Image.open(tmp_path / "out" / "long.gif") as im:
        assert im.n_frames == n
        assert [im.seek(i) or im.info["duration"] for i in range(n)] == durations


def test_a_transparent_gif_is_translated_on_white_as_a_still_is(tmp_path):
    """Before: a transparent pixel went in as whatever colour its palette entry hid (black on frame 0, the
    frame's own colours after), which the output then showed; a still GIF's are composited on white."""
    from cyclegan.clipio import iter_frames, transcode

    alpha = np.where(np.arange(W) < W // 2, 0, 255).astype(np.uint8)  # the left half transparent
    frames = [Image.fromarray(np.dstack([f, np.broadcast_to(alpha, (H, W))])) for f in moving_frames(3)]
    frames[0].save(tmp_path / "t.gif", save_all=True, append_images=frames[1:], duration=100, loop=0, disposal=2)
    transcode(tmp_path / "t.gif", tmp_path / "o.gif", lambda a: a, progress=False)  # frames as they go in
    for path in (tmp_path / "t.gif", tmp_path / "o.gif"):
        assert all((f[:, : W // 2] == 255).all() for f in iter_frames(path))


def test_an_encoders_error_names_the_output_not_the_source(ckpt, tmp_path, monkeypatch):
    """An encoder that refuses its settings (here a CRF it cannot parse; a full disk fails the same calls) said
    'cannot read clip SRC' of a clip that reads well; write_clip's was a raw av error."""
    import cyclegan
    from cyclegan import clipio
    from cyclegan.errors import CycleGANError

    clip = make_clip(tmp_path / "c.mp4", n=3, audio=False)
    monkeypatch.setitem(clipio.ENCODER_OPTIONS, "libx264", {"crf": "not-a-number"})
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    with pytest.raises(CycleGANError, match=r"^cannot write .*o\.mp4: "):
        cyclegan.translate_video(G, clip, tmp_path / "o.mp4", progress=False)
    with pytest.raises(CycleGANError, match=r"^cannot write .*w\.mp4: "):
        clipio.write_clip(tmp_path / "w.mp4", moving_frames(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]  # no half-written output under either name


def test_telling_a_long_gif_from_a_still_reads_no_further_than_its_second_frame(tmp_path, monkeypatch):
    """`is_clip_file` (asked several times per input while the outputs are planned) counted every frame of a
    GIF (`n_frames` parses the file to its end) to learn whether it holds more than one."""
    from PIL import GifImagePlugin

    from cyclegan.clipio import is_clip_file

    frames = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(40)]
    frames[0].save(tmp_path / "long.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(tmp_path / "still.gif")
    reached = []
    seek = GifImagePlugin.GifImageFile._seek
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_seek", lambda im, n, *a: reached.append(n) or seek(im, n, *a))
    assert is_clip_file(tmp_path / "long.gif") and not is_clip_file(tmp_path / "still.gif")
    assert max(reached) <= 1


def test_clip_too_wide_for_webp_is_refused_in_one_line_before_work(ckpt, tmp_path):
    """A WebP takes 16383 px a side: a wider clip into .webp was Pillow's bare ValueError after every frame."""
    import cyclegan
    from cyclegan.clipio import write_clip
    from cyclegan.errors import CycleGANError

    frame = np.zeros((8, 16400, 3), np.uint8)
    clip = write_clip(tmp_path / "wide.gif", [frame, frame], rate=5)
    G = cyclegan.load_generator(ckpt)
    said = r"wide.webp: its frames would be 16400x8 px, over the 16383 px a side a WebP takes; .* \.gif"
    with pytest.raises(CycleGANError, match=said):
        cyclegan.translate_video(G, clip, tmp_path / "wide.webp", progress=False)
    assert not (tmp_path / "wide.webp").exists()


def test_a_rotated_clip_too_wide_for_webp_is_refused_naming_the_size_it_is_shown_at(ckpt, tmp_path, monkeypatch):
    """A portrait phone clip over a WebP's largest side was refused naming its stored, landscape size."""
    import cyclegan
    from cyclegan import clipio
    from cyclegan.errors import CycleGANError

    monkeypatch.setitem(clipio.MAX_SIDE, ".webp", 40)  # W = 48 stored across, shown 32 wide and 48 high
    clip = phone_clip(tmp_path / "phone.mp4", 2)
    with pytest.raises(CycleGANError, match=rf"phone.webp: its frames would be {H}x{W} px, over the 40 px a side"):
        cyclegan.translate_video(cyclegan.load_generator(ckpt), clip, tmp_path / "phone.webp", progress=False)
    assert not (tmp_path / "phone.webp").exists()


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_write_clip_writes_frames_and_refuses_none(tmp_path, suffix):
    from cyclegan.clipio import iter_frames, write_clip
    from cyclegan.errors import CycleGANError

    write_clip(tmp_path / f"c{suffix}", iter(moving_frames(5)), rate=10)  # an iterator: read once, as it comes
    assert len(list(iter_frames(tmp_path / f"c{suffix}"))) == 5
    with pytest.raises(CycleGANError, match=r"no frames to write to .*e\."):  # GIF and WebP: an IndexError before
        write_clip(tmp_path / f"e{suffix}", [])
    assert not (tmp_path / f"e{suffix}").exists()


def test_broken_clip_named_in_one_line_while_the_others_are_written(ckpt, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    good = make_clip(folder / "a_good.mp4")
    whole = make_clip(tmp_path / "whole.mp4", n=30).read_bytes()
    (folder / "b_cut.mp4").write_bytes(whole[: len(whole) // 2])  # truncated: the index at the end is gone
    make_clip(folder / "c_after.mkv", audio=False)
    Image.fromarray(moving_frames(1)[0]).save(folder / "still.png")
    assert translate(ckpt, tmp_path / "out", folder) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "b_cut.mp4" in line]
    assert len(lines) == 1 and lines[0].startswith("error: cannot read clip") and "Traceback" not in err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a_good.mp4", "c_after.mkv", "still.png"]  # nothing of the broken clip, no temporary
    assert clip_facts(tmp_path / "out" / "a_good.mp4")[0] == clip_facts(good)[0]


@pytest.mark.parametrize(("fmt", "named", "ext"), [("JPEG", "p.mp4", ".jpg"), ("PNG", "p.mkv", ".png")])
def test_a_still_image_named_as_a_video_is_refused_naming_what_it_is(ckpt, tmp_path, capsys, fmt, named, ext):
    """FFmpeg reads a photo named .mp4 as a one-frame stream: a JPEG was "cannot write out/p.mp4: Invalid argument"
    once translated, and a PNG named .mkv came back as an MKV of one frame. Now it is named as the image it is."""
    Image.fromarray(moving_frames(1)[0]).save(tmp_path / named, format=fmt)
    assert translate(ckpt, tmp_path / "out", tmp_path / named) == 1
    err = capsys.readouterr().err
    assert (
        f"error: cannot read clip {tmp_path / named}: it is a {fmt} image, not a video; rename it p{ext} to "
        "translate it as an image"
    ) in err
    assert "Traceback" not in err and not list((tmp_path / "out").iterdir())


def test_an_animated_webp_named_as_a_video_is_told_to_be_renamed_to_translate_as_a_clip(ckpt, tmp_path, capsys):
    """An animated WebP named .mp4 was told "rename it p.webp to translate it as an image", but a .webp of several
    frames is translated as a clip: the hint now says so, and the renamed file comes back with all its frames."""
    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "p.mp4", format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert translate(ckpt, tmp_path / "out", tmp_path / "p.mp4") == 1
    assert (
        f"error: cannot read clip {tmp_path / 'p.mp4'}: it is an animated WebP (3 frames), not a video of its name; "
        "rename it p.webp to translate it as a clip"
    ) in capsys.readouterr().err
    (tmp_path / "p.mp4").rename(tmp_path / "p.webp")
    assert translate(ckpt, tmp_path / "out", tmp_path / "p.webp") == 0
    with Image.open(tmp_path / "out" / "p.webp") as im:
        assert im.n_frames == 3


@pytest.mark.parametrize(("made", "named", "kind"), [("c.mp4", "clip.gif", "an MP4"), ("c.webm", "clip.png", "a WebM")])
def test_a_video_named_as_an_image_is_refused_naming_what_it_is(ckpt, tmp_path, capsys, made, named, kind):
    """The mirror of a still image named as a video: an MP4 named clip.gif (or a WebM named .png) was "not a JPEG,
    PNG, BMP, GIF, WebP or TIFF image, or one too damaged to recognise". Now it is named as the video it is."""
    make_clip(tmp_path / made, n=3, audio=False).rename(tmp_path / named)
    assert translate(ckpt, tmp_path / "out", tmp_path / named) == 2
    err = capsys.readouterr().err
    ext = Path(made).suffix
    assert f"{named}: it is {kind} video, not an image; rename it clip{ext} to translate it as a video" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_clip_of_sound_alone_is_named_as_such(ckpt, tmp_path, capsys):
    """An .mp4 of music alone was "it holds no video stream", as a file of nothing would be."""
    song = tmp_path / "song.mp4"
    with av.open(str(song), "w") as c:
        a = c.add_stream("aac", rate=48000)
        for k in range(0, 4800, 960):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, k
            c.mux(a.encode(frame))
        c.mux(a.encode(None))
    assert translate(ckpt, tmp_path / "out", song) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read clip {song}: it holds no video stream, only sound (aac): nothing to translate\n" in err


def test_an_animated_gif_cut_short_anywhere_is_refused_in_one_line(tmp_path):
    """An animated GIF cut inside a block was an IndexError or a struct.error traceback from Pillow's reader."""
    from cyclegan.clipio import transcode
    from cyclegan.errors import CycleGANError

    ims = [Image.fromarray(f) for f in moving_frames(4)]
    ims[0].save(tmp_path / "whole.gif", save_all=True, append_images=ims[1:], duration=100, loop=0)
    whole, cut, refused = (tmp_path / "whole.gif").read_bytes(), tmp_path / "cut.gif", set()
    for n in range(len(whole) // 3, len(whole) - 1, 3):  # past the first frame: an animated GIF, a clip
        cut.write_bytes(whole[:n])
        try:
            transcode(cut, tmp_path / "out.gif", lambda frames: frames, progress=False)
        except CycleGANError as e:
            assert str(e).startswith(f"cannot read clip {cut}: ") and "\n" not in str(e)
            refused.add(str(e).removeprefix(f"cannot read clip {cut}: "))
    assert "its data is damaged or cut short" in refused, refused


def damaged_clip(path: Path, damaged: set[int], n: int = 6) -> Path:
    """An MJPEG MKV of n flat frames (grey 30 * i) at 10 frames/s whose frames in `damaged` hold bytes that do not
    decode (FFmpeg: "Invalid data found"), each in its place and time."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("mjpeg", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuvj420p"
        for i in range(n):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 3), 30 * i, np.uint8), format="rgb24")):
                if i in damaged:
                    bad = av.Packet(bytes(p.size))
                    bad.pts, bad.dts, bad.time_base, bad.is_keyframe = p.pts, p.dts, p.time_base, True
                    bad.stream, p = v, bad
                c.mux(p)
        c.mux(v.encode(None))
    return path


@pytest.mark.parametrize("suffix", [".mkv", ".gif"])
def test_damaged_frames_are_skipped_with_one_warning_and_the_others_keep_their_times(ckpt, tmp_path, capsys, suffix):
    """A clip whose first frame (or any) did not decode was refused whole ("Invalid data found"), where ffmpeg and
    players skip the frame: the others are translated at their own times, one warning counts the damaged ones."""
    from cyclegan.clipio import transcode

    clip = damaged_clip(tmp_path / "cam.mkv", {0, 3})
    out = tmp_path / f"out{suffix}"
    assert transcode(clip, out, lambda frames: frames, progress=False) == 4
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {clip}: 2 of its 6 frames do not decode (Invalid data found when processing input) and are left "
        "out, as players skip them; the others keep their times"
    ]
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
        greys = [int(np.median(f.to_ndarray(format="rgb24"))) for f in frames]
        assert [round(g / 30) for g in greys] == [1, 2, 4, 5]  # the damaged 0 and 3 left out, in order
        if suffix == ".mkv":  # each at its own time: 0.1 s, not moved to 0
            assert [round(float(f.time), 3) for f in frames] == [0.1, 0.2, 0.4, 0.5]
    if suffix == ".gif":  # a skipped frame's time is shown by its neighbour: the whole 600 ms, as the source's
        with Image.open(out) as im:
            durations = [f.info["duration"] for f in ImageSequence.Iterator(im)]
        assert durations == [200, 200, 100, 100]


def damaged_animation(path: Path, damaged: set[int]) -> Path:
    """An animated GIF or lossy WebP (by `path`'s suffix) of 4 frames, grey 40 * (i + 1) under a faint noise (data
    enough to damage), of 100, 120, 140 and 160 ms, whose frames in `damaged` hold image data that does not decode."""
    rng = np.random.default_rng(0)
    ims = [Image.fromarray((40 * (i + 1) + rng.integers(0, 8, (H, W, 3))).astype(np.uint8)) for i in range(4)]
    extra = {"lossless": False, "quality": 90} if path.suffix == ".webp" else {}
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=[100, 120, 140, 160], loop=0, **extra)
    data = bytearray(path.read_bytes())
    if path.suffix == ".webp":  # each frame's VP8 data, past its ANMF header (16 bytes) and VP8 chunk header (8)
        starts = [i + 8 + 16 + 8 for i in range(len(data)) if data[i : i + 4] == b"ANMF"]
    else:  # past each image descriptor (at 0, 0, the whole size), its colour table and LZW code size
        descriptor = b"," + bytes(4) + W.to_bytes(2, "little") + H.to_bytes(2, "little")
        heads = [i for i in range(len(data)) if data[i : i + 9] == descriptor]
        starts = [i + 10 + (3 << ((data[i + 9] & 7) + 1) if data[i + 9] & 0x80 else 0) + 2 for i in heads]
    assert len(starts) == 4
    for k in damaged:
        data[starts[k] + 10 : starts[k] + 40] = bytes([0xFF] * 30)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "damaged", "kept", "durations"),
    [
        ("cam.gif", {0, 2}, [1, 3], [360, 160]),  # the first's and the third's time to the second
        ("cam.webp", {2}, [0, 1], [100, 420]),  # libwebp reads no frame past a damaged one
    ],
)
def test_damaged_frames_of_an_animated_gif_or_webp_are_skipped_with_one_warning(
    tmp_path, capsys, name, damaged, kept, durations
):
    """One damaged frame refused a whole GIF or WebP ("cannot read clip cam.gif: broken data stream"), where a
    video's damaged frames are skipped with one warning: an animation's are now too, their time kept by a neighbour."""
    from cyclegan.clipio import gif_durations, transcode, webp_durations

    clip = damaged_animation(tmp_path / name, damaged)
    out = tmp_path / f"out{clip.suffix}"
    assert transcode(clip, out, lambda frames: frames, progress=False) == len(kept)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {clip}: {4 - len(kept)} of its 4 frames do not")
    with Image.open(out) as im:
        greys = []
        for k in range(im.n_frames):
            im.seek(k)
            greys.append(int(np.median(np.asarray(im.convert("RGB")))))
    assert [round(g / 40) - 1 for g in greys] == kept
    assert (webp_durations if clip.suffix == ".webp" else gif_durations)(out) == durations


def test_an_animated_gif_of_no_frame_that_decodes_is_refused_in_one_line(ckpt, tmp_path, capsys):
    clip = damaged_animation(tmp_path / "cam.gif", {0, 1, 2, 3})
    assert translate(ckpt, tmp_path / "out", clip) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read clip {clip}: no frame decodes (broken data stream when reading image file)" in err
    assert "Traceback" not in err and "warning" not in err and not list((tmp_path / "out").iterdir())


def test_a_clip_of_no_frame_that_decodes_is_refused_in_one_line(ckpt, tmp_path, capsys):
    clip = damaged_clip(tmp_path / "cam.mkv", set(range(6)))
    assert translate(ckpt, tmp_path / "out", clip) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read clip {clip}: no frame decodes (Invalid data found when processing input)" in err
    assert "Traceback" not in err and "warning" not in err and not list((tmp_path / "out").iterdir())


def test_a_frame_whose_timestamp_repeats_is_left_out_as_ffmpeg_leaves_it(ckpt, tmp_path, capsys):
    """A clip whose timestamps repeat (a broken recorder's: 0, 33, 33, 66 ms) was "cannot write out/c.mkv: Invalid
    argument", its encoder refusing the second frame of the same time; ffmpeg leaves that frame out."""
    clip = tmp_path / "c.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("mjpeg", rate=30)
        v.width, v.height, v.pix_fmt = W, H, "yuvj420p"
        for i, ms in enumerate([0, 33, 33, 66, 100]):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 3), 40 * i, np.uint8), format="rgb24")):
                p.pts, p.dts, p.time_base = ms, ms, Fraction(1, 1000)
                c.mux(p)
        c.mux(v.encode(None))
    assert translate(ckpt, tmp_path / "out", clip) == 0
    err = capsys.readouterr().err
    assert err == (
        f"warning: {clip}: 1 of its frames repeat the time of a frame before them and are left out, as ffmpeg "
        "leaves them out\n"
    )
    with av.open(str(tmp_path / "out" / "c.mkv")) as c:
        assert [round(float(f.time), 3) for f in c.decode(video=0)] == [0, 0.033, 0.066, 0.1]


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_truncated_matroska_clip_is_refused_not_half_translated(ckpt, tmp_path, capsys, suffix):
    """FFmpeg's Matroska demuxer reads what is there: an MKV or WebM cut in half came out as half a clip
    without a word (a truncated MP4 was refused). Its Segment's declared size says the file is short."""
    whole = make_clip(tmp_path / f"whole{suffix}", n=30).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) // 2])
    assert translate(ckpt, tmp_path / "out", cut, tmp_path / f"whole{suffix}") == 1
    err = capsys.readouterr().err
    assert f"cannot read clip {cut}: truncated (the file ends at byte {len(whole) // 2} of the {len(whole)}" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"whole{suffix}"]  # the whole one is written


@pytest.mark.parametrize("index_first", [True, False])
def test_an_mp4_cut_after_its_last_frame_is_refused_not_written_with_its_sound_cut_short(
    ckpt, tmp_path, capsys, index_first
):
    """Every frame of an MP4 cut in its last bytes (the sound interleaved after the last frame) decodes: with
    its index first (`faststart`) it was written with its soundtrack cut short, without a word; with its index
    last it was "Invalid data found". Its boxes' declared sizes say the file is short."""
    options = {"movflags": "faststart"} if index_first else {}
    whole = make_clip(tmp_path / "whole.mp4", n=30, options=options).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 97 // 100])
    assert translate(ckpt, tmp_path / "out", cut, tmp_path / "whole.mp4") == 1
    err = capsys.readouterr().err
    held = len(whole) * 97 // 100
    assert f"cannot read clip {cut}: truncated (the file ends at byte {held} of the {len(whole)}" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["whole.mp4"]


def test_a_video_of_a_kind_translate_does_not_read_is_named_as_a_video(ckpt, tmp_path, capsys):
    """An AVI given by name was "cannot read image c.avi: not a JPEG, PNG, BMP, GIF, WebP or TIFF image", and
    `cyclegan.translate(G, "c.avi")` the same; a folder's AVI was already named as a file left out."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    with av.open(str(tmp_path / "c.avi"), "w") as c:
        v = c.add_stream("mpeg4", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for f in moving_frames(2):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    make_clip(tmp_path / "c.mp4", n=2)
    assert translate(ckpt, tmp_path / "out", tmp_path / "c.avi", tmp_path / "c.mp4") == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'c.avi'}: AVI video is not read (translate reads MP4, MOV, MKV, WebM and " in err
    assert "ffmpeg -i c.avi -c copy c.mkv" in err and "image" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["c.mp4"]
    with pytest.raises(CycleGANError, match=r"c\.avi is a video clip, not an image: translate it with cyclegan\.tr"):
        cyclegan.translate(cyclegan.load_generator(str(ckpt), "AtoB"), tmp_path / "c.avi")


def test_an_empty_clip_file_is_named_as_empty(ckpt, tmp_path, capsys):
    """An MP4 of 0 bytes (a copy interrupted) was "Invalid data found when processing input", as random bytes are;
    an empty image is said to be empty."""
    (tmp_path / "empty.mp4").touch()
    assert translate(ckpt, tmp_path / "out", tmp_path / "empty.mp4") == 1
    assert f"error: cannot read clip {tmp_path / 'empty.mp4'}: the file is empty (0 bytes)" in capsys.readouterr().err


def test_a_text_file_named_as_a_clip_is_said_to_be_no_video_we_read(ckpt, tmp_path, capsys):
    """A text file named .mp4 (or random bytes named .mkv) was FFmpeg's "Invalid data found when processing input",
    which names neither what is wrong nor what would do. Now the line says it is not a video read here, and which
    are."""
    (tmp_path / "notes.mp4").write_text("not a video at all\n")
    (tmp_path / "noise.mkv").write_bytes(bytes(range(256)) * 8)
    for clip in (tmp_path / "notes.mp4", tmp_path / "noise.mkv"):
        assert translate(ckpt, tmp_path / "out", clip) == 1
        err = capsys.readouterr().err
        assert f"error: cannot read clip {clip}: it is not a video FFmpeg can read (MP4, MOV, MKV or WebM;" in err
        assert "Invalid data" not in err


def test_a_live_matroska_recording_cut_short_is_refused_not_half_translated(ckpt, tmp_path, capsys):
    """An MKV written to a pipe (a live recording, OBS, `ffmpeg ... -f matroska -`) declares no Segment size,
    so one cut short was translated into part of a clip without a word; its last Cluster's size tells."""
    import io

    class Pipe(io.RawIOBase):  # not seekable: the muxer writes the Segment's size as unknown
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += bytes(b)
            return len(b)

    pipe = Pipe()
    with av.open(pipe, "w", format="matroska") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for f in moving_frames(20):
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(v.encode(None))
    (tmp_path / "live.mkv").write_bytes(pipe.data)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(pipe.data[: len(pipe.data) * 9 // 10])
    assert translate(ckpt, tmp_path / "out", cut, tmp_path / "live.mkv") == 1
    assert f"cannot read clip {cut}: truncated (the file ends at byte {len(pipe.data) * 9 // 10} of the " in (
        capsys.readouterr().err
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["live.mkv"]
    assert clip_facts(tmp_path / "out" / "live.mkv")[0] == 20


def test_a_broken_clip_with_a_newline_in_its_name_is_named_once(ckpt, tmp_path, capsys):
    """The error line named such a clip twice ("in/a\\nb.mkv: cannot read clip in/a\\nb.mkv: ..."): the
    message writes the name escaped, and the check for it looked for the raw name."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a\nb.mp4").write_bytes(b"not a clip at all")
    assert translate(ckpt, tmp_path / "out", tmp_path / "in") == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "a\\nb.mp4" in line]
    assert len(lines) == 1 and lines[0].startswith("error: cannot read clip ") and lines[0].count("a\\nb.mp4") == 1


def test_a_clip_output_made_by_another_program_meanwhile_is_left_alone(ckpt, tmp_path, capsys, monkeypatch):
    """Without --overwrite an image is published only where no file is yet; a clip (minutes of work) replaced
    whatever another program had put under its name meanwhile."""
    from cyclegan.video import ClipTranslator

    clip = make_clip(tmp_path / "c.mp4", n=3, audio=False)
    target = tmp_path / "out" / "c.mp4"
    translate_frames = ClipTranslator.__call__

    def meanwhile(self, frames):
        target.write_bytes(b"someone else's file")
        return translate_frames(self, frames)

    monkeypatch.setattr(ClipTranslator, "__call__", meanwhile)
    assert translate(ckpt, tmp_path / "out", clip) == 1
    assert "c.mp4 was created by another program while" in capsys.readouterr().err
    assert target.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in target.parent.iterdir()) == ["c.mp4"]  # no temporary left


def test_a_full_disk_under_the_gif_writer_is_one_line_and_the_other_inputs_are_written(
    ckpt, tmp_path, capsys, monkeypatch
):
    """FFmpeg's write errors were one line; Pillow's (GIF and WebP clips) were a traceback that ended the run."""
    import errno

    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(tmp_path / "still.png")
    save = Image.Image.save

    def full(im, fp, format=None, **kwargs):
        if format == "GIF":
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(im, fp, format, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full)
    assert translate(ckpt, tmp_path / "out", tmp_path / "anim.gif", tmp_path / "still.png") == 1
    err = capsys.readouterr().err
    assert (
        f"error: {tmp_path / 'anim.gif'}: cannot write {tmp_path / 'out' / 'anim.gif'}: No space left on device" in err
    )
    assert "Traceback" not in err and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["still.png"]


@pytest.mark.parametrize("how", ["whole", "in tiles", "shared statistics in tiles", "resized"])
def test_a_clips_frames_cross_to_the_device_as_bytes(ckpt, monkeypatch, how):
    """Frames go to the generator's device as uint8 and become float there (float32 on the CPU first was 4x the
    bytes over a GPU's PCIe link), a tiled frame's thumbnail too: the first tensor to cross is bytes, and no
    float at a frame's size crosses."""
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions, TilingOptions
    from cyclegan.video import ClipTranslator

    tiles = TilingOptions(tile=32, tile_overlap=8, thumbnail=48)
    shared = TemporalOptions(norm_stats="shared", flow_blend=0)
    kwargs = {
        "whole": {},
        "in tiles": {"tiling": tiles},
        "shared statistics in tiles": {"temporal": shared, "tiling": tiles},
    }
    frames = np.tile(moving_frames(4), (1, 2, 2, 1))  # 64 x 96: tiles of 32 with their overlaps
    translator = ClipTranslator(load_generator(ckpt, "AtoB"), **kwargs.get(how, {"size": 40}))
    seen = handed_to_a_device(monkeypatch)
    assert translator(frames).shape == ((4, 64, 96, 3) if how in kwargs else (4, 28, 40, 3))
    assert seen[0][0] == torch.uint8, seen
    assert all(dtype == torch.uint8 for dtype, shape in seen if shape[-2:] == frames.shape[1:3]), seen


def test_a_resized_clips_frames_are_resized_on_the_cpu_in_bytes_to_the_float_resizes_values(ckpt, monkeypatch):
    """--size made each frame float at its source size before resizing it (4x its bytes: a 4K frame's 100 MB, the
    peak 166 MiB over the decoded frame, 24 MiB in uint8; measured with ru_maxrss), after it had resized a whole
    batch so. On the CPU, frames are now resized as bytes, as an image is: no float at their source size, and the
    values within a level of the float resize's."""
    import torch.nn.functional as F_
    from torch.utils._python_dispatch import TorchDispatchMode

    from cyclegan import video
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions

    class FloatShapes(TorchDispatchMode):
        """The shape of every float tensor an operation makes."""

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            made.extend(
                tuple(t.shape) for t in (out if isinstance(out, (tuple, list)) else [out]) if t.is_floating_point()
            )
            return out

    frames = np.tile(moving_frames(4), (1, 2, 2, 1))  # 64 x 96
    translator = video.ClipTranslator(load_generator(ckpt, "AtoB"), size=40)
    resize = lambda x: F_.interpolate(x, size=(28, 40), mode="bilinear", antialias=True)  # noqa: E731
    floats = resize(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1).clamp(-1, 1)
    given, made = [], []
    monkeypatch.setattr(translator, "_translate", lambda x: given.append(x) or x)
    with FloatShapes():
        translator(frames)
    assert not [shape for shape in made if shape[-2:] == (64, 96)], made
    assert given[0].dtype == torch.uint8
    assert (given[0].float() / 127.5 - 1 - floats).abs().max() <= 1 / 127.5 + 1e-6  # within a level
    levels = (given[0].float() - torch.from_numpy(video.to_frames(floats)).permute(0, 3, 1, 2).float()).abs()
    assert levels.max() <= 1 and levels.mean() < 0.25  # the float resize's, rounded: most alike
    whole = video.ClipTranslator(load_generator(ckpt, "AtoB"), size=40, temporal=TemporalOptions(flow_blend=0))
    with torch.no_grad():  # translated: as the float frames were, within what that rounding moves (3 levels here)
        levels = np.abs(whole(frames).astype(int) - video.to_frames(whole._translate(floats)).astype(int))
    assert levels.max() <= 4 and levels.mean() < 1


@pytest.mark.parametrize("tiles", [False, True], ids=["whole", "in tiles"])
@pytest.mark.parametrize("norm_stats", ["frame", "shared"])
def test_a_resized_clips_frames_come_back_from_the_device_as_bytes(ckpt, monkeypatch, tiles, norm_stats):
    """A clip resized (--size) on a GPU copied its float frames back to the CPU: a frame in tiles whole, before
    its tiles crossed to the device again, and every batch for the scene cuts' bytes and as the output, 4x the
    bytes over the PCIe link. Now the resized frames stay on the device; only bytes come back."""
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions, TilingOptions
    from cyclegan.video import ClipTranslator

    tiling = TilingOptions(tile=32, tile_overlap=8, thumbnail=48) if tiles else None
    temporal = TemporalOptions(norm_stats=norm_stats, flow_blend=0)
    translator = ClipTranslator(load_generator(ckpt, "AtoB"), size=80, tiling=tiling, temporal=temporal)
    back = copied_back(monkeypatch)
    out = translator(np.tile(moving_frames(4), (1, 2, 2, 1)))  # 64 x 96, resized to 54 x 80: tiles of 32
    assert out.shape == (4, 54, 80, 3)
    assert all(dtype == torch.uint8 for dtype, shape in back if shape[-2:] == (54, 80)), back


def test_shared_statistics_with_thumbnail_off_stay_within_max_memory(ckpt, tmp_path, monkeypatch):
    """--norm-stats shared with --thumbnail 0 ran each frame too large for --max-memory whole, for its statistics."""
    import cyclegan
    import cyclegan.video
    from cyclegan.tiling import activation_bytes
    from cyclegan.translate_options import TemporalOptions, TilingOptions

    G = cyclegan.load_generator(ckpt)
    budget = 0.8 * activation_bytes(G, H, W)  # a frame does not fit whole; a 32 px tile does
    seen = []
    shrink = cyclegan.video.thumbnail_of
    monkeypatch.setattr(
        cyclegan.video, "thumbnail_of", lambda x, side, **kw: seen.append(shrink(x, side, **kw)) or seen[-1]
    )
    clip = make_clip(tmp_path / "c.mp4", n=3, audio=False)
    tiling = TilingOptions(max_memory=budget / 1e9, thumbnail=0)
    temporal = TemporalOptions(norm_stats="shared", flow_blend=0)
    cyclegan.translate_video(G, clip, tmp_path / "o.mp4", tiling=tiling, temporal=temporal, progress=False)
    assert seen and all(activation_bytes(G, *t.shape[-2:]) <= budget for t in seen)


def test_clip_rules_of_translate(ckpt, tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", audio=False)
    assert translate(ckpt, tmp_path / "out", clip, extra=["--max-pixels", "1000"]) == 1  # 48x32 per frame
    err = capsys.readouterr().err  # before: "cannot read image c.mp4: it declares ..."
    assert "cannot read clip" in err and "c.mp4: its frames declare 48x32" in err
    assert not (tmp_path / "out" / "c.mp4").exists()
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert translate(ckpt, tmp_path / "out", clip) == 2  # exists: refused before any work
    assert "--overwrite" in capsys.readouterr().err
    # Frames over --max-memory go in tiles (with the shared statistics taken from their thumbnails).
    extra = ["--overwrite", "--tile", "32", "--tile-overlap", "8", "--norm-stats", "shared"]  # 48 px wide: 2 tiles
    assert translate(ckpt, tmp_path / "out", clip, extra=extra) == 0
    assert clip_facts(tmp_path / "out" / "c.mp4")[:3] == (10, 15, (W, H))


def test_translate_video_api_refuses_to_replace(ckpt, tmp_path):
    import cyclegan
    from cyclegan.errors import CycleGANError

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "c.mp4", audio=False)
    assert cyclegan.translate_video(G, clip, tmp_path / "o.mp4") == 10
    # Its errors name its arguments, not the flags of `cyclegan translate` (it said "pass --overwrite").
    with pytest.raises(CycleGANError, match=r"already exists: pass overwrite=True to replace, or choose another dst$"):
        cyclegan.translate_video(G, clip, tmp_path / "o.mp4")
    with pytest.raises(CycleGANError, match=r"^dst: writing .* would replace the input .*; choose another dst"):
        cyclegan.translate_video(G, clip, clip, overwrite=True)
    with pytest.raises(CycleGANError, match=r"over the cap of 1000 pixels \(max_pixels\); give a smaller size$"):
        cyclegan.translate_video(G, clip, tmp_path / "big.mp4", size=64, max_pixels=1000)
    (tmp_path / "--out.mp4").write_bytes(b"x")  # a flag-like file name is written as it is
    with pytest.raises(CycleGANError, match=r"/--out\.mp4 already exists: pass overwrite=True"):
        cyclegan.translate_video(G, clip, tmp_path / "--out.mp4")
    with pytest.raises(CycleGANError, match=r"is a folder: give a clip file"):  # was "clip not found"
        cyclegan.translate_video(G, tmp_path, tmp_path / "f.mp4")


def test_translate_video_api_removes_a_killed_writers_temporary_of_its_output(ckpt, tmp_path):
    """A clip's translation killed midway leaves its hidden `.NAME.XXXXXXXX.tmp` (a 1080p clip's: gigabytes);
    `cyclegan translate` removed it at its next run, `translate_video` to the same output left it for ever. Now it
    removes it too, under a lock on the output's name, another file's temporary kept; not while a `translate` holds
    the folder (its temporary is live), and a second writer of the name is refused in one line."""
    import cyclegan
    from cyclegan.files import FolderLock

    clip, out = make_clip(tmp_path / "walk.mp4", n=3), tmp_path / "out" / "walk.mp4"
    out.parent.mkdir()
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    killed, other = out.parent / ".walk.mp4.k3x_9q2z.tmp", out.parent / ".other.mp4.k3x_9q2z.tmp"
    for f in (killed, other):
        f.write_bytes(b"half a clip")
    assert cyclegan.translate_video(G, clip, out, progress=False) == 3
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([other.name, out.name])  # no lock file left
    killed.write_bytes(b"a live translate's")
    folder = FolderLock(out.parent)  # `cyclegan translate` at work in the folder
    assert folder.acquire()
    try:
        assert cyclegan.translate_video(G, clip, out, progress=False, overwrite=True) == 3
        assert killed.exists()
    finally:
        folder.release()
    busy = FolderLock(out.parent, ".walk.mp4.lock")  # another translate_video of that file at work
    assert busy.acquire()
    try:
        with pytest.raises(CycleGANError, match=f"option 'dst': {out} is being written by another run"):
            cyclegan.translate_video(G, clip, out, progress=False, overwrite=True)
    finally:
        busy.release()


def test_translate_leaves_an_output_another_writer_holds_by_its_name_and_its_live_temporary(
    ckpt, tmp_path, capsys, monkeypatch
):
    """`translate_video`, export and stylize hold their output's name (`.NAME.lock`), `cyclegan translate` its
    folder: a `translate` into that folder deleted the other's live temporary as stale and wrote the file too (with
    --overwrite, both replaced it). Now `translate` takes the same lock on each name while it writes it: the held
    ones are named and left, their temporaries kept, the other inputs written."""
    from cyclegan.files import FolderLock

    clip, still = make_clip(tmp_path / "walk.mp4", n=3), tmp_path / "a.png"
    Image.new("RGB", (W, H), "red").save(still)
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.mp4").write_bytes(b"an earlier translation")
    live = out / ".walk.mp4.k3x_9q2z.tmp"  # the other writer's clip, half written
    live.write_bytes(b"half a clip")
    busy = FolderLock(out, ".walk.mp4.lock")  # a `translate_video(G, clip, "out/walk.mp4")` at work
    assert busy.acquire()
    try:
        assert translate(ckpt, out, clip, still, extra=["--overwrite"]) == 1
        assert live.read_bytes() == b"half a clip" and (out / "walk.mp4").read_bytes() == b"an earlier translation"
    finally:
        busy.release()
    assert f"{clip}: {out / 'walk.mp4'} is being written by another run (PID {os.getpid()}); left alone" in (
        capsys.readouterr().err
    )
    assert (out / "a.png").is_file()
    busy = FolderLock(out, ".a.png.lock")  # an image's name held the same way (`stylize --out out/a.png`)
    assert busy.acquire()
    try:
        assert translate(ckpt, out, still, extra=["--overwrite"]) == 1
    finally:
        busy.release()
    assert f"{still}: {out / 'a.png'} is being written by another run" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # named as given: the line said "out/walk.mp4 is being...", not its input walk.mp4
    busy = FolderLock(out, ".walk.mp4.lock")
    assert busy.acquire()
    try:
        assert translate(ckpt, "out", "walk.mp4", extra=["--overwrite"]) == 1
    finally:
        busy.release()
    assert "error: walk.mp4: out/walk.mp4 is being written by another run" in capsys.readouterr().err
    assert translate(ckpt, out, clip, still, extra=["--overwrite"]) == 0  # released: written, the stale one removed
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "walk.mp4"]


def test_translate_video_api_refuses_bad_arguments_in_one_line_before_any_work(ckpt, tmp_path):
    """batch_size=0 was taken (the whole clip's frames held in memory at once, no bound), max_pixels=0 capped
    nothing, temporal={...} failed deep inside with an AttributeError, execution="fp32" too (after the first
    frames were decoded), and progress="no" showed a bar."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "c.mp4", n=3, audio=False)
    for kwargs, match in [
        ({"batch_size": 0}, "batch_size must be a positive whole number, got 0"),
        ({"max_pixels": 0}, "max_pixels must be a positive whole number, got 0"),
        ({"temporal": {"flow_blend": 0}}, "temporal: expected a TemporalOptions or None, got dict"),
        ({"execution": "fp32"}, r"execution: expected an Execution \(cyclegan.execution.choose_execution\), got str"),
        ({"progress": "no"}, "progress must be True or False, got 'no'"),
    ]:
        with pytest.raises(CycleGANError, match=match):
            cyclegan.translate_video(G, clip, tmp_path / "o.mp4", **{"progress": False, **kwargs})
    assert not (tmp_path / "o.mp4").exists()
    Image.fromarray(moving_frames(1)[0]).save(tmp_path / "still.png")  # was written as a clip of one frame
    with pytest.raises(CycleGANError, match="still.png is a still image, not a clip: translate it with cyclegan.tra"):
        cyclegan.translate_video(G, tmp_path / "still.png", tmp_path / "o.mp4", progress=False)
    with pytest.raises(CycleGANError, match=r"it is a folder; name the output file, e.g. .*c\.mp4"):
        cyclegan.translate_video(G, clip, tmp_path, progress=False)  # was "'no extension' names no clip format"
    assert not (tmp_path / "o.mp4").exists()


def test_a_clip_resized_past_the_pixel_cap_is_refused_before_its_frames_are_made(ckpt, tmp_path, capsys):
    """`--size` upscales a clip's frames, and they were not held to `--max-pixels` as an image's are:
    `cyclegan translate --size 100000 clip.mp4` tried to allocate 360 GB (a traceback where the allocator
    refused, the machine's memory where it did not). Here at a small cap: the output would have been written."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    clip = make_clip(tmp_path / "c.mp4", n=2, audio=False)  # 48x32: 1536 pixels, under the cap as decoded
    code = translate(ckpt, tmp_path / "out", clip, extra=["--size", "200", "--max-pixels", "10000"])
    err = capsys.readouterr().err
    assert code == 1 and "would be 200x134 pixels" in err and "over the cap of 10000 pixels" in err
    assert not (tmp_path / "out" / "c.mp4").exists()
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    with pytest.raises(CycleGANError, match="at size 200: its frames would be 200x134 pixels"):
        cyclegan.translate_video(G, clip, tmp_path / "o.mp4", size=200, max_pixels=10_000, progress=False)


def test_translate_video_api_names_a_gif_over_pils_pixel_cap_in_one_line(ckpt, tmp_path):
    """Before: a GIF declaring 20000x20000 raised PIL's DecompressionBombError from translate_video."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    frames = [Image.fromarray(f) for f in moving_frames(2)]
    frames[0].save(tmp_path / "bomb.gif", save_all=True, append_images=frames[1:], duration=100)
    data = bytearray((tmp_path / "bomb.gif").read_bytes())
    data[6:10] = (20000).to_bytes(2, "little") * 2  # the logical screen: 400 MP
    (tmp_path / "bomb.gif").write_bytes(data)
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    with pytest.raises(CycleGANError, match=r"^cannot read clip .*bomb\.gif: Image size \(400000000 pixels\)"):
        cyclegan.translate_video(G, tmp_path / "bomb.gif", tmp_path / "o.gif")
    assert not (tmp_path / "o.gif").exists()


def test_an_animated_webps_frames_are_written_at_the_quality_of_a_still_webp(tmp_path):
    """`--ext webp` writes stills at quality 95 (`data.io.LOSSY_SETTINGS`), and the README says so, but a clip's
    animated WebP was written at 90: its frames are now encoded as a WebP at the stills' settings encodes them."""
    from cyclegan.clipio import write_clip
    from cyclegan.data.io import LOSSY_SETTINGS

    frames = moving_frames(3)
    write_clip(tmp_path / "out.webp", frames, rate=10)
    ims = [Image.fromarray(f) for f in frames]
    settings = LOSSY_SETTINGS["WEBP"]
    ims[0].save(tmp_path / "ref.webp", save_all=True, append_images=ims[1:], duration=100, loop=0, **settings)
    with Image.open(tmp_path / "out.webp") as out, Image.open(tmp_path / "ref.webp") as ref:
        written = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(out)]
        expected = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(ref)]
    assert len(written) == 3 and all(np.array_equal(a, b) for a, b in zip(written, expected))


def test_an_animated_webps_probed_rate_and_length_are_its_frames_durations(tmp_path):
    """An animated WebP was probed at 10 frames/s whatever its frames' durations (Pillow gives them only as it
    decodes each frame): a 25 fps WebP read as 10, its length unknown. Now from its ANMF chunks, no frame decoded."""
    from cyclegan.clipio import probe

    frames = [Image.fromarray(f) for f in moving_frames(4)]
    for durations, rate, seconds in (([40] * 4, Fraction(25), 0.16), ([40, 80, 40, 200], Fraction(100, 9), 0.36)):
        webp = tmp_path / f"{len(set(durations))}.webp"
        frames[0].save(webp, save_all=True, append_images=frames[1:], duration=durations, loop=0)
        info = probe(webp)
        assert (info.frames, info.rate, info.duration) == (4, rate, pytest.approx(seconds))


def test_an_animated_gifs_probed_rate_and_length_are_every_frames_delay(tmp_path):
    """A GIF's rate was probed from its first frame's delay alone: 40, 80, 40 and 200 ms frames read as 25
    frames/s and 0.16 s. Now each frame's delay from its Graphic Control Extension, no frame decoded."""
    from cyclegan.clipio import probe

    frames = [Image.fromarray(f) for f in moving_frames(4)]
    for durations, rate, seconds in (([40] * 4, Fraction(25), 0.16), ([40, 80, 40, 200], Fraction(100, 9), 0.36)):
        gif = tmp_path / f"{len(set(durations))}.gif"
        frames[0].save(gif, save_all=True, append_images=frames[1:], duration=durations, loop=0, comment=b"x" * 300)
        info = probe(gif)
        assert (info.frames, info.rate, info.duration) == (4, rate, pytest.approx(seconds))


def test_a_gif_clip_over_pils_warning_size_is_named_without_its_warning(ckpt, tmp_path, capsys):
    """Before: a GIF declaring 89-179 MP printed Pillow's two-line DecompressionBombWarning, while a still image of
    that size did not (the decode cap, --max-pixels, names it in one line)."""
    import warnings

    from cyclegan.clipio import is_clip_file, probe

    frames = [Image.fromarray(f) for f in moving_frames(2)]
    gif = tmp_path / "in" / "big.gif"
    gif.parent.mkdir()
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    data = bytearray(gif.read_bytes())
    data[6:10] = (9750).to_bytes(2, "little") * 2  # the logical screen: 95 MP, past Pillow's warning at ~89 MP
    gif.write_bytes(data)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert is_clip_file(gif) and probe(gif).width == 9750
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    assert translate(ckpt, tmp_path / "out", gif.parent, extra=("--max-pixels", "1000000")) == 1
    err = capsys.readouterr().err
    assert "cannot read clip" in err and "big.gif" in err and "DecompressionBomb" not in err, err


def test_an_animated_webp_is_held_to_the_pixel_cap_while_its_writer_holds_every_frame(ckpt, tmp_path, capsys):
    """Pillow's WebP writer keeps every translated frame until it writes: before, nothing bounded them (a
    2-minute 1080p clip into a .webp would hold 22 GB). Past --max-pixels in all: one line, nothing written; a GIF
    of the same frames (its writer holds 1 byte a pixel) is held to 3x that."""
    frames = [Image.fromarray(f) for f in moving_frames(6)]  # 6 frames of 48x32: 9216 px in all
    frames[0].save(tmp_path / "a.webp", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    out = tmp_path / "out"
    assert translate(ckpt, out, tmp_path / "a.webp", tmp_path / "a.gif", extra=["--max-pixels", "5000"]) == 1
    err = capsys.readouterr().err
    assert f"cannot translate clip {tmp_path / 'a.webp'} into an animated WebP" in err and "--max-pixels" in err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["a.gif"]
    assert translate(ckpt, out, tmp_path / "a.webp", extra=["--max-pixels", "10000"]) == 0
    with Image.open(out / "a.webp") as im:
        assert im.n_frames == 6


def test_a_clip_made_thinner_than_the_generator_takes_by_size_is_named_as_an_image_is(ckpt, tmp_path, capsys):
    """Before: --size 9 on a 48x32 clip wrote 9x6 frames (under the 8 px the generator takes) without a word,
    where an image got a warning naming the --size that keeps its short side."""
    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    assert translate(ckpt, tmp_path / "out", tmp_path / "a.gif", extra=["--size", "9"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'a.gif'} at --size 9 is 9x6 px, under the 8 px the generator takes" in err
    assert translate(ckpt, tmp_path / "out2", tmp_path / "a.gif", extra=["--size", "12"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_rotated_clips_thin_size_warning_gives_the_size_it_is_shown_at(ckpt, tmp_path, capsys):
    """A phone's portrait clip (stored 48x32, shown 32x48) at --size 9 was said to be "10x6 px", its stored size,
    where a player shows it 6x10: the warning now gives the size it is shown at."""
    clip = phone_clip(tmp_path / "phone.mp4", 2)
    assert translate(ckpt, tmp_path / "out", clip, extra=["--size", "9"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {clip} at --size 9 is 6x10 px, under the 8 px the generator takes" in err, err


def test_a_rotated_clip_is_refused_over_max_pixels_at_the_size_it_is_shown_at(ckpt, tmp_path, capsys):
    """A phone's portrait clip (stored 48x32, shown 32x48) at --size 96 over --max-pixels was refused as "its frames
    would be 96x64 pixels", its stored size, where a player shows 64x96 (as the thin-size warning already said);
    at its own size "its frames declare 48x32". Under the cap its GIF comes out as it is shown: portrait."""
    import cyclegan

    clip = phone_clip(tmp_path / "phone.mp4", 2)
    assert translate(ckpt, tmp_path / "out", clip, extra=["--size", "96", "--max-pixels", "1000"]) == 1
    err = capsys.readouterr().err
    assert "its frames would be 64x96 pixels" in err, err
    assert translate(ckpt, tmp_path / "out", clip, extra=["--max-pixels", "1000"]) == 1  # at its own size: 32x48
    err = capsys.readouterr().err
    assert "its frames declare 32x48 pixels" in err, err
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    cyclegan.translate_video(G, clip, tmp_path / "phone.gif", size=24, progress=False)
    with Image.open(tmp_path / "phone.gif") as im:
        assert im.size == (16, 24)


def test_translate_video_warns_in_its_keywords_not_the_command_lines_flags(ckpt, tmp_path, capsys):
    """The API's thin-size warning said "at --size 9 ... --size 12 keeps its short side": flags never typed."""
    import cyclegan

    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    assert cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif", size=9, progress=False) == 3
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'a.gif'} at size 9 is 9x6 px, under the 8 px the generator takes" in err
    assert "--size" not in err


def test_translate_video_api_writes_the_kind_its_output_extension_names(ckpt, tmp_path):
    """Before: translate_video(G, "c.mp4", "o.gif") wrote MP4 data into o.gif, and "o.avi" too."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "c.mp4", n=6, rate=10, audio=False)
    assert cyclegan.translate_video(G, clip, tmp_path / "o.gif", progress=False) == 6
    with Image.open(tmp_path / "o.gif") as im:  # through the GIF writer `cyclegan translate` uses
        assert im.format == "GIF" and im.n_frames == 6 and im.info["duration"] == 100 and im.size == (W, H)
    for bad in ("o.avi", "o.png", "o"):
        with pytest.raises(CycleGANError, match=r"cannot write .*names no clip format; use one of .*\.gif"):
            cyclegan.translate_video(G, clip, tmp_path / bad)
    # Into another container: the source's codec where it goes (before: H.264 into WebM, VP9 into MOV were a
    # raw ValueError and 'cannot read clip c.webm: Invalid argument'), else the container's own.
    webm = make_clip(tmp_path / "w.webm", n=3, audio=False)
    for src, dst, codec in ((clip, "o.webm", "vp9"), (webm, "o.mov", "h264"), (webm, "o.mp4", "vp9")):
        assert cyclegan.translate_video(G, src, tmp_path / dst, progress=False) == clip_facts(src)[0]
        with av.open(str(tmp_path / dst)) as c:
            assert c.streams.video[0].codec_context.name == codec
    sound = make_clip(tmp_path / "s.mp4", n=3)  # AAC, which WebM does not take, and which is copied as it is
    with pytest.raises(CycleGANError, match=r"cannot write .*o2\.webm: a \.webm file takes no aac sound .* \.mp4"):
        cyclegan.translate_video(G, sound, tmp_path / "o2.webm")
    (tmp_path / "mp4.webm").write_bytes(sound.read_bytes())  # misnamed: `cyclegan translate` keeps .webm
    with pytest.raises(CycleGANError, match=r"mp4\.webm is QuickTime / MOV inside, not \.webm: rename it \.mkv$"):
        cyclegan.translate_video(G, tmp_path / "mp4.webm", tmp_path / "o3.webm")
    for p in (webm, sound, tmp_path / "mp4.webm", tmp_path / "o.webm", tmp_path / "o.mov", tmp_path / "o.mp4"):
        p.unlink()
    with pytest.raises(CycleGANError, match="written as GIF or WebP"):  # no video writer from Pillow frames
        cyclegan.translate_video(G, tmp_path / "o.gif", tmp_path / "back.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "o.gif"]  # nothing written when refused


def hevc_clip(path: Path, width: int, height: int) -> Path:
    """An HEVC clip of three frames of width x height (sides from 49 x 16: this build's libx265 takes those)."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx265", rate=10, options={"x265-params": "log-level=error"})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        for f in moving_frames(3):
            tiled = np.tile(f, (height // H + 1, width // W + 1, 1))[:height, :width]
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(tiled))))
        c.mux(v.encode(None))
    return path


@pytest.mark.skipif("libx265" not in av.codecs_available, reason="this FFmpeg build has no HEVC encoder")
def test_an_hevc_clip_stays_hevc_and_the_codec_it_cannot_keep_is_named(ckpt, tmp_path, capsys):
    """Before: a phone's HEVC clip came back as H.264 without a word. Frames from 49 px wide and 16 high (this
    build's libx265 corrupted memory on frames 33 to 48 px wide): HEVC, tagged hvc1 as phones write it; else
    H.264, named."""
    clip = hevc_clip(tmp_path / "phone.mp4", 128, 96)
    assert translate(ckpt, tmp_path / "out", clip) == 0
    with av.open(str(tmp_path / "out" / "phone.mp4")) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.video[0].codec_tag) == ("hevc", "hvc1")
    assert "warning" not in capsys.readouterr().err
    assert translate(ckpt, tmp_path / "small", clip, extra=("--size", "40")) == 0
    assert clip_facts(tmp_path / "small" / "phone.mp4")[:3] == (3, 10, (40, 30))
    with av.open(str(tmp_path / "small" / "phone.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    err = capsys.readouterr().err
    assert (
        "phone.mp4: its HEVC picture is written as H.264 in phone.mp4 (its encoder takes frames from 49 px wide" in err
    )


def test_a_frames_side_data_is_read_from_pyav_before_and_after_18_1_1():
    """PyAV 18.1.1 made a frame's `side_data` a Mapping whose iteration gives the types, where 18.1.0's gave the
    entries: a fresh install (18.1.1) raised "'Type' object has no attribute 'type'" on every HDR10 clip translated.
    Both shapes give the entries."""
    import collections
    import types

    from cyclegan.clipio import side_data

    kind = collections.namedtuple("kind", "name")  # hashable, as PyAV's Type
    entries = [types.SimpleNamespace(type=kind(n)) for n in ("CONTENT_LIGHT_LEVEL", "A53_CC")]

    class Mapped(dict):  # 18.1.1: iteration gives the keys
        pass

    old = types.SimpleNamespace(side_data=list(entries))
    new = types.SimpleNamespace(side_data=Mapped({e.type: e for e in entries}))
    assert side_data(old) == entries and side_data(new) == entries


def hdr10_metadata(path: Path) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(the first frame's mastering display as FFmpeg's 22 ints, its content light level), None where it has none."""
    import struct

    from cyclegan.clipio import side_data

    with av.open(str(path)) as c:
        side = {sd.type.name: bytes(sd) for sd in side_data(next(c.decode(video=0)))}
    if "MASTERING_DISPLAY_METADATA" not in side:
        return None
    return struct.unpack("<22i", side["MASTERING_DISPLAY_METADATA"]), struct.unpack("<2I", side["CONTENT_LIGHT_LEVEL"])


def written_off_real_time(path: Path, write: Callable[[av.container.OutputContainer], None]) -> Path:
    """`path` written by PyAV itself through `write`, as `clipio`'s writer writes (`_not_real_time`): SVT-AV1 run
    as root put this thread and the 20 encoder threads it starts under SCHED_FIFO 99 while they wrote (on a 2-core
    machine they could starve every other job), and left this thread so, for the threads it starts next (a
    translation's encoder, a browser) to inherit."""
    from cyclegan.clipio import _not_real_time

    with _not_real_time(), av.open(str(path), "w") as c:
        write(c)
    return path


def hdr10_clip(path: Path, encoder: str, options: dict) -> Path:
    """Three 64x48 frames in 10 bits, tagged BT.2020 and PQ, by `encoder` with `options` (its HDR10 metadata)."""

    def write(c) -> None:
        v = c.add_stream(encoder, rate=10, options=options)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p10le"
        v.codec_context.color_primaries = v.codec_context.colorspace = 9  # BT.2020
        v.codec_context.color_trc = 16  # PQ
        for f in moving_frames(3):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.tile(f, (2, 2, 1))[:48, :64]))
            c.mux(v.encode(frame.reformat(format="yuv420p10le")))
        c.mux(v.encode(None))

    return written_off_real_time(path, write)


@pytest.mark.skipif("libx265" not in av.codecs_available, reason="this FFmpeg build has no HEVC encoder")
def test_an_hdr10_clips_mastering_display_and_light_level_are_kept_or_named(tmp_path, capsys):
    """Before: an HDR10 clip's mastering display and content light level (what a player tone-maps by) were dropped
    from the translated clip without a word. HEVC keeps them; another codec (WebM's VP9) names their loss."""
    from cyclegan.clipio import transcode

    display = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"  # BT.2020, 1000 cd/m2
    params = f"log-level=error:hdr10=1:master-display={display}:max-cll=1000,400"
    clip = hdr10_clip(tmp_path / "hdr10.mp4", "libx265", {"x265-params": params})
    source = hdr10_metadata(clip)
    assert source is not None and source[1] == (1000, 400)
    transcode(clip, tmp_path / "out.mp4", lambda frames: frames, progress=False)
    assert hdr10_metadata(tmp_path / "out.mp4") == source
    assert "HDR10" not in capsys.readouterr().err
    transcode(clip, tmp_path / "out.webm", lambda frames: frames, progress=False)
    assert (
        "hdr10.mp4: its HDR10 metadata (mastering display, content light level) is not written into out.webm (VP9"
        in (capsys.readouterr().err)
    )


def av1_clip(path: Path) -> Path:
    """Three 64x48 frames in AV1 (SVT-AV1 takes no smaller), written by PyAV itself, off real-time scheduling
    (`written_off_real_time`)."""

    def write(c) -> None:
        v = c.add_stream("libsvtav1", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for f in moving_frames(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(np.tile(f, (2, 2, 1))[:48, :64]))))
        c.mux(v.encode(None))

    return written_off_real_time(path, write)


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg build has no AV1 encoder")
def test_an_av1_clip_is_written_as_av1(ckpt, tmp_path, capsys):
    """An AV1 clip's codec was looked up by its decoder's name (libdav1d): it came back as H.264, with "its libdav1d
    picture is written as H.264 (not one of the codecs written again)". Now AV1, as an MKV's VP9 stays VP9."""
    clip = av1_clip(tmp_path / "walk.mkv")
    # SVT-AV1 run as root puts the thread that opens it under SCHED_FIFO 99 and leaves it so (PyAV's writing of the
    # clip did, put back by `av1_clip`): a translation of it left the process, and what it starts, real-time (a
    # browser spun and starved the machine). The translation keeps the policy it was given.
    assert translate(ckpt, tmp_path / "out", clip) == 0
    if hasattr(os, "sched_getscheduler"):
        assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert "written as" not in capsys.readouterr().err
    with av.open(str(tmp_path / "out" / "walk.mkv")) as c:
        assert c.streams.video[0].codec_context.codec.canonical_name == "av1"
        assert sum(1 for _ in c.decode(video=0)) == 3


@pytest.mark.slow  # two processes of its own (torch imported in each): 8.9 s in the quick set
@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg build has no AV1 encoder")
def test_an_av1_clip_is_written_without_svt_av1s_banner_unless_the_user_asks_for_it(tmp_path):
    """SVT-AV1 printed an 18-line `Svt[info]` banner on stderr at each AV1 clip written. Now its log holds errors
    only (SVT_LOG=1) where the user set no SVT_LOG; an SVT_LOG=3 of theirs keeps the banner. In a process of its
    own: SVT reads SVT_LOG when it opens an encoder, and this one's tests opened some already."""
    clip = av1_clip(tmp_path / "walk.mkv")
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    code = "import sys; from cyclegan.clipio import transcode; transcode(sys.argv[1], sys.argv[2], lambda f: f)"
    stderr = {}
    for level in (None, "3"):
        run_env = env if level is None else {**env, "SVT_LOG": level}
        out = tmp_path / f"out{level}.mkv"
        args = [sys.executable, "-c", code, str(clip), str(out)]
        proc = subprocess.run(args, env=run_env, timeout=120, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        with av.open(str(out)) as c:
            assert c.streams.video[0].codec_context.codec.canonical_name == "av1"
        stderr[level] = proc.stderr
    assert "Svt[info]" not in stderr[None]
    assert "Svt[info]" in stderr["3"]


def real_time_threads() -> list[str]:
    """The threads of this process under a real-time policy (SCHED_FIFO, SCHED_RR), by name."""
    found = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            if os.sched_getscheduler(int(tid)) in (os.SCHED_FIFO, os.SCHED_RR):
                found.append(Path(f"/proc/self/task/{tid}/comm").read_text().strip())
    return found


def may_run_real_time() -> bool:
    """Whether a thread of this process may put itself under SCHED_FIFO (CAP_SYS_NICE, or an RLIMIT_RTPRIO above
    0): tried in a thread of its own, whose policy ends with it."""
    allowed = []

    def attempt() -> None:
        with contextlib.suppress(PermissionError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            allowed.append(True)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return bool(allowed)


def sys_nice_effective() -> bool:
    """Whether the calling thread holds CAP_SYS_NICE (bit 23) in its effective set."""
    status = Path("/proc/thread-self/status").read_text()
    return bool(int(re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M)[1], 16) >> 23 & 1)


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg build has no AV1 encoder")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's per-thread policies and capabilities")
def test_the_av1_encoders_threads_run_under_the_normal_policy(tmp_path):
    """SVT-AV1 run as root put the thread that opened it and the threads it made (20 for a 64x48 clip) under
    SCHED_FIFO 99 while a clip was written: on 2 cores they could starve everything else (a test run livelocked at
    load 127). Now none runs real-time, and the writer's thread still holds CAP_SYS_NICE afterwards."""
    if os.geteuid() != 0 or not may_run_real_time():
        pytest.skip("SVT-AV1 asks for real-time threads only as root, where the process may run them")
    from cyclegan.clipio import transcode

    clip = av1_clip(tmp_path / "walk.mkv")
    gc.collect()  # its encoder, and the threads it made, gone
    assert real_time_threads() == []
    nice = sys_nice_effective()
    seen: list[str] = []

    def look(frames):  # from the second batch on, the encoder (opened by the first frame) has made its threads
        seen.extend(real_time_threads())
        return frames

    assert transcode(clip, tmp_path / "out.mkv", look, batch=1, progress=False) == 3
    assert seen == []
    assert sys_nice_effective() == nice


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg build has no AV1 encoder")
def test_an_hdr10_av1_clips_mastering_display_and_light_level_are_kept(tmp_path, capsys):
    """An AV1 HDR10 clip's mastering display and content light level were named as lost ("not written into
    out.mkv (AV1 here; HEVC keeps it)"): SVT-AV1 takes them as parameters, as libx265 does. Now they are kept."""
    from cyclegan.clipio import transcode

    display = "G(0.265,0.69)B(0.15,0.06)R(0.68,0.32)WP(0.3127,0.329)L(1000,0.005)"  # BT.2020, 1000 cd/m2
    params = {"svtav1-params": f"mastering-display={display}:content-light=900,300"}
    clip = hdr10_clip(tmp_path / "hdr10.mkv", "libsvtav1", params)
    source = hdr10_metadata(clip)
    assert source is not None and source[1] == (900, 300)
    transcode(clip, tmp_path / "out.mkv", lambda frames: frames, progress=False)
    with av.open(str(tmp_path / "out.mkv")) as c:
        v = c.streams.video[0].codec_context
        assert (v.name, v.color_primaries, v.color_trc, v.colorspace) == ("libdav1d", 9, 16, 9)
    assert hdr10_metadata(tmp_path / "out.mkv") == source
    assert "HDR10" not in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif("libx265" not in av.codecs_available, reason="this FFmpeg build has no HEVC encoder")
@pytest.mark.parametrize(
    "source, size, written, codec",
    [((160, 24), None, (160, 24), "hevc"), ((64, 16), None, (64, 16), "hevc"), ((128, 96), 60, (60, 46), "hevc")]
    + [((128, 96), 48, (48, 36), "h264"), ((128, 96), 34, (34, 26), "h264")],
)
def test_a_narrow_or_short_hevc_clip_is_written_without_killing_the_process(
    ckpt, tmp_path, source, size, written, codec
):
    """libx265 aborts the process on frames 33 to 48 px wide: those go H.264; a strip 16 to 63 px high, or frames
    49 to 63 px wide, were made H.264 all the same (the guard was 64 px a side, a guess). Each in a process of its
    own: an abort fails the test, not the test run."""
    clip = hevc_clip(tmp_path / "strip.mp4", *source)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    args = ["translate", "--checkpoint", str(ckpt), "--out", str(out), "--no-progress", str(clip)]
    args += ["--size", str(size)] if size else []
    code = f"import sys; from cyclegan.cli import main; sys.exit(main({args!r}))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=120, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out / "strip.mp4")) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.video[0].width, c.streams.video[0].height) == (
            codec,
            *written,
        )


KILLER = """
import os, signal, sys
from cyclegan import video
from cyclegan.cli import main
calls = []
real = video.ClipTranslator.__call__
def dying(self, frames):
    calls.append(1)
    if len(calls) == 3:  # two batches are encoded, the third never comes
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, frames)
video.ClipTranslator.__call__ = dying
main(["translate", "--checkpoint", sys.argv[1], "--out", sys.argv[2], "--batch-size", "2", sys.argv[3]])
"""


@pytest.mark.slow
def test_a_kill_leaves_nothing_under_the_output_name(ckpt, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n=12)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(ckpt), str(out), str(clip)], env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "c.mp4").exists()
    assert translate(ckpt, out, clip) == 0  # the next run is not in the way of a leftover
    assert clip_facts(out / "c.mp4")[0] == 12


# --- temporal consistency and its measure --------------------------------------------------------------


def pan_clip(n: int = 8) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """A clip that only pans (3 px right, 1 px down a frame) over a still picture, and its cameras."""
    rng = np.random.default_rng(0)
    world = np.asarray(Image.fromarray(rng.integers(0, 255, (20, 24, 3)).astype(np.uint8)).resize((96, 80)))
    cams = [(3.0 * t, 1.0 * t, 1.0) for t in range(n)]
    return np.stack([world[int(oy) : int(oy) + H, int(ox) : int(ox) + W] for ox, oy, _ in cams]), cams


def test_temporal_error_is_zero_for_a_pan_and_grows_with_flicker():
    from cyclegan.evaluate.video import score_clip, temporal_error

    clip, cams = pan_clip()
    assert temporal_error(clip, cams) < 1e-4
    excess = []
    for amplitude in (0, 4, 12):
        gain = 1 + amplitude / 100 * np.resize([1, -1], len(clip))  # brightness up, down, up...
        flickering = np.clip(clip * gain[:, None, None, None], 0, 255).astype(np.uint8)
        excess.append(score_clip(flickering, clip, cams).excess)
    assert abs(excess[0]) < 1e-4 and 0.5 < excess[1] < excess[2]
    shaken = [(ox + 1, oy, s) for ox, oy, s in cams]  # the wrong camera: no longer 0
    assert temporal_error(clip, [cams[0]] + shaken[1:]) > 1


def test_flow_blend_removes_flicker_where_the_flow_holds():
    from cyclegan.evaluate.video import temporal_error
    from cyclegan.temporal import FlowBlend

    clip, cams = pan_clip(10)
    noise = np.random.default_rng(1).normal(0, 6, (len(clip), 1, 1, 3))  # a colour cast per frame
    outputs = np.clip(clip + noise, 0, 255).astype(np.uint8)
    blend = FlowBlend(0.8)
    blended = np.stack([blend(f, o) for f, o in zip(clip, outputs)])
    assert temporal_error(blended, cams) < 0.5 * temporal_error(outputs, cams)
    assert np.array_equal(blended[0], outputs[0])  # nothing to blend with yet


def test_flow_blend_takes_nothing_of_the_last_scene_across_a_cut():
    """Across a scene cut, the pixels whose warped previous input matched the new frame by chance (up to 2% of
    them) were blended with the last scene's output: its colours showed in the first frame of the next."""
    from cyclegan.temporal import FlowBlend

    def scene(seed: int) -> np.ndarray:
        coarse = np.random.default_rng(seed).integers(0, 255, (8, 12, 3)).astype(np.uint8)
        return np.asarray(Image.fromarray(coarse).resize((96, 64), Image.Resampling.BILINEAR))

    for k in range(5):
        blend = FlowBlend(0.8)
        blend(scene(10 * k), scene(10 * k + 1))
        after = scene(10 * k + 3)
        assert np.array_equal(blend(scene(10 * k + 2), after), after)
    clip, _ = pan_clip(3)  # a pan is still blended
    blend = FlowBlend(0.8)
    blend(clip[0], clip[0])
    assert not np.array_equal(blend(clip[1], np.zeros_like(clip[1])), np.zeros_like(clip[1]))


SMALL_FRAMES = """
import numpy as np
from cyclegan.temporal import FlowBlend
rng = np.random.default_rng(0)
for h, w in ((31, 88), (16, 100), (2, 40), (40, 2), (5, 5)):
    blend = FlowBlend(0.8)
    for _ in range(3):
        f = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
        assert blend(f, f).shape == (h, w, 3)
"""


@pytest.mark.slow
def test_a_clip_wider_than_the_flow_can_take_is_one_line_naming_it(ckpt, tmp_path, capsys):
    """OpenCV's remap takes sides under 32767 px: a wider clip was a raw cv2.error traceback (exit 0)."""
    clip = two_flat_frames(tmp_path / "wide.mkv", 32768, 8)
    assert translate(ckpt, tmp_path / "out", clip) == 1
    err = capsys.readouterr().err
    assert f"error: {clip}: the flow blend takes frames under 32767 px a side" in err and "Traceback" not in err
    assert translate(ckpt, tmp_path / "out", clip, extra=["--flow-blend", "0"]) == 0  # as the line says
    assert clip_facts(tmp_path / "out" / "wide.mkv")[:3] == (2, 10, (32768, 8))


def test_a_rotated_clip_too_wide_for_the_flow_is_refused_at_the_size_it_is_shown_at(
    ckpt, tmp_path, capsys, monkeypatch
):
    """A portrait phone clip over OpenCV's side for the flow blend was refused after its first frame was translated,
    naming its stored, landscape size: now before the work, as it plays."""
    from cyclegan import temporal

    monkeypatch.setattr(temporal, "FLOW_MAX_SIDE", 40)  # W = 48 stored across, shown 32 wide and 48 high
    monkeypatch.setattr(temporal.FlowBlend, "__call__", lambda *a: pytest.fail("a frame was translated"))
    clip = phone_clip(tmp_path / "phone.mp4", 2)
    assert translate(ckpt, tmp_path / "out", clip) == 1
    said = f"error: {clip}: the flow blend takes frames under 40 px a side (OpenCV's limit), not {H}x{W}: pass "
    assert said in capsys.readouterr().err and not (tmp_path / "out" / "phone.mp4").exists()


def test_flow_blend_takes_small_and_thin_frames():
    """Before: OpenCV's DIS flow killed the process (a segmentation fault, no word of which clip) on frames of
    88x31 (the web's animated button) or 100x16, and raised a raw cv2.error under 12 px; run apart for that."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", SMALL_FRAMES], env=env, timeout=120, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]


def test_shared_statistics_are_frame_order_not_batch_dependent(ckpt):
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions
    from cyclegan.video import ClipTranslator

    G = load_generator(str(ckpt), "AtoB")
    frames = moving_frames(5)
    options = TemporalOptions(norm_stats="shared", norm_momentum=0.5, flow_blend=0)
    with torch.no_grad():
        at_once = ClipTranslator(G, temporal=options)(frames)
        one_by_one = ClipTranslator(G, temporal=options)
        singly = np.concatenate([one_by_one(frames[i : i + 1]) for i in range(5)])
        alone = ClipTranslator(G, temporal=TemporalOptions(norm_stats="frame", flow_blend=0))(frames)
    assert np.abs(at_once.astype(int) - singly).max() <= 1
    # the first frame: its own statistics (torch.var_mean's, which round apart from InstanceNorm's by ~1e-6: a
    # pixel may land a grey level apart)
    assert np.abs(at_once[0].astype(int) - alone[0]).max() <= 1
    assert np.abs(at_once[1:].astype(int) - alone[1:]).max() > 0


def test_shared_statistics_with_the_flow_blend_compute_each_frames_flow_once(ckpt, monkeypatch):
    """Before: the scene-cut test and the blend each computed the same backward flow: 3 DIS flows a frame, not 2;
    the blend's output is the same either way."""
    import cyclegan.temporal as temporal
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions
    from cyclegan.video import ClipTranslator

    G = load_generator(str(ckpt), "AtoB")
    frames = moving_frames(6)
    options = TemporalOptions(norm_stats="shared", flow_blend=0.8)
    with torch.no_grad():
        separate = ClipTranslator(G, temporal=options)
        separate.cuts.keep = False  # each computes its own, as before
        apart = np.concatenate([separate(frames[:4]), separate(frames[4:])])
        calls = []
        real = temporal._dis_flow
        monkeypatch.setattr(temporal, "_dis_flow", lambda *a: calls.append(1) or real(*a))
        once = np.concatenate([(t := ClipTranslator(G, temporal=options))(frames[:4]), t(frames[4:])])
    assert len(calls) == 2 * (len(frames) - 1)  # backward (cut test and blend) and forward (the blend's check)
    assert np.array_equal(once, apart)


def test_temporal_options_without_opencv_are_one_line_naming_every_fix_before_any_work(
    ckpt, tmp_path, capsys, monkeypatch
):
    """Before: each clip failed alone after the images were written, its line offering --norm-stats frame only,
    though the flow blend needs OpenCV too (the next run's error)."""
    monkeypatch.setitem(sys.modules, "cv2", None)  # OpenCV not installed
    clips = [make_clip(tmp_path / f"{c}.mp4", n=3, audio=False) for c in "ab"]
    assert translate(ckpt, tmp_path / "out", *clips, extra=("--norm-stats", "shared")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith(
        "need OpenCV: " + install_extra("video") + " (or --flow-blend 0 and --norm-stats frame)"
    )
    assert not (tmp_path / "out").exists()
    assert translate(ckpt, tmp_path / "out", *clips, extra=("--norm-stats", "shared", "--flow-blend", "0")) == 2
    assert capsys.readouterr().err.strip().endswith("OpenCV: " + install_extra("video") + " (or --norm-stats frame)")
    assert translate(ckpt, tmp_path / "out", *clips, extra=("--flow-blend", "0")) == 0  # needs no OpenCV


def test_temporal_options_with_still_images_only_are_named_as_changing_nothing(ckpt, tmp_path, capsys):
    """Before: --flow-blend and --norm-stats were taken without a word when every input was a still image."""
    still = tmp_path / "s.png"
    Image.fromarray(moving_frames(1)[0]).save(still)
    assert translate(ckpt, tmp_path / "out", still, extra=("--norm-stats", "shared", "--flow-blend", "0.5")) == 0
    err = capsys.readouterr().err
    assert "warning: --norm-stats shared and --flow-blend 0.5 change nothing here" in err and "still image" in err
    assert err.count("warning") == 1
    assert translate(ckpt, tmp_path / "out2", still) == 0  # the defaults: nothing to say
    clip = make_clip(tmp_path / "c.mp4", n=2, audio=False)  # a clip among them: they apply
    assert translate(ckpt, tmp_path / "out3", still, clip, extra=("--flow-blend", "0.5")) == 0
    assert "warning" not in capsys.readouterr().err


def test_web_video_tab_translates_an_upload(ckpt, tmp_path):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[web]')")
    from cyclegan.errors import CycleGANError
    from cyclegan.web.engine import Engine
    from cyclegan.web.serve import ServeOptions
    from cyclegan.web.video_tab import VideoTab

    engine = Engine(ServeOptions(checkpoint=(str(ckpt),), device="cpu"), [ckpt], tmp_path / "work")
    tab = VideoTab(engine)
    key = engine.models()[0].key
    shown, download, info = tab.translate(str(make_clip(tmp_path / "c.webm")), key, "BtoA", True, 0.5)
    assert shown == download and Path(download).name == "c_BtoA.webm" and "10 frames of 48x32" in info
    assert clip_facts(Path(download))[:3] == (10, 15, (W, H))
    (tmp_path / "notes.mp4").write_text("hello")
    with pytest.raises(CycleGANError, match="cannot read clip notes.mp4") as e:
        tab.translate(str(tmp_path / "notes.mp4"), key, "AtoB", False, 0)
    assert str(tmp_path) not in str(e.value)  # the visitor's name for it, not the server's temporary path


def test_synthetic_clips_come_in_true_pairs_with_their_cameras(tmp_path):
    import json

    from cyclegan.data.synthetic_video import render_clip
    from cyclegan.evaluate.video import score_clip

    args = ["datasets", "synthetic", "--video", "--out", str(tmp_path), "--clips", "2", "--frames", "4"]
    assert main([*args, "--size", "16", "--no-progress"]) == 0
    for name in ("clip_000", "clip_001"):
        summer, winter = (clip_facts(tmp_path / d / f"{name}.mp4") for d in ("videoA", "videoB"))
        assert summer[0] == winter[0] == 4 and summer[2] == winter[2] == (24, 18)
        assert len(json.loads((tmp_path / "cameras" / f"{name}.json").read_text())["cameras"]) == 4
    summer, winter, cameras = render_clip(0, 0, 6, 32)
    assert summer.shape == winter.shape == (6, 36, 48, 3) and np.abs(summer.astype(int) - winter).mean() > 20
    assert cameras[0] != cameras[-1]  # the camera moves
    assert score_clip(winter, winter, cameras).excess == 0


def cover_first(path: Path, *, frames: int = 10) -> Path:
    """An MP4 of `frames` frames (none: sound alone) and a cover picture (an attached picture) that FFmpeg lists as
    its first video stream: the muxer writes the cover in the tags after the tracks; moved before them (as
    taggers write it) the demuxer lists it first."""
    import struct

    with av.open(str(path), "w") as c:
        art = c.add_stream("mjpeg", rate=1)
        art.width, art.height, art.pix_fmt = 64, 64, "yuvj420p"
        art.disposition = av.stream.Disposition.attached_pic
        v = c.add_stream("libx264", rate=10) if frames else c.add_stream("aac", rate=48000)
        if frames:
            v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        c.mux(art.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")))
        c.mux(art.encode(None))
        for f in moving_frames(frames) if frames else ():
            c.mux(v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        if not frames:
            tone = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
            tone.sample_rate, tone.pts = 48000, 0
            c.mux(v.encode(tone))
        c.mux(v.encode(None))

    def boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
        out = []
        while start < end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            out.append((kind, data[start : start + size]))
            start += size
        return out

    data = path.read_bytes()
    top = boxes(data, 0, len(data))
    moov = dict(top)[b"moov"]
    children = boxes(moov, 8, len(moov))  # mvhd, trak..., udta (the cover): udta moved after mvhd
    order = sorted(children, key=lambda kb: {b"mvhd": 0, b"udta": 1}.get(kb[0], 2))
    moved = moov[:8] + b"".join(b for _, b in order)  # same size: mdat's offsets hold
    path.write_bytes(b"".join(moved if k == b"moov" else b for k, b in top))
    with av.open(str(path)) as c:
        assert c.streams[0].disposition & av.stream.Disposition.attached_pic  # the case this builds
    return path


def test_an_mp4_whose_first_video_stream_is_its_cover_is_translated_as_its_video(ckpt, tmp_path, capsys):
    """An MP4 whose cover picture FFmpeg lists first was translated as a clip of one frame: the cover, with the
    video named as left out. The video is translated, the cover copied into an MP4 or an MKV (it was left out,
    named) and named where the container keeps none (FFmpeg's MOV muxer drops it); a sound file with a cover is no
    clip."""
    import cyclegan

    def cover(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            pictures = [s for s in c.streams.video if s.disposition & av.stream.Disposition.attached_pic]
            return [bytes(p) for p in c.demux(*pictures) if p.size] if pictures else []

    clip = cover_first(tmp_path / "c.mp4")
    assert translate(ckpt, tmp_path / "out", clip) == 0
    assert clip_facts(tmp_path / "out" / "c.mp4")[:3] == (10, 10, (W, H))
    assert cover(tmp_path / "out" / "c.mp4") == cover(clip) and len(cover(clip)) == 1  # the same picture
    assert "warning" not in capsys.readouterr().err
    G = cyclegan.load_generator(str(ckpt), "AtoB")
    cyclegan.translate_video(G, clip, tmp_path / "c.mkv", progress=False)  # an MKV holds it as an attachment
    assert cover(tmp_path / "c.mkv") == cover(clip) and "warning" not in capsys.readouterr().err
    assert translate(ckpt, tmp_path / "out", tmp_path / "c.mkv") == 0  # and keeps its own
    assert cover(tmp_path / "out" / "c.mkv") == cover(clip) and "warning" not in capsys.readouterr().err
    cyclegan.translate_video(G, clip, tmp_path / "c.mov", progress=False)
    assert "left out of c.mov: cover picture mjpeg" in capsys.readouterr().err
    sound = cover_first(tmp_path / "song.mp4", frames=0)
    assert translate(ckpt, tmp_path / "song", sound) == 1
    assert f"cannot read clip {sound}: it holds no video stream (only a cover picture)" in capsys.readouterr().err


def test_a_long_gif_is_refused_before_work_past_what_its_writer_may_hold(ckpt, tmp_path, capsys, monkeypatch):
    """Pillow's GIF writer keeps a palette copy (1 byte a pixel) of every frame until it writes, and nothing
    bounded them: a long clip into a .gif could exhaust the memory after minutes of work. Past 3x --max-pixels
    (the bytes a WebP may hold): one line naming the frames and what to do, before any frame is translated."""
    import cyclegan.video

    frames = [Image.fromarray(f) for f in moving_frames(6)]  # 6 frames of 48x32: 9216 px in all
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    clip = make_clip(tmp_path / "v.mp4", n=6, audio=False)
    called = []
    translate_frames = cyclegan.video.ClipTranslator.__call__
    monkeypatch.setattr(cyclegan.video.ClipTranslator, "__call__", lambda *a: called.append(1) or translate_frames(*a))
    out = tmp_path / "out"
    assert translate(ckpt, out, tmp_path / "a.gif", extra=["--max-pixels", "3000"]) == 1
    err = capsys.readouterr().err
    assert f"cannot translate clip {tmp_path / 'a.gif'} into an animated GIF: its 6 frames are 0.0092 MP" in err
    assert "(3x --max-pixels, at 1 byte a pixel)" in err and "write an MP4" in err and not called
    assert translate_video_to(ckpt, clip, tmp_path / "v.gif", max_pixels=3000) == "refused"
    assert not [p for p in out.iterdir() if not p.name.startswith(".")] and not called
    assert translate(ckpt, out, tmp_path / "a.gif", extra=["--max-pixels", "3100"]) == 0  # 9300 px: held
    with Image.open(out / "a.gif") as im:
        assert im.n_frames == 6


def translate_video_to(ckpt: Path, src: Path, dst: Path, **kwargs) -> str:
    """`cyclegan.translate_video` of `src` into `dst`: "written", or "refused" (one line naming `src`)."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    try:
        cyclegan.translate_video(cyclegan.load_generator(ckpt), src, dst, progress=False, **kwargs)
    except CycleGANError as e:
        assert str(src) in str(e) and "\n" not in str(e)
        return "refused"
    return "written"


def test_shared_statistics_start_again_at_a_scene_cut(ckpt):
    """With --norm-stats shared, the running statistics carried the last scene's tones into the next one for
    10-20 frames after a hard cut. Now they start again at the cut (told as the flow blend tells it): the
    frames after it come out as the second scene alone would, in one batch or frame by frame; a pan is no cut."""
    from cyclegan.loading import load_generator
    from cyclegan.translate_options import TemporalOptions
    from cyclegan.video import ClipTranslator

    G = load_generator(str(ckpt), "AtoB")
    first, second = moving_frames(5, seed=0), moving_frames(5, seed=1)[:, ::-1] // 2  # another, darker scene
    clip = np.concatenate([first, second])
    options = TemporalOptions(norm_stats="shared", norm_momentum=0.1, flow_blend=0)
    with torch.no_grad():
        at_once = ClipTranslator(G, temporal=options)(clip)
        one_by_one = ClipTranslator(G, temporal=options)
        singly = np.concatenate([one_by_one(clip[i : i + 1]) for i in range(len(clip))])
        alone = ClipTranslator(G, temporal=options)(np.ascontiguousarray(second))
        per_frame = ClipTranslator(G, temporal=TemporalOptions(flow_blend=0))(clip)
    for out in (at_once, singly):
        assert np.abs(out[5:].astype(int) - alone).max() <= 1
        assert np.abs(out[1:5].astype(int) - per_frame[1:5]).max() > 0  # the pan kept one estimate


def test_the_flow_blends_memory_is_held_to_max_memory_before_any_work(ckpt, tmp_path, capsys, monkeypatch):
    """The flow blend's arrays (155 bytes a pixel of a frame, in float64) were counted against nothing: a large
    clip ran out of memory after its first batch whatever --max-memory said. Now about 80 bytes a pixel, held to
    --max-memory before any frame is translated, with what to give instead."""
    import cyclegan.video

    clip = two_flat_frames(tmp_path / "c.mkv", 400, 300)
    called = []
    translate_frames = cyclegan.video.ClipTranslator.__call__
    monkeypatch.setattr(cyclegan.video.ClipTranslator, "__call__", lambda *a: called.append(1) or translate_frames(*a))
    assert translate(ckpt, tmp_path / "out", clip, extra=["--max-memory", "0.005"]) == 1  # 9.6 MB needed
    err = capsys.readouterr().err
    assert f"cannot translate clip {clip}: the flow blend of its 400x300 frames takes about 0.0096 GB" in err
    assert "over --max-memory 0.005; give --max-memory 0.1, a smaller --size, or --flow-blend 0" in err
    assert not called and not (tmp_path / "out" / "c.mkv").exists()
    assert translate(ckpt, tmp_path / "out", clip, extra=["--max-memory", "0.005", "--size", "160"]) == 0
    assert translate(ckpt, tmp_path / "off", clip, extra=["--max-memory", "0.005", "--flow-blend", "0"]) == 0


def test_a_rotated_clips_flow_blend_over_max_memory_is_said_at_the_size_it_is_shown_at(ckpt, tmp_path, capsys):
    """A portrait phone clip's flow blend over --max-memory was said with the frames' stored, landscape size."""
    clip = phone_clip(tmp_path / "phone.mp4", 2)  # W x H stored, shown H wide and W high
    assert translate(ckpt, tmp_path / "out", clip, extra=["--max-memory", "0.0003", "--size", str(2 * W)]) == 1
    assert f"the flow blend of its {2 * H}x{2 * W} frames takes about 0.00049 GB" in capsys.readouterr().err


def test_a_gif_that_plays_once_still_plays_once_translated(ckpt, tmp_path):
    """A GIF without a loop count plays once; translated, it was given 0 (forever). A loop count is kept."""
    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "once.gif", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(tmp_path / "thrice.gif", save_all=True, append_images=frames[1:], duration=80, loop=3)
    assert translate(ckpt, tmp_path / "out", tmp_path / "once.gif", tmp_path / "thrice.gif") == 0
    assert translate_video_to(ckpt, tmp_path / "once.gif", tmp_path / "once.webp") == "written"
    with Image.open(tmp_path / "out" / "once.gif") as im, Image.open(tmp_path / "once.webp") as webp:
        assert "loop" not in im.info and webp.info["loop"] == 1 and webp.n_frames == 3
    with Image.open(tmp_path / "out" / "thrice.gif") as im:
        assert im.info["loop"] == 3


def test_a_matroska_clip_without_frames_is_named_as_such(ckpt, tmp_path, capsys):
    """An MKV whose recording stopped before its first frame (its header alone) was "End of file"."""
    clip = tmp_path / "empty.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        c.start_encoding()  # the header, then no frame
    assert translate(ckpt, tmp_path / "out", clip) == 1
    assert f"cannot read clip {clip}: it ends before its first frame (no frame to translate)" in capsys.readouterr().err


def test_an_output_name_over_255_bytes_is_one_line_not_a_traceback(ckpt, tmp_path, capsys):
    """`translate_video(G, src, "<300 bytes>.gif")` and `translate --out <300-byte folder>` were OSError
    "File name too long" tracebacks from the first look at the output."""
    frames = [Image.fromarray(f) for f in moving_frames(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80)
    import cyclegan
    from cyclegan.errors import CycleGANError

    long = "o" * 300
    with pytest.raises(CycleGANError, match=r"^dst: .* holds a name of 304 bytes, over the 255 a file or folder"):
        cyclegan.translate_video(cyclegan.load_generator(ckpt), tmp_path / "a.gif", tmp_path / f"{long}.gif")
    assert translate(ckpt, tmp_path / long, tmp_path / "a.gif") == 2
    err = capsys.readouterr().err
    assert "holds a name of 300 bytes, over the 255 a file or folder name takes; give a shorter one" in err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


def test_a_30_fps_clip_made_into_a_gif_keeps_its_length(ckpt, tmp_path):
    """GIFs count time in 10 ms steps and Pillow truncated each frame's 33 ms to 30: a 30 frames/s clip of 1 s
    played in 0.9 s. Rounded on the running time, it lasts 1 s, each frame within 5 ms of its time."""
    clip = make_clip(tmp_path / "c.mp4", n=30, rate=30, audio=False)
    assert translate_video_to(ckpt, clip, tmp_path / "c.gif") == "written"
    with Image.open(tmp_path / "c.gif") as im:
        durations = [f.info["duration"] for f in ImageSequence.Iterator(im)]
    assert len(durations) == 30 and sum(durations) == 1000
    starts = np.cumsum([0, *durations[:-1]])
    assert np.abs(starts - np.arange(30) * 1000 / 30).max() <= 5
    from cyclegan.clipio import write_clip  # the same for a GIF written from frames: 83 ms were 80

    write_clip(tmp_path / "w.gif", moving_frames(12), rate=12)
    with Image.open(tmp_path / "w.gif") as im:
        assert sum(f.info["duration"] for f in ImageSequence.Iterator(im)) == 1000


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_a_gifs_identical_frames_merged_by_its_writer_keep_their_time(tmp_path, suffix):
    """Pillow's GIF and WebP writers merge a frame identical to the one before into it (a still part of a clip):
    the frame count drops, and the merged frame must last as long as the frames it stands for."""
    from cyclegan.clipio import transcode

    clip = tmp_path / "still.mkv"
    with av.open(str(clip), "w") as c:  # lossless, so the three middle frames stay identical
        v = c.add_stream("ffv1", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        for value in (0, 100, 100, 100, 200, 50):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 3), value, np.uint8), format="rgb24")))
        c.mux(v.encode(None))
    transcode(clip, tmp_path / f"still{suffix}", lambda frames: frames, progress=False)
    with Image.open(tmp_path / f"still{suffix}") as im:
        durations = []
        for f in ImageSequence.Iterator(im):
            f.load()  # a WebP frame's duration is read with its pixels
            durations.append(f.info["duration"])
    assert durations == [100, 300, 100, 100]


def test_a_clip_faster_than_a_gif_plays_is_named_when_made_into_one(ckpt, tmp_path, capsys):
    """A 60 frames/s clip into a GIF: its 10 ms frames are shown for 100 ms by browsers (it played far slower)
    without a word; 30 frames/s says nothing."""
    fast, slow = make_clip(tmp_path / "f.mp4", n=4, rate=60, audio=False), make_clip(tmp_path / "s.mp4", n=4, rate=30)
    assert translate_video_to(ckpt, fast, tmp_path / "f.gif") == "written"
    err = capsys.readouterr().err
    assert f"warning: {fast} is 60 frames/s, over the 50 a GIF plays: browsers show its frames of 10 ms" in err
    assert translate_video_to(ckpt, slow, tmp_path / "s.gif") == "written"
    assert "frames/s" not in capsys.readouterr().err


def test_a_sound_file_given_by_name_is_named_as_sound(ckpt, tmp_path, capsys):
    """An MP3 or M4A given by name was "cannot read image song.mp3: not a JPEG, PNG, ... image, or one too damaged
    to recognise", after a warning that it would be written as song-2.png."""
    for name in ("song.mp3", "song.m4a"):
        (tmp_path / name).write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00")
    make_clip(tmp_path / "c.mp4", n=2)
    assert translate(ckpt, tmp_path / "out", tmp_path / "song.mp3", tmp_path / "song.m4a", tmp_path / "c.mp4") == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'song.mp3'}: MP3 is sound alone, with no picture to translate" in err
    assert f"error: {tmp_path / 'song.m4a'}: M4A is sound alone" in err
    assert "image" not in err and "written as" not in err


def test_a_videos_transparent_pixels_are_translated_on_white_as_a_gifs_are(ckpt, tmp_path, monkeypatch):
    """A MOV with alpha (PNG frames, as ProRes 4444 or QuickTime RLE hold them) had its transparent pixels'
    hidden colours translated (green here), where an animated GIF's or a still's are composited on white."""
    import cyclegan.video

    clip = tmp_path / "a.mov"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("png", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "rgba"
        for _ in range(2):
            a = np.zeros((H, W, 4), np.uint8)
            a[..., 1] = 255  # hidden green
            a[8:24, 8:40] = (200, 50, 50, 255)
            c.mux(v.encode(av.VideoFrame.from_ndarray(a, format="rgba")))
        c.mux(v.encode(None))
    seen = []
    translate_frames = cyclegan.video.ClipTranslator.__call__
    monkeypatch.setattr(
        cyclegan.video.ClipTranslator, "__call__", lambda self, f: seen.append(f.copy()) or translate_frames(self, f)
    )
    assert translate(ckpt, tmp_path / "out", clip) == 0
    frames = np.concatenate(seen)
    assert frames.shape == (2, H, W, 3) and (frames[:, 0, 0] == 255).all()
    assert (frames[:, 10, 10] == (200, 50, 50)).all()
    assert clip_facts(tmp_path / "out" / "a.mov")[:3] == (2, 10, (W, H))


def test_translate_video_shows_its_own_keywords_and_refuses_what_is_not_a_path_in_one_line(ckpt, tmp_path):
    """translate_video took **kwargs on to an inner function: `help()` listed none of them, a wrong keyword
    (`tile=` as `translate` takes it) was "translate_clip() got an unexpected keyword argument", and a bytes or
    None path a TypeError from pathlib (a user's probe)."""
    import inspect

    import cyclegan
    from cyclegan.errors import CycleGANError

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "c.mp4", n=2, audio=False)
    keywords = set(inspect.signature(cyclegan.translate_video).parameters)
    assert {"tiling", "size", "batch_size", "max_pixels", "execution", "progress", "overwrite"} <= keywords
    with pytest.raises(TypeError, match=r"^translate_video\(\) got an unexpected keyword argument 'tile'"):
        cyclegan.translate_video(G, clip, tmp_path / "o.mp4", tile=64)
    with pytest.raises(CycleGANError, match=r"^src: expected a file's path \(str or pathlib.Path\), got bytes$"):
        cyclegan.translate_video(G, os.fsencode(clip), tmp_path / "o.mp4")
    with pytest.raises(CycleGANError, match=r"^dst: expected a file's path \(str or pathlib.Path\), got NoneType$"):
        cyclegan.translate_video(G, clip, None)
    assert not (tmp_path / "o.mp4").exists()


def test_translate_video_refuses_an_overwrite_that_is_not_a_bool_and_leaves_dst_alone(ckpt, tmp_path):
    """overwrite="no" was taken as True: an existing dst was replaced (progress="no" was refused already)."""
    import cyclegan
    from cyclegan.errors import CycleGANError

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    clip = make_clip(tmp_path / "c.mp4", n=2, audio=False)
    (tmp_path / "o.mp4").write_bytes(b"mine")
    for value in ("no", 0, None):
        with pytest.raises(CycleGANError, match=rf"^overwrite must be True or False, got {value!r}$"):
            cyclegan.translate_video(G, clip, tmp_path / "o.mp4", overwrite=value, progress=False)
    assert (tmp_path / "o.mp4").read_bytes() == b"mine"


def test_translate_video_without_opencv_names_the_keyword_that_turns_the_flow_blend_off(ckpt, tmp_path, monkeypatch):
    """Without OpenCV translate_video said "(or --flow-blend 0)", a flag a Python caller has no way to pass."""
    import cyclegan
    from cyclegan.errors import CycleGANError
    from cyclegan.translate_options import TemporalOptions

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    frames = [Image.fromarray(f) for f in moving_frames(2)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    with pytest.raises(CycleGANError, match=r"needs OpenCV: .* \(or temporal=TemporalOptions\(flow_blend=0\)\)$"):
        cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif", progress=False)
    off = TemporalOptions(flow_blend=0)  # what the message says works
    assert cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif", temporal=off, progress=False) == 2
    # the shared statistics' scene-cut test too: it said "--norm-stats shared", and "temporal=" twice for both
    both = TemporalOptions(norm_stats="shared", flow_blend=0.5)
    with pytest.raises(CycleGANError) as e:
        cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif", temporal=both, overwrite=True)
    assert str(e.value).startswith(
        'the flow blend and the scene-cut test of TemporalOptions(norm_stats="shared") need OpenCV: '
    )
    assert str(e.value).endswith('(or temporal=TemporalOptions(flow_blend=0, norm_stats="frame"))')


def test_translate_video_draws_no_bar_unasked_where_stderr_is_no_terminal(ckpt, tmp_path, capsys):
    """translate_video drew a tqdm bar unless progress=False, into a notebook's or a log's stderr too, where
    translate draws none; now as a download's bar: where stderr is a terminal, or when asked."""
    import cyclegan

    G = cyclegan.load_generator(str(ckpt), "AtoB")
    frames = [Image.fromarray(f) for f in moving_frames(2)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    capsys.readouterr()
    assert cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif") == 2
    assert "frame" not in capsys.readouterr().err
    cyclegan.translate_video(G, tmp_path / "a.gif", tmp_path / "o.gif", overwrite=True, progress=True)
    assert "a.gif: frame 2/2, " in capsys.readouterr().err  # asked for: drawn (as lines: capsys is no terminal)


ENVIRONMENT_KEPT = """
import os, sys
import cyclegan
G = cyclegan.load_generator(sys.argv[1], "AtoB")
before = dict(os.environ)
cyclegan.translate_video(G, sys.argv[2], sys.argv[3], progress=False)
assert "cv2" in sys.modules
changed = {k: os.environ.get(k) for k in before.keys() | os.environ.keys() if before.get(k) != os.environ.get(k)}
print(changed)
"""


@pytest.mark.slow  # a process of its own: 8 s
def test_translate_video_leaves_the_callers_environment_as_it_was(ckpt, tmp_path):
    """OpenCV's first import (the flow blend's) prepends its library folder to LD_LIBRARY_PATH: a Python caller's
    environment, and every subprocess it started after `translate_video`, got a variable it never set. In a
    process of its own: OpenCV here is imported already."""
    clip = make_clip(tmp_path / "walk.mp4", n=3, audio=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.pop("LD_LIBRARY_PATH", None)
    args = [str(ckpt), str(clip), str(tmp_path / "out.mp4")]
    proc = subprocess.run([sys.executable, "-c", ENVIRONMENT_KEPT, *args], env=env, timeout=120, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == "{}"
