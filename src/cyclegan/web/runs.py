"""What the web page may show and use: the runs under `--runs`, the models the server was given, and a run's
config, losses and sample grids read while `cyclegan train` may be writing them.

Nothing here imports torch or gradio: the Runs tab refreshes every few seconds and must stay cheap, and the
server must start fast. Every reader tolerates a run in the middle of being written: a half-written last
line of log.jsonl is left for the next refresh, a config or sample grid that cannot be read yet is skipped.
"""

from __future__ import annotations

import collections
import functools
import io
import json
import math
import os
import pickle
import re
import threading
import time
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .. import zoo
from ..errors import CycleGANError
from ..families import directions_in_stored_config
from ..run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, FORMAT, RUN_FILES, exported_kind

MAX_DEPTH = 3  # how deep below a --runs folder runs are looked for (runs/project/NAME is depth 2)
LOG_KEYS = ("step", "epoch", "lr", "s_per_step", "eval_s", "warnings")  # a log.jsonl record's fields that are no loss
SCORE_PREFIX = "eval/"  # the scores of --eval-every in a record: eval/AtoB/psnr, ... (`train.scoring`)
_SAMPLE = re.compile(r"step_(\d+)\.png$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # no character alone: what a name that is not UTF-8 reads as


@dataclass(frozen=True)
class Model:
    """A generator the page may load: a run's checkpoint.pt or a file given with --checkpoint.

    key: what the page's dropdown holds and sends back: a name, the label (numbered where two are alike, by
    `Names`: one name, one file, for the server's life), never a server path, since the page's configuration
    (/config) is public. The server finds the key among the current models and loads their `path` (the
    file's resolved path): a forged value loads nothing.
    label: what the dropdown shows.
    """

    key: str
    label: str
    path: str
    directions: tuple[str, ...] = ("AtoB", "BtoA")  # what it translates: one direction for pix2pix and CUT


def is_run(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RUN_FILES)


def find_runs(roots: Sequence[str | Path]) -> list[Path]:
    """Every run folder under `roots` (a root may be a run itself), up to MAX_DEPTH below it, sorted by
    path. Hidden folders and a run's own sub-folders (samples/, tensorboard/, data/) are not searched."""
    found: list[Path] = []
    seen: set[Path] = set()

    def visit(folder: Path, depth: int) -> None:
        real = folder.resolve()
        if real in seen:  # a symlink loop, or two roots that overlap
            return
        seen.add(real)
        if is_run(folder):
            found.append(folder)
            return
        if depth >= MAX_DEPTH:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:  # unreadable, or removed while we looked
            return
        for child in children:
            visit(child, depth + 1)

    for root in roots:
        if Path(root).is_dir():
            visit(Path(root), 0)
    return sorted(found, key=str)


def run_label(run: Path, roots: Sequence[str | Path]) -> str:
    """A run's name as the page shows it: its path below the --runs folder that holds it, after that folder's
    name (as given, its `..` resolved: `--runs proj/..` named runs "../NAME")."""
    for root in roots:
        try:
            rel = run.resolve().relative_to(Path(root).resolve())
        except ValueError:
            continue
        name = os.path.basename(os.path.abspath(root))
        return str(Path(name) / rel) if str(rel) != "." else Path(root).resolve().name
    return run.name


def check_checkpoint_files(files: Sequence[str | Path]) -> list[Path]:
    """The --checkpoint items as files (a run folder means its checkpoint.pt, `pretrained:NAME` the cached
    published generator, downloaded now if it is not cached: as in every command that takes a checkpoint); one
    line naming a missing one, or one `cyclegan export` wrote. Models are loaded on first use, not here."""
    out = []
    for f in files:
        if zoo.is_spec(f):  # was refused as "not a checkpoint file"
            out.append(zoo.resolve(f))
            continue
        path = Path(f)
        path = path / CHECKPOINT_NAME if path.is_dir() else path
        if not path.is_file():  # a missing file was "not a checkpoint file": every other command says "not found"
            what = "is not a checkpoint file"
            if not os.path.lexists(f):
                what = "does not exist"
            elif Path(f).is_dir():
                what = f"is a folder without a {CHECKPOINT_NAME} (a folder of runs is --runs DIR)"
            raise CycleGANError(f"option '--checkpoint': {f} {what}; give a run folder or a checkpoint file")
        if (kind := exported_kind(path)) is not None:  # it started a page whose every job with it failed
            raise CycleGANError(
                f"option '--checkpoint': {f} is an exported model ({kind}, as `cyclegan export` writes), which the "
                "page does not load; give the training run's folder or its checkpoint.pt"
            )
        out.append(path)
    return out


def find_models(roots: Sequence[str | Path], files: Sequence[Path], names: Names | None = None) -> list[Model]:
    """The models the page offers: each run under `roots` that has saved a checkpoint or a best.pt (found
    anew on each call, so a run that saves its first appears without a restart), then the --checkpoint files.
    `names`: the server's (`Names`), so a name keeps its file across calls; a fresh one by default."""
    names = names or Names()
    found: list[tuple[str, Path, tuple[str, ...]]] = []  # (label, file, directions)
    for run in find_runs(roots):
        # the last checkpoint and the best-scored step (--eval-every), each as soon as it is saved: a run
        # scores (best.pt) before its first checkpoint.pt when --eval-every is under --checkpoint-every
        ckpt, best = (f if f.is_file() and in_run(f, run) else None for f in (run / CHECKPOINT_NAME, run / BEST_NAME))
        if not (ckpt or best):
            continue
        for file, suffix in ((ckpt, ""), (best, " · best.pt (best score)")):
            if file:
                directions = run_file_directions(file, run)
                label = run_label(run, roots) + ("" if len(directions) > 1 else f" ({directions[0]} only)")
                found.append((label + suffix, file, directions))
    for f in files:
        label, directions = f.name if f.name != CHECKPOINT_NAME else f.parent.name, file_directions(f)
        found.append((label + ("" if len(directions) > 1 else f" ({directions[0]} only)"), f, directions))
    models: list[Model] = []
    paths: set[str] = set()
    for label, file, directions in found:
        path = str(file.resolve())
        if path in paths:  # a file offered twice (a run under --runs also given to --checkpoint): once
            continue
        paths.add(path)
        name = names.name(label, path)
        models.append(Model(name, name, path, directions))
    return models


def named_runs(roots: Sequence[str | Path], names: Names | None = None) -> dict[str, Path]:
    """The runs under `roots` by the names the Runs tab shows (`run_label`, numbered by `names` where two
    are alike: two --runs folders of one name)."""
    names = names or Names()
    return {names.name(run_label(run, roots), str(run.resolve())): run for run in find_runs(roots)}


class Names:
    """The names a server gives its models (or runs), kept for its whole life: a name, once given to a file,
    is never given to another, so the value a page holds (a tab's list may be minutes old) loads what the
    visitor chose. Numbering by discovery order on each listing did not: a new run of the same name, found
    before the old one, took the old one's name and moved it to "name (2)"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the page's refreshes and jobs list models at once
        self._given: dict[tuple[str, str], str] = {}  # (label, resolved path) -> name
        self._files: dict[str, str] = {}  # name -> the resolved path it was given to: every name given, for good

    def name(self, label: str, path: str) -> str:
        """The name of file `path` shown as `label`: the one given before, else `label`, numbered where a
        name is taken (`unique_name`), in text the page can send (`sendable_text`). A new label for the same
        file (its run's config now read) is a new name; the old one stays taken, so it never means another
        file, and still means this one (`file`)."""
        with self._lock:
            name = self._given.get((label, path))
            if name is None:
                name = self._given[(label, path)] = unique_name(sendable_text(label), self._files.keys())
                self._files[name] = path
            return name

    def file(self, name: str | None) -> str | None:
        """The resolved path `name` was given to, None for a name never given: a page's value of a name the file
        was listed by before (a run's checkpoint now one-way: "runs/r" now "runs/r (AtoB only)") still means it."""
        with self._lock:
            return self._files.get(name or "")


def sendable_text(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD: the page's JSON encoder (Gradio's orjson) refuses them, and
    a run folder whose name is not UTF-8 (Python reads its bytes as surrogates) stopped `cyclegan serve` from
    starting; a `\\ud800` in a log's loss name or a config ended the page's event stream."""
    return _SURROGATE.sub("\ufffd", text)


def unique_name(name: str, taken: Collection[str]) -> str:
    """`name`, or the first of "name (2)", "name (3)", ... not in `taken` (two runs of one name under two
    --runs folders, two --checkpoint files of one name)."""
    n, candidate = 1, name
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def run_directions(run: Path) -> tuple[str, ...]:
    """The directions a run's model translates, from its config.json: both for a two-way family (CycleGAN) and
    when unknown, the trained one for a one-generator family (pix2pix, CUT, FastCUT)."""
    return directions_in_stored_config(read_config(run) or {})


def run_file_directions(file: Path, run: Path) -> tuple[str, ...]:
    """The directions a run's checkpoint.pt (or best.pt) translates: its own config and generators where it holds
    them (`checkpoint_outline`, read again only when the file changes), else the run's (`run_directions`). From the
    run's config.json alone, a CycleGAN run's checkpoint replaced by a CUT run's (one direction) was still offered
    both ways until the server restarted, and the direction it lacks failed."""
    outline = checkpoint_outline(file)
    if outline is None:  # best.pt (generators only, another tag) or a file not readable as ours
        return run_directions(run)
    return directions_in_stored_config(outline.get("config"), outline.get("models"))


def file_directions(file: Path) -> tuple[str, ...]:
    """The directions a --checkpoint file translates, read without torch: its run's (`run_directions`) for a run's
    checkpoint.pt or best.pt (given as the run folder, or by name), a published generator's own (`pretrained:NAME`),
    else the file's own config and generators (`checkpoint_outline`), else both (another project's file: unknown
    until it loads). A one-way run given so
    was offered as two-way: no "(BtoA only)" and the direction left at AtoB, so each job failed until the visitor
    changed it, where the same run under --runs was named and followed; `save_generator`'s file of one CycleGAN
    generator was offered in both directions, and the one it lacks failed."""
    if file.name in (CHECKPOINT_NAME, BEST_NAME) and is_run(file.parent):
        return run_file_directions(file, file.parent)
    if (published := zoo.MODELS.get(zoo.cached_name(file) or "")) is not None:  # one generator: zebra2horse is BtoA
        return (published.direction,)
    outline = checkpoint_outline(file)
    if outline is None:
        return ("AtoB", "BtoA")
    return directions_in_stored_config(outline.get("config"), outline.get("models"))


MAX_OUTLINE_BYTES = 8 << 20  # a checkpoint's pickle (its tensors stored apart) is a few KB per network


def checkpoint_outline(file: Path) -> dict | None:
    """A checkpoint of ours as its pickle holds it, every tensor as None, read without torch (the page's lists
    stay cheap) and without running anything the file names, in torch's zip format or its legacy one; None for any
    other file (another project's, one not readable). Read again only when the file changes."""
    try:
        stat = _regular(file).stat()
    except OSError:
        return None
    return _outline(str(file), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _outline(path: str, _mtime_ns: int, _size: int) -> dict | None:
    try:
        value = _zip_outline(path) if zipfile.is_zipfile(path) else _legacy_outline(path)
    except Exception:  # noqa: BLE001 - a damaged zip or pickle fails in many ways: no outline, as for a foreign file
        return None
    return value if isinstance(value, dict) and value.get("format") == FORMAT else None


def _zip_outline(path: str) -> object:
    """The pickle of a file in torch's zip format (`torch.save`'s since torch 1.6), read by `_Outline`."""
    with zipfile.ZipFile(path) as zf:
        info = next((i for i in zf.infolist() if i.filename.endswith("/data.pkl")), None)
        if info is None or info.file_size > MAX_OUTLINE_BYTES:
            return None
        data = zf.read(info)
    return _Outline(io.BytesIO(data)).load()


# torch.serialization.MAGIC_NUMBER: the first pickle of a file in torch's legacy format
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _legacy_outline(path: str) -> object:
    """The pickle of a file in torch's legacy format (`torch.save(..., _use_new_zipfile_serialization=False)`,
    older tools): pickles of the magic number, the protocol version and the system's sizes, then the object, its
    tensors' bytes after it; read from the file's first MAX_OUTLINE_BYTES. It was taken for another project's
    file, so a one-way model in it was offered both ways."""
    with open(path, "rb") as f:
        stream = io.BytesIO(f.read(MAX_OUTLINE_BYTES))
    unpickler = _Outline(stream)
    if unpickler.load() != LEGACY_MAGIC:
        return None
    unpickler.load(), unpickler.load()  # the protocol version, the system's sizes
    return unpickler.load()


def _stand_in(*_args: object) -> None:
    """What torch's storages and tensor rebuilders are read as: nothing."""


class _Outline(pickle.Unpickler):
    """Unpickles plain values only: torch's names as `_stand_in` (never imported), an OrderedDict (a state dict)
    as itself, anything else refused; storages (persistent ids) as None."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _stand_in
        raise pickle.UnpicklingError(f"{module}.{name} is not read here")

    def persistent_load(self, pid: object) -> None:
        return None


# --- one run's files --------------------------------------------------------------------------------------


def _regular(path: str | Path, *, run: Path | None = None) -> Path:
    """`path`, if it is a regular file (or a link to one), and with `run` one of that run's own (`in_run`); else
    OSError. A FIFO named config.json blocked the model list (which every refresh and job reads) for good, and a
    link to /dev/zero filled memory."""
    path = Path(path)
    if not path.is_file():
        raise OSError(f"{path} is not a regular file")
    if run is not None and not in_run(path, run):
        raise OSError(f"{path} leads out of its run")
    return path


def in_run(path: Path, run: Path) -> bool:
    """Whether `path` is inside run folder `run` once links are resolved (the run's own folder may be a link). A
    link in a run to a file outside it (samples/step_9.png -> ~/private.png, config.json -> a file of secrets) was
    shown on the page, read with the server's rights by anyone who could write in the runs folder; a
    checkpoint.pt linked into Gradio's folder would load a visitor's upload as a model."""
    try:
        return path.resolve().is_relative_to(run.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def read_log(path: str | Path) -> list[dict]:
    """The records of a log.jsonl, in order. A last line without its newline (being written) is left out, as
    is any line that is not a JSON object with a step count (a crash mid-write in an older run): the page
    must keep working. `LogReader` reads the same as the file grows."""
    try:
        data = _regular(path, run=Path(path).parent).read_bytes()  # a log is in its run's folder
    except OSError:
        return []
    return _records(data[: data.rfind(b"\n") + 1])


def _records(data: bytes) -> list[dict]:
    """The records of whole lines of a log.jsonl (`read_log`)."""
    records = []
    for line in data.decode("utf-8", errors="replace").split("\n")[:-1]:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # nested too deep to parse: damaged too
            continue
        if isinstance(record, dict) and _is_step(record.get("step")):
            records.append(record)
    return records


class LogReader:
    """`read_log` for a page that redraws a log while training appends to it: each call parses only the whole
    lines added since the last. Read whole at each redraw, a 69 MB log (300,000 records, --log-every 1) took
    about 3 s of a core, every few seconds, for each page showing it. A file replaced (`--resume` trims the log,
    atomically), cut short or rewritten in place is read anew."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the page's redraws read at once
        # path -> (device and inode, bytes read, the last line read, its records)
        self._read: dict[str, tuple[tuple[int, int], int, bytes, list[dict]]] = {}

    def read(self, path: str | Path) -> list[dict]:
        key = str(path)
        try:
            with open(_regular(path, run=Path(path).parent), "rb") as f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                with self._lock:
                    seen = self._read.get(key)
                start, last, records = 0, b"", []
                if seen is not None and seen[0] == ident and seen[1] <= st.st_size:
                    f.seek(seen[1] - len(seen[2]))
                    if f.read(len(seen[2])) == seen[2]:  # the same file, grown: read on from there
                        start, last, records = seen[1], seen[2], seen[3]
                f.seek(start)
                data = f.read()
        except OSError:
            with self._lock:
                self._read.pop(key, None)
            return []
        end = data.rfind(b"\n") + 1  # whole lines only: the rest is still being written
        if end:
            records = [*records, *_records(data[:end])]  # a new list: the one returned before stays as it was
            last = data[data.rfind(b"\n", 0, end - 1) + 1 : end]
        with self._lock:
            self._read[key] = (ident, start + end, last, records)
        return records


def _is_step(value: object) -> bool:
    """A step count as the page can send it: a step of 2**70 in a damaged log reached the plots, and the
    page's JSON encoder (orjson: 64-bit integers) ended the browser's event stream."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def is_total(name: str) -> bool:
    """A weighted sum of losses (G_total): an order of magnitude above its terms, so plotted on its own."""
    return name.endswith("_total")


def loss_rows(records: Sequence[dict], *, totals: bool = False, max_points: int = 500) -> list[dict]:
    """Long-format rows {"step", "loss", "value"} for a line plot, one per loss per record: the loss terms,
    or with `totals` the weighted sums (`is_total`). At most about `max_points` records (evenly thinned, the
    last always kept) so a long run plots as fast as a short one. Non-numeric values (null: a sum that
    overflowed) are left out."""
    records = _thinned(records, max_points)
    rows = []
    for r in records:
        for k, v in r.items():
            if k in LOG_KEYS or k.startswith(SCORE_PREFIX) or is_total(k) != totals:
                continue
            if (value := _number(v)) is not None:
                rows.append({"step": r["step"], "loss": sendable_text(k), "value": value})
    return rows


def _number(v: object) -> float | None:
    """A logged value as a float; None where it is none (null, text, true/false) or is an integer no float
    holds (the 400 digits of a damaged log: float() raised OverflowError, and the whole tab failed)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


def _thinned(records: Sequence[dict], max_points: int) -> Sequence[dict]:
    if len(records) <= max_points:
        return records
    stride = -(-len(records) // max_points)
    return [*records[:-1:stride], records[-1]]


# A score's unit by the end of its name (eval/AtoB/psnr, eval/AtoB/cycle_psnr, eval/AtoB/local_colour): each unit
# has a plot of its own. The others (SSIM, kid, change, spread, follows, tint) have none and share one.
SCORE_UNITS = {"psnr": "dB", "local_colour": "grey levels"}


def score_unit(key: str) -> str | None:
    """The unit of score `key` (`SCORE_UNITS`), None for a score without one."""
    return next((unit for end, unit in SCORE_UNITS.items() if key.endswith(end)), None)


def score_rows(records: Sequence[dict], *, unit: str | None, max_points: int = 500) -> list[dict]:
    """Long-format rows {"step", "score", "value"} of the --eval-every scores (eval/AtoB/psnr -> score
    "AtoB psnr") in `unit` (`score_unit`): "dB" the PSNRs, "grey levels" the local colour (50-170 on a young run:
    on the unitless plot it squashed SSIM, change and tint to a line at 0), None the others, which share a plot
    without units (SSIM in 0-1, kid near 0, change up to 2, spread past 1, follows under 1, tint near 0). Records
    without scores are skipped; at most about `max_points` evaluations."""
    scored = _thinned([r for r in records if any(k.startswith(SCORE_PREFIX) for k in r)], max_points)
    rows = []
    for r in scored:
        for k, v in r.items():
            if not k.startswith(SCORE_PREFIX) or score_unit(k) != unit:
                continue
            if (value := _number(v)) is not None:
                name = sendable_text(k.removeprefix(SCORE_PREFIX).replace("/", " "))
                rows.append({"step": r["step"], "score": name, "value": value})
    return rows


# The config's folders (`data`, `domain_a`, `domain_b`: DataConfig; `out`: TrainConfig), as training was given
# them: absolute paths on the server where they were given so.
PATH_KEYS = ("data", "domain_a", "domain_b", "out")
_ABSOLUTE = re.compile(r"/|[A-Za-z]:[\\/]|\\\\")  # POSIX, a Windows drive, a Windows share


def shown_config(value: object, key: str | None = None) -> object:
    """A run's config (`read_config`) as the Runs tab shows it: each folder in it (a text under PATH_KEYS, and
    any other absolute path) by its last part, the name a visitor knows it by (the dataset's `horse2zebra`,
    the run's own name), since the page holds no server path. Shown as config.json has them, a run trained
    with absolute paths showed the server's folders."""
    if isinstance(value, dict):
        return {k: shown_config(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shown_config(v) for v in value]
    if isinstance(value, str) and (key in PATH_KEYS or _ABSOLUTE.match(value)):
        return re.split(r"[\\/]+", value.rstrip("\\/"))[-1] or value
    return value


def read_config(run: Path) -> dict | None:
    """The run's config.json, or None if it is missing or not readable yet, or damaged: nested too deep to
    parse (a RecursionError, not a ValueError), or holding what the page cannot send (`_sendable`)."""
    try:
        value = json.loads(_regular(run / CONFIG_NAME, run=run).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and _sendable(value) else None


def _sendable(value: object, depth: int = 0) -> bool:
    """Whether the page's JSON encoder (orjson) writes `value`: it refuses integers beyond 64 bits, nesting
    over 255 levels and lone surrogates (`sendable_text`), and a config.json holding any made every redraw
    of the Runs tab fail."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**64
    if isinstance(value, str):
        return sendable_text(value) == value
    if isinstance(value, (dict, list)):
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        return depth < 64 and all(_sendable(v, depth + 1) for v in items)
    return True


def sample_grids(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's samples/step_N.png, oldest first."""
    try:
        names = os.listdir(run / "samples")
    except OSError:
        return []
    found = [(int(m.group(1)), run / "samples" / n) for n in names if (m := _SAMPLE.fullmatch(n))]
    return sorted(found)


def latest_samples(run: Path, n: int = 1) -> list[tuple[int, Path]]:
    """The `n` newest sample grids that are complete PNGs (a grid is written atomically, but one from a run
    killed mid-write by an older version, or a file being copied in, may not be), newest first."""

    out = []
    for step, path in reversed(sample_grids(run)):
        try:
            with Image.open(_regular(path, run=run)) as im:
                im.verify()
        except Exception:  # noqa: BLE001 - any damage: skip it, show the previous one
            continue
        out.append((step, path))
        if len(out) == n:
            break
    return out


def run_summary(run: Path, records: Sequence[dict]) -> str:
    """One line about a run's progress: the last step logged, its speed, the checkpoint's age (best.pt's
    where it has none yet: a run scores before its first checkpoint when --eval-every is under
    --checkpoint-every, and its best.pt is already a model in the page)."""

    parts = []
    if records:
        last = records[-1]
        parts.append(f"step {last['step']}")
        if isinstance(last.get("epoch"), int):
            parts.append(f"epoch {last['epoch']}")
        # a damaged log's NaN, Infinity or negative speed was shown as it was ("-inf s/step")
        if (speed := _number(last.get("s_per_step"))) is not None and 0 < speed < math.inf:
            parts.append(f"{speed:.3g} s/step")
    else:
        parts.append("no losses logged yet")
    for name, saved in ((CHECKPOINT_NAME, "checkpoint saved"), (BEST_NAME, f"no checkpoint yet, {BEST_NAME} saved")):
        try:
            age = time.time() - (run / name).stat().st_mtime
        except OSError:
            continue
        parts.append(f"{saved} {_ago(age)}")
        break
    else:
        parts.append("no checkpoint yet")
    return ", ".join(parts)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, int(seconds))} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    return f"{seconds / 3600:.1f} h ago"
