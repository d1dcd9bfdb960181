"""`cyclegan datasets`: download from a loopback HTTP mirror, resume, verify, and extract safely.

No network beyond 127.0.0.1: a threaded http.server (`helpers.RangeServer`) serves archives built here, with
HTTP Range support that can be switched off and a mode that drops the connection half-way.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import re
import stat
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cyclegan.data.download as download_module
from cyclegan.cli import main
from cyclegan.data.download import CATALOGUE, DownloadOptions, download
from cyclegan.errors import CycleGANError
from helpers import RangeServer, serving

NAME = "horse2zebra"


@pytest.fixture
def mirror():
    with serving(RangeServer("/datasets")) as srv:
        yield srv


def payload(i: int) -> bytes:
    # Incompressible-ish bytes, so the archive spans many 64 KiB chunks and a resume has work to do.
    return hashlib.sha256(str(i).encode()).digest() * 1024  # 32 KiB


def make_zip(entries: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix, so the mode bits count
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


GOOD_ENTRIES = {
    f"{NAME}/{split}/{split}_{i}.jpg": payload(10 * k + i)
    for k, split in enumerate(("trainA", "trainB", "testA", "testB"))
    for i in range(2)
}


def good_zip() -> bytes:
    return make_zip(GOOD_ENTRIES)


def serve(mirror: RangeServer, data: bytes, name: str = NAME) -> None:
    mirror.files[f"/datasets/{name}.zip"] = data


def assert_layout(root: Path) -> None:
    for entry, data in GOOD_ENTRIES.items():
        assert (root / entry).read_bytes() == data
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]  # no .part, no temp folder left


def fetch(mirror: RangeServer, root: Path, **kw):
    return download(DownloadOptions(NAME, str(root), base_url=mirror.base_url, progress=False, **kw))


# --- the happy paths -----------------------------------------------------------------------------------


def test_list_names_the_standard_sets(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "horse2zebra",
        "monet2photo",
        "summer2winter_yosemite",
        "apple2orange",
        "cezanne2photo",
        "ukiyoe2photo",
        "vangogh2photo",
        "iphone2dslr_flower",
        "maps",
        "facades",
    ):
        assert name in out and name in CATALOGUE
    assert "efrosgans.eecs.berkeley.edu/cyclegan/datasets/NAME.zip" in out


def test_a_mirror_address_with_a_query_keeps_it_after_the_files_name(mirror, tmp_path):
    """`--base-url 'https://host/datasets?token=T'` (a mirror that asks for a token or a signature) fetched
    `https://host/datasets?token=T/NAME.zip`: the name was appended to the query, and the server answered 404."""
    from cyclegan.zoo import model_url

    query = "?token=a%2Fb&expires=1"
    mirror.files[f"/datasets/{NAME}.zip{query}"] = good_zip()
    download(DownloadOptions(NAME, str(tmp_path / "d"), base_url=f"{mirror.base_url}{query}", progress=False))
    assert_layout(tmp_path / "d")
    assert mirror.requests == [(f"/datasets/{NAME}.zip{query}", None)]
    assert model_url("x y", "https://h/models/?sig=1#part") == "https://h/models/x%20y.pth?sig=1"  # no fragment


@pytest.mark.slow
def test_a_mirror_address_token_is_kept_out_of_every_message(mirror, tmp_path, capsys):
    """`--base-url 'http://host/datasets?token=T'`: the token was printed whole in every error and warning (in
    logs and screenshots); now the query shows as `?...`, and the full address is still the one fetched."""
    token = "token=SECRET"
    base = f"{mirror.base_url}?{token}"
    args = ["datasets", "download", NAME, "--root", str(tmp_path / "d"), "--base-url", base, "--no-progress"]
    assert main(args) != 0  # nothing served: HTTP 404
    mirror.files[f"/datasets/{NAME}.zip?{token}"] = b"not a zip"
    assert main(args) != 0  # not an archive: refused naming its address
    assert main([*args[:-2], "ftp://host/datasets?" + token]) != 0  # no http(s) address
    err = capsys.readouterr().err
    assert "SECRET" not in err
    assert f"download of {mirror.base_url}/{NAME}.zip?... failed: HTTP 404" in err
    assert f"{mirror.base_url}/{NAME}.zip?... is not a readable zip archive" in err
    assert "'ftp://host/datasets?...'" in err
    assert [path for path, _ in mirror.requests] == [f"/datasets/{NAME}.zip?{token}"] * 2


@pytest.mark.slow
def test_download_from_a_mirror_extracts_the_layout(mirror, tmp_path, capsys):
    # the counts are of images: a split's readme, list of names or hidden folder counted as images before
    extra = {f"{NAME}/trainA/README.txt": b"r", f"{NAME}/trainA/.cache/x.jpg": b"c", f"{NAME}/testB/list.csv": b"l"}
    serve(mirror, make_zip({**GOOD_ENTRIES, **extra}))
    root = tmp_path / "data"
    args = ["datasets", "download", NAME, "--root", str(root), "--base-url", mirror.base_url, "--no-progress"]
    assert main(args) == 0
    assert_layout(root)
    assert "(images: trainA 2, trainB 2, testA 2, testB 2)" in capsys.readouterr().out
    assert mirror.requests == [(f"/datasets/{NAME}.zip", None)]
    # A second run finds it and fetches nothing.
    assert main(args) == 0
    assert "already there" in capsys.readouterr().out and len(mirror.requests) == 1


@pytest.mark.slow
def test_partial_download_resumes_with_a_range_request(mirror, tmp_path):
    data = good_zip()
    serve(mirror, data)
    half = len(data) // 2
    (tmp_path / f".{NAME}.zip.part").write_bytes(data[:half])
    result = fetch(mirror, tmp_path)
    assert mirror.requests == [(f"/datasets/{NAME}.zip", f"bytes={half}-")]
    assert result.resumed_from == half and result.bytes_fetched == len(data) - half
    assert_layout(tmp_path)


@pytest.mark.slow
def test_a_resume_answered_from_another_byte_starts_again_from_zero(mirror, tmp_path, capsys):
    """Before: the bytes of a 206 from another start than asked were written as the whole file, and the
    archive was refused later as damaged and deleted; now the answer is checked at once."""
    data = good_zip()
    serve(mirror, data)
    mirror.range_start[f"/datasets/{NAME}.zip"] = 1000  # a mirror's cache that answers from its own byte
    (tmp_path / f".{NAME}.zip.part").write_bytes(data[:5000])
    result = fetch(mirror, tmp_path)
    assert mirror.requests == [(f"/datasets/{NAME}.zip", "bytes=5000-"), (f"/datasets/{NAME}.zip", None)]
    assert result.resumed_from == 0 and result.bytes_fetched == len(data)
    err = capsys.readouterr().err
    assert "sent from byte 1000 when byte 5000 was asked; starting again from byte 0" in err
    assert err.count("\n") == 1
    assert_layout(tmp_path)


def test_a_206_from_another_byte_to_a_request_for_the_whole_file_is_refused(tmp_path, monkeypatch):
    """With nothing to resume, starting again would ask the same: refused in one line, nothing written."""
    import cyclegan.data.fetch as fetch_module

    class Partial(io.BytesIO):  # what urllib's response is to fetch: a status, headers, read1
        status, headers = 206, {"Content-Range": "bytes 1000-1999/2000"}

    monkeypatch.setattr(fetch_module, "_open", lambda *a, **k: Partial(bytes(1000)))
    part = tmp_path / ".x.zip.part"
    with pytest.raises(CycleGANError, match=r"sent from byte 1000 when the whole file was asked \(HTTP 206\)"):
        fetch_module.fetch("http://127.0.0.1:9/x.zip", part, progress=False)
    assert not part.exists()


class _PlainAsHttps(http.client.HTTPConnection):
    """https:// spoken as plain HTTP to the loopback server: urllib takes the address for an https one."""

    def __init__(self, host, *, context=None, check_hostname=None, **kwargs):
        super().__init__(host, **kwargs)


