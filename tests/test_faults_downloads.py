"""Hostile and broken mirrors (docs/reliability.md, "Round two"): downloads of published generators and
datasets are bounded in bytes and in time, a cached generator is checked against the record of its download
before each use, and names and redirects fail in one line. Every server is a loopback `helpers.RangeServer`
with tiny limits, so each test takes a second or two.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from cyclegan import zoo
from cyclegan.cli import main
from cyclegan.data.download import DownloadOptions, download
from cyclegan.errors import CycleGANError
from cyclegan.models import ResnetGenerator
from helpers import RangeServer, joined, serving, translate_one_image

pytestmark = pytest.mark.slow  # each starts an HTTP server


@pytest.fixture
def server():
    with serving(RangeServer("/m")) as srv:
        yield srv


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CYCLEGAN_PRETRAINED_URL", raising=False)
    return tmp_path / "home" / "pretrained"


@pytest.fixture(scope="module")
def generator() -> bytes:
    """A small reference-layout generator file (about 210 KB)."""
    torch.manual_seed(0)
    import io

    buf = io.BytesIO()
    torch.save(ResnetGenerator(ngf=8, n_blocks=2).state_dict(), buf)
    return buf.getvalue()


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- bounded in bytes ------------------------------------------------------------------------------------


def test_an_endless_stream_is_cut_off_at_the_bound(server, generator, home, monkeypatch):
    """Before: 688 MB written in 4 s for a 210 KB file, and counting."""
    server.files["/m/horse2zebra.pth"] = generator
    server.endless.add("/m/horse2zebra.pth")
    with pytest.raises(
        CycleGANError,
        match=r"the server sent more than the 500000 bytes allowed \(option '--max-mb'\); nothing was kept",
    ):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False, max_mb=0.5)
    assert not home.exists() or not any(p.suffix in (".part", ".pth") for p in home.iterdir())
    monkeypatch.setattr(zoo, "CATALOGUE_MAX_MB", 0.3)  # the catalogue's bound, no option given
    with pytest.raises(CycleGANError, match=r"allowed \(a published generator is 45.6 MB; option '--max-mb'"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)


def test_a_pretrained_name_over_the_bound_names_what_its_caller_can_give(
    server, generator, home, tmp_path, monkeypatch, capsys
):
    """`cyclegan.load_generator("pretrained:NAME")` and `translate --checkpoint pretrained:NAME` said "option
    '--max-mb' to allow more": neither has one (a Python caller cannot pass a flag at all). Now the command that
    has it, and from Python the keyword argument of the function that caches the file."""
    import cyclegan
    from cyclegan.api import in_python_words

    server.files["/m/horse2zebra.pth"] = generator
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    monkeypatch.setattr(zoo, "CATALOGUE_MAX_MB", 0.1)  # the generator is 0.2 MB
    with pytest.raises(CycleGANError) as info:
        cyclegan.load_generator("pretrained:horse2zebra")
    assert "--max-mb" not in str(info.value)
    assert "(a published generator is 45.6 MB; cyclegan.zoo.fetch_model('horse2zebra', max_mb=MB) allows more)" in (
        str(info.value)
    )
    assert translate_one_image(tmp_path, "pretrained:horse2zebra") == 2
    assert "; `cyclegan pretrained download horse2zebra --max-mb MB` allows more); nothing was kept" in one_line(capsys)
    slow = str(zoo.download_bounds(None, max_mb=None, max_minutes=1, via="cyclegan pretrained download a").seconds_from)
    assert in_python_words(slow) == "cyclegan.zoo.fetch_model('a', max_minutes=MIN) allows more"


def test_an_announced_size_over_the_bound_is_refused_before_the_body(server, generator, home):
    server.files["/m/horse2zebra.pth"] = generator
    with pytest.raises(CycleGANError, match=rf"the server announces {len(generator)} bytes, more than the 100000"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False, max_mb=0.1)
    assert not (home / ".horse2zebra.pth.part").exists()


def test_an_endless_dataset_archive_stops_at_max_size_gb(server, tmp_path, capsys):
    server.files["/m/horse2zebra.zip"] = b"PK"
    server.endless.add("/m/horse2zebra.zip")
    args = ["datasets", "download", "horse2zebra", "--root", str(tmp_path / "d"), "--base-url", server.base_url]
    t0 = time.monotonic()
    assert main([*args, "--max-size-gb", "0.001", "--no-progress"]) == 2
    assert "allowed (option '--max-size-gb')" in one_line(capsys) and time.monotonic() - t0 < 10
    assert not (tmp_path / "d").exists()  # nothing kept: the --root this download made is removed again


def test_a_short_response_without_a_length_is_refused_and_nothing_is_cached(server, generator, home):
    """The mirror sends half the file and closes, announcing no size: it looks complete, and is refused
    as not a generator (deleted), not cached."""
    server.files["/m/horse2zebra.pth"] = generator
    server.short["/m/horse2zebra.pth"] = len(generator) // 2
    with pytest.raises(CycleGANError, match=r"is not a generator file, so it was deleted: cannot read checkpoint"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert not any(home.iterdir())


def test_a_full_disk_stops_the_download_at_once_and_keeps_what_was_written(server, generator, tmp_path):
    """A write that fails (here a file-size limit, as a full disk does) was taken for a cut connection: two
    more requests, 'resuming' warnings, and a byte count that included what was never written."""
    import subprocess
    import sys

    server.files["/m/g.pth"] = generator
    part = tmp_path / ".g.pth.part"
    code = (
        "import resource, signal, sys; from pathlib import Path; from cyclegan.data.fetch import fetch\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100000, resource.RLIM_INFINITY))\n"
        f"fetch({server.base_url + '/g.pth'!r}, Path({str(part)!r}), progress=False, attempts=3)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "CycleGANError: cannot write" in done.stderr and "File too large; its 100000 of" in done.stderr
    assert "make room and run the same command again to resume" in done.stderr and "resuming" not in done.stderr
    assert len(server.requests) == 1 and part.stat().st_size == 100000


# --- bounded in time -------------------------------------------------------------------------------------


def test_a_dripping_mirror_meets_the_deadline(server, generator, home, capsys):
    """One byte every 0.2 s: each read is within the per-read timeout. Before: the command hung (4 s and
    still 0 bytes written, nothing to end it)."""
    server.files["/m/horse2zebra.pth"] = generator
    server.drip["/m/horse2zebra.pth"] = 0.2
    args = ["pretrained", "download", "horse2zebra", "--base-url", server.base_url, "--no-progress"]
    t0 = time.monotonic()
    assert main([*args, "--max-minutes", str(1.5 / 60)]) == 2
    seconds = time.monotonic() - t0
    err = one_line(capsys)
    assert "did not finish within 1.5 s (option '--max-minutes'); stopped after" in err and seconds < 6, seconds
    assert not (home / "horse2zebra.pth").exists()


def test_a_dripping_dataset_mirror_meets_the_deadline(server, tmp_path):
    server.files["/m/horse2zebra.zip"] = bytes(10_000)
    server.drip["/m/horse2zebra.zip"] = 0.2
    t0 = time.monotonic()
    opts = DownloadOptions("horse2zebra", str(tmp_path), base_url=server.base_url, progress=False, max_minutes=0.02)
    with pytest.raises(CycleGANError, match=r"did not finish within 1.2 s \(option '--max-minutes'\)"):
        download(opts)
    assert time.monotonic() - t0 < 6


# --- the cache -------------------------------------------------------------------------------------------


def test_a_truncated_or_damaged_cached_file_is_named_and_fetched_again(server, generator, home, capsys):
    """Before: a truncated NAME.pth in the cache was 'already cached', exit 0."""
    server.files["/m/horse2zebra.pth"] = generator
    args = ["pretrained", "download", "horse2zebra", "--base-url", server.base_url, "--no-progress"]
    assert main(args) == 0
    target = home / "horse2zebra.pth"
    record = json.loads((home / "horse2zebra.pth.json").read_text())
    assert record["bytes"] == len(generator) and len(record["sha256"]) == 64
    capsys.readouterr()

    target.write_bytes(generator[: len(generator) // 2])
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"warning: the cached {target} is {len(generator) // 2} bytes, {len(generator)} when it was" in captured.err
    assert "downloaded" in captured.out and target.read_bytes() == generator

    damaged = bytearray(generator)
    damaged[len(damaged) // 2] ^= 0xFF  # same size, one byte changed
    target.write_bytes(damaged)
    assert main(args) == 0
    assert "(damaged or replaced); downloading it again" in capsys.readouterr().err
    assert target.read_bytes() == generator

    assert main(args) == 0 and "already cached" in capsys.readouterr().out  # intact: no request
    assert len(server.requests) == 3


def test_a_cached_file_from_another_mirror_is_named_and_fetched_again(server, generator, home, capsys):
    """Before: `mine` cached from one mirror was used as it was when another mirror was asked for (another file
    under the same name), without a word."""
    import io

    buf = io.BytesIO()
    torch.manual_seed(1)
    torch.save(ResnetGenerator(ngf=8, n_blocks=2).state_dict(), buf)
    other = buf.getvalue()
    server.files["/m/mine.pth"], server.files["/m/b/mine.pth"] = generator, other
    target = home / "mine.pth"
    assert zoo.fetch_model("mine", base_url=server.base_url, progress=False).downloaded
    capsys.readouterr()
    r = zoo.fetch_model("mine", base_url=f"{server.base_url}/b", progress=False)
    assert r.downloaded and target.read_bytes() == other
    err = capsys.readouterr().err
    base = server.base_url
    assert f"the cached {target} was downloaded from {base}/mine.pth, not {base}/b/mine.pth as now asked" in err
    assert not zoo.fetch_model("mine", base_url=f"{server.base_url}/b", progress=False).downloaded  # same: no request
    # a mirror that has no such file: refused, and the cached file is kept
    with pytest.raises(CycleGANError, match="HTTP 404"):
        zoo.fetch_model("mine", base_url=f"{server.base_url}/gone", progress=False)
    assert target.read_bytes() == other
    # the digest asked for is the cached file's: it is the file wanted, wherever it came from
    requests = len(server.requests)
    r = zoo.fetch_model("mine", base_url=f"{server.base_url}/gone", sha256=r.sha256, progress=False)
    assert not r.downloaded and r.pinned and len(server.requests) == requests


def test_a_cached_file_without_a_record_is_checked_before_use(server, generator, home, capsys):
    """An older cache (or a file put there by hand): a usable generator is recorded and used without the
    network; a truncated one is named and fetched again."""
    home.mkdir(parents=True)
    target = home / "horse2zebra.pth"
    target.write_bytes(generator)
    r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert not r.downloaded and server.requests == []
    assert json.loads((home / "horse2zebra.pth.json").read_text())["bytes"] == len(generator)

    (home / "horse2zebra.pth.json").unlink()
    target.write_bytes(generator[:1000])
    server.files["/m/horse2zebra.pth"] = generator
    r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert r.downloaded and target.read_bytes() == generator
    assert "has no record of its download and is not a usable generator" in capsys.readouterr().err


# --- one line each ---------------------------------------------------------------------------------------


def test_a_redirect_loop_is_one_line(server, capsys):
    """Before: three lines (urllib's 'would lead to an infinite loop.\\nThe last 30x error message was:...')."""
    server.redirect["/m/a.pth"] = "/m/b.pth"
    server.redirect["/m/b.pth"] = "/m/a.pth"
    assert main(["pretrained", "download", "a", "--base-url", server.base_url, "--no-progress"]) == 2
    assert "HTTP 302, the server redirects in a loop or too many times" in one_line(capsys)


def test_a_redirect_away_from_http_is_refused(server):
    server.redirect["/m/a.pth"] = "ftp://127.0.0.1/a.pth"
    with pytest.raises(CycleGANError, match="redirected to 'ftp://127.0.0.1/a.pth', not http"):
        zoo.fetch_model("a", base_url=server.base_url, progress=False)


class _PlainAsHttps(http.client.HTTPConnection):
    """https:// spoken as plain HTTP to the loopback server: urllib takes the address for an https one."""

    def __init__(self, host, *, context=None, check_hostname=None, **kwargs):
        super().__init__(host, **kwargs)


def test_a_redirect_from_https_down_to_http_is_refused_unless_http_was_asked(server, generator, monkeypatch, capsys):
    """Before: followed without a word, so anyone on the path of the plain-http leg could swap the file. The refusal
    says what accepts http where the address was given: --base-url, the variable, or `fetch_model`'s base_url=."""
    monkeypatch.setattr(http.client, "HTTPSConnection", _PlainAsHttps)
    server.files["/m/a.pth"] = generator
    server.redirect["/m/x/a.pth"] = f"{server.base_url}/a.pth"
    https = server.base_url.replace("http://", "https://", 1)
    assert main(["pretrained", "download", "a", "--base-url", f"{https}/x", "--no-progress"]) == 2
    line = one_line(capsys)
    assert f"download of {https}/x/a.pth failed: HTTP 302, redirected to '{server.base_url}/a.pth': plain http" in line
    assert line.endswith(f"; to accept plain http, run again with --base-url {server.base_url}/x\n")
    # a Python caller gave base_url=, not --base-url (it was told the command's flag)
    with pytest.raises(CycleGANError, match=f"plain http, run again with base_url='{server.base_url}/x'$"):
        zoo.fetch_model("a", base_url=f"{https}/x", progress=False)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", f"{https}/x")  # the hint names where the address came from
    with pytest.raises(CycleGANError, match=f"run again with CYCLEGAN_PRETRAINED_URL={server.base_url}/x$"):
        zoo.fetch_model("a", progress=False)
    monkeypatch.delenv("CYCLEGAN_PRETRAINED_URL")
    assert not any(path == "/m/a.pth" for path, _ in server.requests)  # refused before the http leg
    assert zoo.fetch_model("a", base_url=f"{server.base_url}/x", progress=False).downloaded  # asked for http
    server.files["/m/b.pth"] = generator
    server.redirect["/m/x/b.pth"] = f"{https}/b.pth"  # https to https: followed
    assert zoo.fetch_model("b", base_url=f"{https}/x", progress=False).downloaded


def test_a_second_download_of_a_name_waits_for_the_first_and_uses_its_file(server, generator, home, capsys):
    """Before: two commands started at once on a fresh cache (`translate --checkpoint pretrained:NAME` twice),
    the second failed at once with 'another download of NAME ... is running; wait for it to end'."""
    import threading

    from cyclegan.files import FolderLock

    server.files["/m/horse2zebra.pth"] = generator
    other = FolderLock(home, ".horse2zebra.lock")  # the first process's download, under way
    assert other.acquire()

    def first_finishes() -> None:
        time.sleep(1.0)
        (home / "horse2zebra.pth").write_bytes(generator)  # a cached file without a record: checked, then used
        other.release()

    finisher = threading.Thread(target=first_finishes, daemon=True)
    finisher.start()
    try:
        r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    finally:
        joined(finisher)
    assert not r.downloaded and server.requests == []
    assert f"waiting for another download of horse2zebra into {home} (PID " in capsys.readouterr().err
    other = FolderLock(home, ".zebra2horse.lock")
    assert other.acquire()  # held past the bound: refused in one line, as before
    try:
        with pytest.raises(CycleGANError, match=f"another download of zebra2horse into {home} is running \\(PID"):
            zoo.fetch_model("zebra2horse", base_url=server.base_url, progress=False, max_minutes=0.01)
    finally:
        other.release()


def test_a_300_character_name_is_one_line(server, tmp_path, monkeypatch, capsys):
    """Before: a traceback ending in 'File name too long' from the download's lock."""
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    name = "x" * 300
    (tmp_path / "in").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "a.png")
    args = ["translate", "--checkpoint", f"pretrained:{name}", "--out", str(tmp_path / "out"), str(tmp_path / "in")]
    assert main(args) == 2
    assert "pretrained model name of 300 characters: at most 100" in one_line(capsys)
    args = ["datasets", "download", name, "--root", str(tmp_path / "d"), "--base-url", server.base_url]
    assert main(args) == 2
    assert "dataset name of 300 characters: at most 100" in one_line(capsys)
    assert server.requests == []


