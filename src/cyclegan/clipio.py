"""Video clips in and out, frame batches at a time: MP4, MOV, MKV and WebM through PyAV (whose wheels carry
FFmpeg), animated GIF and WebP through Pillow.

`transcode(src, dst, process)` decodes `src`, passes its frames through `process` in batches (uint8 arrays
(N, H, W, 3)) and writes what comes back as a clip of the same kind: the same container, frame timing (so
the rate and the frame count) and, when `process` keeps it, size; the audio streams, and the subtitles the
container takes, are copied packet by packet, not re-encoded (any other stream is named in a warning).
Memory is a batch of frames and the codecs' buffers, whatever the clip's length.
The output is written to a temporary file beside `dst` and renamed onto it at the end
(`files.write_atomic`), so a failure, Ctrl-C or kill leaves nothing under `dst`. A clip that cannot be
decoded, or ends before the size its header declares (MKV, WebM: the Segment's; MP4, MOV: the boxes') or
its frame count (a truncated file), raises `CycleGANError` naming it in one line. No torch here.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import struct
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .data.io import LOSSY_SETTINGS, MAX_PIXELS, check_pixels, megapixels, to_rgb, walk_files
from .errors import CycleGANError, install_extra
from .files import VIDEO_FORMATS, write_atomic
from .progress import print_warning, progress_bar

ANIMATED_IMAGES = (".gif", ".webp")  # a clip only when it holds more than one frame, else an image
ANIMATED_NAMES = {".gif": "GIF", ".webp": "WebP"}  # as messages write them
CLIP_EXTENSIONS = (*VIDEO_FORMATS, ".gif")
# Video files `translate` does not read (it writes a clip back in its own kind): named as what they are, not
# as images that failed to decode.
OTHER_VIDEO = {".avi": "AVI", ".ts": "MPEG-TS", ".mts": "AVCHD", ".m2ts": "MPEG-TS", ".3gp": "3GP", ".flv": "Flash"}
OTHER_VIDEO |= {".wmv": "WMV", ".asf": "ASF", ".mpg": "MPEG", ".mpeg": "MPEG", ".vob": "DVD", ".ogv": "Ogg"}
SOUND = {".mp3": "MP3", ".m4a": "M4A", ".wav": "WAV", ".flac": "FLAC", ".aac": "AAC", ".opus": "Opus", ".wma": "WMA"}
# An encoder for each decoded codec we can write again; others fall back to the container's default.
ENCODERS = {"h264": "libx264", "vp9": "libvpx-vp9", "vp8": "libvpx", "av1": "libsvtav1", "mpeg4": "mpeg4"}
ENCODERS |= {"hevc": "libx265"}  # a phone's clip: it came back as H.264 without a word
ENCODERS |= {c: c for c in ("ffv1", "prores", "mjpeg", "png", "qtrle")}
DEFAULT_ENCODER = {"webm": "libvpx-vp9"}  # everything else: H.264
# Codecs a container lists but whose muxer refuses them ("Invalid argument"): FFmpeg takes VP8/9 and AV1 in MP4 only.
REFUSED_BY = {"mov": {"libvpx-vp9", "libvpx", "libsvtav1"}}
ENCODER_OPTIONS = {
    "libx264": {"crf": "18", "preset": "fast"},  # visually lossless, about real time on a CPU core at 1080p
    "libvpx-vp9": {"crf": "30", "b:v": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
    "libvpx": {"crf": "10", "b:v": "2M"},
    "libx265": {"crf": "20", "preset": "fast", "x265-params": "log-level=error"},  # as x264's 18; no banner
}
# The least (width, height) an encoder of this FFmpeg build takes. Its libx265 refuses a side under 16 px
# ("Invalid argument"), and corrupted the process's memory (an abort) on frames 33 to 48 px wide, at heights from
# 17 to 96; measured over every width from 8 to 80 (odd ones in 4:4:4) by heights from 8 to 240, each in a process
# of its own, with glibc's heap checks on: none from 49 px wide and 16 high, nor at widths 16 to 32, which we
# leave to H.264 all the same (tiny clips, and a band between two that abort is no bound).
MIN_ENCODER_SIZE = {"libx265": (49, 16)}
# What the sides (W, H) of an encoder's frames must be multiples of, whatever their pixel format: FFmpeg's ProRes
# encoder (prores_aw) refuses an odd width in 4:4:4 too ("Invalid argument"), measured; the others written again
# take any side their pixel format does (`_chroma_steps`).
ENCODER_STEPS = {"prores": (2, 1)}
# Encoders that take odd sides in a subsampled pixel format (4:2:0 too), their colour planes a sample longer, as
# FFmpeg stores them: measured with PyAV 18.1 on this FFmpeg, 3 frames at 33x35, 64x35, 33x64 and 65x71 each encoded
# in yuv420p and read back at that size, the edge's colour as close as the rest. libx264 refuses an odd side
# (avcodec_open2 fails), libx265 too ("must be an integer multiple of the specified chroma subsampling").
ODD_SIDES = {"mpeg4", "libsvtav1", "libvpx", "libvpx-vp9"}
ENCODER_NAMES = {"libx264": "H.264", "libx265": "HEVC", "libvpx-vp9": "VP9", "libvpx": "VP8", "libsvtav1": "AV1"}

# The largest side each animated-image format stores (Pillow's writers raise a bare ValueError past it).
MAX_SIDE = {".webp": 16383, ".gif": 65535}
Process = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 -> (N, H', W', 3) uint8


def _av():
    try:
        import av  # on use: optional dependency, heavy import
    except ImportError:
        raise CycleGANError("video needs PyAV: " + install_extra("video")) from None
    return av


@contextlib.contextmanager
def _opened(path: str | Path) -> Iterator[Image.Image]:
    """An animated GIF or WebP opened by Pillow, its decompression-bomb warning (over ~89 MP) silenced: the
    `--max-pixels` check names such a clip in one line, as `data.io` does for still images."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(path, formats=("GIF", "WEBP"))  # by content: a `.gif` that is an EPS is not rendered
    with im:
        yield im


def is_clip_file(path: Path) -> bool:
    """A video file (by extension), or a GIF or WebP holding more than one frame (one frame: an image)."""
    suffix = path.suffix.lower()
    if path.name.startswith(".") or suffix not in (*CLIP_EXTENSIONS, ".webp"):
        return False
    if suffix not in ANIMATED_IMAGES:
        return True
    try:
        with _opened(path) as im:  # `is_animated` seeks to the second frame; `n_frames` read a GIF to its end
            return getattr(im, "is_animated", False)
    except Exception:
        return False  # an image reader will name it


def unread_video(path: Path) -> str | None:
    """Why `path` is not translated, if its extension names a video kind `translate` does not read, or a sound
    file, else None: an AVI given by name was "cannot read image c.avi: not a JPEG, PNG, ... image", an MP3 too."""
    if sound := SOUND.get(path.suffix.lower()):
        return f"{path}: {sound} is sound alone, with no picture to translate"
    kind = OTHER_VIDEO.get(path.suffix.lower())
    if kind is None:
        return None
    return (
        f"{path}: {kind} video is not read (translate reads MP4, MOV, MKV, WebM and animated GIF/WebP); remux it "
        f"first, e.g. ffmpeg -i {path.name} -c copy {path.stem}.mkv"
    )


def find_clips(folder: str | Path, *, stills: bool = False) -> list[Path]:
    """The clip files under `folder` (recursively, as `data.io.walk_files`), sorted; `stills`: GIFs of one
    frame too (images, which `data.io.find_images` does not list: a training set holds no GIFs)."""
    return sorted(p for p in walk_files(folder) if is_clip_file(p) or (stills and _is_gif_name(p)))


def _is_gif_name(path: Path) -> bool:
    return path.suffix.lower() == ".gif" and not path.name.startswith(".")


@dataclass(frozen=True)
class ClipInfo:
    """What a clip declares: its size, frame count (0: not declared) and rate, whether it has sound, and its
    duration in seconds (None: not declared)."""

    width: int
    height: int
    frames: int
    rate: Fraction
    audio: bool
    duration: float | None = None

    @property
    def expected_frames(self) -> int | None:
        """The frame count declared, else estimated from the duration and rate (MKV and WebM declare no count)."""
        return self.frames or (round(self.duration * self.rate) if self.duration else None)


def _reason(e: BaseException) -> str:
    if isinstance(e, (IndexError, struct.error)):  # Pillow's GIF reader past the end: "index out of range"
        return "its data is damaged or cut short"
    text = getattr(e, "strerror", None) or str(e).split("\n")[0] or type(e).__name__  # FFmpeg's words alone
    return text.rstrip(".")


# What reading a clip raises: PyAV's errors (av.FFmpegError is an OSError) and Pillow's (a truncated GIF:
# SyntaxError, EOFError, and where it ends inside a block, IndexError or struct.error (tracebacks); a frame over
# its own pixel cap, ~179 MP)
READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, Image.DecompressionBombError)


@contextlib.contextmanager
def _reading(src: Path) -> Iterator[None]:
    """An error reading `src` within the block as one line naming it."""
    try:
        yield
    except READ_ERRORS as e:
        raise CycleGANError(f"cannot read clip {src}: {_reason(e)}") from None


