"""The unpaired (and, for pix2pix, paired) training set, sampled as a pure function of (seed, sample index).

Each domain gets its own seeded permutation per epoch and each sample its own seeded crop and flip, so a
run that resumes at step s sees exactly the images and augmentations an uninterrupted run would, with
any number of loader workers (or processes).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ..errors import CycleGANError, counted
from ..options import given_as
from ..shared_options import MAX_PIXELS
from .io import list_images, open_image, read_image, to_tensor, upright_size


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (SplitMix64-style mixing)."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def train_transform(im, *, size: int, load_size: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Resize to load_size x load_size, random crop size x size, random h-flip -> (3, size, size) in [-1, 1]."""
    im = TF.resize(im, [load_size, load_size], interpolation=InterpolationMode.BICUBIC)
    top, left = (int(v) for v in torch.randint(0, load_size - size + 1, (2,), generator=gen))
    im = TF.crop(im, top, left, size, size)
    if flip and torch.rand((), generator=gen) < 0.5:
        im = TF.hflip(im)
    return to_tensor(im)


def eval_transform(im, *, size: int) -> torch.Tensor:
    """Resize to size x size (no crop, no flip) -> (3, size, size) in [-1, 1]."""
    return to_tensor(TF.resize(im, [size, size], interpolation=InterpolationMode.BICUBIC))


@dataclass
class TrainSet(Dataset):
    """What the unpaired and paired training sets share: their fields and their epochs.

    Item g is a global sample index, counting across epochs: the sampler decides which are drawn. One epoch
    is `steps_per_epoch * batch_size` samples, enough to see every image once (`images_per_epoch`); each
    stream of images (a domain, or the pairs) is read in a seeded permutation per epoch, repeated to fill it.
    """

    files_a: list[Path]
    files_b: list[Path] | None
    size: int
    load_size: int
    flip: bool
    seed: int
    batch_size: int
    max_pixels: int = MAX_PIXELS  # the decode cap (--max-pixels)

    @property
    def images_per_epoch(self) -> int:
        raise NotImplementedError

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.images_per_epoch / self.batch_size)

    @property
    def samples_per_epoch(self) -> int:
        return self.steps_per_epoch * self.batch_size

    def __len__(self) -> int:  # addressable by any global index; the sampler decides which
        return 2**62

    def _order(self, stream: int, n: int, g: int) -> int:
        """Which of `n` images stream `stream` reads at sample g: its epoch's seeded permutation, at g's place."""
        epoch, i = divmod(g, self.samples_per_epoch)
        cache = self.__dict__.setdefault("_perm_cache", {})
        key = (stream, epoch)
        if key not in cache:
            gen = torch.Generator().manual_seed(mix_seed(self.seed, stream, epoch))
            reps = math.ceil(self.samples_per_epoch / n)
            if len(cache) > 4:  # only the current epoch (and a neighbour) is ever needed
                cache.clear()
            cache[key] = torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)]).tolist()
        return cache[key][i]