@pytest.mark.slow
def test_the_public_servers_https_redirected_to_http_says_what_to_run(mirror, tmp_path, monkeypatch, capsys):
    """The datasets' default address is https, the models' http on the same host: a server redirecting https to
    http refused `datasets download`, saying only "give the http:// address yourself"; now the line is the
    option and address to run again with, and running it downloads."""
    monkeypatch.setattr(http.client, "HTTPSConnection", _PlainAsHttps)
    https = mirror.base_url.replace("http://", "https://", 1)
    monkeypatch.setattr(download_module, "DEFAULT_BASE_URL", https)
    serve(mirror, good_zip(), name=f"plain/{NAME}")
    mirror.redirect[f"/datasets/{NAME}.zip"] = f"{mirror.base_url}/plain/{NAME}.zip"
    args = ["datasets", "download", NAME, "--root", str(tmp_path), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.endswith(f"; to accept plain http, run again with --base-url {mirror.base_url}\n")
    assert main([*args, *err.rstrip().rsplit(" ", 2)[-2:]]) == 0
    assert_layout(tmp_path)


@pytest.mark.slow
def test_dropped_connection_then_resume(mirror, tmp_path):
    data = good_zip()
    serve(mirror, data)
    mirror.cut[f"/datasets/{NAME}.zip"] = 100_000
    with pytest.raises(CycleGANError, match="stopped after 100000 of .* bytes .*run the same command again"):
        fetch(mirror, tmp_path)
    assert (tmp_path / f".{NAME}.zip.part").stat().st_size == 100_000 and not (tmp_path / NAME).exists()
    result = fetch(mirror, tmp_path)
    assert mirror.requests[-1][1] == "bytes=100000-" and result.resumed_from == 100_000
    assert_layout(tmp_path)


@pytest.mark.slow
def test_server_without_range_support_starts_over(mirror, tmp_path):
    serve(mirror, good_zip())
    mirror.honour_range = False
    (tmp_path / f".{NAME}.zip.part").write_bytes(b"stale bytes from another file")
    assert fetch(mirror, tmp_path).resumed_from == 0
    assert_layout(tmp_path)


@pytest.mark.slow
def test_complete_part_file_is_not_fetched_again(mirror, tmp_path):
    data = good_zip()
    serve(mirror, data)
    (tmp_path / f".{NAME}.zip.part").write_bytes(data)
    fetch(mirror, tmp_path)  # the server answers 416 with the full size: nothing left to send
    assert_layout(tmp_path)


@pytest.mark.slow
def test_archive_without_a_top_folder_becomes_root_name(mirror, tmp_path):
    serve(mirror, make_zip({"trainA/a.png": b"a", "trainB/b.png": b"b"}))
    result = fetch(mirror, tmp_path)
    assert result.path == tmp_path / NAME and (tmp_path / NAME / "trainB" / "b.png").read_bytes() == b"b"


@pytest.mark.slow
def test_sha256_is_checked(mirror, tmp_path):
    data = good_zip()
    serve(mirror, data)
    with pytest.raises(CycleGANError, match="SHA-256 .* expected 0{64}.*deleted"):
        fetch(mirror, tmp_path / "bad", sha256="0" * 64)
    assert not (tmp_path / "bad" / NAME).exists() and not (tmp_path / "bad" / f".{NAME}.zip.part").exists()
    fetch(mirror, tmp_path / "ok", sha256=hashlib.sha256(data).hexdigest().upper())
    assert_layout(tmp_path / "ok")


# --- what is refused -----------------------------------------------------------------------------------

MALICIOUS = {
    "dot-dot": ({"../evil.txt": b"pwned"}, None, "climbs out of the root"),
    "dot-dot inside": ({f"{NAME}/trainA/../../../evil.txt": b"pwned"}, None, "climbs out of the root"),
    "absolute": ({"/tmp/cyclegan-test-evil.txt": b"pwned"}, None, "has an absolute path"),
    "backslash dot-dot": ({"..\\evil.txt": b"pwned"}, None, "climbs out of the root"),
    "symlink": ({}, {f"{NAME}/trainA/link.jpg": "/etc/passwd"}, "is a symbolic link"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_archive_is_refused_whole(mirror, tmp_path, case):
    entries, links, reason = MALICIOUS[case]
    # Good entries first: a refusal must come before anything is written, not half-way.
    serve(mirror, make_zip({**GOOD_ENTRIES, **entries}, links=links))
    root = tmp_path / "data"
    with pytest.raises(CycleGANError) as info:
        fetch(mirror, root)
    message = str(info.value)
    bad = next(iter(entries or links))
    assert message.startswith("refusing to extract") and f"'{bad}' {reason}" in message and "\n" not in message
    assert not root.exists()  # no NAME/, no temp folder, bad archive deleted: the root the download made, gone
    assert not list(tmp_path.rglob("evil.txt")) and not Path("/tmp/cyclegan-test-evil.txt").exists()


@pytest.mark.slow
def test_malicious_archive_through_the_cli(mirror, tmp_path, capsys):
    serve(mirror, make_zip({"../evil.txt": b"pwned"}))
    rc = main(["datasets", "download", NAME, "--root", str(tmp_path / "d"), "--base-url", mirror.base_url])
    err = capsys.readouterr().err  # the progress bar, then one line
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and errors[0].startswith("error: refusing to extract")
    assert err.rstrip().endswith(errors[0]) and "Traceback" not in err


@pytest.mark.slow
def test_not_a_zip_and_corrupt_entries_are_refused(mirror, tmp_path):
    serve(mirror, b"<html>a captive portal page, not a zip</html>")
    with pytest.raises(CycleGANError, match="not a readable zip archive"):
        fetch(mirror, tmp_path / "a")
    data = bytearray(good_zip())
    at = data.index(payload(0)[:32]) + 1000  # inside the first entry's stored bytes
    data[at] ^= 0xFF
    serve(mirror, bytes(data))
    with pytest.raises(CycleGANError, match="fails its CRC check"):
        fetch(mirror, tmp_path / "b")
    assert not (tmp_path / "b" / NAME).exists()


@pytest.mark.slow
@pytest.mark.parametrize("planted", [f".{NAME}.zip.part", f".{NAME}.zip.part.json"])
def test_a_partial_download_that_is_a_symbolic_link_is_refused_and_its_target_left_whole(mirror, tmp_path, planted):
    """`.NAME.zip.part` planted in a shared --root as a link to a user's file: the archive's bytes were appended to
    that file (and `.part.json`, the server's record, written over it)."""
    serve(mirror, good_zip())
    precious = tmp_path / "notes.txt"
    precious.write_text("a week of notes")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / planted).symlink_to(precious)
    with pytest.raises(CycleGANError, match=f"^{re.escape(str(tmp_path / 'data' / planted))} is a symbolic link, "):
        fetch(mirror, tmp_path / "data")
    assert precious.read_text() == "a week of notes"


@pytest.mark.slow
def test_a_password_protected_archive_is_refused_in_one_line(mirror, tmp_path, capsys):
    """An encrypted entry made zipfile's testzip raise RuntimeError ("password required"): a traceback."""
    data = bytearray(good_zip())
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # every entry's local and central header
        at = data.find(header)
        while at >= 0:
            data[at + flags_at] |= 0x1  # the "encrypted" flag bit
            at = data.find(header, at + 4)
    serve(mirror, bytes(data))
    rc = main(["datasets", "download", NAME, "--root", str(tmp_path / "d"), "--base-url", mirror.base_url])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"error: refusing to extract {mirror.base_url}/{NAME}.zip: entry '{next(iter(GOOD_ENTRIES))}' is encrypted "
        "(a password-protected archive); the download was deleted"
    )
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "entries, expected, kept",
    [
        ({f"{NAME}/trainA": b"a file", f"{NAME}/trainA/a.jpg": b"x"}, "needs a folder where another entry is", False),
        ({f"{NAME}/trainA": b"a file", f"{NAME}/trainA/": b""}, "needs a folder where another entry is", False),
        ({f"{NAME}/trainA/{'a' * 300}.jpg": b"x"}, "File name too long; nothing was extracted, the download is", True),
    ],
    ids=["file-then-file-inside", "file-then-folder", "name-too-long"],
)
def test_an_archive_this_file_system_cannot_hold_is_one_line(mirror, tmp_path, entries, expected, kept):
    """Entries that clash (a file where a later one needs a folder) or a name the file system refuses: a raw
    FileExistsError or OSError traceback, and the half-extracted folder removed only by the next run."""
    serve(mirror, make_zip({**entries, **GOOD_ENTRIES}))  # the clash first: a good entry is the second of it
    with pytest.raises(CycleGANError, match=expected) as info:
        fetch(mirror, tmp_path)
    assert "\n" not in str(info.value) and not (tmp_path / NAME).exists()
    assert not list(tmp_path.glob(f".{NAME}.extracting.*"))
    assert (tmp_path / f".{NAME}.zip.part").exists() == kept  # a refused archive is deleted, as a bad one is


