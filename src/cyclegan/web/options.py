"""The options of `cyclegan serve`, read by the launch (`serve`) and the page (`app` and its tabs) alike.

No torch and no gradio here (nor in `serve`), so `cyclegan serve --help` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CycleGANError
from ..options import Options, opt
from ..shared_options import device_option
from ..translate_options import max_memory_option

EXAMPLES_PER_FOLDER = 8  # the images a folder given to --examples offers: its first by name
# The Style and Compare tabs' sliders: long side from STYLE_SIZE_MIN px in steps of STYLE_SIZE_STEP, Gatys steps from
# STYLE_STEPS_MIN in steps of as many. A slider's maximum must be above its minimum: --max-style-steps 10 and
# --max-style-size 64 were accepted, and the page's start ended in Gradio's traceback.
STYLE_SIZE_MIN, STYLE_SIZE_STEP = 64, 32
STYLE_STEPS_MIN = 10
# The smallest --max-upload-mb: a small photo (a 256 px JPEG is 20-40 kB). `--max-upload-mb 1e-9` started a page
# that took no upload at all (Gradio's limit rounded to 0 bytes), and said so only at each visitor's try.
MIN_UPLOAD_MB = 0.1
# The MB of --max-upload-mb and --max-disk-mb, 1024 x 1024 bytes: Gradio's own refusal counts so ("exceed the maximum
# allowed size of 23.8 Mb" under a label of "up to 25 MB", when it was 10**6), and the page's label must agree with it.
MB = 2**20
# --refresh's seconds: each refresh reads every run folder, and a browser runs a timer of over 2**31 ms (24.8 days)
# at once, again and again (Gradio's Timer is setInterval(value * 1000)): `--refresh 1e-3` and `--refresh 3e6` both
# had every open page send a refresh every few milliseconds.
REFRESH_RANGE = (0.5, 86400.0)


@dataclass(frozen=True)
class ServeOptions(Options):
    """`cyclegan serve`: which models and runs the page may use, where it listens, and its limits."""

    runs: tuple[str, ...] | None = opt(
        None,
        "folders holding runs of `cyclegan train` (searched 3 levels deep; new runs and checkpoints "
        "appear without a restart)",
        metavar="DIR",
        default_text="none",
        nonempty="folders holding runs",
    )
    checkpoint: tuple[str, ...] | None = opt(
        None,
        "checkpoint files, run folders, reference-implementation generator .pth files or pretrained:NAME to offer",
        metavar="FILE",
        default_text="none",
        nonempty="checkpoint files, run folders or pretrained:NAME",
    )
    examples: tuple[str, ...] | None = opt(
        None,
        f"example images offered in Translate (files, or folders: their first {EXAMPLES_PER_FOLDER} images by name)",
        metavar="IMG",
        default_text="four built-in summer/winter scenes",
        nonempty="image files or folders",
    )
    host: str = opt(
        "127.0.0.1",
        "address to listen on; anything but 127.0.0.1/localhost lets other machines in (there is no login)",
        metavar="ADDR",
    )
    port: int = opt(7860, "port to listen on", ge=1, le=65535)
    concurrency: int = opt(1, "heavy jobs (translate, video, stylise, compare) run at once; more wait in a queue", gt=0)
    max_queue: int = opt(
        100, "jobs that may wait in the queue, light refreshes included; one more is refused (the queue is full)", gt=0
    )
    max_jobs_per_visitor: int = opt(
        3,
        "heavy jobs one page (its session) may have waiting or running at once; one more is refused, saying so "
        "(per page, not per address: behind a proxy every visitor has the proxy's)",
        gt=0,
    )
    max_upload_mb: float = opt(
        25.0, "largest file accepted, image or clip, in MB (of 1024 x 1024 bytes, as Gradio counts)", ge=MIN_UPLOAD_MB
    )
    max_disk_mb: float = opt(
        2000.0,
        "most disk the uploads and results may take together, in MB (of 1024 x 1024 bytes, as --max-upload-mb; each "
        "is deleted an hour after it came): "
        "an upload past it is refused until then",
        gt=0,
    )
    max_pixels: int = opt(
        25_000_000, "largest image, or clip frame, accepted, in pixels (W x H; also as the model pads each side)", gt=0
    )
    max_memory: float = max_memory_option()  # an operator may allow the flow blend up to --max-pixels (2 GB: 25 MP)
    max_images: int = opt(
        50, "most images one job takes: Translate's uploads, the style images of Style transfer and Compare", gt=0
    )
    max_clip_frames: int = opt(
        1500, "most frames a clip may hold in the Video tab (a minute at 25 frames/s), read before translating", gt=0
    )
    max_style_size: int = opt(
        1024, "largest long side the Style and Compare tabs offer, in px", ge=STYLE_SIZE_MIN + STYLE_SIZE_STEP
    )
    max_style_steps: int = opt(1000, "most Gatys steps the Style and Compare tabs offer", ge=2 * STYLE_STEPS_MIN)
    refresh: float = opt(
        3.0, "seconds between refreshes of the Runs tab and the model list", ge=REFRESH_RANGE[0], le=REFRESH_RANGE[1]
    )
    device: str = device_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        # Here, not in `serve`, so that `build_app(ServeOptions(...))` from Python is held to it too.
        if self.max_disk_mb < self.max_upload_mb:  # no upload of the size the page offers could ever be stored
            raise CycleGANError(
                f"option '--max-disk-mb' {self.max_disk_mb:g} is under --max-upload-mb {self.max_upload_mb:g}: "
                "raise it, or lower --max-upload-mb"
            )


def bare_host(host: str) -> str:
    """`host` without the brackets of an IPv6 address written as in a URL (`[::1]` -> `::1`)."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def url_host(host: str) -> str:
    """`host` as a URL (and Gradio's launch) takes it: an IPv6 address in brackets. Given as `::1`, Gradio built
    `http://::1:7860` and the start ended in httpx's traceback."""
    host = bare_host(host)
    return f"[{host}]" if ":" in host else host