@dataclass
class UnpairedTrainSet(TrainSet):
    """Item g (a global sample index, counting across epochs) is a pair (x from A, y from B), unpaired.

    One epoch is enough to see every image of the larger domain; the smaller domain is drawn from repeated
    permutations of its own.
    """

    files_b: list[Path]

    @property
    def images_per_epoch(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def _index(self, domain: int, g: int) -> int:
        return self._order(domain, len(self.files_a if domain == 0 else self.files_b), g)

    def _load(self, domain: int, g: int) -> torch.Tensor:
        files = self.files_a if domain == 0 else self.files_b
        gen = torch.Generator().manual_seed(mix_seed(self.seed, 2 + domain, g))
        im = read_image(files[self._index(domain, g)], max_pixels=self.max_pixels)
        return train_transform(im, size=self.size, load_size=self.load_size, flip=self.flip, gen=gen)

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._load(0, g), self._load(1, g)


# --- paired data (pix2pix) -----------------------------------------------------------------------------------


def split_aligned(im):
    """The reference's aligned layout: one image holding A (left half) and B (right half) side by side."""
    w, h = im.size
    half = w // 2
    return im.crop((0, 0, half, h)), im.crop((half, 0, 2 * half, h))


def _upright_size(path: Path) -> tuple[int, int] | None:
    """(W, H) of an image file as it is read (turned upright by its EXIF orientation: `split_aligned` halves the
    upright image), from its header alone; None where it cannot be opened (named where it is decoded)."""
    try:
        with open_image(path) as im:
            return upright_size(im)
    except Exception:  # noqa: BLE001 - changed since it was checked: named where it is decoded
        return None


def not_halvable(path: Path) -> str | None:
    """A line naming an aligned file (A|B side by side) that cannot hold an A and a B of one size, as it is read
    (upright; the header alone): under 2 px wide (no half for A or for B), or of an odd width (two images of one
    size make an even one: a photo of 255x255 was split into a 127 px A and a B that lost a column, and trained
    without a word, as the reference's split at w/2 trains any file). None when it halves, or cannot be opened."""
    size = _upright_size(path)
    if size is None:
        return None
    width, height = size
    if width < 2:
        return f"{path}: {width} px wide, but an aligned pair holds A and B side by side, so it needs at least 2 px"
    if width % 2 == 0:
        return None
    return (
        f"{path}: {width}x{height}, an odd width, but an aligned file holds an A and a B of one size side by side "
        f"({2 * (width // 2)}x{height} or {2 * (width // 2 + 1)}x{height} here; 512x256 for two 256x256 images): "
        "is it an A|B pair?"
    )


def unlike_aligned(files: Iterable[Path], *, shown: int = 1) -> str | None:
    """A line counting the aligned files (A|B side by side) whose shape (aspect ratio, by more than 2%, upright;
    headers alone) is not the one most of them have, naming the first `shown`; None where they all have it, or no
    shape is most's (a set of many shapes). A square photo among 2:1 pairs (a stray file, a photo saved into
    train/) was split into two halves of another scene and learnt from as a pair, without a word; the reference
    splits any file at w/2 too, and a set's pairs may be of any one shape (two 4:3 photos make an 8:3 file), so it
    is a warning, not a refusal."""
    sizes = {p: size for p in files if (size := _upright_size(p)) is not None}
    if not sizes:
        return None
    common = Counter(sizes.values()).most_common(1)[0][0]
    unlike = [p for p, (w, h) in sizes.items() if abs(math.log((w / h) / (common[0] / common[1]))) > math.log(1.02)]
    if not unlike or 2 * len(unlike) >= len(sizes):
        return None
    named = "; ".join(f"{p} is {sizes[p][0]}x{sizes[p][1]}" for p in unlike[:shown])
    more = f" and {len(unlike) - shown} more" if len(unlike) > shown else ""
    (w, h), verb = common, "is" if len(unlike) == 1 else "are"
    return (
        f"{len(unlike)} of {len(sizes)} aligned A|B files {verb} not of the shape most are, {w}x{h} (an A and a B of "
        f"{w // 2}x{h} side by side): {named}{more}; each is split at its middle into A and B all the same: check that "
        "it is an A|B pair"
    )


PIXEL_FOR_PIXEL = "pix2pix learns pixel for pixel, and stretches both to one square"


def unlike_pairs(
    pairs: Iterable[tuple[Path, Path | None]], *, shown: int = 2, why: str = PIXEL_FOR_PIXEL
) -> str | None:
    """A line naming the pairs of two files whose A and B differ in shape (aspect ratio, by more than 2%, turned
    upright; headers alone), or None. pix2pix learns pixel for pixel, and resizes both to one square: a B of
    another shape (a 4:3 label map for a 16:9 photo, a file of another scene) was stretched unlike its A, without
    a word. `why`: what compares them pixel for pixel (training's pix2pix, evaluate's truth figures). A file
    that cannot be opened is left to the decode that names it."""
    unlike = []
    for a, b in pairs:
        if b is None:  # an aligned file: its halves are of one height and width
            continue
        try:
            with open_image(a) as im_a, open_image(b) as im_b:
                (wa, ha), (wb, hb) = upright_size(im_a), upright_size(im_b)
        except Exception:  # noqa: BLE001 - named where it is decoded
            continue
        if abs(math.log((wa / ha) / (wb / hb))) > math.log(1.02):
            unlike.append(f"{a} is {wa}x{ha}, its B {b.name} {wb}x{hb}")
    if not unlike:
        return None
    more = f" and {len(unlike) - shown} more" if len(unlike) > shown else ""
    return (
        f"{counted(len(unlike), 'pair')} of A and B of different shapes ({'; '.join(unlike[:shown])}{more}): {why}; "
        "check that each is the same scene, aligned"
    )


def paired_transform(a, b, *, size: int, load_size: int, flip: bool, gen: torch.Generator):
    """`train_transform` with one crop and one flip drawn for both images of a pair: two (3, size, size)."""
    a, b = (TF.resize(im, [load_size, load_size], interpolation=InterpolationMode.BICUBIC) for im in (a, b))
    top, left = (int(v) for v in torch.randint(0, load_size - size + 1, (2,), generator=gen))
    a, b = (TF.crop(im, top, left, size, size) for im in (a, b))
    if flip and torch.rand((), generator=gen) < 0.5:
        a, b = TF.hflip(a), TF.hflip(b)
    return to_tensor(a), to_tensor(b)


def read_pair(file_a: Path, file_b: Path | None, *, max_pixels: int = MAX_PIXELS):
    """The two PIL images of a pair: from two files, or (`file_b` None) the halves of an aligned one."""
    if file_b is None:
        return split_aligned(read_image(file_a, max_pixels=max_pixels))
    return read_image(file_a, max_pixels=max_pixels), read_image(file_b, max_pixels=max_pixels)


def find_pairs(folder_a: Path, folder_b: Path) -> list[tuple[Path, Path]]:
    """The pairs of two folders: files of the same name (relative path and stem; the extension may differ),
    in sorted order. Files without their pair are a one-line error counting both sides' (and naming a few), and so
    are two files of one name in a folder (x.jpg and x.png)."""

    def by_name(folder: Path) -> dict[Path, Path]:
        named: dict[Path, Path] = {}
        for p in list_images(folder):
            key = p.relative_to(folder).with_suffix("")
            if key in named:  # x.jpg and x.png: one was left out without a word, and which is x's pair?
                raise CycleGANError(
                    f"{named[key]} and {p.name} beside it have one name: paired data "
                    f"({given_as('family', 'pix2pix', flag='--model')}) pairs files by "
                    "name without the extension, so rename or remove one"
                )
            named[key] = p
        return named

    a, b = by_name(folder_a), by_name(folder_b)
    alone_a, alone_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    if alone_a or alone_b:  # both sides' misses: a renamed file shows as one on each side
        raise CycleGANError(
            f"{folder_a} and {folder_b} do not pair up: {_unpaired(alone_a, a, folder_a, 'A', 'B')}, "
            f"{_unpaired(alone_b, b, folder_b, 'B', 'A')}; paired data "
            f"({given_as('family', 'pix2pix', flag='--model')}) needs the same names "
            "in both folders (the extension may differ), or ROOT/train of A|B images side by side"
        )
    return [(a[k], b[k]) for k in sorted(a)]


def _unpaired(alone: list[Path], files: dict[Path, Path], folder: Path, side: str, other: str, shown: int = 2) -> str:
    """One side's files without a pair, counted, the first few named: `2 A files have no B file of the same
    name (x.png, y.png)`."""
    if not alone:
        return f"every {side} file has its {other}"
    names = [files[k].relative_to(folder).as_posix() for k in alone[:shown]] + ["..."] * (len(alone) > shown)
    count = f"1 {side} file has" if len(alone) == 1 else f"{len(alone)} {side} files have"
    return f"{count} no {other} file of the same name ({', '.join(names)})"


@dataclass
class PairedTrainSet(TrainSet):
    """Item g (a global sample index) is a pair (x from A, y from B) of the same scene, with the same crop
    and flip. `files_b` None: each of `files_a` holds A and B side by side (the aligned layout).

    Like `UnpairedTrainSet`, the order (a seeded permutation per epoch) and the augmentation of each item
    are a pure function of (seed, g)."""

    @property
    def images_per_epoch(self) -> int:
        return len(self.files_a)

    def _index(self, g: int) -> int:
        return self._order(0, len(self.files_a), g)

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = self._index(g)
        a, b = read_pair(
            self.files_a[i], self.files_b[i] if self.files_b is not None else None, max_pixels=self.max_pixels
        )
        gen = torch.Generator().manual_seed(mix_seed(self.seed, 2, g))
        return paired_transform(a, b, size=self.size, load_size=self.load_size, flip=self.flip, gen=gen)