@pytest.mark.slow
def test_a_folder_where_the_part_file_goes_is_one_line_before_any_request(mirror, tmp_path):
    """Its size (4096) was taken for bytes to resume from: 'stopped after 4096 bytes (Is a directory); run
    the same command again to resume', or a raw IsADirectoryError when the archive is smaller than that."""
    serve(mirror, make_zip({f"{NAME}/trainA/a.jpg": b"x"}))
    (tmp_path / f".{NAME}.zip.part").mkdir()
    with pytest.raises(CycleGANError, match=rf"\.{NAME}\.zip\.part is a folder, where the download of .* goes"):
        fetch(mirror, tmp_path)
    assert mirror.requests == []


@pytest.mark.slow
@pytest.mark.parametrize("to", ["an empty folder", "nothing"])
def test_a_link_where_the_dataset_goes_is_one_line_before_any_request(mirror, tmp_path, to):
    """ROOT/NAME linked to an empty folder on another disk (or to nothing): a raw NotADirectoryError from
    removing it, or one from the final rename after the whole archive was fetched."""
    serve(mirror, good_zip())
    elsewhere = tmp_path / "other-disk"
    if to == "an empty folder":
        elsewhere.mkdir()
    (tmp_path / NAME).symlink_to(elsewhere)
    with pytest.raises(CycleGANError, match=f"{NAME} is a symbolic link .* a download cannot go through a link"):
        fetch(mirror, tmp_path)
    assert mirror.requests == [] and (tmp_path / NAME).is_symlink()


@pytest.mark.parametrize(
    "name, base, expected",
    [
        ("horse2zebr", None, "unknown dataset 'horse2zebr'; did you mean 'horse2zebra'?"),
        ("cityscapes", None, "cannot be downloaded from the public server"),
        ("horse2zebra", "ftp://example.org", "expected an http:// or https:// address"),
        # urllib's ValueError was a traceback
        ("horse2zebra", "http://[::1", "option '--base-url' 'http://[::1': not a valid address (Invalid IPv6 URL)"),
        ("horse2zebra", "http://x:99999", "not a valid address (Port out of range 0-65535)"),
        ("../x", "http://127.0.0.1:9", "expected letters, digits"),
    ],
)
def test_bad_names_and_urls_are_refused_before_any_request(tmp_path, name, base, expected):
    with pytest.raises(CycleGANError, match=re.escape(expected)):
        download(DownloadOptions(name, str(tmp_path), base_url=base, progress=False))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_missing_file_on_the_mirror(mirror, tmp_path):
    with pytest.raises(CycleGANError, match="HTTP 404 .*check the dataset name or --base-url"):
        fetch(mirror, tmp_path)
    with pytest.raises(CycleGANError, match="HTTP 404"):
        fetch(mirror, tmp_path / "new" / "root")
    assert not (tmp_path / "new").exists()  # the folders made for a download that fetched nothing: removed


def test_bad_sha256_option(tmp_path):
    with pytest.raises(CycleGANError, match="option '--sha256'"):
        download(DownloadOptions(NAME, str(tmp_path), base_url="http://127.0.0.1:9", sha256="abc", progress=False))


# --- zip bombs, leftovers, one download at a time -----------------------------------------------------------


def bomb_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{NAME}/trainA/a.jpg", b"\0" * (16 << 20))  # 16 MiB of zeros in about 16 KiB
    return buf.getvalue()


