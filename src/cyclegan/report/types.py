"""What the reports show, as plain data: the comparison's report (`CompareReport`, one `Row` per image) and the
names of the feature-distance metrics per feature network. The pipelines fill them (`cyclegan.compare`,
`cyclegan.evaluate`); the renderers of this package read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

# fd/kid with the FID Inception weights are the field's FID/KID; with Lite0 they are not, and are named so.
METRIC_NAMES: dict[str, tuple[str, str]] = {"inception": ("fid", "kid"), "lite0": ("fd_lite0", "kid_lite0")}
METHODS = ("input", "cyclegan", "gatys")  # the comparison's columns, in order


@dataclass
class Row:
    """Figures for one content image. Metric dicts map a method (input, cyclegan, gatys) to a value."""

    name: str
    content: str
    references: list[str]
    seconds: dict[str, float]
    ssim_y: dict[str, float]
    content_distance: dict[str, float]
    style_distance: dict[str, float]
    images: dict[str, str] = field(default_factory=dict)


@dataclass
class CompareReport:
    """What `compare` returns and writes as report.json (`asdict`); `cyclegan.report` renders it."""

    checkpoint: str
    direction: str
    size: int
    gatys: dict
    metrics_backbone: dict
    rows: list[Row]
    kid: dict | None
    grid: str
    html: str
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line per image that could not be used
    interrupted: bool = False  # stopped by Ctrl-C: the rows are the images compared before it
    device: str = ""  # where the seconds were measured: "cpu (2 threads)", "cuda:0 (NVIDIA H100 80GB HBM3)"
    target: str | None = None  # the KID folder given (--target, or the first --style folder), measured or not
    # the family of the model that translated (`loading.model_label`): CycleGAN, pix2pix, CUT, FastCUT; its
    # figures stay under the key "cyclegan" of `METHODS`, whatever the family, so that readers of report.json keep
    # working
    model: str = "CycleGAN"
    # the run's step and which of its weights translated (`loading.weights_record`): {} for another project's file
    model_weights: dict[str, str] = field(default_factory=dict)

    methods: ClassVar[tuple[str, ...]] = METHODS  # the grid's and tables' column order

    def label(self, method: str) -> str:
        """How the tables name a method: "input", the model's family (`model`) or "Gatys". One definition for the
        terminal's and the page's summary: the page's said "gatys" beside the terminal's "Gatys"."""
        return {"cyclegan": self.model, "gatys": "Gatys"}.get(method, method)

    def model_details(self) -> str:
        """What the terminal and the page say after the model's file: its direction and, for a run, the step and
        which weights ("AtoB, step 3000, averaged (--ema-decay) weights"): --ema on and off read alike."""
        w = self.model_weights
        return self.direction + (f", step {w['step']}, {w['weights']} weights" if w else "")

    def gatys_backbone(self) -> str:
        """Gatys' backbone as the terminal and the page name it: "vgg19", or "vgg19 from FILE" where its weights were
        a file (`--weights`): a comparison over one's own (or untrained) VGG19 weights read as one over ImageNet's."""
        weights = self.gatys.get("weights")  # not in a report.json written before it was recorded
        return f"{self.gatys['backbone']} from {weights}" if weights else self.gatys["backbone"]

    def mean(self, metric: str, method: str) -> float:
        """Mean of a per-image metric (a `Row` attribute, e.g. "ssim_y") of one method; NaN if none has it."""
        values = [getattr(r, metric)[method] for r in self.rows if method in getattr(r, metric)]
        return sum(values) / len(values) if values else float("nan")
