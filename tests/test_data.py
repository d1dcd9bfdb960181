import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from conftest import TINY, make_images
from cyclegan.data import UnpairedTrainSet, check_images, list_images, read_image
from cyclegan.data.dataset import train_transform
from cyclegan.data.io import to_srgb
from cyclegan.errors import CycleGANError

RGB = np.zeros((10, 16, 3), np.uint8)
RGB[:, :8] = (200, 40, 10)  # left half red-ish, right half black


def save(path, im: Image.Image, **kw):
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("ext", ["png", "jpg", "bmp", "webp", "tiff"])
def test_formats_read_as_rgb(tmp_path, ext):
    p = save(tmp_path / f"a.{ext}", Image.fromarray(RGB))
    im = read_image(p)
    assert im.mode == "RGB" and im.size == (16, 10)
    assert np.abs(np.asarray(im).astype(int) - RGB).mean() < 12  # lossy formats are close


def test_modes_convert_to_rgb(tmp_path):
    grey = Image.fromarray(np.full((6, 5), 100, np.uint8), "L")
    cases = {
        "L.png": grey,
        "LA.png": Image.merge("LA", [grey, Image.new("L", grey.size, 255)]),
        "P.png": Image.fromarray(RGB).convert("P"),
        "RGBA.png": Image.fromarray(RGB).convert("RGBA"),
        "CMYK.jpg": Image.fromarray(RGB).convert("CMYK"),
        "CMYK.tiff": Image.fromarray(RGB).convert("CMYK"),
        "one.png": grey.convert("1"),
    }
    for name, im in cases.items():
        out = read_image(save(tmp_path / name, im))
        assert out.mode == "RGB" and out.size == im.size, name
    assert np.asarray(read_image(tmp_path / "L.png"))[0, 0].tolist() == [100, 100, 100]


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    a = np.full((4, 6), 65535 // 2, np.uint16)
    a[0, 0] = 65535
    Image.fromarray(a).save(tmp_path / "g16.png")
    Image.fromarray(a).save(tmp_path / "g16.tiff")
    for name in ("g16.png", "g16.tiff"):
        px = np.asarray(read_image(tmp_path / name))
        assert px[0, 0].tolist() == [255, 255, 255], name
        assert px[1, 1, 0] in (127, 128), name  # mid-grey, not saturated white


@pytest.mark.parametrize(
    "values",
    [
        np.linspace(0, 1, 24, dtype=np.float32),  # with a NaN and an infinity below: a depth map's "no data"
        np.linspace(0, 65535, 24, dtype=np.float32),  # 16-bit values kept in float
        np.linspace(-1000, 1000, 24, dtype=np.float32),
        np.linspace(0, 10**6, 24).astype(np.int32),  # 32-bit counts
    ],
    ids=["float01-nan", "float16bit", "float-negative", "int32"],
)
def test_float_and_32_bit_greyscale_keep_their_range(tmp_path, values, recwarn):
    """A float TIFF with one NaN read all black (the NaN hid the [0, 1] range; numpy warned of the cast), and float
    or 32-bit values outside [0, 255] and 16 bits were clipped to two levels."""
    a = values.reshape(4, 6).copy()
    unit = a.dtype == np.float32 and a.max() == 1
    if unit:
        a[3, 4], a[3, 5] = np.nan, np.inf
    px = np.asarray(read_image(save(tmp_path / "g.tif", Image.fromarray(a))))[..., 0].ravel()
    finite = px[:22] if unit else px
    assert finite[0] == 0 and finite[-1] > 200 and np.all(np.diff(finite.astype(int)) > 0)  # every level apart
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("highlight", [4.0, 300.0, 1e5])
def test_a_float_image_of_0_1_with_hdr_highlights_is_read_as_0_1(tmp_path, highlight):
    """A float TIFF of [0, 1] with a few highlights above 1 (an HDR render's sun) read as [0, 255] (or, past 255, as
    16 bits or its own range): all black. Its range is decided by most of its values; the highlights are white."""
    a = np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6)
    a[0, 0] = highlight
    px = np.asarray(read_image(save(tmp_path / "hdr.tif", Image.fromarray(a))))[..., 0]
    assert px[0, 0] == 255 and px[3, 5] == 255 and px[2, 0] == round(12 / 23 * 255)
    levels = np.linspace(0, 255, 256, dtype=np.float32).reshape(16, 16)  # [0, 255] stays [0, 255]
    assert np.asarray(read_image(save(tmp_path / "g.tif", Image.fromarray(levels))))[..., 0].ravel().tolist() == [
        *range(256)
    ]


def test_to_tensor_gives_three_channels_from_any_mode_as_read_image_does():
    """`cyclegan.data.to_tensor` of a greyscale image gave (1, H, W), of RGBA (4, H, W), and a 16-bit image's
    values were scaled as 8-bit ones; its docstring promises (3, H, W) in [-1, 1]."""
    from cyclegan.data import to_tensor
    from cyclegan.data.io import to_rgb

    a = np.linspace(0, 65535, 4 * 6).reshape(4, 6).astype(np.uint16)
    rgba = np.dstack([np.full((4, 6, 3), 40, np.uint8), np.arange(24, dtype=np.uint8).reshape(4, 6) * 10])
    for im in (Image.fromarray(a), Image.fromarray(rgba, "RGBA"), Image.new("L", (6, 4), 90), Image.new("F", (6, 4))):
        x = to_tensor(im)
        assert x.shape == (3, 4, 6) and -1 <= x.min() and x.max() <= 1, im.mode
        assert torch.equal(x, to_tensor(to_rgb(im))), im.mode