@pytest.mark.slow
def test_a_zip_bomb_is_refused_in_one_line_before_extracting(mirror, tmp_path, capsys):
    serve(mirror, bomb_zip())
    root = tmp_path / "d"
    rc = main(["datasets", "download", NAME, "--root", str(root), "--base-url", mirror.base_url, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        f"error: refusing to extract {mirror.base_url}/{NAME}.zip: entry '{NAME}/trainA/a.jpg' expands"
    )
    assert "'--max-ratio'" in err
    assert not root.exists()  # nothing extracted, the bomb deleted, no lock left: the root it made removed


@pytest.mark.slow
def test_the_archive_limits_are_options(mirror, tmp_path):
    serve(mirror, good_zip())  # 256 KiB of incompressible entries
    with pytest.raises(CycleGANError, match=r"expands to 0.000262 GB, more than the 0.0001 GB allowed"):
        fetch(mirror, tmp_path / "a", max_size_gb=0.0001)
    serve(mirror, bomb_zip())
    assert fetch(mirror, tmp_path / "b", max_ratio=10_000).downloaded  # a user who knows the archive


@pytest.mark.slow
def test_an_archive_of_too_many_entries_is_refused_in_one_line_and_kept(mirror, tmp_path, capsys):
    """Before: no bound on the entries (a zip of ten million empty files: minutes to read its directory, ten
    million inodes written); now refused from the zip's end record, the download kept to extract by hand."""
    serve(mirror, good_zip())  # 8 entries
    root = tmp_path / "d"
    args = ["datasets", "download", NAME, "--root", str(root), "--base-url", mirror.base_url, "--no-progress"]
    assert main([*args, "--max-entries", "7"]) == 2
    err = capsys.readouterr().err
    part = root / f".{NAME}.zip.part"
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        f"error: refusing to extract {mirror.base_url}/{NAME}.zip: it holds 8 entries, more than the 7 allowed "
        f"(option '--max-entries'); kept as {part}: extract it yourself if you trust it (unzip {part} -d {root})"
    )
    assert part.read_bytes() == good_zip() and not (root / NAME).exists()
    # an end record that says fewer entries than its directory holds: counted again from the directory
    lying = bytearray(good_zip())
    end = lying.rindex(b"PK\x05\x06")
    lying[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # entries on this disk, entries in all
    serve(mirror, bytes(lying), name="liar")
    with pytest.raises(CycleGANError, match="it holds 8 entries, more than the 7 allowed"):
        download(DownloadOptions("liar", str(tmp_path / "e"), base_url=mirror.base_url, progress=False, max_entries=7))
    # the kept archive, allowed: extracted without fetching it again
    requests = len(mirror.requests)
    assert main([*args, "--max-entries", "8"]) == 0
    assert_layout(root)
    assert mirror.requests[requests:] == [(f"/datasets/{NAME}.zip", f"bytes={len(good_zip())}-")]


def test_the_entry_count_is_read_from_the_end_records_alone(tmp_path, monkeypatch):
    """--max-entries refuses an archive before zipfile reads its directory (ten million entries: gigabytes): the
    count comes from the end record, zip64's where it has one, read from the archive's last bytes."""
    from cyclegan.data.archive import announced_entries

    def count(data: bytes) -> int | None:
        (path := tmp_path / "a.zip").write_bytes(data)
        return announced_entries(path)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in GOOD_ENTRIES.items():
            zf.writestr(name, data)
        zf.comment = b"made by hand " * 5000  # the record is found before a comment of up to 64 KiB
    assert count(buf.getvalue()) == len(GOOD_ENTRIES) == 8
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 4)  # zipfile writes zip64's records past it
    data = bytearray(good_zip())
    monkeypatch.undo()
    end = data.rindex(b"PK\x05\x06")
    assert data[end - 20 : end - 16] == b"PK\x06\x07"
    data[end + 8 : end + 12] = b"\xff\xff" * 2  # the 16-bit counts say "see zip64's", as past 65535 entries
    assert count(bytes(data)) == 8
    assert count(good_zip()[:-30]) is None  # cut short: no end record
    assert count(b"") is None


def test_a_zip64_end_record_zipfile_refuses_is_the_one_line_of_an_unreadable_zip(tmp_path):
    """Before: the entry count read from a zip64 locator naming a second disk raised zipfile's BadZipFile (a
    traceback) before the check that names an unreadable zip; now that check says it, and the download goes."""
    data = make_zip({"a.txt": b"x"})
    end = data.rindex(b"PK\x05\x06")
    part = tmp_path / "spanned.zip"
    part.write_bytes(data[:end] + struct.pack("<4sLQL", b"PK\x06\x07", 1, 0, 2) + data[end:])
    from cyclegan.data.archive import verify_archive

    with pytest.raises(CycleGANError, match="^x.zip is not a readable zip archive .*spans? multiple disks"):
        verify_archive(part, url="x.zip", total=None, sha256=None)
    assert not part.exists()


@pytest.mark.slow
def test_a_download_removes_half_extracted_folders_of_an_earlier_one(mirror, tmp_path):
    stale = tmp_path / f".{NAME}.extracting.k2j4h5g6"  # what a download killed while extracting leaves
    (stale / NAME / "trainA").mkdir(parents=True)
    (stale / NAME / "trainA" / "half.jpg").write_bytes(b"half")
    other = tmp_path / ".other.extracting.abcdefgh"  # another dataset's: not this download's to remove
    other.mkdir()
    serve(mirror, good_zip())
    fetch(mirror, tmp_path)
    assert not stale.exists() and other.exists()
    other.rmdir()
    assert_layout(tmp_path)


@pytest.mark.slow
def test_one_download_of_a_dataset_into_a_root_at_a_time(mirror, tmp_path):
    import os

    from cyclegan.files import FolderLock

    lock = FolderLock(tmp_path, f".{NAME}.lock")
    assert lock.acquire()
    try:
        with pytest.raises(
            CycleGANError, match=f"another download of {NAME} into {tmp_path} is running \\(PID {os.getpid()}\\)"
        ):
            fetch(mirror, tmp_path)
    finally:
        lock.release()
    assert mirror.requests == []


@pytest.mark.slow
def test_a_connection_cut_before_the_first_byte_leaves_no_root_behind(mirror, tmp_path):
    """The record of what the server said of the file (for a resume to check) is written with its first
    bytes: written before, it outlived the empty .part and kept the --root this download made."""
    serve(mirror, good_zip())
    mirror.cut[f"/datasets/{NAME}.zip"] = 0
    with pytest.raises(CycleGANError, match="stopped after 0 of"):
        fetch(mirror, tmp_path / "new" / "root")
    assert not (tmp_path / "new").exists()


