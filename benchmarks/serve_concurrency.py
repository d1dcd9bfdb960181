"""Concurrent identical Translate requests to a running `cyclegan serve` (docs/reliability.md, "Round two"):
each client uploads the same image, then downloads every file of its answer and compares the bytes with the
Content-Length. Prints the failures per round.

    cyclegan serve --checkpoint CKPT --device cpu --concurrency 4 --port 7860 &
    python benchmarks/serve_concurrency.py http://127.0.0.1:7860/ IMAGE NAME [--clients 30] [--rounds 3]

NAME is the model's name on the page (the --checkpoint file's name, or its run folder's name for a
checkpoint.pt). Needs gradio_client (with gradio).
"""

from __future__ import annotations

import argparse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from gradio_client import Client, handle_file


def one_request(url: str, image: str, key: str) -> str | None:
    """None, or what went wrong: an exception, or a body shorter than its Content-Length."""
    try:
        client = Client(url, verbose=False, download_files=False)
        gallery, downloads, _ = client.predict([handle_file(image)], key, "AtoB", api_name="/translate")
        for file_url in [g["image"]["url"] for g in gallery] + [d["url"] for d in downloads]:
            with urllib.request.urlopen(file_url, timeout=60) as r:
                body = r.read()
                length = int(r.headers.get("Content-Length") or -1)
                if length not in (-1, len(body)):
                    return f"short body: {len(body)} of {length} bytes"
    except Exception as e:  # noqa: BLE001 - counted and shown
        return f"{type(e).__name__}: {str(e)[:160]}"
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("image")
    p.add_argument("key")
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    failed = 0
    for r in range(a.rounds):
        with ThreadPoolExecutor(a.clients) as pool:
            results = list(pool.map(lambda _: one_request(a.url, a.image, a.key), range(a.clients)))
        bad = [x for x in results if x]
        failed += len(bad)
        print(f"round {r}: {len(bad)} of {a.clients} failed {bad[:3]}", flush=True)
    print(f"failed: {failed} of {a.clients * a.rounds}")


if __name__ == "__main__":
    main()
