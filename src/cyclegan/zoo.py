"""Published generators by name: the reference implementation's 18 pretrained models, cached on first use.

`pretrained:NAME` is accepted wherever a checkpoint is taken (`translate`, `evaluate`, `export`, `compare`,
`serve`, `cyclegan.load_generator`): `loading.checkpoint_path` hands it to `resolve`, which returns the cached
file, downloading it first. (Not to be confused with `cyclegan.pretrained`, the ImageNet feature networks.)

A download

1. streams `BASE/NAME.pth` into `CACHE/.NAME.pth.part` (a progress bar; plain lines in a log file),
   resuming with an HTTP Range request after a cut connection (a few times on its own, then on the next
   run), bounded in bytes (a published generator's size with a margin, or `--max-mb`) and in time
   (`--max-minutes`, all attempts together);
2. computes the file's SHA-256 and compares it with `--sha256` or the catalogue's pinned digest; a
   mismatch deletes the file;
3. loads it weights-only (`torch.load(weights_only=True)`, after its zip directory is sized) and builds
   the generator it describes: a file that is not a generator, or holds NaN or infinite weights, or (under a
   catalogue name) holds another network than the catalogue's ResNet (`published_mismatch`), is deleted and
   refused in one line;
4. records its size and SHA-256 in `CACHE/NAME.pth.json`, then renames it to `CACHE/NAME.pth` in one step,
   so a cached file is always complete and checked.

A cached file is checked against that record before each use (size, then SHA-256): one that differs
(truncated, damaged, replaced) is named on stderr, deleted and downloaded again. One downloaded from another
address than the mirror now asked for (`--base-url`, `$CYCLEGAN_PRETRAINED_URL`: perhaps another file under the
same name; its query, a signed address's token, aside) is named and downloaded again, unless it has the
`--sha256` asked for; it stays in the cache until the new file replaces it. Without a mirror the cached file is
used wherever it came from (offline, a copy fetched from a mirror or put there by hand). A cached file without a
record (an older cache, or a file put there by hand) is checked as a download is (step 3) and recorded.

CACHE is `$CYCLEGAN_HOME/pretrained` (default `~/.cache/cyclegan/pretrained`). BASE is the reference's
server, or `--base-url` / `$CYCLEGAN_PRETRAINED_URL` for a mirror serving `URL/NAME.pth`. The reference
publishes no checksums and this project has not downloaded the files from its server, so no name is pinned:
each download prints its digest so that it can be compared with a trusted copy and pinned with `--sha256`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .data.fetch import (
    Bounds,
    address_problem,
    check_sha256,
    download_lock,
    fetch,
    file_address,
    file_sha256,
    shown_address,
)
from .errors import CycleGANError, escape, nearest
from .files import sync_folder, write_atomic
from .options import Options, opt
from .progress import print_line, print_warning
from .shared_options import PRETRAINED_PREFIX, max_minutes_option, progress_option

PREFIX = PRETRAINED_PREFIX
DEFAULT_BASE_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models"  # download_cyclegan_model.sh
BASE_URL_ENV = "CYCLEGAN_PRETRAINED_URL"
HOME_ENV = "CYCLEGAN_HOME"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_NAME = 100  # characters: the cache's NAME.pth, .NAME.pth.part and .NAME.lock stay far below NAME_MAX
ATTEMPTS = 3  # connections per download before asking the user to run again (each resumes the last)
# Every published generator is the paper's: ResNet, 9 blocks, 64 filters, InstanceNorm without affine
# parameters, no dropout, trained on 256 px crops (REFERENCE.md section 9).
ARCHITECTURE = "ResNet-9, 64 filters, InstanceNorm, trained at 256 px"
# ... as `interop.foreign.ForeignArchitecture` reads it from a file's tensors (its other fields at their defaults:
# no affine norm, no dropout, strided resampling): a file under a catalogue name must hold this network
PUBLISHED_ARCHITECTURE = {"kind": "resnet", "ngf": 64, "depth": 9, "norm": "instance"}
PARAMETERS = 11_378_179
FILE_MB = 45.6  # float32 weights plus the zip container (about 4 bytes a parameter)
CATALOGUE_MAX_MB = 50.0  # a published generator's download is refused beyond this (FILE_MB and a margin)
OTHER_MAX_MB = 2000.0  # ... and a mirror's other names beyond this (our own format, training state and all)
MAX_MINUTES = 30.0  # a download that has not finished after this (all attempts together) stops, kept to resume


@dataclass(frozen=True)
class PublishedModel:
    """One published generator: it translates `source` into `target` (one direction per file), which is the
    `direction` of `dataset` (its A and B folders as the reference's dataset scripts lay them out).

    `sha256`: the file's digest, set only where someone downloaded the file and verified it; None otherwise.
    """

    name: str
    source: str
    target: str
    dataset: str
    direction: Literal["AtoB", "BtoA"]
    sha256: str | None = None

    @property
    def does(self) -> str:
        return f"{self.source} -> {self.target}"

    @property
    def order_named(self) -> bool:
        """Whether the dataset's name gives its A and B (horse2zebra: A horses): maps, cityscapes and facades
        name neither, and their order is the dataset scripts' layout, not checked here against the files."""
        return "2" in self.dataset


MODELS: dict[str, PublishedModel] = {
    m.name: m
    for m in (
        PublishedModel("horse2zebra", "horse photos", "zebras", "horse2zebra", "AtoB"),
        PublishedModel("zebra2horse", "zebra photos", "horses", "horse2zebra", "BtoA"),
        PublishedModel("apple2orange", "apple photos", "oranges", "apple2orange", "AtoB"),
        PublishedModel("orange2apple", "orange photos", "apples", "apple2orange", "BtoA"),
        PublishedModel("summer2winter_yosemite", "Yosemite in summer", "in winter", "summer2winter_yosemite", "AtoB"),
        PublishedModel("winter2summer_yosemite", "Yosemite in winter", "in summer", "summer2winter_yosemite", "BtoA"),
        PublishedModel("monet2photo", "Monet paintings", "photos", "monet2photo", "AtoB"),
        PublishedModel("style_monet", "landscape photos", "Monet paintings", "monet2photo", "BtoA"),
        PublishedModel("style_cezanne", "landscape photos", "Cezanne paintings", "cezanne2photo", "BtoA"),
        PublishedModel("style_ukiyoe", "landscape photos", "ukiyo-e prints", "ukiyoe2photo", "BtoA"),
        PublishedModel("style_vangogh", "landscape photos", "Van Gogh paintings", "vangogh2photo", "BtoA"),
        PublishedModel("sat2map", "aerial photos", "map tiles", "maps", "AtoB"),
        PublishedModel("map2sat", "map tiles", "aerial photos", "maps", "BtoA"),
        PublishedModel("cityscapes_photo2label", "street photos", "semantic label maps", "cityscapes", "AtoB"),
        PublishedModel("cityscapes_label2photo", "semantic label maps", "street photos", "cityscapes", "BtoA"),
        PublishedModel("facades_photo2label", "facade photos", "architectural label maps", "facades", "AtoB"),
        PublishedModel("facades_label2photo", "architectural label maps", "facade photos", "facades", "BtoA"),
        PublishedModel(
            "iphone2dslr_flower", "iPhone flower photos", "DSLR look (shallow focus)", "iphone2dslr_flower", "AtoB"
        ),
    )
}


@dataclass(frozen=True)
class FetchResult:
    """Where the generator is and what happened (`downloaded` False: it was in the cache)."""

    name: str
    path: Path
    sha256: str | None  # computed on download (and on a cached file when a digest was asked for)
    downloaded: bool
    pinned: bool  # checked against a digest (`--sha256` or the catalogue's)
    resumed_from: int = 0
    url: str = ""


# --- names, addresses, the cache ----------------------------------------------------------------------------


def cache_dir() -> Path:
    """`$CYCLEGAN_HOME/pretrained`, default `~/.cache/cyclegan/pretrained`."""
    try:
        home = os.environ.get(HOME_ENV) or Path.home() / ".cache" / "cyclegan"
        return Path(home).expanduser() / "pretrained"
    except RuntimeError:  # no $HOME and no passwd entry (a container run under an arbitrary user id)
        raise CycleGANError(f"no home directory for the model cache (no $HOME): set ${HOME_ENV}") from None


def base_url_from_env() -> str | None:
    return os.environ.get(BASE_URL_ENV) or None


def model_url(name: str, base_url: str, *, given_in: str = "--base-url") -> str:
    """`BASE/NAME.pth`; only http and https are accepted. `given_in`: where `base_url` came from, for the error."""
    if problem := address_problem(base_url, "expected http:// or https://"):
        raise CycleGANError(f"base URL {shown_address(base_url)!r} ({given_in}): {problem}")
    return file_address(base_url, f"{name}.pth")


def plain_name(name: str) -> bool:
    """Whether `name` is a model name outside the catalogue may be: a plain file name (letters, digits, '_', '-',
    '.'; no '..') of at most MAX_NAME characters."""
    return SAFE_NAME.fullmatch(name) is not None and ".." not in name and len(name) <= MAX_NAME


def check_name(name: str, *, mirror: bool) -> PublishedModel | None:
    """The catalogue entry for `name`; other names only from a mirror, or cached from one, and only as plain file
    names of at most MAX_NAME characters."""
    if len(name) > MAX_NAME:
        raise CycleGANError(f"pretrained model name of {len(name)} characters: at most {MAX_NAME} are accepted")
    info = MODELS.get(name)
    if info is not None:
        return info
    # `pretrained download NAME --base-url URL` said "use it as --checkpoint pretrained:NAME", which then refused the
    # name as unknown without $CYCLEGAN_PRETRAINED_URL: a cached file is used wherever it came from
    cached = plain_name(name) and cached_path(name).is_file()
    if not mirror and not cached:
        close = nearest(name, MODELS)
        hint = f"did you mean '{close}'? " if close else ""
        raise CycleGANError(f"unknown pretrained model '{name}'; {hint}see `cyclegan pretrained list`")
    if not plain_name(name):  # its length is refused above
        raise CycleGANError(f"pretrained model name {name!r}: expected letters, digits, '_', '-' or '.' only")
    return None


def check_scored_on(name: str, data: str | os.PathLike, direction: str) -> str | None:
    """For `evaluate`: a published generator scored on `data` in `direction` ("AtoB", "BtoA" or "both").
    On its own dataset (`data` named as it is), a direction other than the one it translates is refused in one
    line: `pretrained:zebra2horse --direction AtoB --data horse2zebra` scored horses through a zebra-to-horse
    generator against zebras, without a word. Where the dataset's name does not give its A and B (maps,
    cityscapes, facades), a warning is returned instead. "Both" is refused anywhere (each file holds one
    generator), before the download; on another standard dataset, a warning is returned. Names outside the
    catalogue (a mirror's): nothing is known of them."""
    info = MODELS.get(name)
    if info is None:
        return None
    dataset = Path(os.path.abspath(data)).name  # `--data .` names its folder too
    where = dataset if os.path.normpath(data) == dataset else f"{dataset} ({data})"
    if dataset == info.dataset and direction != info.direction and (info.order_named or direction != "both"):
        line = f"{PREFIX}{name} translates {info.does}, the {info.direction} direction of {where}, not {direction}"
        if info.order_named:
            raise CycleGANError(f"option '--direction': {line}; give --direction {info.direction}")
        # the order of A and B is the reference scripts' layout, which a folder made otherwise may not follow
        return f"{line}, if its A and B are laid out as the reference's scripts lay them out"
    if direction == "both":  # known without the file: it was refused only after its download (up to --max-minutes)
        raise CycleGANError(
            f"option '--direction': {PREFIX}{name} holds a single generator ({info.does}): give --direction AtoB "
            f"or BtoA, the one whose source folder holds {info.source}"
        )
    if dataset != info.dataset and dataset in {m.dataset for m in MODELS.values()}:
        return (
            f"{PREFIX}{name} translates {info.does} and was trained on {info.dataset}, but is scored on {where}: "
            "its figures are not those of the task it was published for"
        )
    return None


def is_spec(value: object) -> bool:
    """Whether a checkpoint argument names a published model (`pretrained:NAME`)."""
    return isinstance(value, (str, os.PathLike)) and os.fspath(value).startswith(PREFIX)


def cached_path(name: str) -> Path:
    return cache_dir() / f"{name}.pth"


def mirror_cached() -> list[tuple[str, int]]:
    """The names outside the catalogue whose file is in the cache (a mirror's, or put there by hand), with their
    sizes in bytes, by name: `--checkpoint pretrained:NAME` uses them (`check_name`), and `pretrained list`, which
    showed the catalogue alone, shows them too."""
    try:
        files = [p for p in cache_dir().glob("*.pth") if p.stem not in MODELS and p.is_file()]
        found = [(p.stem, p.stat().st_size) for p in files]
    except OSError:  # an unreadable cache: nothing to show, as for none
        return []
    # only the names check_name accepts: a file named otherwise is not one `pretrained:NAME` can give
    return sorted(n for n in found if plain_name(n[0]))


def part_path(name: str) -> Path:
    """Where the download of `name` streams to, kept to resume when it stops."""
    return cache_dir() / f".{name}.pth.part"


def cached_name(path: str | os.PathLike) -> str | None:
    """The name of the published generator whose cached file `path` is (`CACHE/NAME.pth`), else None."""
    path = Path(path)
    if path.suffix != ".pth":
        return None
    try:
        # the folder resolved, not the file: a cached file may be a link to a copy kept elsewhere
        return path.stem if Path(os.path.abspath(path)).parent.resolve() == cache_dir().resolve() else None
    except (CycleGANError, OSError):  # no cache at all: not one of its files
        return None


def record_path(target: Path) -> Path:
    """`CACHE/NAME.pth.json`: the size and SHA-256 of `CACHE/NAME.pth` when it was downloaded."""
    return target.with_name(target.name + ".json")


def _write_record(target: Path, *, size: int, digest: str, url: str) -> None:
    # the address as messages show it: a signed address's token (its query) is not kept on disk (`moved_from`)
    text = json.dumps({"bytes": size, "sha256": digest, "url": shown_address(url)}) + "\n"
    write_atomic(record_path(target), lambda tmp: Path(tmp).write_text(text))


def _read_record(target: Path) -> dict | None:
    try:
        record = json.loads(record_path(target).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(record, dict) and isinstance(record.get("bytes"), int) and isinstance(record.get("sha256"), str)
    return record if ok else None


def check_cached(target: Path, *, url: str) -> tuple[str | None, str | None]:
    """(what is wrong with the cached `target`, or None; its SHA-256 when it was computed). Checked against
    its record: the size, then the digest. Without a record: checked as a download is, and recorded."""
    size = target.stat().st_size
    record = _read_record(target)
    if record is None:
        try:
            _check_generator(target, name=target.stem, url=str(target), delete=False)
        except CycleGANError as e:
            return f"has no record of its download and is not a usable generator ({e})", None
        digest = file_sha256(target)
        try:
            _write_record(target, size=size, digest=digest, url=url)
        except OSError:  # a read-only cache: the file is checked, the next use checks it again
            pass
        return None, digest
    if size != record["bytes"]:
        return f"is {size} bytes, {record['bytes']} when it was downloaded (truncated or replaced)", None
    digest = file_sha256(target)
    if digest != record["sha256"]:
        return f"has SHA-256 {digest}, {record['sha256']} when it was downloaded (damaged or replaced)", digest
    return None, digest


def moved_from(target: Path, *, url: str, digest: str | None, expected: str | None, mirror: bool) -> str | None:
    """The address an intact cached `target` was downloaded from, where a mirror was asked for (`mirror`:
    --base-url or $CYCLEGAN_PRETRAINED_URL) at another address `url`: perhaps another file under the same name,
    unless its digest is the one asked for. None where the file is the one asked for, where no mirror was
    asked for (the default server: a copy fetched from a mirror, or put there by hand, is used offline), or
    where its record names no address (an older cache). Addresses are compared without their query: a signed
    mirror's token changes from one session to the next (`?token=T`), and each new one downloaded the file again,
    saying it came from an address shown as the same (`shown_address`, as the record keeps it)."""
    if not mirror or (expected is not None and digest == expected):
        return None
    record = _read_record(target) or {}
    old = record.get("url")
    return old if isinstance(old, str) and _without_query(old) != _without_query(url) else None


def _without_query(url: str) -> str:
    """`url` without its query (as recorded, `?...`; as asked, a token): the file's address alone."""
    return url.partition("?")[0]


def _unusable(target: Path, *, url: str, expected: str | None, mirrored: bool) -> tuple[str | None, str | None, bool]:
    """(why the cached `target` is not used, or None; its SHA-256 when computed; whether it is damaged, rather
    than another mirror's file): `check_cached`, then `moved_from`."""
    problem, digest = check_cached(target, url=url)
    if problem is not None:
        return problem, digest, True
    if (moved := moved_from(target, url=url, digest=digest, expected=expected, mirror=mirrored)) is not None:
        return f"was downloaded from {shown_address(moved)}, not {shown_address(url)} as now asked", digest, False
    return None, digest, False


def download_bounds(
    info: PublishedModel | None, *, max_mb: float | None, max_minutes: float, via: str | None = None
) -> Bounds:
    """A download's bounds: `max_mb` (default: the catalogue's size with a margin, or OTHER_MAX_MB for a
    mirror's other names) and `max_minutes`. `via`: the command whose --max-mb and --max-minutes allow more,
    where the caller's user has no such options (`pretrained:NAME` in translate, or from Python)."""
    if via is None:
        more_mb, minutes_from = "option '--max-mb'", "option '--max-minutes'"
    else:
        more_mb, minutes_from = f"`{via} --max-mb MB` allows more", f"`{via} --max-minutes MIN` allows more"
    if max_mb is not None:
        mb, why = max_mb, more_mb
    elif info is not None:
        more = f"{more_mb} to allow more" if via is None else more_mb
        mb, why = CATALOGUE_MAX_MB, f"a published generator is {FILE_MB} MB; {more}"
    else:
        mb, why = OTHER_MAX_MB, more_mb
    return Bounds(max_bytes=int(mb * 1e6), seconds=max_minutes * 60, bytes_from=why, seconds_from=minutes_from)


# --- downloading ------------------------------------------------------------------------------------------


def published_mismatch(name: str, obj: object, *, source: str) -> str | None:
    """How a loaded file under the catalogue's `name` is not the network the catalogue says it is
    (PUBLISHED_ARCHITECTURE), or None (also for names outside the catalogue: nothing is known of them). A mirror
    serving a pix2pix U-Net as horse2zebra was cached and used without a word. A file that is no generator at
    all is refused as one line (CycleGANError naming `source`)."""
    if name not in MODELS:
        return None
    # torch only when a file is checked: `cyclegan pretrained list` and `--help` stay instant
    from .interop.foreign import ForeignArchitecture, foreign_architecture
    from .run_files import FORMAT

    expected = ForeignArchitecture(**PUBLISHED_ARCHITECTURE)  # type: ignore[arg-type]
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        found = "a checkpoint of this project's"  # its own stored config says what: not the reference's file
    else:
        arch = foreign_architecture(obj, source=source)
        if arch == expected:
            return None
        found = f"a {arch.describe()}"
    return f"it holds {found}, where {name} is the reference's {expected.describe()}"


def _check_generator(part: Path, *, name: str, url: str, delete: bool = True) -> None:
    """Refuse (deleting `part` unless `delete` is False) a file that is not a generator, or not the network the
    catalogue says `name` is (`published_mismatch`): weights-only load, then the network built."""
    from .safeload import load_weights_only  # torch only when a download is checked: `--help` stays instant

    try:
        obj = load_weights_only(part)
        if (mismatch := published_mismatch(name, obj, source=escape(part))) is None:
            _check_weights(obj, source=escape(part))  # named as 'the file' below: the address leads the line
    except CycleGANError as e:
        # the file's own name said once, as the line's subject: the address twice read "URL is not a generator
        # file, so it was deleted: URL: unexpected extra.weight ..."
        reason = str(e).replace(escape(part), "the file").removeprefix("the file: ")
        if not delete:
            raise CycleGANError(reason) from None
        part.unlink(missing_ok=True)
        raise CycleGANError(f"{shown_address(url)} is not a generator file, so it was deleted: {reason}") from None
    if mismatch is not None:  # a generator, but another network than the one its name promises
        if not delete:
            raise CycleGANError(f"not the published {name}: {mismatch}")
        part.unlink(missing_ok=True)
        raise CycleGANError(
            f"{shown_address(url)} is not the published {name}, so it was deleted: {mismatch}; a mirror's own model "
            "goes under a name outside the catalogue"
        )


def _check_weights(obj: object, *, source: str) -> None:
    """Refuse a loaded file whose generator cannot be built, or holds NaN or infinite weights."""
    from .checkpoint import check_checkpoint
    from .interop.foreign import load_foreign_generator
    from .run_files import FORMAT
    from .safeload import first_non_finite

    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        check_checkpoint(obj, source=source)
        weights = {"models": obj["models"], "ema": obj.get("ema") or {}}
    else:
        weights = load_foreign_generator(obj, source=source).state_dict()
    # cached, a NaN generator failed every later use with "use another checkpoint", and was never fetched again
    if (bad := first_non_finite(weights)) is not None:
        raise CycleGANError(f"{bad} holds NaN or infinite values (a damaged file, or a run that diverged)")


def fetch_model(
    name: str,
    *,
    base_url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    max_mb: float | None = None,
    max_minutes: float = MAX_MINUTES,
    mirror_from: str = f"base_url= or ${BASE_URL_ENV}",
    bounds_via: str | None = None,
    base_url_via: str = "base_url={!r}",
) -> FetchResult:
    """The cached file of published generator `name`, downloading it first if needed (module docstring).

    base_url: a mirror serving `URL/NAME.pth` (default `$CYCLEGAN_PRETRAINED_URL`, else the reference's
    server); with a mirror, names outside the catalogue are accepted. sha256: the digest the file must have
    (a cached file is checked too). timeout: seconds per read; max_mb, max_minutes: the download's bounds
    (`download_bounds`). mirror_from: where the caller's user gives a mirror's address, for the hints (a Python
    caller's keyword; `cyclegan pretrained download`: --base-url);
    bounds_via: the command that allows a larger or longer download, where the caller's user has no such options.
    base_url_via: how the caller's user gives `base_url`, `{}` for the address, to say what accepts plain http
    where an https address redirects to it (a Python caller's keyword; `cyclegan pretrained download`: --base-url).
    Every failure is a one-line CycleGANError.
    """
    # a bad address named where it was given: translate has no --base-url, only the environment's
    given_in = "base_url" if base_url else f"${BASE_URL_ENV}"
    base_url = base_url or base_url_from_env()
    mirrored = base_url is not None
    info = check_name(name, mirror=mirrored)
    expected = check_sha256(sha256) or (info.sha256 if info else None)
    url = model_url(name, base_url or DEFAULT_BASE_URL, given_in=given_in)
    bounds = download_bounds(info, max_mb=max_mb, max_minutes=max_minutes, via=bounds_via)
    target = cached_path(name)
    if target.is_file():
        problem, digest, _ = _unusable(target, url=url, expected=expected, mirrored=mirrored)
        if problem is None:
            return _cached(name, target, digest, expected, url)
        print_warning(f"warning: the cached {target} {problem}; downloading it again")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CycleGANError(f"cannot create the model cache {folder} ({e.strerror}); set ${HOME_ENV}") from None
    for path in (target, record_path(target)):
        if path.is_dir():  # found only after the download, by the rename onto it
            raise CycleGANError(f"{path} is a folder, where the download of {name} goes: move it away")
    # another process downloading the same name (two commands started at once on a fresh cache): its file is
    # waited for, within the same bound as a download, then checked and used as a cached one
    elsewhere = f"set ${HOME_ENV} to a folder you can write in"
    with download_lock(folder, name, elsewhere=elsewhere, wait=bounds.seconds or 0.0):
        if target.is_file():
            problem, digest, damaged = _unusable(target, url=url, expected=expected, mirrored=mirrored)
            if problem is None:  # the other process fetched it while we waited for the lock
                return _cached(name, target, digest, expected, url)
            # another mirror's intact file stays until the new one replaces it: a failed download loses nothing
            if damaged:
                target.unlink()
                record_path(target).unlink(missing_ok=True)
        part = part_path(name)
        # offline, a copy downloaded elsewhere is taken from the cache (checked as a download is)
        mirror = f"{mirror_from}, or put {name}.pth downloaded elsewhere at {target}"
        missing = f"check the model name, or the mirror's address in {mirror}"
        total, resumed_from = fetch(
            url,
            part,
            progress=progress,
            timeout=timeout,
            attempts=ATTEMPTS,
            bounds=bounds,
            missing=missing,
            mirror=mirror,
            base_via=base_url_via if given_in == "base_url" else f"{BASE_URL_ENV}={{}}",
        )
        size = part.stat().st_size
        if total is not None and size != total:
            part.unlink()
            raise CycleGANError(
                f"download of {shown_address(url)} is {size} bytes, the server announced {total}; deleted, run again"
            )
        digest = file_sha256(part)
        if expected is not None and digest != expected:
            part.unlink()
            raise CycleGANError(
                f"SHA-256 of {shown_address(url)} is {digest}, expected {expected}; the download was deleted"
            )
        _check_generator(part, name=name, url=url)
        try:
            with part.open("rb+") as f:  # on disk before the rename makes it the cached file
                os.fsync(f.fileno())
            _write_record(target, size=size, digest=digest, url=url)  # first: a cached file always has its record
            os.replace(part, target)
        except OSError as e:  # a disk the download just filled: the .part stays, and the next run finishes it
            raise CycleGANError(
                f"cannot write in the model cache {folder}: {e.strerror or e}; make room (the download is kept, to "
                f"be finished by the next run), or set ${HOME_ENV} to another folder"
            ) from None
        sync_folder(target.parent)  # the rename on disk too: a power cut could bring back the .part, or nothing
    return FetchResult(
        name, target, digest, downloaded=True, pinned=expected is not None, resumed_from=resumed_from, url=url
    )


def _cached(name: str, target: Path, digest: str | None, expected: str | None, url: str) -> FetchResult:
    """The result for a cached file that matches its record; a digest asked for must match too."""
    if expected is not None and digest != expected:
        raise CycleGANError(
            f"the cached {target} has SHA-256 {digest}, expected {expected}; delete it to download again"
        )
    return FetchResult(name, target, digest, downloaded=False, pinned=expected is not None, url=url)


def digest_line(r: FetchResult) -> str:
    """What a download says about its digest: verified, or unpinned with the digest to compare."""
    if r.pinned:
        return f"SHA-256 {r.sha256} (verified)"
    # the reference's own server is plain http: nothing but a digest tells its file from one swapped on the way
    plain = ", and plain http lets anyone on the path swap the file" if r.url.startswith("http://") else ""
    return (
        f"SHA-256 {r.sha256} (unpinned: no digest is recorded for {r.name}{plain}; compare it with a trusted copy "
        "and pass --sha256 to check it)"
    )


def check_spec(spec: str | os.PathLike) -> str:
    """The model name of `pretrained:NAME`, checked as a download would check it (`check_name`; other names only
    from a mirror); no torch, so that the commands say an unknown name before torch's import (`translate
    --checkpoint pretrained:horse2zebr` waited 5-15 s for it)."""
    name = os.fspath(spec)[len(PREFIX) :]
    if not name:
        raise CycleGANError(f"'{PREFIX}' names no model: give {PREFIX}NAME (see `cyclegan pretrained list`)")
    check_name(name, mirror=base_url_from_env() is not None)
    return name


def resolve(spec: str | os.PathLike, *, progress: bool = True) -> Path:
    """`pretrained:NAME` -> the cached generator file, downloaded first if needed (the mirror from
    `$CYCLEGAN_PRETRAINED_URL`). A download says so on stderr, with the file's digest. `progress`: the
    download's progress, a bar on a terminal and plain lines of sizes elsewhere (a log file: it was silent there
    for the minutes of a large file, where `cyclegan pretrained download` says its sizes)."""
    name = check_spec(spec)
    # the commands and load_generator have no --base-url, --max-mb nor --max-minutes: `pretrained download` has
    via = f"cyclegan pretrained download {name}"  # SAFE_NAME: nothing to quote
    result = fetch_model(name, progress=progress, mirror_from=f"${BASE_URL_ENV}", bounds_via=via)
    if result.downloaded:
        # the mirror's address and $CYCLEGAN_HOME are the user's words: escaped by `print_line`, as every line is
        print_line(f"downloaded {shown_address(result.url)} to {result.path}; {digest_line(result)}")
    return result.path


# --- the command ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PretrainedDownloadOptions(Options):
    """`cyclegan pretrained download`: one published generator by name, into the cache."""

    name: str = opt(help="a name from `cyclegan pretrained list`", metavar="NAME", positional=True)
    base_url: str | None = opt(
        None,
        f"a mirror serving URL/NAME.pth (or ${BASE_URL_ENV})",
        metavar="URL",
        default_text="the reference implementation's server",
    )
    sha256: str | None = opt(None, "the SHA-256 the file must have (checked on a cached file too)", metavar="HEX")
    max_mb: float | None = opt(
        None,
        "refuse a download larger than this (MB)",
        gt=0,
        le=1e6,
        metavar="MB",
        default_text=f"{CATALOGUE_MAX_MB:g} for a published name, {OTHER_MAX_MB:g} for a mirror's other names",
    )
    max_minutes: float = max_minutes_option(MAX_MINUTES)
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "sha256", check_sha256(self.sha256))  # frozen: normalised to lower case
        if self.base_url is not None:
            model_url(self.name, self.base_url)  # checks the scheme


def download(opts: PretrainedDownloadOptions) -> FetchResult:
    """`cyclegan pretrained download`: see `fetch_model`."""
    return fetch_model(
        opts.name,
        base_url=opts.base_url,
        sha256=opts.sha256,
        progress=opts.progress,
        max_mb=opts.max_mb,
        max_minutes=opts.max_minutes,
        mirror_from=f"--base-url or ${BASE_URL_ENV}",
        base_url_via="--base-url {}",
    )


def _shown_model_address() -> str:
    """Where NAME.pth comes from, as `pretrained list` shows it: a mirror's query (its token) hidden."""
    base = base_url_from_env() or DEFAULT_BASE_URL
    where = file_address(base, "NAME.pth") if address_problem(base) is None else f"{base}/NAME.pth"
    return shown_address(where)


def list_lines() -> list[str]:
    """`cyclegan pretrained list`: one line per published generator, then where they come from and go."""
    width = max(map(len, MODELS))
    does = max(len(m.does) for m in MODELS.values())
    lines = [f"{'name':<{width}}  {'translates':<{does}}  {'trained on':<22}  size     digest   cached"]
    for m in MODELS.values():
        cached = "yes" if cached_path(m.name).is_file() else "no"
        digest = "pinned" if m.sha256 else "unpinned"
        lines.append(f"{m.name:<{width}}  {m.does:<{does}}  {m.dataset:<22}  {FILE_MB:.0f} MB    {digest:<8} {cached}")
    lines += [
        "",
        f"each: {ARCHITECTURE}, {PARAMETERS / 1e6:.1f} M parameters, one direction",
        f"from {_shown_model_address()} (mirror: --base-url or ${BASE_URL_ENV})",
        f"cache: {cache_dir()} (${HOME_ENV}/pretrained)",
        "unpinned: no SHA-256 has been verified for these files; a download prints its digest",
        "use: cyclegan translate --checkpoint pretrained:NAME --out DIR photos/",
    ]
    if mirrored := mirror_cached():  # after the catalogue's footer, which does not speak for them
        lines += ["", "cached from a mirror (outside the catalogue; nothing is known of them):"]
        lines += [f"{name:<{width}}  {size / 1e6:.1f} MB" for name, size in mirrored]
    return lines