def test_an_empty_part_file_is_removed_before_the_lock_is_let_go(tmp_path, monkeypatch):
    """A download that fetched nothing removes its empty .part while it still holds the lock: removed after,
    it could be the .part of a second download that took the lock in between (and is writing into it)."""
    from cyclegan.data import download as dl
    from cyclegan.files import FolderLock

    root = tmp_path / "new" / "root"
    part = root / f".{NAME}.zip.part"

    def nothing_arrives(url, part_path, **kwargs):
        part_path.touch()  # opened for writing, then the connection failed
        raise CycleGANError(f"cannot download {url}: connection refused")

    at_release = []
    real_release = FolderLock.release

    def release(self, *args, **kwargs):
        at_release.append(part.exists())
        return real_release(self, *args, **kwargs)

    monkeypatch.setattr(dl, "fetch", nothing_arrives)
    monkeypatch.setattr(FolderLock, "release", release)
    with pytest.raises(CycleGANError, match="connection refused"):
        download(DownloadOptions(NAME, str(root), base_url="http://127.0.0.1:9", progress=False))
    assert at_release == [False]  # already gone when the lock was let go
    assert not (tmp_path / "new").exists()  # and the folders this download made, as before


def test_an_empty_archive_is_refused_and_not_kept(mirror, tmp_path):
    serve(mirror, make_zip({f"{NAME}/trainA/": b""}))  # a folder and no file
    with pytest.raises(CycleGANError, match="refusing to extract .*holds no files"):
        fetch(mirror, tmp_path)
    assert not (tmp_path / NAME).exists() and not list(tmp_path.glob(".*"))  # nothing extracted, no .part kept


def test_an_archive_without_the_dataset_folders_is_one_line_naming_what_it_holds(mirror, tmp_path, capsys):
    serve(mirror, make_zip({f"{NAME}/photos/a.jpg": b"a", f"{NAME}/README.txt": b"r"}))
    args = ["datasets", "download", NAME, "--root", str(tmp_path), "--base-url", mirror.base_url, "--no-progress"]
    for _ in range(2):  # extracted, then already there: the same refusal both times (it was exit 0 with no hint)
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "none of trainA, trainB, testA, testB" in err and "README.txt, photos" in err
    assert (tmp_path / NAME / "photos" / "a.jpg").read_bytes() == b"a"  # kept: the user may arrange it


@pytest.mark.slow
@pytest.mark.parametrize("top", [f"{NAME}/{NAME}/", f"{NAME}/.DS_Store|{NAME}/data/"])
def test_an_archive_whose_top_folder_is_doubled_extracts_the_layout(mirror, tmp_path, capsys, top):
    """A mirror's zip of the folder that held NAME/ (NAME/NAME/trainA...) was extracted as ROOT/NAME/NAME and
    then refused as holding "none of trainA..."; the lone folders above the splits are now taken off."""
    hidden, _, top = top.rpartition("|")
    entries = {top + entry.partition("/")[2]: data for entry, data in GOOD_ENTRIES.items()}
    serve(mirror, make_zip({**entries, **({hidden: b"x"} if hidden else {})}))
    args = ["datasets", "download", NAME, "--root", str(tmp_path), "--base-url", mirror.base_url, "--no-progress"]
    assert main(args) == 0
    assert "(images: trainA 2, trainB 2, testA 2, testB 2)" in capsys.readouterr().out
    assert_layout(tmp_path)


@pytest.mark.slow
def test_a_lone_split_folder_is_not_taken_off(mirror, tmp_path):
    serve(mirror, make_zip({"trainA/a.png": b"a"}))  # one domain only: its folder stays trainA
    assert fetch(mirror, tmp_path).files == {"trainA": 1}