@contextlib.contextmanager
def _encoding(dst: Path) -> Iterator[None]:
    """An FFmpeg error while encoding or writing `dst` within the block as one line naming it: an encoder that
    refuses its settings or a full disk said 'cannot read clip SRC', as decoding's errors do."""
    try:
        yield
    except _av().FFmpegError as e:
        raise CycleGANError(f"cannot write {dst}: {_reason(e)}") from None


def _picture(c, src: Path):
    """The video stream of opened clip `c` that is translated: the first that is no attached picture (an MP4's
    cover art, listed first where its tags come before its tracks, was translated as a clip of one frame); a
    CycleGANError if it has none."""
    av = _av()
    moving = [v for v in c.streams.video if not v.disposition & av.stream.Disposition.attached_pic]
    if not moving:
        # sound alone (an .mp4 or .mkv of music) was "it holds no video stream", as of a file of nothing
        sound = ", ".join(a.codec_context.name for a in c.streams.audio if a.codec_context is not None)
        held = f", only sound ({sound}): nothing to translate" if sound else ""
        if c.streams.video:
            held = " (only a cover picture)"
        raise CycleGANError(f"cannot read clip {src}: it holds no video stream{held}")
    return moving[0]


def count_frames(src: Path, most: int) -> int:
    """The video packets of clip `src`, demuxed without decoding, counted up to `most`: its frames, for a
    container whose header declares no count (MKV, WebM). A CycleGANError if it cannot be read."""
    av = _av()
    n = 0
    with _reading(src), av.open(str(src)) as c:
        for packet in c.demux(_picture(c, src)):
            n += packet.size > 0  # the demuxer ends with an empty packet
            if n >= most:
                break
    return n


EBML_HEADER, MATROSKA_SEGMENT = 0x1A45DFA3, 0x18538067  # the element IDs an MKV/WebM file opens with


def _ebml_number(head: bytes, pos: int, *, marker: bool) -> tuple[int, int]:
    """An EBML variable-length number at `pos` -> (value, position after it); its length is told by the first
    byte's leading zeros. `marker`: kept in the value (element IDs); -1 for a size of all ones (unknown)."""
    first = head[pos]
    n = next((k for k in range(1, 9) if first & (0x80 >> (k - 1))), 8)
    value = first if marker else first & ((0x80 >> (n - 1)) - 1)
    for b in head[pos + 1 : pos + n]:
        value = value << 8 | b
    if pos + n > len(head):
        raise IndexError(pos + n)
    return (-1 if not marker and value == (1 << 7 * n) - 1 else value), pos + n


def matroska_shortfall(path: Path) -> tuple[int, int] | None:
    """(bytes the file holds, bytes its header declares) for an MKV or WebM file that ends before the size
    its Segment element declares (a download or copy cut short), or, for a Segment of unknown size (a live
    recording, written to a pipe), before the end its last Cluster declares; else None (not Matroska, whole,
    or Clusters of unknown size too). The MP4 demuxer refuses a truncated file; FFmpeg's Matroska demuxer
    reads what is there, so a clip cut in half was translated into half a clip without a word."""
    with open(path, "rb") as f:
        head = f.read(4096)
        size = f.seek(0, 2)
        if not head.startswith(EBML_HEADER.to_bytes(4, "big")):
            return None
        try:
            pos = 0
            while pos < len(head):
                element, pos = _ebml_number(head, pos, marker=True)
                length, pos = _ebml_number(head, pos, marker=False)
                if element == MATROSKA_SEGMENT:
                    if length < 0:
                        return _children_shortfall(f, pos, size)
                    return (size, pos + length) if pos + length > size else None
                if length < 0:
                    return None
                pos += length
        except IndexError:  # a header longer than we read, or cut inside it: FFmpeg names that
            return None
    return None


# The elements a Segment holds (SeekHead, Info, Tracks, Cues, Tags, Cluster, Chapters, Attachments, Void, CRC-32)
SEGMENT_CHILDREN = {0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1C53BB6B, 0x1254C367, 0x1F43B675, 0x1043A770, 0x1941A469}
SEGMENT_CHILDREN |= {0xEC, 0xBF}


def _children_shortfall(f, pos: int, size: int) -> tuple[int, int] | None:
    """(size, end) where the last of a Segment's elements from `pos` on in file `f` ends past its `size`, else
    None: whole, or the walk stopped at an element of unknown size, one cut inside its header or bytes that are
    no Segment element (padding). Only their headers (at most 12 bytes each) are read."""
    while pos < size:
        f.seek(pos)
        head = f.read(12)
        try:
            element, at = _ebml_number(head, 0, marker=True)
            length, at = _ebml_number(head, at, marker=False)
        except IndexError:
            return None
        if element not in SEGMENT_CHILDREN or length < 0:
            return None
        pos += at + length
    return (size, pos) if pos > size else None


