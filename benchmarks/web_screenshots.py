"""Screenshots of each tab of `cyclegan serve` for the README, from a real run, with the browser test's
helpers (tests/browser.py): the server started as a user starts it, the page driven in headless Chromium.

    cyclegan demo --out runs/demo
    python benchmarks/web_screenshots.py runs/demo docs/images

Translates two of the run's test images, stylises a summer scene with a winter one, compares a CycleGAN with
Gatys on the same photo, opens Runs; writes OUT/serve_{translate,style,compare,runs}.png and prints how long
the server took to answer (the command until http://127.0.0.1:PORT/ returned 200).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import find_chromium, open_page, start_server, stop_server, translate_in_page, wait_for_new_downloads


def _wait_for_step(page, step: int, timeout: float = 300) -> None:
    """Until the Style tab's status says it passed `step`."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        words = page.locator("#style-info").inner_text().split()
        if len(words) > 1 and words[0] == "step" and words[1].isdigit() and int(words[1]) >= step:
            return
        page.wait_for_timeout(200)
    raise TimeoutError(f"Gatys did not reach step {step}")


def main(run: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    if find_chromium() is None:
        raise SystemExit("no Chromium installed (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    test_a = sorted((run / "data" / "testA").glob("*.png"))
    test_b = sorted((run / "data" / "testB").glob("*.png"))
    proc, url, seconds = start_server(["--runs", str(run)])
    print(f"cyclegan serve --runs {run}: answered after {seconds:.2f} s")
    try:
        with sync_playwright() as p:
            browser, page, external = open_page(p, url, width=1280, height=860)
            before = translate_in_page(page, [str(test_a[1]), str(test_a[4])])
            wait_for_new_downloads(page, before, timeout=120)
            page.wait_for_timeout(800)
            page.screenshot(path=out / "serve_translate.png")

            page.get_by_role("tab", name="Style transfer").click()
            page.locator("#style-content input[type=file]").set_input_files(str(test_a[1]))
            page.locator("#style-styles input[type=file]").set_input_files([str(test_b[7])])
            page.wait_for_timeout(500)
            page.locator("#style-go").click()
            _wait_for_step(page, 120)  # mid-optimisation (of 200 steps): the live preview
            page.screenshot(path=out / "serve_style.png")
            page.get_by_text("done:").first.wait_for(timeout=600_000)

            page.get_by_role("tab", name="Compare").click()
            page.locator("#compare-photo input[type=file]").set_input_files(str(test_a[1]))
            page.locator("#compare-styles input[type=file]").set_input_files([str(p) for p in test_b[6:9]])
            page.wait_for_timeout(500)
            page.locator("#compare-go").click()
            page.locator("#compare-table table").wait_for(timeout=600_000)
            page.wait_for_timeout(800)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=out / "serve_compare.png", full_page=True)

            page.get_by_role("tab", name="Runs").click()
            page.locator("#runs-plot .mark-line path").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=out / "serve_runs.png", full_page=True)
            browser.close()
            print(f"requests that would have left 127.0.0.1 (blocked): {external or 'none'}")
    finally:
        stop_server(proc)
    print(f"wrote {', '.join(str(out / f'serve_{t}.png') for t in ('translate', 'style', 'compare', 'runs'))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a trained run (a demo's --out)")
    parser.add_argument("out", type=Path, help="the folder the four screenshots go into")
    args = parser.parse_args()
    t0 = time.perf_counter()
    main(args.run, args.out)
    print(f"{time.perf_counter() - t0:.0f} s in all")