@pytest.mark.slow
def test_an_archive_inside_the_archive_is_named_as_one(mirror, tmp_path, capsys):
    serve(mirror, make_zip({f"{NAME}/{NAME}.zip": good_zip()}))
    args = ["datasets", "download", NAME, "--root", str(tmp_path), "--base-url", mirror.base_url, "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"holds another archive, {NAME}.zip" in err and "extract it into" in err


def test_a_root_with_a_newline_is_named_on_one_line(tmp_path, capsys):
    """`datasets download NAME --root $'a\\nb'` printed the dataset's path over two lines (`datasets synthetic`
    escapes it)."""
    (tmp_path / "a\nb" / NAME / "trainA").mkdir(parents=True)
    (tmp_path / "a\nb" / NAME / "trainA" / "x.jpg").write_bytes(b"x")
    assert main(["datasets", "download", NAME, "--root", str(tmp_path / "a\nb"), "--no-progress"]) == 0
    assert (
        capsys.readouterr().out
        == f"{tmp_path}/a\\nb/{NAME} is already there (images: trainA 1); delete it to download again\n"
    )


def test_images_in_a_symlinked_sub_folder_are_counted_as_training_reads_them(tmp_path, capsys):
    """trainA/more -> ../../extra: training read its 2 images (symlinked sub-folders are followed), the count
    said trainA 1; a hidden sub-folder and a link to a folder above are left out by both."""
    from cyclegan.data.io import list_images

    ds = tmp_path / NAME
    for name in ("trainA/a.jpg", "trainA/.thumbs/t.jpg", "trainB/b.jpg", "../extra/c.jpg", "../extra/d.jpg"):
        (ds / name).parent.mkdir(parents=True, exist_ok=True)
        (ds / name).write_bytes(b"x")
    (ds / "trainA" / "more").symlink_to(tmp_path / "extra", target_is_directory=True)
    (ds / "trainA" / "up").symlink_to(ds, target_is_directory=True)  # a loop, which training does not enter
    assert main(["datasets", "download", NAME, "--root", str(tmp_path), "--no-progress"]) == 0
    assert len(list_images(ds / "trainA")) == 3
    assert "(images: trainA 3, trainB 1)" in capsys.readouterr().out


def test_pix2pix_folders_are_counted(mirror, tmp_path, capsys):
    serve(mirror, make_zip({f"{NAME}/train/1.jpg": b"a", f"{NAME}/train/2.jpg": b"b", f"{NAME}/val/3.jpg": b"c"}))
    args = ["datasets", "download", NAME, "--root", str(tmp_path), "--base-url", mirror.base_url, "--no-progress"]
    assert main(args) == 0
    assert "(images: train 2, val 1" in capsys.readouterr().out


# --- datasets synthetic -----------------------------------------------------------------------------------


def test_a_synthetic_image_cut_off_mid_save_leaves_no_half_file(tmp_path, monkeypatch):
    """Each image was saved straight to its name: a Ctrl-C (or a full disk) mid-save left a truncated PNG among
    the dataset's images. Now each is written whole or not at all."""
    from PIL import Image

    from cyclegan.data.synthetic import SyntheticOptions, write_dataset

    real_save, calls = Image.Image.save, []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 2:  # the second image: its first bytes, then Ctrl-C
            Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n")
            raise KeyboardInterrupt
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(SyntheticOptions(str(tmp_path / "d"), size=16, count=2, test_count=1, progress=False))
    marks = [f".{split}.unfinished" for split in ("trainA", "trainB", "testA", "testB")]  # it stopped before its end
    assert sorted(p.name for p in (tmp_path / "d").rglob("*") if p.is_file()) == sorted(["00000.png", *marks])


def test_synthetic_clips_where_no_folder_can_be_made_is_one_line(tmp_path, capsys):
    """`datasets synthetic --video --out FILE/ds` (or a read-only folder) ended in a NotADirectoryError traceback;
    the images' path said it in one line."""
    (tmp_path / "f").write_text("a file")
    args = ["datasets", "synthetic", "--video", "--out", str(tmp_path / "f" / "ds"), "--size", "16", "--clips", "1"]
    assert main([*args, "--frames", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    # said before rendering, in `files.check_not_a_file`'s words (it was the lock's "cannot create or lock ... (Not
    # a directory)")
    assert (
        err
        == f"error: option '--out': cannot write {tmp_path / 'f' / 'ds'}: {tmp_path / 'f'} is a file, not a folder\n"
    )


def test_synthetic_clips_past_2048_px_are_refused_before_rendering(tmp_path, capsys, monkeypatch):
    """`--video --size 4096` rendered an 8192 px world for each frame (about 25 GB) and was killed for memory."""
    from cyclegan.data import synthetic_video

    def rendered(*args, **kwargs):
        raise AssertionError("rendered")  # not in a test: gigabytes and minutes

    monkeypatch.setattr(synthetic_video, "render", rendered)
    args = ["datasets", "synthetic", "--video", "--out", str(tmp_path / "v"), "--size", "2049", "--no-progress"]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("error: option '--size' must be <= 2048 with --video, got 2049: ")
    assert not (tmp_path / "v").exists()


def test_a_file_where_a_synthetic_folder_goes_is_named_as_a_file(tmp_path, capsys):
    """`datasets synthetic --out d` where d/trainA is a file said "d/trainA already holds files"."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "trainA").write_text("notes")
    args = ["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", "--count", "1", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: {tmp_path / 'd' / 'trainA'} is a file where the dataset's folder goes: pass --overwrite "
        f"to replace trainA, trainB, testA, testB in {tmp_path / 'd'}, or choose another --out\n"
    )
    assert (tmp_path / "d" / "trainA").read_text() == "notes"


def test_a_broken_link_where_a_synthetic_folder_goes_is_named_and_overwrite_replaces_it(tmp_path, capsys):
    """`datasets synthetic --out d` where d/trainA is a broken symbolic link said only "cannot write the dataset
    in d: d/trainA: File exists"; it is now named, and --overwrite replaces the link (not its target)
    with the folder."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "trainA").symlink_to(tmp_path / "gone")
    args = ["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", "--count", "1", "--no-progress"]
    assert main([*args, "--test-count", "1"]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'd' / 'trainA'} is a broken symbolic link where the dataset's folder goes: pass "
        f"--overwrite to replace trainA, trainB, testA, testB in {tmp_path / 'd'}, or choose another --out\n"
    )
    assert main([*args, "--test-count", "1", "--overwrite"]) == 0
    assert not (tmp_path / "d" / "trainA").is_symlink() and len(list((tmp_path / "d" / "trainA").iterdir())) == 1
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("video", [False, True])
def test_a_second_synthetic_writer_into_one_out_is_refused_while_the_first_works(tmp_path, capsys, video):
    """Two `datasets synthetic --out d` at once each found d empty and rendered into it (with --overwrite one
    deleted the other's images as it wrote them): the folder is now locked while a dataset is written."""
    from cyclegan.files import FolderLock

    lock = FolderLock(tmp_path / "d")
    assert lock.acquire()  # another writer at work
    try:
        kind = ["--video", "--clips", "1", "--frames", "2"] if video else ["--count", "1", "--test-count", "2"]
        assert (
            main(["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", *kind, "--no-progress"]) == 2
        )
        err = capsys.readouterr().err
        assert (
            err.startswith(f"error: option '--out': {tmp_path / 'd'} is in use by another run") and err.count("\n") == 1
        )
        assert [p.name for p in (tmp_path / "d").iterdir()] == [".lock"]
    finally:
        lock.release()
    assert main(["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", *kind, "--no-progress"]) == 0
    assert not (tmp_path / "d" / ".lock").exists()


def test_one_synthetic_clip_is_counted_as_one_pair(tmp_path, capsys):
    """`datasets synthetic --video --clips 1` printed "wrote 1 clip pairs to ..."."""
    args = ["datasets", "synthetic", "--video", "--out", str(tmp_path / "v"), "--size", "16", "--clips", "1"]
    assert main([*args, "--frames", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote 1 clip pair to {tmp_path / 'v'}/videoA (summer)")


def test_a_synthetic_test_split_of_one_scene_is_written(tmp_path, capsys):
    """`--test-count 1` was refused ("cyclegan evaluate's FD and KID compare sets of 2 images or more"), though
    evaluate scores a paired split of one scene against its truth, FD and KID left out with a note."""
    out = tmp_path / "d"
    args = ["datasets", "synthetic", "--out", str(out), "--size", "16", "--count", "1", "--test-count", "1"]
    assert main([*args, "--no-progress"]) == 0
    test_a, test_b = (sorted(p.name for p in (out / split).iterdir()) for split in ("testA", "testB"))
    assert len(test_a) == 1 and test_a == test_b  # one scene in both seasons: a pair


def test_a_large_synthetic_count_starts_rendering_without_listing_every_image_first(tmp_path, monkeypatch):
    """`--count 100000000` built a list of 2 x 10**8 jobs (gigabytes) before the first image; now one at a time."""
    import tracemalloc

    from cyclegan.data import synthetic

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # the first image: what was allocated before it is what counts

    monkeypatch.setattr(synthetic, "render", stop)
    opts = synthetic.SyntheticOptions(str(tmp_path / "d"), size=16, count=10**6, progress=False)
    tracemalloc.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            synthetic.write_dataset(opts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # the list of 2 x 10**6 jobs was about 200 MB


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--count", "1000000000"], "option '--count' must be > 0 and <= 1000000, got 1000000000"),
        (["--test-count", "1000000000"], "option '--test-count' must be > 0 and <= 1000000, got 1000000000"),
        (["--video", "--clips", "1000000000"], "option '--clips' must be > 0 and <= 1000, got 1000000000"),
    ],
)
def test_a_mistyped_synthetic_count_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch, flags, expected
):
    """`datasets synthetic --count 1000000000` rendered until the disk was full."""
    from cyclegan.data import synthetic, synthetic_video

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # the old code started rendering

    for module in (synthetic, synthetic_video):
        monkeypatch.setattr(module, "render", stop)
    assert main(["datasets", "synthetic", "--out", str(tmp_path / "d"), "--no-progress", *flags]) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "d").exists()


def test_a_synthetic_dataset_the_disk_cannot_hold_is_refused_before_the_first_image(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from cyclegan.data import synthetic

    def no_write(*args, **kwargs):
        raise KeyboardInterrupt  # the old code wrote images until the disk was full

    monkeypatch.setattr(synthetic, "write_atomic", no_write)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))  # 1 MiB free
    args = ["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", "--count", "100000"]
    assert main([*args, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and re.search(r"200100 images of 16 px need about \d+ MiB, .* has 1 MiB free", err)
    assert not [p for p in (tmp_path / "d").rglob("*.png")]


def test_a_disk_with_under_a_mib_free_is_not_said_to_have_0_mib(tmp_path, monkeypatch, capsys):
    """The room checks spoke in whole MiB: a disk with 200 KiB free "has 0 MiB free", and a small dataset that
    did not fit it needed "about 0 MiB"."""
    import shutil
    from collections import namedtuple

    from cyclegan.data.archive import extract_safely

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 200 * 1024, 200 * 1024))
    args = ["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", "--count", "600", "--no-progress"]
    assert main(args) == 2
    assert re.search(r"1300 images of 16 px need about 244 KiB, .* has 200 KiB free", capsys.readouterr().err)
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({f"{NAME}/trainA/a.jpg": bytes(300 * 1024)}))
    with pytest.raises(CycleGANError, match=r"a.zip needs 300 KiB to extract, .* has 200 KiB free$"):
        extract_safely(archive, tmp_path, NAME, source="a.zip")