def test_to_pil_refuses_what_is_not_one_rgb_image_in_one_line():
    """A batch (1, 3, H, W) was torchvision's "pic should be 2/3 dimensional" ValueError, and a one-channel
    tensor came back as a greyscale image where the docstring promises RGB."""
    from cyclegan.data import to_pil

    assert to_pil(torch.zeros(3, 4, 5)).mode == "RGB"
    for shape in [(1, 3, 4, 5), (1, 4, 5), (4, 5)]:
        with pytest.raises(CycleGANError, match=r"expected an image tensor \(3, H, W\)"):
            to_pil(torch.zeros(shape))


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    out = read_image(save(tmp_path / "t.png", Image.fromarray(rgba, "RGBA")))
    assert np.asarray(out).min() == 255


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_pngs_transparent_colour_is_composited_on_white_too(tmp_path, mode):
    """A greyscale or RGB PNG whose one transparent colour is given by its tRNS chunk (not an alpha channel) kept
    that colour where a viewer shows white, as a palette's or an alpha channel's transparency reads."""
    grey = np.full((4, 4), 100, np.uint8)
    grey[:2] = 0  # the transparent half
    im = Image.fromarray(grey, "L") if mode == "L" else Image.fromarray(np.dstack([grey] * 3), "RGB")
    out = np.asarray(read_image(save(tmp_path / "t.png", im, transparency=0 if mode == "L" else (0, 0, 0))))
    assert (out[:2] == 255).all() and (out[2:] == 100).all()


def test_exif_orientation_is_honoured(tmp_path):
    im = Image.fromarray(RGB)  # 16 wide, 10 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    p = tmp_path / "rot.jpg"
    im.save(p, exif=exif.tobytes())
    out = read_image(p)
    assert out.size == (10, 16)
    px = np.asarray(out)  # rotated clockwise: the original's red left half is now on top
    assert px[0, :, 0].mean() > 150 and px[-1, :, 0].mean() < 60


@pytest.mark.parametrize("mode", ["I;16", "L"])
def test_a_tiff_turned_by_exif_is_upright_however_it_is_opened(tmp_path, mode):
    """An uncompressed 16-bit (or 8-bit grey) TIFF with an Orientation tag: `Image.open(path)` maps it into memory
    at the size Pillow already turned, so `as_read` (the Python API's path) gave it scrambled and unturned, and
    `upright_size` turned Pillow's turned size once more (a pair's width, a batch's shape)."""
    from cyclegan.data.io import as_read, open_image, upright_size

    a = np.zeros((10, 16), np.uint16 if mode == "I;16" else np.uint8)
    a[:, :8] = 60000 if mode == "I;16" else 240  # left half bright
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display: the bright half on top
    p = save(tmp_path / "scan.tif", Image.fromarray(a), exif=exif.tobytes())
    with Image.open(p) as im:
        assert im.mode == mode
        opened = np.asarray(as_read(im).convert("L") if mode == "L" else as_read(im)).astype(float)
    for px in (opened, np.asarray(read_image(p))[..., 0].astype(float)):
        assert px.shape == (16, 10)
        assert px[:8].min() > px[8:].max()  # the stored left half is the shown top half
    with open_image(p) as im:
        assert upright_size(im) == (10, 16)


def test_an_aligned_pair_turned_by_exif_is_measured_as_it_is_read(tmp_path):
    """An A|B file's width was its stored one, before the EXIF turn that `read_image` makes: a portrait phone
    photo of a pair 64 px wide as shown was refused as 1 px wide, and one 1 px wide as shown passed and crashed
    evaluate with PIL's "height and width must be > 0". Training and evaluate measure it upright."""
    from cyclegan.evaluate.runner import _halvable as evaluate_check
    from cyclegan.train.inputs import _halvable as train_check

    exif = Image.Exif()
    exif[0x0112] = 6  # a quarter turn on display: the stored width is the shown height
    wide, narrow = tmp_path / "wide.jpg", tmp_path / "narrow.jpg"
    Image.fromarray(np.zeros((64, 1, 3), np.uint8)).save(wide, exif=exif.tobytes())  # shown 64 x 1
    Image.fromarray(np.zeros((1, 64, 3), np.uint8)).save(narrow, exif=exif.tobytes())  # shown 1 x 64
    assert read_image(wide).size == (64, 1) and read_image(narrow).size == (1, 64)
    line = f"{narrow}: 1 px wide, but an aligned pair holds A and B side by side, so it needs at least 2 px"
    assert evaluate_check([wide, narrow]) == ([wide], [line])
    assert train_check([wide, narrow], skip_bad=True) == ([wide], [line])


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "truncated"])
def test_unreadable_images_name_the_file(tmp_path, content):
    p = tmp_path / "bad.png"
    if content == "truncated":
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "JPEG")
        p = tmp_path / "bad.jpg"
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    else:
        p.write_bytes(content)
    with pytest.raises(CycleGANError, match=f"cannot read image {p}"):
        read_image(p)
    with pytest.raises(CycleGANError, match=r"\(remove it, or pass skip_bad_images=True\)$"):  # from Python
        check_images([p], skip_bad=False, desc="x")
    good, bad = check_images([p], skip_bad=True, desc="x")
    assert good == [] and len(bad) == 1 and str(p) in bad[0]