# The boxes an MP4 or MOV file may open with: a file that opens with anything else is not walked.
ISOBMFF_FIRST = {b"ftyp", b"styp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"moof", b"sidx", b"uuid"}


def isobmff_shortfall(path: Path) -> tuple[int, int] | None:
    """(bytes the file holds, bytes its top-level boxes declare) for an MP4 or MOV file whose last box ends
    past the end of the file (a copy or download cut short), else None. A cut after the last video frame's
    bytes (the sound interleaved after it, or the index written first: `faststart`) decoded every frame, and
    the clip was written with its soundtrack cut short without a word; only the boxes' headers are read."""
    with open(path, "rb") as f:
        size, pos, first = f.seek(0, 2), 0, True
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            length, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if (first and kind not in ISOBMFF_FIRST) or not all(32 <= c < 127 for c in kind):
                return None  # not an MP4/MOV, or bytes after its boxes that are none: FFmpeg reads what it can
            if length == 1 and len(head) == 16:  # a 64-bit size follows the type
                length = int.from_bytes(head[8:16], "big")
            if length == 0:  # the box runs to the end of the file
                return None
            if length < 8:
                return None
            pos, first = pos + length, False
        return (size, pos) if pos > size else None


def shortfall(path: Path) -> tuple[int, int] | None:
    """(bytes held, bytes declared) for a clip file cut short (MKV/WebM: `matroska_shortfall`, MP4/MOV:
    `isobmff_shortfall`), else None."""
    return matroska_shortfall(path) or isobmff_shortfall(path)


def probe(path: str | Path) -> ClipInfo:
    """Read a clip's header (no frame decoded); a one-line CycleGANError if it is not a readable clip."""
    path = Path(path)
    with _reading(path):
        if path.stat().st_size == 0:  # an interrupted copy: FFmpeg said "Invalid data found", as of random bytes
            raise CycleGANError(f"cannot read clip {path}: the file is empty (0 bytes)")
    if path.suffix.lower() in ANIMATED_IMAGES:
        with _reading(path), _opened(path) as im:
            frames = getattr(im, "n_frames", 1)
            # Pillow gives each frame's duration only as it decodes the frame: read from the file's blocks instead
            durations = (webp_durations if im.format == "WEBP" else gif_durations)(path)
            if len(durations) != frames or not all(durations):  # damaged: the first frame's, as Pillow reads it
                durations = [im.info.get("duration") or 100] * frames
            total = sum(durations)
            return ClipInfo(im.width, im.height, frames, Fraction(1000 * frames, total), False, total / 1000)
    av = _av()
    try:
        # Before FFmpeg reads it: an MP4 cut before its index (written last) was "Invalid data found".
        if short := shortfall(path):
            raise CycleGANError(
                f"cannot read clip {path}: truncated (the file ends at byte {short[0]} of the {short[1]} its "
                "header declares); copy or download it again"
            )
        try:
            opened = av.open(str(path))
        except av.InvalidDataError:  # no demuxer took it (a text file named .mp4): FFmpeg's "Invalid data found"
            raise CycleGANError(
                f"cannot read clip {path}: it is not a video FFmpeg can read (MP4, MOV, MKV or WebM; or an animated "
                "GIF or WebP), or its header is damaged"
            ) from None
        with opened as c:
            if c.format.name.endswith("_pipe") and c.format.name != "gif_pipe":  # an animated GIF is a clip
                raise CycleGANError(_still_as_clip(path, c.format.name))
            v = _picture(c, path)
            if v.codec_context is None:  # its width was an AttributeError traceback
                raise CycleGANError(f"cannot read clip {path}: its video is in a codec FFmpeg (PyAV's) does not know")
            rate = v.average_rate or v.guessed_rate or Fraction(25)
            duration = float(v.duration * v.time_base) if v.duration and v.time_base else (c.duration or 0) / 1e6
            return ClipInfo(v.width, v.height, v.frames, Fraction(rate), bool(c.streams.audio), duration or None)
    except av.FFmpegError as e:
        if isinstance(e, EOFError):  # "End of file" of a recording stopped before its first frame
            raise CycleGANError(
                f"cannot read clip {path}: it ends before its first frame (no frame to translate)"
            ) from None
        raise CycleGANError(f"cannot read clip {path}: {_reason(e)}") from None


# FFmpeg's demuxers of still images (`jpeg_pipe`...) -> (the kind as messages name it, the extension that reads it)
STILL_DEMUXERS = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WebP", ".webp"), "bmp": ("BMP", ".bmp")}
STILL_DEMUXERS |= {"tiff": ("TIFF", ".tif")}


def _still_as_clip(path: Path, demuxer: str) -> str:
    """Why `path`, which FFmpeg reads as a still image (its `demuxer`), is no clip: a JPEG named .mp4 was
    "cannot write out/photo.mp4: Invalid argument", once its picture was translated, and a PNG named .mkv came
    back as an MKV of one frame."""
    kind, ext = STILL_DEMUXERS.get(demuxer.removesuffix("_pipe"), (None, None))
    if kind is None:
        return f"cannot read clip {path}: it is a still image ({demuxer}), not a video"
    if ext == ".webp" and len(frames := webp_durations(path)) > 1:  # read as a clip under its own name, not an image
        return (
            f"cannot read clip {path}: it is an animated WebP ({len(frames)} frames), not a video of its name; rename "
            f"it {path.stem}{ext} to translate it as a clip"
        )
    return (
        f"cannot read clip {path}: it is a {kind} image, not a video; rename it {path.stem}{ext} to translate it "
        "as an image"
    )


def webp_durations(path: Path) -> list[int]:
    """Each frame's duration (ms) from an animated WebP's ANMF chunks, no frame decoded; [] for a still WebP or a
    damaged one. Before: its rate was probed as 10 frames/s whatever it played at (Pillow's default)."""
    durations: list[int] = []
    with open(path, "rb") as f:
        if f.read(12)[8:] != b"WEBP":
            return []
        while len(head := f.read(8)) == 8:
            fourcc, size = head[:4], int.from_bytes(head[4:], "little")
            if fourcc == b"ANMF":  # X, Y, width-1, height-1, duration: 3 bytes each, little-endian
                frame = f.read(15)
                if len(frame) < 15:
                    return []
                durations.append(int.from_bytes(frame[12:15], "little"))
                f.seek(size + size % 2 - 15, os.SEEK_CUR)
            else:
                f.seek(size + size % 2, os.SEEK_CUR)
    return durations


def gif_durations(path: Path) -> list[int]:
    """Each frame's duration (ms) from a GIF's Graphic Control Extensions, the image data skipped, not decoded;
    a frame without one 100 ms (as Pillow reads it); [] for a damaged GIF. Before: every frame was given the
    first one's duration, so a GIF of mixed delays was probed at the wrong rate and length."""
    durations: list[int] = []
    delay = None  # the pending Graphic Control Extension's, for the next image

    def skip_sub_blocks() -> bool:  # data sub-blocks, each a size byte then its bytes, to a 0 size
        while size := f.read(1):
            if size == b"\0":
                return True
            f.seek(size[0], os.SEEK_CUR)
        return False  # the file ended inside them

    def skip_colour_table(packed: int) -> None:
        if packed & 0x80:
            f.seek(3 << ((packed & 7) + 1), os.SEEK_CUR)

    with open(path, "rb") as f:
        head = f.read(13)  # signature, then the logical screen: width, height, packed fields, background, aspect
        if len(head) < 13 or head[:6] not in (b"GIF87a", b"GIF89a"):
            return []
        skip_colour_table(head[10])
        while (kind := f.read(1)) not in (b"", b";"):
            if kind == b"!":  # an extension: its label, then sub-blocks
                label = f.read(1)
                if label == b"\xf9":  # Graphic Control Extension: size 4, packed fields, delay (1/100 s), index
                    block = f.read(5)
                    if len(block) < 5:
                        return []
                    delay = int.from_bytes(block[2:4], "little") * 10
                if not skip_sub_blocks():
                    return []
            elif kind == b",":  # an image: left, top, width, height, packed fields; LZW code size, sub-blocks
                descriptor = f.read(9)
                if len(descriptor) < 9:
                    return []
                skip_colour_table(descriptor[8])
                f.seek(1, os.SEEK_CUR)
                if not skip_sub_blocks():
                    return []
                durations.append(100 if delay is None else delay)
                delay = None
            else:
                return []
    return durations


def check_clip_output(src: Path, dst: Path) -> None:
    """Refuse (one line) a `dst` whose extension names no clip this module writes from `src`: the extension
    picks the container, so a clip is never written as another kind under a name that says otherwise."""
    suffix = dst.suffix.lower()
    if suffix in ANIMATED_IMAGES or (suffix in VIDEO_FORMATS and src.suffix.lower() not in ANIMATED_IMAGES):
        return
    if suffix in VIDEO_FORMATS:
        raise CycleGANError(
            f"cannot write {dst}: a GIF or WebP clip ({src.name}) is written as GIF or WebP; "
            "name the output .gif or .webp"
        )
    kinds = ", ".join([*VIDEO_FORMATS, *ANIMATED_IMAGES])
    if dst.is_dir():  # "'no extension' names no clip format" said nothing of the folder given
        raise CycleGANError(f"cannot write {dst}: it is a folder; name the output file, e.g. {dst / src.name}")
    raise CycleGANError(f"cannot write {dst}: '{suffix or 'no extension'}' names no clip format; use one of {kinds}")


def transcode(
    src: str | Path,
    dst: str | Path,
    process: Process,
    *,
    out_size: tuple[int, int] | None = None,
    batch: int = 8,
    max_pixels: int | None = None,
    progress: bool = True,
    replace: bool = True,
    data_left_out: list[Path] | None = None,
    warn: Callable[[str], None] | None = None,
    keep_location: bool = False,
) -> int:
    """Decode `src`, translate its frames with `process` in batches of up to `batch`, write the result to
    `dst` (same kind of clip; `out_size` (W, H) when `process` changes the size); returns the frame count.
    Streams left out of `dst` are named in a warning; `data_left_out`: where given, `src` is added to it
    instead when only data streams (timed metadata, a timecode) are left out, for a caller to say once.
    `warn`: where each warning goes, a line starting "warning: " (default: stderr; the web page shows them).
    `keep_location`: copy the tags of where `src` was shot too (left out by default: `is_location_tag`).

    Raises CycleGANError (one line, naming `src`) when `src` cannot be decoded, is truncated, or declares
    frames of more than `max_pixels` pixels; nothing is then left under `dst`. `replace` False: `dst` is
    made only if no file has its name at the end (one made meanwhile by another program is left alone).
    """
    src, dst = Path(src), Path(dst)
    say = warn or print_warning
    check_clip_output(src, dst)
    info = probe(src)
    if max_pixels:
        check_pixels(src, shown_size(src, info.width, info.height), max_pixels, kind="clip")  # a phone's: portrait
    size = out_size or (info.width, info.height)
    suffix = dst.suffix.lower()
    if max(size) > MAX_SIDE.get(suffix, max(size)):  # before any work: Pillow refuses it only at the end
        fix = "name the output .gif, or give a smaller size" if suffix == ".webp" else "give a smaller size"
        shown = shown_size(src, *size)  # a phone's portrait clip as it plays, not as stored
        raise CycleGANError(
            f"cannot write {dst}: its frames would be {shown[0]}x{shown[1]} px, over the {MAX_SIDE[suffix]} px a side "
            f"a {ANIMATED_NAMES[suffix]} takes; {fix}"  # "a WEBP" before
        )
    # An MKV's or WebM's count is estimated from its duration: its bar had no total, nor time left.
    bar = progress_bar(total=info.expected_frames, desc=src.name, unit="frame", enabled=progress, leave=False)
    count = 0

    def run(frames: np.ndarray) -> np.ndarray:
        nonlocal count
        out = process(frames)
        count += len(frames)
        bar.update(len(frames))
        return out

    if suffix in ANIMATED_IMAGES:  # GIF or WebP, from either kind of clip
        if n := info.expected_frames:  # before any work where the header tells
            check_held(src, suffix, n, n * size[0] * size[1], max_pixels or MAX_PIXELS)
        frames = _image_frames if src.suffix.lower() in ANIMATED_IMAGES else _video_frames
        if frames is _video_frames and (left := _other_streams(src)):  # a video's sound went without a word
            say(f"warning: {src}: left out of {dst.name}: {left} (a {ANIMATED_NAMES[suffix]} holds pictures alone)")
        if frames is _video_frames and (hdr := _hdr_transfer(src)):  # a GIF or WebP is SDR: no tags to keep
            say(
                f"warning: {src} is HDR ({hdr}): {dst.name} holds its {hdr}-coded picture as SDR, with no tone "
                "mapping, so it looks washed out; write an MP4, MOV or MKV to keep it HDR"
            )
        if frames is _video_frames and suffix == ".gif" and info.rate > GIF_FASTEST:  # it played slower unsaid
            msg = (
                f"warning: {src} is {float(info.rate):.3g} frames/s, over the {GIF_FASTEST} a GIF plays: browsers "
                f"show its frames of 10 ms for 100 ms, so {dst.name} plays slower there; write an MP4 or WebP to keep "
                "its rate"
            )
            say(msg)
        held = max_pixels or MAX_PIXELS
        write = lambda tmp: _write_animated_image(src, frames(src, say), tmp, suffix, run, batch, held)  # noqa: E731
    else:
        write = lambda tmp: _write_video(src, tmp, dst, run, size, batch, data_left_out, say, keep_location)  # noqa: E731
    try:
        write_atomic(dst, write, replace=replace)
    except FileExistsError:  # as an image's (`translation.translate_plan`): a clip takes minutes
        raise CycleGANError(f"{dst} was created by another program while {src} was translated; left alone") from None
    except OSError as e:  # a full disk, say, under Pillow's GIF/WebP writer or the final flush (FFmpeg's: _encoding)
        raise CycleGANError(f"cannot write {dst}: {e.strerror or e}") from None
    finally:
        bar.close()
    return count


def write_clip(dst: str | Path, frames, *, rate: float | Fraction = 12) -> Path:
    """Encode uint8 frames (H, W, 3), an iterable, as a new clip at `dst` (its extension names the kind:
    H.264 in MP4/MOV/MKV, VP9 in WebM, GIF), written atomically."""
    dst = Path(dst)
    rate = Fraction(rate).limit_denominator(1001)
    if dst.suffix.lower() in ANIMATED_IMAGES:
        durations: list[int] = []  # each frame's, on the running clock (`gif_step`), as the writer asks for it

        def images() -> Iterator[Image.Image]:
            for i, f in enumerate(frames):
                start, ms = round(1000 * i / rate), round(1000 * (i + 1) / rate) - round(1000 * i / rate)
                durations.append(gif_step(start, ms) if dst.suffix.lower() == ".gif" else ms)
                yield Image.fromarray(f)

        def write(tmp: str) -> None:
            _save_animation(
                tmp, dst.suffix.lower(), images(), f"no frames to write to {dst}", duration=durations, loop=0
            )

        return write_atomic(dst, write)
    if dst.suffix.lower() not in VIDEO_FORMATS:
        kinds = ", ".join([*VIDEO_FORMATS, *ANIMATED_IMAGES])
        raise CycleGANError(
            f"cannot write {dst}: '{dst.suffix or 'no extension'}' names no clip format; use one of {kinds}"
        )
    av = _av()
    container = VIDEO_FORMATS[dst.suffix.lower()]

    def write(tmp: str) -> None:
        with _encoding(dst), av.open(tmp, "w", format=container) as out:  # the frames are the caller's to read
            encoder = DEFAULT_ENCODER.get(container, "libx264")
            stream = None
            for f in frames:
                if stream is None:
                    stream = out.add_stream(encoder, rate=rate, options=ENCODER_OPTIONS.get(encoder, {}))
                    stream.height, stream.width = f.shape[:2]
                    stream.pix_fmt = _pixel_format(av, encoder, "yuv420p", (f.shape[1], f.shape[0]))
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
            if stream is None:
                raise CycleGANError(f"no frames to write to {dst}")
            out.mux(stream.encode(None))

    return write_atomic(dst, write)


def iter_frames(src: str | Path) -> Iterator[np.ndarray]:
    """Every frame of a clip as uint8 (H, W, 3), decoded one at a time, as `transcode` reads them: upright (a
    phone's display rotation), at the stream's first size, transparency on white. Before, a portrait clip's frames
    came sideways and a clip whose size changes gave frames of two sizes (`np.stack` of them a traceback)."""
    src = Path(src)
    frames = _image_frames if src.suffix.lower() in ANIMATED_IMAGES else _video_frames
    with _reading(src):
        for frame, _ in frames(src):
            yield frame


def _batched(frames: Iterator, n: int) -> Iterator[list]:
    chunk: list = []
    for f in frames:
        chunk.append(f)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- GIF and WebP (Pillow) -------------------------------------------------------------------------------


def _image_frames(src: Path, say: Callable[[str], None] = print_warning) -> Iterator[tuple[np.ndarray, int]]:
    """An animated GIF or WebP's frames, uint8 (H, W, 3), each with its duration in ms. A frame whose data does not
    decode is skipped, its time the frame's before it (the first's: the one after it), said once to `say`, as a
    video's (`_Decoding`): one damaged frame refused the whole clip. A clip of no frame that decodes is refused, and
    one cut short still is (Pillow's "image file is truncated", or its reader past the end: `READ_ERRORS`).
    libwebp's animation decoder goes no further than a damaged frame: the frames after it are skipped too."""
    skipped, reason, lead, held = 0, "", 0, None  # lead: ms of frames skipped before the first that decodes
    durations: list[int] = []  # read from the file's blocks at the first frame skipped
    with _opened(src) as im:
        frames = getattr(im, "n_frames", 1)
        for k in range(frames):
            try:
                im.seek(k)  # one image object, seeked: each frame is copied out as it comes
                # Transparent pixels on white, as a still image's: their hidden colours are no one's picture.
                rgb = np.asarray(to_rgb(im))
            except OSError as e:
                if "truncated" in str(e):
                    raise
                skipped, reason = skipped + 1, reason or _reason(e)
                # its duration from the file's blocks: Pillow's WebP reader sets it only for a frame that decodes
                durations = durations or (webp_durations if im.format == "WEBP" else gif_durations)(src)
                ms = durations[k] if len(durations) == frames else im.info.get("duration", 100)
                if held is None:
                    lead += ms
                else:
                    held = (held[0], held[1] + ms)
                continue
            if held is not None:  # each is held until the next decodes, which may give it a skipped frame's time
                yield held
            held, lead = (rgb, im.info.get("duration", 100) + lead), 0
    if held is None:
        raise CycleGANError(f"cannot read clip {src}: no frame decodes ({reason})")
    yield held
    if skipped:
        say(_skipped_warning(src, skipped, frames, reason))


def _skipped_warning(src: Path, lost: int, frames: int, reason: str) -> str:
    """The one warning of a clip's `lost` frames, of `frames` in all, that do not decode (the first's `reason`)."""
    return (
        f"warning: {src}: {lost} of its {frames} frames do not decode ({reason}) and are left out, as players skip "
        "them; the others keep their times"
    )


def _loop_options(src: Path, suffix: str) -> dict[str, int]:
    """How the animation written as `suffix` repeats, as `src` does: its loop count (0: forever, also for a
    video made into one); a GIF without one plays once (it looped forever once translated): no loop count in a
    GIF, 1 in a WebP, which always holds one."""
    if src.suffix.lower() not in ANIMATED_IMAGES:
        return {"loop": 0}
    with _opened(src) as im:
        if "loop" in im.info:
            return {"loop": im.info["loop"]}
    return {"loop": 1} if suffix == ".webp" else {}


def _save_animation(tmp: str, suffix: str, images: Iterator[Image.Image], empty: str, **options) -> None:
    """Write `images` as an animated GIF or WebP (`suffix`) at `tmp`, pulled from the iterator as the writer goes:
    Pillow's GIF writer keeps a 1-byte palette copy of every frame until it writes, and a list of our RGB frames
    beside it made that 4 bytes a pixel (its WebP writer lists the frames itself). `empty`: the error without frames."""
    first = next(images, None)
    if first is None:
        raise CycleGANError(empty)
    fmt = "GIF" if suffix == ".gif" else "WEBP"
    # a WebP's frames at the quality of every still's (`data.io.save_image`: 95; they were at 90): Pillow's writer
    # takes them from an iterator here, inside `transcode`'s `files.write_atomic`, so `save_image` is not the writer
    extra = LOSSY_SETTINGS["WEBP"] if fmt == "WEBP" else {"optimize": False, "disposal": 1}
    first.save(tmp, format=fmt, save_all=True, append_images=images, **options, **extra)


# Bytes a pixel Pillow's writers hold of every frame until they write the file: the WebP writer our RGB frames,
# the GIF writer its palette copy. Both are held to what `max_pixels` RGB pixels take (`check_held`).
HELD_BYTES = {".webp": 3, ".gif": 1}


def check_held(src: Path, suffix: str, frames: int, pixels: int, max_pixels: int, *, first: bool = False) -> None:
    """Refuse, in one line, `frames` frames of `pixels` in all written as a GIF or WebP (`suffix`) past the bytes
    of `max_pixels` RGB pixels: its writer holds them all until the end (a 2-minute 1080p clip into a .webp would
    hold 22 GB, into a .gif 7.5 GB). `first`: they are the first frames translated, not the whole clip's."""
    limit = 3 * max_pixels // HELD_BYTES[suffix]  # pixels
    if pixels <= limit:
        return
    kind, which = ANIMATED_NAMES[suffix], "first " if first else ""
    cap = "--max-pixels" if suffix == ".webp" else "3x --max-pixels, at 1 byte a pixel"
    other = "a GIF" if suffix == ".webp" else "a smaller --size"
    raise CycleGANError(
        f"cannot translate clip {src} into an animated {kind}: its {which}{frames} frames are {megapixels(pixels)}, "
        f"over the cap of {limit} pixels ({cap}) that a {kind}, held whole until written, may take; write an MP4 "
        f"or {other}, or give a smaller --size or a larger --max-pixels"
    )


GIF_FASTEST = 50  # frames/s: a GIF counts in 10 ms steps, and browsers show a step of 10 ms or less for 100 ms


def gif_step(elapsed: int, ms: int) -> int:
    """The duration (ms, a multiple of 10) a GIF stores for a frame of `ms` shown after `elapsed` ms: GIFs count
    in 10 ms steps, and Pillow truncates each frame's (a 30 frames/s clip's 33 ms were 30: it played 10% fast);
    rounded on the running time instead, the GIF's clock stays within 5 ms of the source's."""
    return round((elapsed + ms) / 10) * 10 - round(elapsed / 10) * 10


def _write_animated_image(
    src: Path, decoded: Iterator, tmp: str, suffix: str, run, batch: int, max_pixels: int = MAX_PIXELS
) -> None:
    """Translate `decoded` ((frame, ms) pairs of `src`) in batches and write them as a GIF or WebP at `tmp`,
    the frames Pillow's writer holds until it writes bounded by `max_pixels`, the decode cap (`check_held`)."""
    durations: list[int] = []  # filled a batch ahead of the frames the writer asks each one's duration for
    pixels = elapsed = 0  # elapsed: ms of `src` so far

    def translated() -> Iterator[Image.Image]:
        nonlocal pixels, elapsed
        with _reading(src):
            for chunk in _batched(decoded, batch):
                for _, ms in chunk:
                    durations.append(gif_step(elapsed, ms) if suffix == ".gif" else ms)
                    elapsed += ms
                arr = run(np.stack([a for a, _ in chunk]))
                pixels += arr.shape[0] * arr.shape[1] * arr.shape[2]
                check_held(src, suffix, len(durations), pixels, max_pixels, first=True)  # a header may say fewer
                yield from (Image.fromarray(a) for a in arr)

    with _reading(src):
        loop = _loop_options(src, suffix)
    _save_animation(tmp, suffix, translated(), f"cannot read clip {src}: no frame decodes", duration=durations, **loop)


# --- MP4, MOV, MKV, WebM (PyAV) ------------------------------------------------------------------------------


def _encoder(av, container: str, decoded: str, supported: set[str], size: tuple[int, int]) -> tuple[str, str]:
    """(encoder, why another codec than the decoded one: '' where it is kept): the decoded codec's encoder where
    the output container takes it (`translate_video` to another kind: H.264 into WebM was a raw ValueError)
    and it takes frames of `size` (W, H), else the container's default."""
    name = ENCODERS.get(decoded)
    if not name:
        why = "not one of the codecs written again"
    elif name not in av.codecs_available:
        why = "no encoder of it in this FFmpeg build"
    elif name not in supported or name in REFUSED_BY.get(container, ()):
        why = f"a {container} file does not take it"
    elif name in MIN_ENCODER_SIZE and (size[0] < MIN_ENCODER_SIZE[name][0] or size[1] < MIN_ENCODER_SIZE[name][1]):
        least = MIN_ENCODER_SIZE[name]
        why = f"its encoder takes frames from {least[0]} px wide and {least[1]} px high"
    else:
        return name, ""
    return DEFAULT_ENCODER.get(container, "libx264"), why


def _pixel_format(
    av, encoder: str, wanted: str | None, size: tuple[int, int] | None, *, same_codec: bool = False
) -> str:
    """The output's pixel format: the source's `wanted` where `encoder` takes it, else the first of a few that
    hold colour, 4:4:4 first for a source of the same codec with colour at every pixel (4:2:0 plays everywhere: a
    GIF or PNG clip written as H.264 stays 4:2:0). A grey source's is not kept: its translation is in colour (an
    FFV1 grey clip came back grey). Only one whose subsampling takes the sides of `size` (W, H) (`_format_steps`:
    an odd side is refused in 4:2:0, bar by `ODD_SIDES`); None: the one preferred at a size chosen for it
    (`size_steps`)."""
    formats = [f.name for f in (av.Codec(encoder, "w").video_formats or ())]
    if wanted and wanted.startswith(GREY_FORMATS):
        wanted = None
    # A lossless RGB H.264 (libx264rgb: gbrp, which libx264 does not take) came back as 4:2:0, a quarter of
    # its colour resolution, without a word; libx264 writes 4:4:4 as well. A ProRes 4444 clip (decoded in 12 bits,
    # which ProRes encoders do not take) came back as ProRes 422: the encoder's own 4:4:4 formats follow.
    order = ("yuv420p", "yuv444p", "rgb24", "bgr0")
    if wanted and same_codec and _full_chroma(av, wanted):
        order = ("yuv444p", "rgb24", "bgr0", *(f for f in formats if _full_chroma(av, f)), "yuv420p")
    for f in (wanted, *order):
        steps = _format_steps(av, encoder, f) if f in formats else None
        if steps and (size is None or (size[0] % steps[0] == 0 and size[1] % steps[1] == 0)):
            return f
    return formats[0]


def _chroma_steps(av, pix_fmt: str) -> tuple[int, int]:
    """What the sides (W, H) of a frame in pixel format `pix_fmt` are multiples of, by its colour's subsampling
    (encoders refuse another side): 2 and 2 in 4:2:0, 2 and 1 in 4:2:2, 1 and 1 in 4:4:4 and RGB."""
    try:
        planes = av.VideoFormat(pix_fmt, 4, 4).components
    except ValueError:  # a name this FFmpeg does not know: taken as 4:2:0, the most any takes
        return 2, 2
    return 4 // min(c.width for c in planes), 4 // min(c.height for c in planes)


def _format_steps(av, encoder: str, pix_fmt: str) -> tuple[int, int]:
    """What the sides (W, H) of `encoder`'s frames in `pix_fmt` must be multiples of for its subsampling: any side
    for an encoder that takes odd ones (`ODD_SIDES`), else `_chroma_steps`."""
    return (1, 1) if encoder in ODD_SIDES else _chroma_steps(av, pix_fmt)


def size_steps(src: str | Path, dst: str | Path, size: tuple[int, int]) -> tuple[int, int]:
    """What the sides (W, H) of frames of about `size` written into `dst` from clip `src` must be multiples of:
    those of the pixel format `transcode` writes them in, chosen for any size (`_chroma_steps`: 2 and 2 for 4:2:0,
    1 and 1 for 4:4:4; 1 and 1 in a GIF or WebP, and for an encoder that takes odd sides in any: `ODD_SIDES`) and by
    its encoder (`ENCODER_STEPS`), so that a size a caller rounds up to them keeps that format: `--size` rounded every
    video's sides to even, which stretched a 4:4:4 clip's to no purpose, and an MPEG-4, VP8, VP9 or AV1 clip's. A
    CycleGANError naming `src` if it cannot be read."""
    src, dst = Path(src), Path(dst)
    container = VIDEO_FORMATS.get(dst.suffix.lower())
    if container is None or src.suffix.lower() in ANIMATED_IMAGES:  # a GIF, a WebP (or a name transcode refuses)
        return 1, 1
    av = _av()
    with _reading(src), av.open(str(src)) as inp, av.open(io.BytesIO(), "w", format=container) as out:
        vin = _picture(inp, src)
        encoder, why = _encoder(av, container, vin.codec_context.codec.canonical_name, out.supported_codecs, size)
        pix_fmt = _pixel_format(av, encoder, vin.codec_context.pix_fmt, None, same_codec=not why)
        steps = _format_steps(av, encoder, pix_fmt)
    least = ENCODER_STEPS.get(encoder, (1, 1))
    return max(steps[0], least[0]), max(steps[1], least[1])


def _full_chroma(av, pix_fmt: str) -> bool:
    """Whether pixel format `pix_fmt` holds colour at every pixel (RGB, 4:4:4), not subsampled (4:2:0, 4:2:2)."""
    try:
        components = av.VideoFormat(pix_fmt, 2, 2).components
    except ValueError:  # a name this FFmpeg does not know: taken as subsampled, as before
        return False
    return len(components) >= 3 and all((c.width, c.height) == (2, 2) for c in components)


GREY_FORMATS = ("gray", "ya", "mono")  # pixel formats without colour: gray, gray10le, ya8, ya16be, monob...


# A source's YUV matrix (AVColorSpace) as swscale names it: BT.709, FCC, BT.601 (two names), SMPTE 240M, BT.2020
SWS_MATRIX = {1: "itu709", 4: "fcc", 5: "itu601", 6: "itu601", 7: "smpte240m", 9: "bt2020"}


def _keep_colour(vin, vout) -> dict:
    """Tag the output codec context `vout` with the colours of the source's `vin` (primaries, transfer, matrix,
    range) and return the `VideoFrame.reformat` arguments that encode RGB with its matrix: a BT.709 phone clip
    came back untagged in BT.601's matrix (hues shifted where a player takes HD for BT.709), and an HDR clip's
    BT.2020/PQ tags were dropped, so its PQ-coded picture played as a washed-out SDR one. Nothing where the
    matrix is none swscale takes (an RGB codec's)."""
    matrix = SWS_MATRIX.get(vin.colorspace)
    if matrix is None:
        return {}
    for tag in ("color_primaries", "color_trc", "colorspace", "color_range"):
        setattr(vout, tag, getattr(vin, tag))
    return {"dst_colorspace": matrix, "dst_color_range": vin.color_range or None}


HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67


def _hdr_transfer(src: Path) -> str | None:
    """'PQ' or 'HLG' where video `src`'s picture is tagged with that HDR transfer, else None."""
    with _reading(src), _av().open(str(src)) as c:
        return HDR_TRANSFERS.get(_picture(c, src).codec_context.color_trc)


HDR10_SIDE_DATA = ("MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL")  # FFmpeg's frame side data, by name


def _hdr10(src: Path) -> dict[str, bytes]:
    """The HDR10 static metadata of video `src`'s first frame (its mastering display's colour volume, its content
    light level) as FFmpeg's raw side data, by type name; {} where it has none."""
    read = lambda f: {sd.type.name: bytes(sd) for sd in side_data(f) if sd.type.name in HDR10_SIDE_DATA}  # noqa: E731
    return _first_decoded(src, read, {})


def side_data(frame: Any) -> list:
    """A decoded frame's side data entries (each with `.type` and its bytes). PyAV 18.1.1 made `frame.side_data` a
    Mapping whose iteration gives its keys (the types), where 18.1.0's gave the entries: a fresh install's HDR10
    clip raised "'Type' object has no attribute 'type'" in the middle of a translation."""
    held = frame.side_data
    return [entry if hasattr(entry, "type") else held[entry] for entry in held]


def _mastering(side: dict[str, bytes]) -> tuple | None:
    """FFmpeg's AVMasteringDisplayMetadata in HDR10 side data `side` (`_hdr10`) as (R, G, B, white point, each an
    (x, y) of Fractions, then the least and most luminance in cd/m2); None where it is missing or incomplete (its
    two has_ flags)."""
    if len(m := side.get("MASTERING_DISPLAY_METADATA", b"")) < 88:
        return None
    *fractions, has_primaries, has_luminance = struct.unpack_from("<22i", m)
    if not (has_primaries and has_luminance and all(fractions[1::2])):
        return None
    r, g, b, wp, (least, most) = (
        [Fraction(fractions[i], fractions[i + 1]) for i in range(k, k + 4, 2)] for k in range(0, 20, 4)
    )
    return r, g, b, wp, least, most


def _light_level(side: dict[str, bytes]) -> tuple[int, int] | None:
    """(MaxCLL, MaxFALL) from FFmpeg's AVContentLightMetadata in `side`, None where it is missing."""
    return struct.unpack_from("<2I", cll) if len(cll := side.get("CONTENT_LIGHT_LEVEL", b"")) >= 8 else None


def x265_hdr10(side: dict[str, bytes]) -> str:
    """libx265's parameters that write HDR10 metadata `side` (`_hdr10`) into its stream ('' for none): the
    mastering display (`_mastering`), the content light level (`_light_level`)."""
    params = []
    if m := _mastering(side):
        r, g, b, wp, least, most = m
        xy = "({},{})".format  # chromaticities in steps of 0.00002, luminance in 0.0001 cd/m2, as HEVC's SEI
        colours = "".join(f"{n}{xy(round(x * 50000), round(y * 50000))}" for n, (x, y) in zip("GBR", (g, b, r)))
        white, light = xy(*(round(c * 50000) for c in wp)), xy(round(most * 10000), round(least * 10000))
        params.append(f"master-display={colours}WP{white}L{light}")
    if cll := _light_level(side):
        params.append("max-cll={},{}".format(*cll))
    return ":".join(params)


def svtav1_hdr10(side: dict[str, bytes]) -> str:
    """SVT-AV1's parameters (`svtav1-params`) that write HDR10 metadata `side` into its stream's metadata OBUs ('' for
    none): as `x265_hdr10`'s, but in plain numbers (chromaticities as x/y, luminance in cd/m2)."""
    params = []
    if m := _mastering(side):
        r, g, b, wp, least, most = m
        xy = lambda c: f"({float(c[0]):.5f},{float(c[1]):.5f})"  # noqa: E731
        light = f"({float(most):.4f},{float(least):.4f})"
        params.append(f"mastering-display=G{xy(g)}B{xy(b)}R{xy(r)}WP{xy(wp)}L{light}")
    if cll := _light_level(side):
        params.append("content-light={},{}".format(*cll))
    return ":".join(params)


# The encoders that write HDR10 metadata, by their option of parameters (an AV1 clip's was named as lost)
HDR10_PARAMETERS = {"libx265": ("x265-params", x265_hdr10), "libsvtav1": ("svtav1-params", svtav1_hdr10)}


def _deeper_than_8(pix_fmt: str | None) -> int | None:
    """The bits a channel of pixel format `pix_fmt` (a decoder's) holds when more than 8 (10-bit HDR), else None."""
    if not pix_fmt:
        return None
    fmt = _av().VideoFormat(pix_fmt)
    bits = max((c.bits for c in fmt.components), default=8)
    return bits if bits > 8 else None


def _rgb(frame, size: tuple[int, int]) -> np.ndarray:
    """A decoded frame as uint8 (H, W, 3) at the stream's declared `size` (W, H): a stream whose size changes
    part way (a screen recording, a cut of two sources) is scaled to its first size, as FFmpeg does (before,
    frames of both sizes in one batch were a traceback). A frame with alpha (ProRes 4444, PNG or QuickTime
    RLE in a MOV) is composited on white, as an animated GIF's or a still's transparency is (its
    hidden colours were translated)."""
    alpha = any(c.is_alpha for c in frame.format.components)
    fmt = "rgba" if alpha else "rgb24"
    if (frame.width, frame.height) == size:
        arr = frame.to_ndarray(format=fmt)
    else:
        arr = frame.reformat(size[0], size[1], fmt).to_ndarray()
    return np.asarray(to_rgb(Image.fromarray(arr, "RGBA"))) if alpha else arr


def _decoder(vin, src: Path, say: Callable[[str], None]):
    """The codec context that decodes video stream `vin` of `src`: its own, but libvpx's for a VP9 WebM with an
    alpha channel, which FFmpeg's own VP9 decoder drops (the channel rides beside each frame, read by libvpx alone):
    its transparent pixels were translated as the colours hidden under them, and the output made opaque. A PyAV
    built without libvpx decodes it as before (a traceback here refused a clip it can read), its lost alpha said
    once to `say` (it went without a word)."""
    if vin.codec_context.name == "vp9" and vin.metadata.get("alpha_mode") == "1":
        try:
            ctx = _av().CodecContext.create("libvpx-vp9", "r")
        except ValueError:  # av.codec.codec.UnknownCodecError
            say(
                f"warning: {src}: its transparency is lost: this PyAV's FFmpeg has no libvpx, whose VP9 decoder alone "
                "reads a WebM's alpha channel, so the colours hidden under its transparent pixels are translated; "
                "install PyAV's own wheel, which has it: pip install --force-reinstall --only-binary av av"
            )
            return vin.codec_context
        ctx.extradata = vin.codec_context.extradata
        return ctx
    return vin.codec_context


class _Decoding:
    """Decodes a video stream's packets as ffmpeg does: a packet that does not decode (a damaged frame) is skipped
    and counted, not the end of the clip (a clip whose first frame was damaged was refused whole). `skipped`: the
    packets skipped, `reason` the first one's error; `lead`: the time (s) of the first skipped before any frame
    decoded, where the clip's picture starts; `packets` and `decoded`: the packets fed and frames decoded;
    `repeated`: frames left out because their timestamp repeats (or goes back before) the last one's, as ffmpeg
    leaves them out: an encoder refuses them ("cannot write X: Invalid argument"), a GIF showed them for 100 ms."""

    def __init__(self, codec):
        self.codec = codec  # a codec context (`_decoder`)
        self.skipped, self.reason, self.lead, self.packets, self.decoded = 0, "", None, 0, 0
        self.repeated, self.last = 0, None  # last: the pts of the last frame given

    def __call__(self, packet) -> list:
        self.packets += packet.size > 0  # the demuxer ends with an empty packet
        try:
            frames = self.codec.decode(packet)
        except MemoryError:
            raise
        except _av().FFmpegError as e:
            self.skipped += 1
            self.reason = self.reason or _reason(e)
            if not self.decoded and packet.pts is not None and packet.time_base:
                time = packet.pts * packet.time_base
                self.lead = time if self.lead is None else min(self.lead, time)
            return []
        self.decoded += len(frames)
        return [f for f in frames if self._in_time(f)]

    def _in_time(self, frame) -> bool:
        if frame.pts is None:
            return True
        if self.last is not None and frame.pts <= self.last:
            self.repeated += 1
            return False
        self.last = frame.pts
        return True

    def check(self, src: Path, declared: int, say: Callable[[str], None]) -> None:
        """Refuse (one line) a clip of no frame that decodes, or of fewer than its header's `declared` count (0:
        none declared): of frames, or where some were damaged (a decoder drops the frames that follow a damaged
        one up to its next key frame) of packets (a truncated file); say how many were left out."""
        if self.skipped and not self.decoded:
            raise CycleGANError(f"cannot read clip {src}: no frame decodes ({self.reason})")
        if declared and (self.packets if self.skipped else self.decoded) < declared:
            raise CycleGANError(f"cannot read clip {src}: truncated ({self.decoded} of {declared} frames decode)")
        if not self.decoded:
            raise CycleGANError(f"cannot read clip {src}: no frame decodes")
        if self.skipped:
            lost = max(self.skipped, declared - self.decoded)
            say(_skipped_warning(src, lost, self.decoded + lost, self.reason))
        if self.repeated:
            say(
                f"warning: {src}: {self.repeated} of its frames repeat the time of a frame before them and are left "
                "out, as ffmpeg leaves them out"
            )


def _first_decoded(src: Path, read: Callable, default):
    """`read(frame)` of the first frame of video `src` that decodes (damaged ones skipped, as `_Decoding` does),
    else `default`."""
    with _reading(src), _av().open(str(src)) as c:
        v = _picture(c, src)
        decode = _Decoding(v.codec_context)  # FFmpeg's own decoder: what is read here is no frame's alpha
        for frame in (f for packet in c.demux(v) for f in decode(packet)):
            return read(frame)
    return default


def _video_frames(src: Path, say: Callable[[str], None] = print_warning) -> Iterator[tuple[np.ndarray, int]]:
    """A video's frames, uint8 (H, W, 3), each with its duration in ms: the time to the next frame (a
    variable rate too), the stream's rate for the last and where timestamps are missing; a damaged frame is
    skipped, its time the frame's before it (the first's: the one after it), said to `say`; a truncated stream,
    or one of no frame that decodes, is refused as `_write_video` refuses it."""
    av = _av()
    with av.open(str(src)) as inp:
        vin = _picture(inp, src)
        declared = (vin.width, vin.height)  # read before decoding: the stream's size follows its frames
        ms = round(1000 / (vin.average_rate or vin.guessed_rate or Fraction(25)))
        held, start, gone = None, None, 0  # each frame is held until the next one's time is known
        decode = _Decoding(_decoder(vin, src, say))
        for f in (f for packet in inp.demux(vin) for f in decode(packet)):
            time = f.pts * f.time_base if f.pts is not None and f.time_base else None
            if held is not None:
                # each on the running clock: rounded apart, a 30 frames/s clip's 33.3 ms drifted 1% (10 ms in 3 s)
                timed = time is not None and start is not None
                yield held, round(1000 * time) - round(1000 * start) if timed else ms * (1 + decode.skipped - gone)
            elif decode.lead is not None and time is not None:  # damaged frames first: their time is this one's
                time = min(time, decode.lead)
            # A GIF holds no display rotation: the frames are turned as a player shows them.
            held, start, gone = np.rot90(_rgb(f, declared), f.rotation // 90), time, decode.skipped
        if held is not None:
            yield held, ms * (1 + decode.skipped - gone)
        decode.check(src, vin.frames, say)


def _rotation(src: Path) -> int:
    """The display rotation (degrees) a video's first frame carries: PyAV reads it from frames only."""
    return _first_decoded(src, lambda f: f.rotation, 0)


def shown_size(src: str | Path, width: int, height: int) -> tuple[int, int]:
    """(width, height) of frames of `src` stored at that size, as a player shows them: swapped where the clip's
    display rotation turns it a quarter (a phone's portrait clip, stored landscape). A warning on a 6x10 portrait
    clip gave its stored 10x6. An animated image holds no display rotation."""
    src = Path(src)
    turned = src.suffix.lower() not in ANIMATED_IMAGES and _rotation(src) % 180 == 90
    return (height, width) if turned else (width, height)


# Tags a muxer or encoder writes of its own output (brands, the writing library, MKV's statistics of a track):
# the source's would misdescribe the file written.
MUXER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "vendor_id", "duration", "bps"}
MUXER_TAGS |= {"number_of_frames", "number_of_bytes", "_statistics_tags", "_statistics_writing_app"}
MUXER_TAGS |= {"_statistics_writing_date_utc"}


def track_end(stream) -> Fraction | None:
    """Where a Matroska track ends, in its time base, as its DURATION tag says (FFmpeg's muxer writes
    "HH:MM:SS.nnnnnnnnn"); None without one, or one it cannot read."""
    try:
        h, m, sec = stream.metadata.get("DURATION", "").split(":")
        return (int(h) * 3600 + int(m) * 60 + Fraction(sec)) / stream.time_base
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def trim_last_packet(last, first_pts: int, end: Fraction | None) -> None:
    """Shorten the last copied packet of an audio track to end where the source's DURATION tag says the track
    ends (`end`, in the stream's time base). An MKV keeps the last AAC frame's true length (a few ms of its 1024
    samples) only in that tag; demuxed, the packet says a whole frame, and the output's tag, which its muxer takes
    from the packets, counted up to 20 ms more than the source's for the same packets. The tag counts the codec's
    delay too, which the demuxer gives as a first timestamp below 0."""
    if end is None or last.pts is None or not last.duration:
        return
    true = round(end) - max(0, -first_pts) - last.pts
    if 0 < true < last.duration:
        last.duration = true


def is_location_tag(key: str) -> bool:
    """Whether a clip's tag says where it was shot: MP4/MOV's 'location' (and per language, 'location-eng'),
    Apple's 'com.apple.quicktime.location.ISO6709' and its kin, MKV's 'LOCATION', a 'GPS...' tag."""
    key = key.lower()
    return "location" in key or key.startswith("gps")


def _copy_tags(source: dict, dest: dict, *, track: bool = False, keep_location: bool = False) -> None:
    """Copy a container's or stream's (`track`) metadata `source` into `dest`, but for the tags in `MUXER_TAGS`
    (also as MKV names them per language: 'BPS-eng') and, unless `keep_location`, the place it was shot
    (`is_location_tag`): a phone clip's outputs posted carried its GPS position."""
    tags = {
        k: v
        for k, v in source.items()
        if k.split("-")[0].lower() not in MUXER_TAGS and (keep_location or not is_location_tag(k))
    }
    if track and "name" in tags and "title" not in tags:
        # FFmpeg reads an MP4/MOV track's title back as `name`, but its muxers (MP4's, MKV's) take it as `title`:
        # under `name` it was dropped
        tags["title"] = tags.pop("name")
    dest.update(tags)


COVER_TYPES = {"mjpeg": ("jpg", "image/jpeg"), "png": ("png", "image/png")}  # a cover's codec -> as a file


def _cover(src: Path, index: int) -> bytes:
    """The picture of cover stream `index` of clip `src` (its one packet, which the demuxer gives first)."""
    with _av().open(str(src)) as c:
        return next((bytes(p) for p in c.demux(c.streams[index]) if p.size), b"")


def _is_cover(stream) -> bool:
    return bool(stream.disposition & _av().stream.Disposition.attached_pic)


def _copyable(stream, out) -> bool:
    """Whether a sound or subtitle stream is copied into the container `out`: its codec is one FFmpeg knows (a
    TTML subtitle's, in this build, is not: a traceback) and `out` takes."""
    return stream.codec_context is not None and stream.codec_context.name in out.supported_codecs


def _kind_of(stream) -> str:
    """A stream left out, as a warning names it: 'subtitle ass', 'data', 'audio of a codec FFmpeg does not know',
    'cover picture mjpeg'."""
    if stream.disposition & _av().stream.Disposition.attached_pic:
        return f"cover picture {stream.codec_context.name if stream.codec_context else ''}".rstrip()
    if stream.type == "attachment":  # a subtitle's font: 'attachment of a codec FFmpeg does not know' named none
        return f"attachment {getattr(stream, 'name', None) or ''}".rstrip()
    if stream.codec_context is not None:
        return f"{stream.type} {stream.codec_context.name}"
    return stream.type if stream.type == "data" else f"{stream.type} of a codec FFmpeg does not know"


def _other_streams(src: Path) -> str:
    """The streams of video `src` besides its first video stream, as a warning names them ('' if none)."""
    with _reading(src), _av().open(str(src)) as c:
        first = _picture(c, src)
        return ", ".join(_kind_of(t) for t in c.streams if t is not first)


# linux/capability.h: the capability a thread needs to take a real-time policy (RLIMIT_RTPRIO is 0 by default, root's
# too), and the version of capget/capset that reads and writes a set as two 32-bit words.
_CAP_SYS_NICE = 23
_CAPABILITY_V3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapSets(ctypes.Structure):  # one 32-bit word of each set: capget/capset take two
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _sys_nice(effective: bool) -> bool:
    """Put CAP_SYS_NICE into or out of the calling thread's effective set (it stays in its permitted set, so it can be
    put back); whether it was effective before. False, nothing changed, where capabilities cannot be read (not Linux,
    a sandbox refusing capget). Linux keeps capabilities per thread: the process's other threads keep theirs."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None)
    header, sets = _CapHeader(_CAPABILITY_V3, 0), (_CapSets * 2)()  # pid 0: the calling thread
    if libc.capget(ctypes.byref(header), sets) != 0:
        return False
    bit = 1 << _CAP_SYS_NICE
    was = bool(sets[0].effective & bit)
    if was != effective and sets[0].permitted & bit:
        sets[0].effective ^= bit
        libc.capset(ctypes.byref(header), sets)  # refused (a sandbox's filter): left as it was
    return was


def quiet_svt_av1() -> None:
    """SVT-AV1 (the AV1 encoder) printed an 18-line `Svt[info]` banner on stderr at each AV1 clip written, burying the
    command's own lines. It reads its log level from `SVT_LOG` (0 fatal, 1 error, 2 warn, 3 info...) when an encoder
    is opened: errors only here, unless the user set it (`SVT_LOG=3` keeps the banner), so its real errors still
    show. Set in this process's environment, so the processes it starts inherit it."""
    os.environ.setdefault("SVT_LOG", "1")


@contextlib.contextmanager
def _not_real_time() -> Iterator[None]:
    """The block run off real-time scheduling, its thread's policy and CAP_SYS_NICE as they were after. SVT-AV1 (the
    AV1 encoder) run as root puts the thread that opens it under SCHED_FIFO priority 99, and the threads it starts
    (20 for a small clip) inherit it: while a clip was written they could starve everything else on 2 cores (a test
    run livelocked, load 127), and the calling thread stayed so after, and every process it started (a browser).
    Without CAP_SYS_NICE in its effective set a thread cannot take a real-time policy, nor can the threads it starts,
    which inherit its capabilities: SVT-AV1 then runs them under the normal policy (its "Failed to set thread
    priority" line, once a process run as root, comes either way). Where that cannot hold (a root whose RLIMIT_RTPRIO
    was raised, a sandbox refusing capset, no capabilities) the encoder's threads still run real-time while it
    writes, and the calling thread's policy is put back after."""
    kept = (os.sched_getscheduler(0), os.sched_getparam(0)) if hasattr(os, "sched_getscheduler") else None
    held = _sys_nice(False)
    try:
        yield
    finally:
        if held:
            _sys_nice(True)  # before the policy: a caller's own real-time policy needs it back
        if kept is not None and (os.sched_getscheduler(0), os.sched_getparam(0)) != kept:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, *kept)