def test_a_dataset_folder_of_hidden_files_only_is_not_taken_for_the_dataset(tmp_path, capsys):
    """ROOT/NAME holding only a `.DS_Store` (a file manager looked into it) was "already there", and the command then
    said it held none of trainA..testB "but nothing: move its images into them"."""
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert main(["datasets", "download", NAME, "--root", str(tmp_path), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / NAME} holds only hidden files (.DS_Store), no dataset: remove it and run again to "
        f"download {NAME}\n"
    )


def test_a_root_that_is_a_broken_link_is_named_as_one(tmp_path, capsys):
    """`datasets download NAME --root LINK` to a folder not there said "cannot create it (File exists)"; named
    as every command names an output folder that is a broken link (`files.broken_link`)."""
    (tmp_path / "root").symlink_to(tmp_path / "disk" / "data")
    assert main(["datasets", "download", NAME, "--root", str(tmp_path / "root"), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--root': {tmp_path / 'root'} is a broken symbolic link (to {tmp_path / 'disk' / 'data'}); "
        "make its target, or remove it and run again\n"
    )


def test_an_out_that_is_a_broken_link_is_named_as_one(tmp_path, capsys):
    """`--out` a symbolic link to a folder not there (an unmounted disk) was "cannot create or lock OUT (No such file
    or directory)" (before that, "File exists"); the same for every command that locks its output folder."""
    (tmp_path / "out").symlink_to(tmp_path / "disk" / "data")
    args = ["datasets", "synthetic", "--out", str(tmp_path / "out"), "--size", "16", "--count", "1", "--no-progress"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: option '--out': {tmp_path / 'out'} is a broken symbolic link (to {tmp_path / 'disk' / 'data'}); "
        "make its target, or remove it and run again\n"
    )
    assert not (tmp_path / "disk").exists()


def test_synthetic_frames_past_an_hour_are_refused_before_anything_is_listed(tmp_path, capsys):
    """`--frames 1000000000` (a slip of the finger) listed a billion cameras before the first frame: gigabytes."""
    from cyclegan.data.synthetic import SyntheticOptions

    with pytest.raises(CycleGANError, match="^option '--frames' must be > 1 and <= 43200, got 1000000000$"):
        SyntheticOptions(str(tmp_path / "v"), video=True, frames=10**9)  # first: the old code rendered
    args = ["datasets", "synthetic", "--video", "--out", str(tmp_path / "v"), "--frames", "43201", "--no-progress"]
    assert main(args) == 2
    assert capsys.readouterr().err == "error: option '--frames' must be > 1 and <= 43200, got 43201\n"
    assert not (tmp_path / "v").exists()


def test_a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_left_whole(tmp_path, capsys):
    """A `.lock` planted in a shared output folder as a link to one of the user's files: taking the lock truncated
    the target and wrote a PID in it (every command that locks a folder: train, translate, datasets synthetic)."""
    from cyclegan.files import FolderLock

    precious = tmp_path / "notes.txt"
    precious.write_text("a week of notes")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".lock").symlink_to(precious)
    with pytest.raises(OSError):
        FolderLock(tmp_path / "d").acquire()
    assert main(["datasets", "synthetic", "--out", str(tmp_path / "d"), "--size", "16", "--count", "1"]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--out': {tmp_path / 'd' / '.lock'} is a symbolic link, not a lock file: remove it and run "
        "again\n"
    )
    assert precious.read_text() == "a week of notes" and [p.name for p in (tmp_path / "d").iterdir()] == [".lock"]