@pytest.mark.parametrize("compression", ["tiff_lzw", "tiff_adobe_deflate"])
def test_a_damaged_tiff_is_one_line_without_libtiffs_own_on_stderr(tmp_path, capfd, compression):
    """libtiff printed "Using code not yet in table." (LZW) or "ZIPDecode: Decoding error at scanline 0" twice to
    stderr around our line, which said only "decoder error -2"."""
    rng = np.random.default_rng(0)
    p = save(tmp_path / "a.tif", Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)), compression=compression)
    data = bytearray(p.read_bytes())  # the directory is at the end: the strips' data is garbled, not the header
    data[len(data) // 4 : len(data) // 2] = rng.integers(0, 255, len(data) // 2 - len(data) // 4, np.uint8).tobytes()
    p.write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(CycleGANError, match=r"cannot read image .*a\.tif: its image data is damaged \(decoder error"):
        read_image(p)
    assert check_images([p], skip_bad=True, desc="", progress=False)[0] == []
    assert capfd.readouterr().err == ""


def test_an_exif_entry_past_the_end_of_its_block_is_read_as_none_without_pillows_warning(tmp_path, recwarn):
    """An EXIF entry whose data lies past the end of the block printed Pillow's "TiffImagePlugin.py:950: UserWarning:
    Truncated File Read" and its source line for each image read (the "Corrupt EXIF data" one alone was silenced)."""
    from cyclegan.data.io import as_read

    entries = struct.pack("<HHII", 0x010E, 2, 100, 0x1000) + struct.pack("<HHII", 0x0112, 3, 1, 6)
    exif = b"Exif\0\0II*\0" + struct.pack("<IH", 8, 2) + entries + bytes(4)
    p = save(tmp_path / "a.jpg", Image.fromarray(RGB), exif=exif)
    with Image.open(p) as opened:  # Pillow's own open warns too: the caller's
        recwarn.clear()
        assert as_read(opened).size == (16, 10)
    assert read_image(p).size == (16, 10)
    assert check_images([p], skip_bad=False, desc="x")[0] == [p]
    assert not [(w.filename, str(w.message)) for w in recwarn if "PIL" in w.filename]


def test_the_check_hashes_the_bytes_it_decodes_and_reports_as_without(tmp_path, monkeypatch):
    """Training's check of its images (`check_images(digests=...)`) hashes each file's bytes as it decodes them, so
    that the record of the files' contents for a resume reads no file again: the digest is `file_digest`'s, with the
    file's size and time; what the check keeps, skips and says is what it was without (translate and evaluate's),
    for good files of every kind and broken ones alike. A file over `DIGESTED_IN_MEMORY` is checked from the file,
    as any other, and left for its own read."""
    import cyclegan.data.io as io_module
    from cyclegan.data.io import file_digest

    rng = np.random.default_rng(0)
    pixels = Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8))
    files = [
        save(tmp_path / "a.png", pixels),
        save(tmp_path / "b.jpg", pixels),  # decoded in draft mode
        save(tmp_path / "c.tif", pixels, compression="tiff_lzw"),  # libtiff's
        save(tmp_path / "d.tif", pixels, save_all=True, append_images=[pixels]),  # two pages: the first read
        save(tmp_path / "e.png", pixels.resize((200, 200))),  # over the cap below
    ]
    (truncated := tmp_path / "f.jpg").write_bytes(files[1].read_bytes()[: files[1].stat().st_size // 2])
    damaged = bytearray(files[2].read_bytes())
    damaged[len(damaged) // 4 : len(damaged) // 2] = bytes(len(damaged) // 2 - len(damaged) // 4)
    (tmp_path / "g.tif").write_bytes(bytes(damaged))
    (tmp_path / "h.png").write_bytes(b"")
    (tmp_path / "i.png").write_text("not an image")
    files += [truncated, tmp_path / "g.tif", tmp_path / "h.png", tmp_path / "i.png"]
    check = dict(skip_bad=True, desc="", progress=False, max_pixels=20_000)
    without: dict = {}
    said = check_images(files, **check, frames=without)
    digests, frames = {}, {}
    assert check_images(files, **check, frames=frames, digests=digests) == said and frames == without
    assert said[0] == files[:4] and len(said[1]) == 5
    for p in said[0]:
        st = p.stat()
        assert digests[p] == (st.st_size, st.st_mtime_ns, file_digest(p))
    monkeypatch.setattr(io_module, "DIGESTED_IN_MEMORY", files[0].stat().st_size - 1)
    digests = {}
    assert check_images(files[:1], **check, digests=digests) == ([files[0]], []) and digests == {}


def test_a_file_written_while_the_check_reads_it_is_recorded_by_its_new_bytes(tmp_path, monkeypatch):
    """An image saved in place (an editor, a sync tool) while training's check read it: the check's digest, of the
    bytes before the save, was kept with the time the file had after it, so the record of the training files'
    contents (`files_record`) took it for the new bytes' (a resume on a copy of the folder then said the file had
    changed). Such a file now keeps no digest from the check, and the record reads it anew."""
    import os

    import cyclegan.data.io as io_module
    from cyclegan.train.inputs import files_record

    p = save(tmp_path / "a.bmp", Image.new("RGB", (8, 8), "red"))
    saved = save(tmp_path / "b.bmp", Image.new("RGB", (8, 8), "blue")).read_bytes()  # the same size, other bytes
    before, real, calls = p.stat().st_mtime_ns, os.fstat, []

    def fstat(fd):  # the check's second look at the file, after its read: the editor has saved meanwhile
        calls.append(fd)
        if len(calls) == 2:
            p.write_bytes(saved)
            os.utime(p, ns=(before + 10**9, before + 10**9))
        return real(fd)

    monkeypatch.setattr(io_module.os, "fstat", fstat)
    digests: dict = {}
    assert check_images([p], skip_bad=False, desc="", progress=False, digests=digests) == ([p], [])
    monkeypatch.undo()
    assert len(calls) == 2 and p.read_bytes() == saved
    assert files_record([p], checked=digests)[1].tolist() == files_record([p])[1].tolist()


def test_an_empty_image_file_is_said_to_be_empty(tmp_path):
    """A 0-byte `a.png` (an interrupted copy) was "not a JPEG, PNG, ... image, or one too damaged to recognise"."""
    p = tmp_path / "a.png"
    p.write_bytes(b"")
    with pytest.raises(CycleGANError, match=f"^cannot read image {p}: the file is empty \\(0 bytes\\)$"):
        read_image(p)
    assert check_images([p], skip_bad=True, desc="x") == ([], [f"cannot read image {p}: the file is empty (0 bytes)"])


def test_a_file_of_no_image_format_is_named_as_such_not_by_its_file_object(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("a text file with an image's name")
    for err in (lambda: read_image(p), lambda: check_images([p], skip_bad=False, desc="x")):
        with pytest.raises(CycleGANError) as e:
            err()
        assert "not a JPEG, PNG, BMP, GIF, WebP or TIFF image" in str(e.value) and "BufferedReader" not in str(e.value)


def test_jfif_and_jpe_files_are_read_as_the_jpegs_they_are(tmp_path):
    """A browser's "Save image as" gives `.jfif`: such files were left out of a folder as "not of a type training
    reads"."""
    for name in ("a.jfif", "b.JPE", "c.jpg"):
        save(tmp_path / name, Image.fromarray(RGB), format="JPEG")
    assert [p.name for p in list_images(tmp_path)] == ["a.jfif", "b.JPE", "c.jpg"]
    assert read_image(tmp_path / "a.jfif").size == (16, 10)


@pytest.mark.parametrize(
    ("brand", "article", "fmt"),
    [(b"heic", "a", "HEIC"), (b"mif1", "a", "HEIC"), (b"avif", "an", "AVIF"), (b"crx ", "a", "Canon CR3 raw")],
)
def test_a_heic_or_avif_photo_is_refused_naming_its_format(tmp_path, brand, article, fmt):
    """An iPhone's HEIC photo was "not a JPEG, PNG, ... image, or one too damaged to recognise"; a Canon CR3 raw
    photo (an `ftyp` box as an MP4's) "an MP4 video, not an image; rename it IMG_0001.mp4"."""
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(b"\0\0\0\x18ftyp" + brand + b"\0\0\0\0mif1heic" + bytes(100))
    expected = f"^cannot read image {p}: {article} {fmt} image, a format not read here: convert it to JPEG or PNG"
    for err in (lambda: read_image(p), lambda: check_images([p], skip_bad=False, desc="x")):
        with pytest.raises(CycleGANError, match=expected):
            err()


def test_an_m4a_named_as_an_image_is_named_as_sound_not_as_an_mp4_video(tmp_path):
    """An M4A (an MP4 container of sound alone, brand `M4A `) named song.png was "an MP4 video, not an image; rename it
    song.mp4 to translate it as a video", which, renamed, held no video to translate either."""
    p = tmp_path / "song.png"
    p.write_bytes(b"\0\0\0\x1cftypM4A \0\0\x02\0M4A isomiso2" + bytes(100))  # as FFmpeg's ipod muxer writes it
    expected = f"cannot read image {p}: it is M4A sound alone, not an image: no picture to translate"
    for err in (lambda: read_image(p), lambda: check_images([p], skip_bad=False, desc="x")):
        with pytest.raises(CycleGANError) as e:
            err()
        assert str(e.value).startswith(expected)


def test_heic_photos_left_out_of_a_folder_are_counted_with_what_to_do(tmp_path):
    """A folder of phone photos said only "3 file(s) left out, not of a type training reads (...)"."""
    from cyclegan.data.io import left_out

    save(tmp_path / "a.jpg", Image.fromarray(RGB))
    for name in ("IMG_1.HEIC", "IMG_2.heic", "notes.txt"):
        (tmp_path / name).write_bytes(b"\0\0\0\x18ftypheic")
    [line] = left_out(tmp_path)
    assert line.startswith(f"{tmp_path}: 3 files left out, not of a type training reads")
    assert line.endswith("; 2 HEIC or AVIF photos among them: convert them to JPEG or PNG")


@pytest.mark.parametrize("major", [b"j2ki", b"vvic"])
def test_a_heif_photo_of_another_codec_is_named_by_its_compatible_brand_not_as_a_video(tmp_path, major):
    """HEIF names its codec as the major brand (JPEG 2000's j2ki, VVC's vvic) and lists mif1 as compatible: such a
    photo was "an MP4 video, not an image; rename it IMG_0002.mp4", a rename that reads nothing."""
    from cyclegan.data.io import video_kind

    p = tmp_path / "IMG_0002.heif"
    p.write_bytes(b"\0\0\0\x1cftyp" + major + b"\0\0\0\0mif1miaf" + major + bytes(100))
    with pytest.raises(CycleGANError, match=f"^cannot read image {p}: a HEIC image, a format not read here"):
        read_image(p)
    assert video_kind(p) is None
    clip = tmp_path / "clip.png"  # an MP4's brands: still a video named as one
    clip.write_bytes(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41" + bytes(100))
    assert video_kind(clip) == ("an MP4", ".mp4")


@pytest.mark.parametrize("fmt", ["EPS", "PCX", "TGA", "ICO", "PPM"])
def test_only_the_listed_formats_are_decoded_whatever_the_extension(tmp_path, fmt):
    """Pillow opened any of its forty formats by content: a `.png` that was really an EPS went to Ghostscript to
    render (a program run on a downloaded file), a PCX or ICO was read although the docs list six formats."""
    p = save(tmp_path / "a.png", Image.fromarray(RGB), format=fmt)
    for err in (lambda: read_image(p), lambda: check_images([p], skip_bad=False, desc="x")):
        with pytest.raises(CycleGANError, match="not a JPEG, PNG, BMP, GIF, WebP or TIFF image"):
            err()


def test_a_listed_format_is_read_by_its_content_under_another_extension(tmp_path):
    for name, fmt in (("jpeg_named.png", "JPEG"), ("gif_named.jpg", "GIF"), ("tiff_named.bmp", "TIFF")):
        assert read_image(save(tmp_path / name, Image.fromarray(RGB), format=fmt)).size == (16, 10)


def rgb_profile(primaries: tuple | None, desc: bytes, *, trc: dict | None = None, space: bytes = b"RGB ") -> bytes:
    """A minimal ICC v2 RGB matrix/TRC profile (gamma 2.2) whose R, G, B primaries are the given D50 XYZ; with
    `trc` and no primaries, a profile of those tone curves alone in colour `space` (`grey_profile`)."""

    def xyz(*v):
        return b"XYZ " + bytes(4) + struct.pack(">3i", *(round(c * 65536) for c in v))

    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2)
    text = b"desc" + bytes(4) + struct.pack(">I", len(desc) + 1) + desc + b"\0" + bytes(78)
    tags = [(b"desc", text), (b"wtpt", xyz(0.9642, 1.0, 0.8249))]
    tags += [(name, xyz(*p)) for name, p in zip((b"rXYZ", b"gXYZ", b"bXYZ"), primaries or ())]
    tags += list((trc or dict.fromkeys((b"rTRC", b"gTRC", b"bTRC"), curve)).items())
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for name, body in tags:
        body += bytes(-len(body) % 4)
        table, data = table + name + struct.pack(">II", offset + len(data), len(body)), data + body
    header = struct.pack(">I4sI4s4s4s", offset + len(data), b"none", 0x02100000, b"mntr", space, b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(32) + struct.pack(">3i", *(round(c * 65536) for c in (0.9642, 1.0, 0.8249)))
    return header + bytes(128 - len(header)) + struct.pack(">I", len(tags)) + table + data


def test_an_embedded_colour_profile_is_converted_to_srgb(tmp_path):
    """A Display P3 or Adobe RGB photo was read as if sRGB (dull, off-colour outputs). A profile whose red and
    green primaries are sRGB's green and red shows it plainly: its (200, 30, 10) is an sRGB green."""
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)  # sRGB, D50
    swapped = rgb_profile((green, red, blue), b"red and green swapped")
    im = Image.new("RGB", (4, 4), (200, 30, 10))
    for name in ("p.png", "p.jpg", "p.webp", "p.tiff"):
        r, g, b = read_image(save(tmp_path / name, im, icc_profile=swapped)).getpixel((1, 1))
        assert g > 180 and r < 60 and b < 30, (name, (r, g, b))
    r, g, b, a = to_srgb(Image.open(save(tmp_path / "rgba.png", im.convert("RGBA"), icc_profile=swapped))).getpixel(
        (1, 1)
    )
    assert g > 180 and r < 60 and a == 255
    r, g, b = read_image(save(tmp_path / "palette.png", im.convert("P"), icc_profile=swapped)).getpixel((1, 1))
    assert g > 180 and r < 60, ("palette.png", (r, g, b))
    # sRGB's own profile, a damaged one, none: the pixels as stored
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, icc in (("srgb.png", srgb), ("damaged.png", b"not a profile"), ("none.png", None)):
        kw = {"icc_profile": icc} if icc else {}
        assert read_image(save(tmp_path / name, im, **kw)).getpixel((1, 1)) == (200, 30, 10)


def grey_profile(gamma: float, desc: bytes) -> bytes:
    """A minimal ICC v2 grey profile: one tone curve (kTRC) of `gamma`."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    return rgb_profile(None, desc, trc={b"kTRC": curve}, space=b"GRAY")


def test_a_grey_image_s_colour_profile_is_converted_to_srgb_as_a_colour_one_s_is(tmp_path):
    """A grey scan with a linear grey profile (gamma 1) was read as stored, as if sRGB: far too dark. Its 64 is a
    quarter of white's light, sRGB's 137; its alpha is kept."""
    linear = grey_profile(1.0, b"linear grey")
    im = Image.new("L", (4, 4), 64)
    for name in ("g.png", "g.jpg", "g.tiff"):
        assert read_image(save(tmp_path / name, im, icc_profile=linear)).getpixel((1, 1)) == (137, 137, 137), name
    la = Image.merge("LA", (im, Image.new("L", (4, 4), 200)))
    read = to_srgb(Image.open(save(tmp_path / "la.png", la, icc_profile=linear)))
    assert read.getpixel((1, 1)) == (137, 137, 137, 200)
    assert read_image(save(tmp_path / "none.png", im)).getpixel((1, 1)) == (64, 64, 64)


def test_a_16_bit_grey_image_s_colour_profile_is_converted_too(tmp_path):
    """A 16-bit grey scan (I;16) with a linear grey profile was read with its profile dropped: far too dark. Its
    64 * 257 is 64 in 8 bits (not 65535 clipped to 255), then sRGB's 137 as the 8-bit scan's."""
    linear = grey_profile(1.0, b"linear grey")
    im = Image.fromarray(np.full((4, 4), 64 * 257, np.uint16))
    for name in ("g16.png", "g16.tiff"):
        assert read_image(save(tmp_path / name, im, icc_profile=linear)).getpixel((1, 1)) == (137, 137, 137), name
    assert read_image(save(tmp_path / "none16.png", im)).getpixel((1, 1)) == (64, 64, 64)


def test_a_colour_profile_shared_by_many_images_is_prepared_once(tmp_path, monkeypatch):
    """Training reads every image each epoch: building the profile's transform for each read cost more than
    converting a training image with it. Images sharing a profile share one transform, and still convert."""
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    swapped = rgb_profile((green, red, blue), b"shared by a dataset")
    built = []  # each profile read from an image's bytes is described once, to tell sRGB
    real = ImageCms.getProfileDescription
    monkeypatch.setattr(ImageCms, "getProfileDescription", lambda p: built.append(p) or real(p))
    im = Image.new("RGB", (4, 4), (200, 30, 10))
    for i in range(5):
        r, g, b = read_image(save(tmp_path / f"{i}.png", im, icc_profile=swapped)).getpixel((1, 1))
        assert g > 180 and r < 60 and b < 30
    assert len(built) <= 1


def test_images_in_hidden_sub_folders_are_not_read_as_hidden_files_are_not(tmp_path):
    """A notebook's `.ipynb_checkpoints/` or a file manager's `.thumbnails/` inside trainA held copies of its
    images, and they were trained on; a glob that names the hidden folder still finds them."""
    from cyclegan.data.io import glob_files, left_out

    root = tmp_path / ".data"  # the folder given may itself be hidden
    for name in ("a.png", "sub/b.png", ".ipynb_checkpoints/a-checkpoint.png", ".thumbnails/big/a.png", ".c.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        save(root / name, Image.fromarray(RGB))
    assert list_images(root) == [root / "a.png", root / "sub" / "b.png"]
    assert left_out(root) == []
    assert glob_files(f"{root}/**/.thumbnails/**/*.png") == [root / ".thumbnails" / "big" / "a.png"]


def test_a_sub_folder_that_cannot_be_listed_is_named_not_dropped_unseen(tmp_path, monkeypatch):
    """trainA/batch2 without read permission (copied with sudo) was skipped without a word: half a domain gone."""
    import os

    from cyclegan.data.io import find_images, left_out

    for name in ("a.png", "batch2/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        save(tmp_path / name, Image.fromarray(RGB))
    scandir = os.scandir

    def denied(path):  # as for a user without permission (chmod has no effect on root, who runs CI containers)
        if str(path).endswith("batch2"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    locked = tmp_path / "batch2"
    assert left_out(tmp_path) == [f"skipping {locked}: a folder that cannot be read (its permissions?)"]
    skipped: list[str] = []
    assert find_images(tmp_path, skipped=skipped) == [tmp_path / "a.png"]
    assert skipped == [f"{locked}: a folder that cannot be read (its permissions?), skipped"]


def test_a_link_to_a_folder_above_is_not_entered_and_is_named(tmp_path, dataset):
    """trainA/up -> .. (a loop) was followed: it holds trainB, whose images were read as trainA's (and testA's,
    testB's), without a word. It is not entered, and named where a folder's left-out files are; a link to the
    folder itself or to one beside it is followed as before."""
    from cyclegan.data.io import left_out

    (dataset / "trainA" / "up").symlink_to("..", target_is_directory=True)
    (dataset / "trainA" / "self").symlink_to(".", target_is_directory=True)  # the folder again: read once
    (dataset / "trainA" / "tests").symlink_to("../testA", target_is_directory=True)  # beside it: followed
    files = list_images(dataset / "trainA")
    assert {p.parent.name for p in files} == {"trainA", "tests"} and len(files) == 5 + 3
    assert left_out(dataset / "trainA") == [
        f"skipping {dataset / 'trainA' / 'up'}: a link to {dataset.resolve()}, a folder above it (a loop): not entered"
    ]


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(CycleGANError, match="does not exist"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(CycleGANError, match="holds no images"):
        list_images(tmp_path / "empty")


def test_train_transform_shape_range_and_seeded_augmentation():
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3), np.uint8))
    a = train_transform(im, size=32, load_size=36, flip=True, gen=torch.Generator().manual_seed(1))
    b = train_transform(im, size=32, load_size=36, flip=True, gen=torch.Generator().manual_seed(1))
    assert a.shape == (3, 32, 32) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    others = [
        train_transform(im, size=32, load_size=36, flip=True, gen=torch.Generator().manual_seed(s)) for s in range(8)
    ]
    assert any(not torch.equal(a, o) for o in others)  # crops and flips vary with the seed


def test_unpaired_sampling_is_seeded_independent_and_covers_each_epoch(tmp_path):
    fa = make_images(tmp_path / "a", 5, seed=0)
    fb = make_images(tmp_path / "b", 8, seed=1)
    ds = UnpairedTrainSet(fa, fb, size=16, load_size=16, flip=False, seed=3, batch_size=2)
    assert ds.steps_per_epoch == 4 and ds.samples_per_epoch == 8
    epoch0 = [ds._index(1, g) for g in range(8)]
    assert sorted(epoch0) == list(range(8))  # the larger domain: each image once per epoch
    a0 = [ds._index(0, g) for g in range(8)]
    assert sorted(a0[:5]) == list(range(5))  # the smaller: whole permutations, repeated
    assert [ds._index(1, g) for g in range(8, 16)] != epoch0  # a new order each epoch
    again = UnpairedTrainSet(fa, fb, size=16, load_size=16, flip=False, seed=3, batch_size=2)
    assert [again._index(1, g) for g in range(8)] == epoch0  # same seed, same order
    other = UnpairedTrainSet(fa, fb, size=16, load_size=16, flip=False, seed=4, batch_size=2)
    assert [other._index(1, g) for g in range(8)] != epoch0
    x, y = ds[3]
    assert x.shape == y.shape == (3, 16, 16)


def test_max_pixels_above_pillows_own_cap_is_honoured(tmp_path, monkeypatch):
    """Pillow refuses a header of over twice Image.MAX_IMAGE_PIXELS (179 MP) while opening it, before the decode
    cap is asked: `--max-pixels 500000000` could not read a 20000 x 20000 image ('could be decompression bomb
    DOS attack'). Pillow's cap is lowered here (to 1000, so refusing over 2000) to test that with 10,000 pixels."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    p = tmp_path / "a.png"
    Image.fromarray(np.full((100, 100, 3), 7, np.uint8)).save(p)
    assert read_image(p, max_pixels=20_000).size == (100, 100)  # a cap above Pillow's: read
    assert Image.MAX_IMAGE_PIXELS == 1000  # for that open only: Pillow's cap is a global other readers keep
    assert check_images([p], skip_bad=False, desc="x", max_pixels=20_000)[0] == [p]
    for cap in (5000, 1000):  # under the image: refused in the cap's words, whichever check comes first
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        for err in (
            lambda cap=cap: read_image(p, max_pixels=cap),
            lambda cap=cap: check_images([p], skip_bad=False, desc="x", max_pixels=cap),
        ):
            with pytest.raises(
                CycleGANError, match=f"cannot read image .*a.png: .* over the decode cap of {cap} pixels"
            ):
                err()


def test_a_header_over_pillows_cap_is_refused_naming_the_pixels_it_declares(tmp_path):
    """A PNG whose header declares 30000 x 30000 (a 74-byte decompression bomb) was said to declare "over 200 MP"."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    p = tmp_path / "bomb.png"
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b""))
    expected = f"^cannot read image {p}: it declares 900 MP \\(900000000 pixels\\), over the decode cap of 100000000"
    for err in (lambda: read_image(p), lambda: check_images([p], skip_bad=False, desc="x")):
        with pytest.raises(CycleGANError, match=expected):
            err()


def test_a_refusal_over_the_decode_cap_says_how_to_read_the_image(tmp_path, tiny_cfg, dataset):
    """The refusal named the cap but not `--max-pixels`, the option that raises it: a command with the option names
    it (training too, since it has `--max-pixels`), the Python API its keyword; `bench --photo`, which has none, says
    to resize the image (test_bench)."""
    import cyclegan
    from cyclegan.train.inputs import training_images
    from helpers import save_tiny_checkpoint

    p = save(tmp_path / "a.png", Image.fromarray(RGB))
    for refuse in (
        lambda: read_image(p, max_pixels=100),
        lambda: check_images([p], skip_bad=False, desc="x", max_pixels=100),  # as evaluate checks its split
    ):
        with pytest.raises(CycleGANError, match=r"over the decode cap of 100 pixels; give a larger --max-pixels to"):
            refuse()
    G = cyclegan.load_generator(save_tiny_checkpoint(tmp_path / "tiny.pt"))
    with pytest.raises(CycleGANError, match=r"cap of 100 pixels; give a larger max_pixels to read it$"):
        cyclegan.translate(G, p, max_pixels=100)
    big = dataset / "trainA" / "big.png"  # a header of 30000 x 30000, over training's default cap of 100 MP
    chunks = [(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)), (b"IDAT", zlib.compress(bytes(9)))]
    big.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)
    )
    with pytest.raises(CycleGANError, match=r"100000000 pixels; give a larger max_pixels to read it \(remove it, or"):
        training_images(tiny_cfg(), progress=False, main=True)


def test_a_webp_cut_short_is_said_to_be_damaged(tmp_path):
    """A truncated WebP was "cannot read image x.webp: could not create decoder object"."""
    p = save(tmp_path / "x.webp", Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)))
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(CycleGANError, match=r"x\.webp: its image data is damaged \(could not create decoder object\)$"):
        read_image(p)


def test_training_names_the_pages_of_a_multi_page_tiff_it_leaves_out(tmp_path, capsys):
    """A 3-page TIFF in trainA was trained on as its first page without a word (translate and stylize name the
    frames they leave out); one line names each such image, and a one-page image is not named."""
    from cyclegan.config import resolve
    from cyclegan.train.inputs import training_images

    for seed, domain in enumerate(("trainA", "trainB")):
        make_images(tmp_path / "data" / domain, 2, seed=seed)
    pages = [Image.new("RGB", (40, 40), c) for c in ("red", "green", "blue")]
    pages[0].save(tmp_path / "data" / "trainA" / "scan.tiff", save_all=True, append_images=pages[1:])
    training_images(resolve({**TINY, "data": str(tmp_path / "data")}), progress=False, main=True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: 1 image holds several frames" in err
    assert (
        "training reads only the first of each" in err
        and f"{tmp_path / 'data' / 'trainA' / 'scan.tiff'} (3 frames)" in err
    )


def test_copies_are_found_by_their_bytes_whatever_their_names_and_sizes(tmp_path):
    """Files of one size that differ only past their first 64 KiB are no copies; a copy under another name is."""
    from cyclegan.data.io import same_files

    head = bytes(1 << 16)
    files = {"a/x.bmp": head + b"1", "a/y.bmp": head + b"2", "b/z.bmp": head + b"2", "b/w.bmp": head + b"3"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    a, b = [tmp_path / "a" / n for n in ("x.bmp", "y.bmp")], [tmp_path / "b" / n for n in ("z.bmp", "w.bmp")]
    assert same_files(a, b) == [(tmp_path / "a" / "y.bmp", tmp_path / "b" / "z.bmp")]
    assert same_files(a, [tmp_path / "b" / "w.bmp", tmp_path / "gone.bmp"]) == []


def test_copies_are_found_alike_from_the_checks_digests_and_from_the_bytes(tmp_path, monkeypatch):
    """The copy check (`identical_files`) takes the image check's digests where it has them (training's folders,
    read once) and reads the other files whole: the groups are the ones a read of every file gives, a file with a
    digest and its copy without one too."""
    import cyclegan.data.io as io_module
    from cyclegan.data.io import identical_files

    data = {"a/x.bmp": b"1" * 70_000, "a/y.bmp": b"2" * 70_000, "b/z.bmp": b"2" * 70_000, "b/w.bmp": b"1" * 70_000}
    for name, content in data.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    a, b = [tmp_path / "a" / n for n in ("x.bmp", "y.bmp")], [tmp_path / "b" / n for n in ("z.bmp", "w.bmp")]
    read = identical_files(a, b)
    assert read == [[(0, a[0]), (1, b[1])], [(0, a[1]), (1, b[0])]]
    digests = {p: io_module.Digested(70_000, 0, io_module.file_digest(p)) for p in (*a, b[0])}  # none of b/w.bmp
    opened, real = [], io_module.file_digest
    monkeypatch.setattr(io_module, "file_digest", lambda path, **kw: opened.append(path) or real(path, **kw))
    assert identical_files(a, b, digests=digests) == read and opened == [b[1]]


def test_one_copy_between_domains_is_named_in_the_singular(tmp_path):
    """One of trainB's images a copy of trainA's read "1 of ...'s 2 images are copies of ..."; now "is a copy", as
    the warning for copies within one folder says."""
    from cyclegan.data.io import copies_between

    a, b = tmp_path / "trainA", tmp_path / "trainB"
    files = {a / "x.png": b"1", a / "y.png": b"2", b / "z.png": b"2", b / "w.png": b"3"}
    for path, data in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    line, whole = copies_between(a, b, [a / "x.png", a / "y.png"], [b / "z.png", b / "w.png"])
    assert line == f"1 of {b}'s 2 images is a copy of {a}'s (2): {b / 'z.png'} = {a / 'y.png'}" and not whole


def test_premultiplied_alpha_modes_are_put_on_white_as_their_straight_alpha_is():
    """A PIL image in La (premultiplied grey and alpha) was Pillow's raw "conversion from La to L not supported",
    and one in RGBa came out with its transparency dropped, not composited on white as RGBA is."""
    from cyclegan.data.io import to_rgb

    rgba = Image.new("RGBA", (3, 2), (100, 40, 200, 128))
    la = Image.new("LA", (3, 2), (100, 128))
    for straight, mode in ((rgba, "RGBa"), (la, "La")):
        got = np.asarray(to_rgb(straight.convert(mode))).astype(int)
        assert np.abs(got - np.asarray(to_rgb(straight)).astype(int)).max() <= 2, mode
