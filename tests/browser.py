"""Driving `cyclegan serve` in a real browser (Debian's chromium through Playwright): start and stop the
server, open the page, upload and wait for downloads. Shared by tests/test_web.py and
benchmarks/web_screenshots.py, so neither imports the other."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def find_chromium() -> str | None:
    """Debian's chromium (or $CHROMIUM): the browser the test drives; Playwright downloads none."""
    for candidate in (
        os.environ.get("CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def server_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], *, timeout: float = 90) -> tuple[subprocess.Popen, str, float]:
    """`cyclegan serve ARGS --port P` in a process of its own; returns it, its URL and the seconds from
    starting the command until the URL answered."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cyclegan", "serve", *args, "--port", str(port)],
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"cyclegan serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"cyclegan serve did not answer at {url} within {timeout} s")


def stop_server(proc: subprocess.Popen) -> str:
    """Stop the server as `kill` does (it cleans up on SIGTERM); returns what it printed."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def open_page(playwright, url: str, *, width: int = 1280, height: int = 900):
    """(browser, page, external): headless Chromium on `url`, with every request for another host than
    127.0.0.1 blocked and listed in `external` (the page must work offline)."""
    from urllib.parse import urlparse

    browser = playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": width, "height": height})
    external: list[str] = []

    def route(r) -> None:
        if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.get_by_role("tab", name="Translate").wait_for(timeout=30_000)
    return browser, page, external


def translate_in_page(page, files: list[str]) -> list[str]:
    """Upload `files` in Translate, press Translate, wait for the result; returns the download links."""
    page.get_by_role("tab", name="Translate").click()
    upload = page.locator("#translate-upload")
    clear = upload.get_by_role("button", name="Clear")
    if clear.count():
        clear.first.click()
    before = page.locator("#translate-download a").evaluate_all("els => els.map(e => e.href)")
    upload.locator("input[type=file]").set_input_files(files)
    page.wait_for_timeout(500)
    page.locator("#translate-go").click()
    return before


def wait_for_new_downloads(page, before: list[str], timeout: float = 60) -> list[str]:
    t0 = time.time()
    while time.time() - t0 < timeout:
        links = page.locator("#translate-download a").evaluate_all("els => els.map(e => e.href)")
        if links and links != before:
            return links
        page.wait_for_timeout(200)
    raise AssertionError("no new translation appeared in the page")