@pytest.mark.parametrize("inside", ["trainA", "val", "test/sub"])
def test_a_synthetic_out_inside_another_datasets_folder_is_refused(tmp_path, capsys, inside):
    """Rendered into pix2pix's `facades/val`, a dataset's trainA..testB landed among its A|B images, which are read
    recursively (trainA and test were refused already; val, the reference's third aligned split, was not)."""
    for split in ("train", "val", "test", "trainA"):
        (tmp_path / "facades" / split).mkdir(parents=True)
    out = tmp_path / "facades" / inside
    args = ["datasets", "synthetic", "--out", str(out), "--size", "16", "--count", "1", "--test-count", "2"]
    assert main([*args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: option '--out': {out} is ") and "the dataset folder" in err
    assert not out.exists() or not any(out.iterdir())  # nothing written, no lock left


def test_synthetic_clips_reach_the_encoder_a_frame_at_a_time(tmp_path, monkeypatch):
    """Each clip was rendered whole, both seasons, before its first frame was encoded: `--frames 2000 --size 2048`
    held 2 x 2000 frames of 21 MB. Now the encoder takes frame t when t + 1 worlds of its season are rendered."""
    from cyclegan.data import synthetic_video

    renders, seen = [], []
    real = synthetic_video.render
    monkeypatch.setattr(synthetic_video, "render", lambda *a, **k: renders.append(a[1]) or real(*a, **k))

    def write_clip(path, frames, rate):
        for t, frame in enumerate(frames):
            seen.append((path.parent.name, t, len(renders)))
            assert frame.shape == (18, 24, 3) and frame.dtype == np.uint8

    synthetic_video.write_clips(tmp_path, write_clip=write_clip, count=1, frames=3, size=16, seed=0, progress=False)
    assert seen == [
        ("videoA", 0, 1),
        ("videoA", 1, 2),
        ("videoA", 2, 3),
        ("videoB", 0, 4),
        ("videoB", 1, 5),
        ("videoB", 2, 6),
    ]
    assert renders == ["summer"] * 3 + ["winter"] * 3
    assert len(json.loads((tmp_path / "cameras" / "clip_000.json").read_text())["cameras"]) == 3


def test_the_synthetic_summary_names_a_root_with_a_newline_on_one_line(tmp_path, capsys):
    """`--out $'bad\\nname'` printed "wrote 4 images to bad" and a second line "name/trainA, ...": every message
    keeps a name on one line (`errors.escape`), the summary too."""
    root = tmp_path / "bad\nname"
    args = ["datasets", "synthetic", "--out", str(root), "--size", "16", "--count", "1", "--test-count", "2"]
    assert main([*args, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "bad\\nname/trainA" in out


def test_an_empty_out_is_refused_not_the_current_folder(tmp_path, monkeypatch, capsys):
    """`datasets synthetic --out ""` (an unset $OUT) wrote trainA..testB into the current folder; `compare --out ""`
    wrote its report there."""
    from cyclegan.compare_options import CompareOptions

    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "synthetic", "--out", "", "--size", "16", "--count", "1", "--test-count", "2"]) == 2
    assert capsys.readouterr().err == "error: option '--out' is empty (an unset variable?): give the dataset's folder\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CycleGANError, match="^option '--out' is empty"):
        CompareOptions("run", ["c.png"], ["s.png"], "")


def test_a_root_that_is_a_file_is_named_as_one(tmp_path):
    (tmp_path / "notes").write_text("x")
    with pytest.raises(CycleGANError, match=r"^option '--root': .*notes is a file; give a folder$"):
        download(DownloadOptions(NAME, str(tmp_path / "notes"), base_url="http://127.0.0.1:9", progress=False))


def test_a_kept_synthetic_rendering_needs_room_only_for_the_images_left(tmp_path, monkeypatch):
    """Before: `write_dataset(keep=True)` (the demo going on with a stopped rendering) asked room for every image,
    those already written too: a nearly full disk refused a rendering that could be finished."""
    from collections import namedtuple

    from cyclegan.data import synthetic
    from cyclegan.errors import CycleGANError

    opts = synthetic.SyntheticOptions(str(tmp_path / "d"), size=16, count=2, test_count=1, progress=False)
    synthetic.write_dataset(opts)
    (tmp_path / "d" / "trainB" / "00003.png").unlink()  # a rendering stopped before its last training image
    one = synthetic.PNG_BYTES_PER_SIDE * 16  # room for about one image more, not six
    usage = namedtuple("usage", "total used free")(10**9, 10**9 - one, one)
    monkeypatch.setattr(synthetic.shutil, "disk_usage", lambda _: usage)
    synthetic.write_dataset(opts, keep=True)
    assert (tmp_path / "d" / "trainB" / "00003.png").is_file()
    with pytest.raises(CycleGANError, match=r"6 images of 16 px need about"):  # without keep: every image
        synthetic.write_dataset(opts)


def test_a_kept_synthetic_rendering_renders_again_over_a_bomb_or_a_fifo(tmp_path):
    """Before: `write_dataset(keep=True)` opened the scenes already there with `Image.open(path)`: a PNG header
    declaring 20000 x 20000 at a scene's name raised Pillow's DecompressionBombError as a traceback, and a FIFO
    there hung the demo for ever. Now both are read as every image is (`io.open_image`) and rendered again."""
    import os
    import struct
    import zlib

    from cyclegan.data import synthetic

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    opts = synthetic.SyntheticOptions(str(tmp_path / "d"), size=16, count=1, test_count=1, progress=False)
    synthetic.write_dataset(opts)
    whole = {p: p.read_bytes() for p in (tmp_path / "d").rglob("*.png")}
    bomb, fifo = tmp_path / "d" / "trainA" / "00000.png", tmp_path / "d" / "trainB" / "00001.png"
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    synthetic.write_dataset(opts, keep=True)
    if hasattr(os, "mkfifo"):
        fifo.unlink()
        os.mkfifo(fifo)
        synthetic.write_dataset(opts, keep=True)
    assert {p: p.read_bytes() for p in (tmp_path / "d").rglob("*.png")} == whole


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, said", [("SIGHUP", 129, "hung up"), ("SIGTERM", 143, "terminated")])
def test_a_synthetic_rendering_stopped_says_its_folders_hold_part_of_the_dataset(tmp_path, signum, status, said):
    """A closed terminal's SIGHUP or a scheduler's SIGTERM killed `datasets synthetic` without a word, its lock left
    and its folders half rendered, which `train --data` would take as the dataset (Ctrl-C said only "interrupted").
    Now one line saying so and how to render it whole, exit 129 or 143, as the other commands stop."""
    import subprocess

    out = tmp_path / "syn"
    script = f"""
import os, signal, sys
import cyclegan.data.synthetic as s
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
real, done = s.render, []
def render(*a, **k):  # a few scenes written, then the stop
    done.append(1)
    if len(done) == 5:
        os.kill(os.getpid(), signal.{signum})
    return real(*a, **k)
s.render = render
sys.exit(main(["datasets", "synthetic", "--out", {str(out)!r}, "--count", "50", "--size", "32", "--no-progress"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stderr == (
        f"{said}: {out} holds part of the dataset; the same command with --overwrite renders it whole\n"
    )
    assert not (out / ".lock").exists()


def test_a_killed_synthetic_rendering_is_named_by_a_rerun_and_by_training_on_it(tmp_path, monkeypatch, capsys):
    """kill -9 (or a power cut) halfway through `datasets synthetic` said nothing, and training on the folder took
    its part as the whole without a word; a rerun said only that trainA "already holds files". A failure at the
    seventh image (the second test scene's summer) stands for the kill: no clean-up of the rendering's runs after it."""
    from conftest import TINY
    from cyclegan.config import resolve
    from cyclegan.data import synthetic
    from cyclegan.data.io import left_out
    from cyclegan.train.inputs import training_images

    real_render, rendered = synthetic.render, []

    def killed(*args, **kwargs):
        if len(rendered) == 6:
            raise SystemExit(137)
        rendered.append(1)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(synthetic, "render", killed)
    out = tmp_path / "d"
    flags = ["datasets", "synthetic", "--out", str(out), "--size", "16", "--count", "2", "--test-count", "2"]
    with pytest.raises(SystemExit):
        synthetic.write_dataset(synthetic.SyntheticOptions(str(out), size=16, count=2, test_count=2, progress=False))
    monkeypatch.setattr(synthetic, "render", real_render)
    part = (
        "holds part of a dataset: its rendering stopped before its end (or is under way); the same "
        "`cyclegan datasets synthetic`"
    )
    assert main([*flags, "--no-progress"]) == 2
    assert f"option '--out': {out / 'trainA'} {part} with --overwrite renders it whole" in capsys.readouterr().err
    training_images(resolve({**TINY, "data": str(out), "out": str(tmp_path / "run")}), progress=False, main=True)
    assert f"warning: {out / 'testA'} {part}" in capsys.readouterr().err  # its one scene of two taken as the whole
    assert main([*flags, "--no-progress", "--overwrite"]) == 0
    assert not list(out.glob(".*.unfinished"))  # rendered whole: nothing named any more
    assert left_out(out / "testA") == [] and len(list((out / "testA").iterdir())) == 2