def test_a_zip_bomb_download_is_refused_before_torch_reads_it(server, generator, home, tmp_path):
    from helpers import zip_bomb

    (tmp_path / "g.pth").write_bytes(generator)
    server.files["/m/horse2zebra.pth"] = zip_bomb(tmp_path / "g.pth", tmp_path / "b.pth", inflate=40 << 20).read_bytes()
    with pytest.raises(CycleGANError, match=r"is not a generator file, so it was deleted: refusing to load the file: "):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert not any(home.iterdir())


# --- stopped ---------------------------------------------------------------------------------------------


def test_a_closed_terminal_stops_a_download_keeping_its_part_to_resume(server, generator, home, capsys):
    """A closed terminal's SIGHUP killed `pretrained download` (and `datasets download`) without a word, where
    translate, train and the rest stop with one line and exit 129. Now the same: the bytes so far kept in the
    .part, said, and the same command resumes from them."""
    import subprocess
    import sys

    server.files["/m/horse2zebra.pth"] = generator
    args = ["pretrained", "download", "horse2zebra", "--base-url", server.base_url, "--no-progress"]
    script = f"""
import os, signal, sys
from tqdm import tqdm
import cyclegan.data.fetch as fetch
from cyclegan.cli import main
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal, even where this test runs under nohup
class Bar(tqdm):
    def update(self, n=1):  # the first chunk written: the terminal closes
        super().update(n)
        os.kill(os.getpid(), signal.SIGHUP)
fetch.progress_bar = lambda *args, **kwargs: Bar(disable=True)
sys.exit(main({args!r}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    part = home / ".horse2zebra.pth.part"
    assert done.returncode == 129, done.stderr[-2000:]
    kept = part.stat().st_size
    assert 0 < kept < len(generator) and "Traceback" not in done.stderr
    assert done.stderr.endswith(f"hung up: {kept} bytes are kept in {part}; the same command resumes\n")
    assert main(args) == 0
    assert f"resumed at byte {kept}" in capsys.readouterr().out and not part.exists()


def test_a_dataset_download_stopped_by_ctrl_c_says_what_it_kept(server, tmp_path, monkeypatch, capsys):
    from tqdm import tqdm

    import cyclegan.data.fetch as fetch

    class Bar(tqdm):
        def update(self, n=1):
            super().update(n)
            raise KeyboardInterrupt

    server.files["/m/horse2zebra.zip"] = bytes(200_000)
    monkeypatch.setattr(fetch, "progress_bar", lambda *args, **kwargs: Bar(disable=True))  # Ctrl-C at the first chunk
    args = ["datasets", "download", "horse2zebra", "--root", str(tmp_path), "--base-url", server.base_url]
    assert main([*args, "--no-progress"]) == 130
    part = tmp_path / ".horse2zebra.zip.part"
    assert capsys.readouterr().err == (
        f"interrupted: {part.stat().st_size} bytes are kept in {part}; the same command resumes\n"
    )