@_not_real_time()
def _write_video(
    src: Path,
    tmp: str,
    dst: Path,
    run,
    size,
    batch: int,
    data_left_out: list[Path] | None,
    say: Callable[[str], None],
    keep_location: bool,
) -> None:
    av = _av()
    container = VIDEO_FORMATS[dst.suffix.lower()]  # check_clip_output: a known extension
    try:
        with av.open(str(src)) as inp, av.open(tmp, "w", format=container) as out:
            vin = _picture(inp, src)
            vin.thread_type = "AUTO"
            declared = (vin.width, vin.height)  # read before decoding: the stream's size follows its frames
            # every soundtrack (a second language, a commentary): the first alone dropped the others without a word
            for ain in inp.streams.audio:
                if ain.codec_context is None or ain.codec_context.name in out.supported_codecs:
                    continue  # None: a codec FFmpeg does not know, which cannot be copied either (left out, named)
                kind = dst.suffix.lower()
                fix = (
                    f"name the output {src.suffix.lower()}, as its source"
                    if src.suffix.lower() != kind
                    else f"{src.name} is {inp.format.long_name} inside, not {kind}: rename it .mkv"
                )
                raise CycleGANError(
                    f"cannot write {dst}: a {kind} file takes no {ain.codec_context.name} sound (copied from "
                    f"{src.name}, not re-encoded); {fix}"
                )
            # the codec's name, not its decoder's: an AV1 clip, decoded by libdav1d, went H.264 ("its libdav1d picture")
            codec = vin.codec_context.codec.canonical_name
            encoder, why = _encoder(av, container, codec, out.supported_codecs, size)
            if why:  # an HEVC clip came back as H.264 without a word
                was, now = (ENCODER_NAMES.get(ENCODERS.get(c, c), c) for c in (codec, encoder))
                say(f"warning: {src}: its {was} picture is written as {now} in {dst.name} ({why})")
            rate = vin.average_rate or vin.guessed_rate or Fraction(25)
            options = dict(ENCODER_OPTIONS.get(encoder, {}))
            # An HDR10 clip's mastering display and content light level (what players tone-map by) were dropped
            hdr10 = (
                _hdr10(src)
                if HDR_TRANSFERS.get(vin.codec_context.color_trc) and vin.codec_context.colorspace in SWS_MATRIX
                else {}
            )
            if hdr10 and encoder in HDR10_PARAMETERS:
                key, written = HDR10_PARAMETERS[encoder]
                options[key] = ":".join(filter(None, (options.get(key), written(hdr10))))
            elif hdr10:  # FFmpeg's other encoders take it from no option (VP9: only a WebM's header holds it,
                # from the stream's side data, which PyAV cannot set)
                say(
                    f"warning: {src}: its HDR10 metadata (mastering display, content light level) is not written "
                    f"into {dst.name} ({ENCODER_NAMES.get(encoder, encoder)} here; HEVC and AV1 keep it): players "
                    "tone-map it by their defaults"
                )
            if encoder == "libsvtav1":
                quiet_svt_av1()
            vout = out.add_stream(encoder, rate=rate, options=options)
            # The source's clock, not 1/rate: a variable rate's timestamps off that grid were rounded onto
            # one another (frames shown twice, or FFmpeg's "Invalid argument").
            clock = vin.time_base or 1 / Fraction(rate)
            if encoder == "mpeg4" and clock.denominator > 65535:  # MPEG-4 Part 2 counts time in 16 bits
                clock = Fraction(1, 60000)  # exact at 24, 25, 30, 50, 60 (and /1.001) frames/s and in ms
            vout.codec_context.time_base = vout.time_base = clock
            vout.width, vout.height = size
            if rotation := _rotation(src):  # a phone's portrait clip: else it plays on its side
                vout.set_display_rotation(rotation)
            vout.pix_fmt = _pixel_format(av, encoder, vin.codec_context.pix_fmt, size, same_codec=not why)
            matrix = _keep_colour(vin.codec_context, vout.codec_context)
            to_yuv = av.video.reformatter.VideoReformatter()  # one for the clip: its scaler is set up once
            if depth := _deeper_than_8(vin.codec_context.pix_fmt):  # the frames we translate are 8-bit RGB
                say(
                    f"warning: {src}: its {depth}-bit picture is translated at 8 bits a channel in {dst.name}: "
                    f"smooth gradients (a sky) may show bands; frames are translated in 8 bits only, so keep "
                    f"{src.name} for work that needs its {depth} bits"
                )
            if encoder == "libx265" and container in ("mp4", "mov"):
                vout.codec_context.codec_tag = "hvc1"  # as phones write it: Apple's players refuse FFmpeg's hev1
            # Subtitles are copied where the container takes them (an MKV's own, into an MKV): they were dropped.
            copied = [t for t in (*inp.streams.audio, *inp.streams.subtitles) if _copyable(t, out)]
            # A cover picture, as it was: it was left out, named. Into an MP4 as a stream; into an MKV as the
            # attachment an MKV holds it in (its muxer wrote the stream as a second video track); FFmpeg's MOV muxer
            # drops it without a word, and WebM takes neither: there it is still named.
            pictures = [t for t in inp.streams.video if t is not vin and _is_cover(t)]
            covers = [t for t in pictures if _copyable(t, out)] if container == "mp4" else []
            copied += covers
            # An MKV's attachments (its subtitles' fonts) go into an MKV's header: WebM drops them, MP4 refuses.
            attached = [t for t in inp.streams if t.type == "attachment"] if container == "matroska" else []
            for t in attached:
                out.add_attachment(t.name or f"attachment{t.index}", t.mimetype or "application/octet-stream", t.data)
            for t in [t for t in pictures if t.codec_context.name in COVER_TYPES] if container == "matroska" else []:
                ext, mimetype = COVER_TYPES[t.codec_context.name]
                name = t.metadata.get("filename") or f"cover{t.index}.{ext}"
                out.add_attachment(name, t.metadata.get("mimetype") or mimetype, _cover(src, t.index))
                attached.append(t)
            left = [t for t in inp.streams if t is not vin and t not in copied and t not in attached]
            out.set_chapters(inp.chapters())  # the same timing: a film's chapters were dropped without a word
            if data_left_out is not None and left and all(t.type == "data" for t in left):
                data_left_out.append(src)  # a phone's timed metadata in every clip of a folder: one line for all
            elif left:
                kinds = ", ".join(_kind_of(t) for t in left)
                msg = (
                    f"warning: {src}: left out of {dst.name}: {kinds} (the first video stream is translated; the "
                    f"sound and subtitles a {dst.suffix} takes are copied)"
                )
                say(msg)
            aout = {a.index: out.add_stream_from_template(a) for a in copied}  # source index -> copy
            for t in covers:
                aout[t.index].disposition = av.stream.Disposition.attached_pic
            # Title, creation time, each track's language and name, as FFmpeg copies them: all were dropped (which
            # soundtrack was which language, when a phone shot it); the place only where asked (`keep_location`).
            _copy_tags(inp.metadata, out.metadata, keep_location=keep_location)
            for a, b in ((vin, vout), *((t, aout[t.index]) for t in copied)):
                _copy_tags(a.metadata, b.metadata, track=True, keep_location=keep_location)
            streams = [vin, *copied]
            pending: list = []

            def flush() -> None:
                arr = run(np.stack([_rgb(f, declared) for f, _ in pending]))
                for (f, index), a in zip(pending, arr):
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(a), format="rgb24")
                    frame = to_yuv.reformat(frame, format=vout.pix_fmt, **matrix)  # the source's, not BT.601
                    if f.pts is not None:  # the source's timing, frame by frame (variable rates too)
                        frame.pts, frame.time_base = f.pts, f.time_base
                    else:  # a stream without timestamps: evenly at the declared rate
                        frame.pts, frame.time_base = index, 1 / Fraction(rate)
                    with _encoding(dst):
                        out.mux(vout.encode(frame))
                pending.clear()

            decode, placed = _Decoding(_decoder(vin, src, say)), 0
            # each audio track's last packet, held back to be trimmed (`trim_last_packet`), and its first timestamp
            last: dict[int, object] = {}
            first: dict[int, int] = {}
            for packet in inp.demux(*streams):
                if (index := packet.stream.index) in aout:
                    if packet.dts is not None and packet.stream.type == "audio":
                        first.setdefault(index, packet.pts if packet.pts is not None else 0)
                        packet, last[index] = last.get(index), packet
                        if packet is None:
                            continue
                    if packet.dts is not None or (packet.size and _is_cover(packet.stream)):  # a cover has no time
                        packet.stream = aout[index]
                        with _encoding(dst):
                            out.mux(packet)
                    continue
                for f in decode(packet):
                    pending.append((f, placed + decode.skipped))  # its place: a skipped frame's time is kept
                    placed += 1
                    if len(pending) == batch:
                        flush()
            if pending:
                flush()
            for index, packet in last.items():
                trim_last_packet(packet, first[index], track_end(packet.stream))
                packet.stream = aout[index]
                with _encoding(dst):
                    out.mux(packet)
            with _encoding(dst):
                out.mux(vout.encode(None))
            decode.check(src, vin.frames, say)
    except av.FFmpegError as e:
        raise CycleGANError(f"cannot read clip {src}: {_reason(e)}") from None
