"""What the tabs of `cyclegan serve` share: `Engine`, the server's state, and `user_errors`, the wrapper every
handler goes through.

`Engine` holds what the page may use and what it has loaded: the models the server was started with (found
anew on each request, loaded on first use and again when their file changes), the device, the style
backbones, the upload checks and a private working folder. torch comes in with the first model or backbone
loaded (the imports below marked "on first use"), so the page is up within seconds of starting.

Every handler turns a `CycleGANError` into a message in the page (`gr.Error`, or `gr.Warning` when only
some of several images failed), the flags it names written as the labels of the tab's controls (`on_page`),
and any other exception into one line pointing at the server's log, where the traceback goes: nothing the
page shows is a traceback, and the server keeps serving.
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import os
import re
import threading
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from ..errors import CycleGANError, escape, named_once, without_alternatives
from ..progress import print_line, print_warning
from .options import MB, ServeOptions
from .runs import Model, Names, checkpoint_outline, find_models, named_runs
from .uploads import check_upload, display_name

DIRECTIONS = ["AtoB", "BtoA"]
BACKBONES = ["auto", "lite0", "vgg19"]
# Generators kept loaded (a model in one direction each), the least recently used freed beyond: a visitor
# could load every run's checkpoint.pt and best.pt in both directions, and none was ever freed.
MODELS_KEPT = 4
# Closed pages whose queued jobs are dropped (`Stops`): a session hash is ~11 characters, so well under a MB, and
# more than the --max-queue jobs (default 100) that may be waiting.
CLOSED_KEPT = 10_000
HEAVY = "heavy"  # the concurrency group of every job that runs a network: one queue, --concurrency at once
# The refreshes (model and run lists, the Runs tab): their own group, no progress shown.
LIGHT_EVENTS = {"concurrency_id": "light", "concurrency_limit": 4, "show_progress": "hidden"}
CANCELLED = "the job was cancelled"  # a stop no tab said in its own words (`user_errors`)
# How long a Cancel waits for a stopped job's own answer (Style's best image: it comes at Gatys' next step)
CANCEL_WAIT_S = 10
# Said whether or not a job of the page waits (Gradio drops it unseen by the server): an "if any", not news of a drop
FAILED = "no result: the job failed, as its error says"  # in a tab's line, where the last job's result was
NONE_RUNNING = "nothing of this page was running; its job waiting in the queue, if any, is dropped"


def _internal(e: BaseException) -> gr.Error:
    print_line(*"".join(traceback.format_exception(e)).splitlines())  # the server's log
    return gr.Error(f"internal error ({type(e).__name__}); the details are in the server's log", print_exception=False)


# A command-line flag in a message, with the "option '...'" around it and a value after it where there is one.
_FLAG = re.compile(
    r"(?:option )?'?(?P<flag>--[a-z][a-z0-9-]*)'?(?: (?P<value>AtoB|BtoA|auto|on|off|lite0|vgg19|-?\d+(?:\.\d+)?)\b)?"
)

# a command-line flag -> the page's control that sets it (a component, or a label), or None: none does
Controls = Mapping[str, Any]


def on_page(message: str, controls: Controls) -> str:
    """`message` with each flag that one of `controls` sets written as that control's label: the library's
    messages name flags (`use --direction AtoB`, `option '--size' must be ...`), which mean nothing to a
    visitor of the page (`use "direction": AtoB`). An alternative naming a flag mapped to None, which no control
    sets, is dropped (`or --optimizer adam`). Other flags (the server's own options) stay as they are."""

    def control(m: re.Match) -> str:
        c = controls.get(m.group("flag"))
        if c is None:
            return m.group(0)
        label = f'"{c if isinstance(c, str) else c.label}"'
        return f"{label}: {m.group('value')}" if m.group("value") else label

    return named_once(_FLAG.sub(control, without_alternatives(message, controls)))


_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark: each may start Markdown or HTML


def literal(name: object) -> str:
    """`name` (a run's or an upload's) as a gr.Markdown shows it, letter for letter and on one line: each
    ASCII punctuation mark backslash-escaped, control characters written as escapes. Put in as it was, a
    run named `<img src=x>` was drawn as an image, `[x](url)` as a link, `**` as bold, `|` as a new table
    cell."""
    return _PUNCTUATION.sub(r"\\\1", escape(name))


def unescaped(line: str) -> str:
    """A tab's line (names written by `literal`) as plain text, for the server's log: `walk.mp4`, not `walk\\.mp4`.
    Control characters stay written as escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", line)


# An absolute POSIX path of two parts or more, not inside a URL or a relative path (`https://host/a/b`, `runs/x`).
_SERVER_PATH = re.compile(r"(?<![\w.:/\\])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")


def without_paths(message: str) -> str:
    """`message` with each absolute path on the server written as its last part: the library's messages name
    files by path (`VGG19 weights are not cached at /root/.cache/torch/...`, `cannot write /tmp/...`), and the
    page holds no server path."""
    return _SERVER_PATH.sub(r"\1", message)


def alert_text(message: str) -> str:
    """`message` as a pop-up (gr.Error, gr.Warning) shows it, letter for letter: Gradio puts a pop-up's text in
    the page as HTML, so a run folder named `<b>x<img src=y>` (its name in a message) was drawn as bold text
    and an image."""
    return html.escape(message, quote=False)


def upload_box(label: str, elem_id: str, *, multiple: bool = False) -> gr.File:
    """A file input of a tab. No `file_types`: Gradio refuses a file of another type in the browser with a pop-up
    ("Invalid file type: NAME") that puts the file's name in the page as HTML, so a file named
    `<img src=https:HOST>.txt` drew an image fetched from another host, and `<a href=...>` a link, in the page's own
    error; each tab's check names such a file in its own words, as text (`alert_text`)."""
    return gr.File(label=label, file_count="multiple" if multiple else "single", elem_id=elem_id)


def _refusal(e: CycleGANError, controls: Controls) -> gr.Error:
    print_line(f"refused: {e}")  # one line in the server's log too; no traceback: it is no bug
    return gr.Error(alert_text(on_page(without_paths(str(e)), controls)), print_exception=False)


def user_errors(fn: Callable, controls: Controls | None = None) -> Callable:
    """Wrap a handler (function or generator) so a CycleGANError reaches the page as its one line, the flags
    it names written as the labels of the handler's `controls` (`on_page`), and any other exception as one
    line too (its traceback printed on the server). gr.Error passes through. A `Cancelled` no tab caught is said as
    the job cancelled: a KeyboardInterrupt out of a handler ends Gradio's server thread, the page gone for all."""
    controls = controls or {}
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except CycleGANError as e:
                raise _refusal(e, controls) from None
            except Cancelled:
                raise _refusal(CycleGANError(CANCELLED), controls) from None
            except Exception as e:  # noqa: BLE001 - the page gets one line, the log the traceback
                raise _internal(e) from None

        return gen

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except CycleGANError as e:
            raise _refusal(e, controls) from None
        except Cancelled:
            raise _refusal(CycleGANError(CANCELLED), controls) from None
        except Exception as e:  # noqa: BLE001
            raise _internal(e) from None

    return call


class Cancelled(KeyboardInterrupt):
    """Raised inside a job when its visitor pressed Cancel or closed the page (`Stops`). A KeyboardInterrupt, as
    Ctrl-C is to the commands: `style.stylize(keep_on_interrupt=True)` then ends with its best image so far, as
    `cyclegan stylize` keeps it (the Style tab's Cancel threw minutes of work away), and no `except Exception` on
    the way takes a stop for a failure. Each tab says its own; `user_errors` stops any other at the handler, since
    one out of it ends Gradio's server thread. Raised in a job's worker thread only: never the server's Ctrl-C."""


class Stop(threading.Event):
    """A running job's stop flag, and `said`: the line its tab shows when Cancel stops it now, which the job keeps
    up to date (the images done, the steps run). Gradio drops the answer of a job it cancels, so a job's own
    "cancelled ..." never reached the page: Translate, Video and Compare showed nothing at all. `kept`: what the
    Cancel shows in the tab's other outputs (`Stops.wire`), and `ended`, set by a job that ends on its own once
    stopped with something to keep (Style's best image), which the Cancel waits for (CANCEL_WAIT_S at most)."""

    def __init__(self, said: str = "cancelled", kept: tuple = ()) -> None:
        super().__init__()
        self.said, self.kept = said, kept
        self.ended = threading.Event()


class Stops:
    """The stop flags of a tab's running jobs, one per page session: set by the tab's Cancel button and by Gradio's
    `unload` (the page closed or reloaded), checked by the job at each step (Gatys) or batch of frames (a clip).
    A job without one ran on for nobody, holding the one heavy queue for minutes. The sessions whose page was
    closed are remembered (the CLOSED_KEPT last), so a job of theirs still waiting in the queue is dropped when
    its turn comes: it ran then, for nobody, as long as a running one had."""

    def __init__(self, tab: str = "a tab") -> None:
        self.tab = tab  # its name in the server's log
        self.job: int | None = None  # the tab's job, as Gradio numbers its functions (`clear_on_failure`): `joining`
        self._flags: dict[str, Stop] = {}
        self._kept = 0  # the Cancel's outputs besides its line (`wire`)
        self._closed: OrderedDict[str, None] = OrderedDict()  # a reloaded page is a new session: none comes back
        # The sessions whose job a Cancel ended: Gradio reports one cancelled before its first answer as failed
        self._cancelled: OrderedDict[str, None] = OrderedDict()

    @contextlib.contextmanager
    def flag(self, request: gr.Request | None, said: str = "cancelled", kept: tuple = ()) -> Iterator[Stop]:
        """The session's stop flag for the job run in the block, from its start (`said`: what a Cancel says before
        the job updates it): a page closed while the models load stops it too, and one closed while the job waited
        in the queue drops it (CycleGANError, which goes to the server's log: no one is there to see it)."""
        stop, session = Stop(said, kept), getattr(request, "session_hash", None) or uuid.uuid4().hex
        if session in self._closed:
            raise CycleGANError("its page was closed while the job waited in the queue: dropped")
        self._cancelled.pop(session, None)  # a Cancel before this job is no part of it
        self._flags[session] = stop
        try:
            yield stop
        finally:
            stop.ended.set()  # a Cancel waiting for its answer waits no longer
            if stop.is_set() and session in self._closed:  # no one is there to see its line: it left no trace
                said = unescaped(stop.said)
                print_line(f"{self.tab}: a job stopped, its page closed or reloaded: {said}")
            if self._flags.get(session) is stop:
                del self._flags[session]

    def stop(self, request: gr.Request) -> None:
        """Stop the session's running job, if any (`unload`'s handler, and the Cancel button's through `cancel`)."""
        if (stop := self._flags.get(getattr(request, "session_hash", None) or "")) is not None:
            stop.set()

    def cancel(self, request: gr.Request) -> Any:
        """The Cancel button's handler: stop the session's running job and show its `said` in the tab, or, with none
        running, say that a job still waiting in the queue is dropped (Gradio drops it; the server does not see
        whether there is one: a button's unqueued handler, to count them, ran only after the running job)."""
        session = getattr(request, "session_hash", None) or ""
        remember(self._cancelled, session)
        if (stop := self._flags.get(session)) is not None:
            stop.set()
            if stop.kept:  # the job's own answer to keep: it comes at the job's next step
                stop.ended.wait(CANCEL_WAIT_S)
            said, kept = stop.said, stop.kept
        else:
            said, kept = NONE_RUNNING, ()
        if not self._kept:
            return said
        return said, *(kept or [gr.skip()] * self._kept)

    def joining(self, job: int | None, session: str | None) -> None:
        """A job of `session` joins Gradio's queue, or is refused there (`app.cancels_end_at_next_job`): where `job`
        (Gradio's number of the function) is this tab's, a Cancel before it is no part of it. A Cancel that Gradio did
        not report as failed (Style transfer's, past its first image) was remembered until the tab's next job began,
        so a next job refused at the queue (--max-jobs-per-visitor, --max-queue) left the cancelled job's result
        under its error."""
        if job is not None and job == self.job and session:
            self._cancelled.pop(session, None)

    def closed(self, request: gr.Request) -> None:
        """The session's page was closed or reloaded (`unload`): stop its running job, and drop any still queued."""
        if session := getattr(request, "session_hash", None):
            remember(self._closed, session)
        self.stop(request)

    def wire(self, cancel: gr.Button, event: Any, said: Any, kept: Sequence[Any] = ()) -> None:
        """Have `cancel` cancel `event` (a job waiting in the queue is dropped; a running one stops), and say so in
        the tab's component `said` (a Markdown line), `kept` showing the job's `Stop.kept`: Gradio shows nothing of
        the job it cancelled."""
        self._kept = len(kept)
        cancel.click(self.cancel, None, [said, *kept], cancels=[event], queue=False)

    def clear_on_failure(self, event: Any, outputs: Sequence[Any], said: Any) -> None:
        """When `event`'s job fails, empty its `outputs` and put FAILED in `said` (one of them, the tab's Markdown
        line): Gradio leaves a tab's outputs as they were under its Error pop-up, so the last job's images and table
        read as this job's result. Not after a Cancel (its line stays), nor while the page's own job runs (a second
        one refused by --max-jobs-per-visitor leaves the first's results)."""
        self.job = event["id"]
        cleared = tuple(FAILED if o is said else None for o in outputs)
        unchanged = tuple(gr.skip() for _ in outputs)

        def failed(request: gr.Request) -> tuple:
            session = getattr(request, "session_hash", None) or ""
            cancelled = session in self._cancelled
            self._cancelled.pop(session, None)
            return unchanged if cancelled or session in self._flags else cleared

        event.failure(failed, None, list(outputs), queue=False)


def remember(sessions: OrderedDict[str, None], session: str) -> None:
    """Add `session` to `sessions`, forgetting the oldest beyond CLOSED_KEPT (a session never comes back to ask)."""
    sessions[session] = None
    sessions.move_to_end(session)
    while len(sessions) > CLOSED_KEPT:
        sessions.popitem(last=False)


@contextlib.contextmanager
def stopping(net, stop: threading.Event) -> Iterator[None]:
    """Raise Cancelled at `net`'s next call once `stop` is set (a clip's next batch of frames, an image's next tile),
    for the block: to be used inside `Engine.using(net)`, where the job has the network to itself."""

    def stop_here(_module, _inputs) -> None:
        if stop.is_set():
            raise Cancelled

    hook = net.register_forward_pre_hook(stop_here)
    try:
        yield
    finally:
        hook.remove()


def padded_size(width: int, height: int, *, multiple: int, least: int) -> tuple[int, int]:
    """(W, H) of an image as a generator runs it: each side rounded up to `multiple` and at least `least` px, as
    `models.layers.pad_for_generator` pads it (tiles of a thin image are padded alike)."""

    def side(n: int) -> int:
        return max(least, -(-n // multiple) * multiple)

    return side(width), side(height)


class Ready(NamedTuple):
    """A generator for a job, and whether it was loaded for this call (its first use, or its file replaced since;
    by this call or by another job's load it waited for) rather than found kept: the Translate tab says which, once
    said by whether loading took over 0.05 s, so a tiny model read again after its run saved a newer checkpoint was
    said to be "already loaded". `changed`: where this call loaded it because its file was replaced by another whole
    checkpoint (a run still training saved again), the line that says so (`Engine._changed`), for the job's result;
    else "". It was a pop-up, which a run saving every few steps raised at nearly every job."""

    net: Any
    loaded: bool
    changed: str = ""


class Engine:
    """The server's state: its options, the models it was given, what it has loaded, its working folder.

    `outputs`: where each request's files go, one fresh folder per request (`folder`). The page sets it
    inside Gradio's cache (`build_app`), which Gradio serves as it is: a file handed over from elsewhere,
    or a PIL image, is copied into a cache folder named by its content, so identical answers to concurrent
    requests were one file, rewritten while another response streamed it.
    """

    def __init__(self, opts: ServeOptions, files: Sequence[Path], work: Path, outputs: Path | None = None):
        self.opts = opts
        self.roots = [str(r) for r in opts.runs or ()]
        self.files = list(files)
        self.work = work
        self.outputs = outputs or work / "out"
        self._lock = threading.Lock()
        # (path, direction) -> (file version, generator), least recently used first: MODELS_KEPT at most
        self._generators: OrderedDict[tuple[str, str], tuple[tuple[int, ...], Any]] = OrderedDict()
        self._backbones: dict[str, Any] = {}
        self._loading: dict[tuple[str, str], threading.Lock] = {}  # a model's or backbone's load: one at a time
        # (path, direction) -> the version of its file that could not be read, while the model before it serves
        self._unreadable: dict[tuple[str, str], tuple[int, ...]] = {}
        self._device = None
        # The names the dropdowns hold, each kept for the server's life: a page's value never loads another file
        self._model_names = Names()
        self._run_names = Names()

    @property
    def heavy_events(self) -> dict[str, Any]:
        """The event settings of a job that runs a network: the one queue, --concurrency jobs at once."""
        return {"concurrency_id": HEAVY, "concurrency_limit": self.opts.concurrency}

    @property
    def upload_note(self) -> str:
        """The upload limits, as the upload boxes' labels say them."""
        return f"up to {self.opts.max_upload_mb:g} MB and {self.opts.max_pixels / 1e6:g} MP per image"

    def models(self) -> list[Model]:
        return find_models(self.roots, self.files, self._model_names)

    def model_choices(self) -> list[tuple[str, str]]:
        return [(m.label, m.key) for m in self.models()]

    def model(self, key: str | None) -> Model | None:
        """The model offered as `key` (a dropdown value), or under a name its file was offered by before: a run's
        checkpoint replaced by a one-way one is listed anew as "runs/r (AtoB only)", and a page not yet refreshed,
        holding "runs/r", was asked to choose the model again. None for a key no offered file was ever named."""
        models = self.models()
        if (found := next((m for m in models if m.key == key), None)) is not None:
            return found
        path = self._model_names.file(key)
        return next((m for m in models if m.path == path), None) if path is not None else None

    def trained_direction(self, key: str | None) -> str | None:
        """The one direction model `key` translates (pix2pix, CUT), None for both or an unknown key."""
        model = self.model(key)
        return model.directions[0] if model is not None and len(model.directions) == 1 else None

    def directions(self, key: str | None) -> list[str]:
        """The directions the `direction` radio offers for model `key`: a one-way model's own (pix2pix, CUT, a
        published generator: `pretrained:zebra2horse` is BtoA only), else both."""
        only = self.trained_direction(key)
        return [only] if only else list(DIRECTIONS)

    def direction_radio(self, key: str | None, label: str) -> gr.Radio:
        """The `direction` radio for model `key` (the first offered), laid out with the directions it translates."""
        offered = self.directions(key)
        return gr.Radio(offered, value=offered[0], label=label)

    def follow_direction(self, model: gr.Dropdown, direction: gr.Radio) -> None:
        """Offer in the `direction` radio only the directions of the model chosen in `model`: it stayed at AtoB for
        a BtoA-only run (its label says so), and each job failed until the visitor changed it; then it offered the
        direction the model does not translate (a published generator's other way), which failed when chosen."""

        def chosen(key: str | None, current: str | None) -> Any:
            offered = self.directions(key)
            return gr.update(choices=offered, value=current if current in offered else offered[0])

        model.change(chosen, [model, direction], [direction], queue=False)

    def runs(self) -> dict[str, Path]:
        return named_runs(self.roots, self._run_names)

    def device(self):
        if self._device is None:
            from ..execution import resolve_device  # on first use (torch)

            self._device = resolve_device(self.opts.device)
        return self._device

    def model_path(self, key: str | None) -> str | None:
        """The file of model `key` (a dropdown value) among `models()` (`model`); None for a key not offered."""
        return model.path if (model := self.model(key)) is not None else None

    def generator(self, key: str | None, direction: str):
        """The generator of model `key` for `direction`: `ready`'s network."""
        return self.ready(key, direction).net

    def ready(self, key: str | None, direction: str) -> Ready:
        """The generator of model `key` (a dropdown value: a model's name) for `direction`, loaded on first use
        and again when its file has been replaced (a run that saved a newer checkpoint), with whether this call
        loaded it; the MODELS_KEPT used last stay loaded. Only a key among `models()` is loaded: the page cannot
        name a file."""
        if not key:
            none = "" if self.models() else " (the server has none yet: no run has saved a checkpoint)"
            raise CycleGANError(f"choose a model first{none}")
        path = self.model_path(key)  # a name: the page holds no path
        if path is None:
            raise CycleGANError("that model is not offered any more; choose one from the list")
        if direction not in DIRECTIONS:
            raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
        from ..loading import load_generator  # on first use (torch)

        model = (path, direction)
        with self._lock:
            loading = self._loading.setdefault(model, threading.Lock())
            asked = self._generators.get(model)  # what was kept when asked: another job's load waited on is "loaded"
        # One load of a model at a time, outside the engine's lock: loaded under it, a load (seconds) held up
        # every other job, on any model, with --concurrency 2.
        with loading:
            try:
                st = os.stat(path)
            except FileNotFoundError:  # deleted since it was listed (its run removed while the page shows it)
                raise CycleGANError("that model is not offered any more; choose one from the list") from None
            # Which file, and whether it changed: a checkpoint replaced by one of the same size and modification
            # time (`cp -p`, `rsync -t`, a rename of a file copied with its times) kept the old model; a new file
            # is a new inode, and any write or rename sets the change time, which no tool sets back.
            version = (st.st_dev, st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size)
            with self._lock:
                cached = self._generators.get(model)
            loaded = cached is None or (cached[0] != version and self._unreadable.get(model) != version)
            changed = ""
            if loaded:
                try:
                    net = load_generator(path, direction, device=self.device())  # weights_only, averaged weights
                except CycleGANError as e:  # named as the page names it: the visitor sees no server path
                    reason = str(e).replace(escape(path), key)
                    if cached is not None and checkpoint_outline(Path(path)) is not None:
                        # a whole file that does not hold it (a CUT run's, of one direction, over a CycleGAN's) was
                        # "kept the model loaded before": a model no file holds any more, served on
                        with self._lock:
                            self._generators.pop(model, None)
                        cached = None
                    if cached is None:
                        raise CycleGANError(reason) from None
                    self._keep(model, version, cached[1], reason)
                    loaded = False
                else:
                    if cached is not None:  # a different whole file: loaded, and said (it changed without a word)
                        changed = self._changed(key, direction, cached[1], net)
                    cached = (version, net)
                    self._unreadable.pop(model, None)
            with self._lock:
                self._generators[model] = cached
                self._generators.move_to_end(model)
                while len(self._generators) > MODELS_KEPT:  # freed once no job still runs it
                    self._generators.popitem(last=False)
            # a job that waited out another's load of it (seconds) said "(already loaded)" beside those seconds
            return Ready(cached[1], loaded or cached is not asked, changed)

    @staticmethod
    def _changed(key: str, direction: str, before: Any, now: Any) -> str:
        """Say, in the server's log, that model `key`'s file was replaced by another whole checkpoint since `before`
        was loaded from it, and that `now` was loaded from it; return the line for the job's result (`Ready.changed`),
        whose tab shows it beside what the model made: its outputs changed without a word. A pop-up, it came at
        nearly every job of a page serving a run that saves every few steps."""
        steps = [getattr(getattr(n, "_cyclegan_origin", None), "step", None) for n in (before, now)]
        was, is_ = (f" (step {s})" if s is not None else "" for s in steps)
        said = f"checkpoint changed since it was loaded{was}; {direction} loaded again from it{is_}"
        print_line(f"{key}: its {said}")
        return f"the model's {said}"

    def _keep(self, model: tuple[str, str], version: tuple[int, ...], net: Any, reason: str) -> None:
        """Go on with `net`, the model loaded before, where its file's new `version` cannot be read (a checkpoint
        caught mid-rewrite: a run saving while the page loads it, a copy still arriving), said once for that version
        in a pop-up and the server's log; its next version is loaded. Refused, the page lost a model it had served,
        at every job until the file was whole again. Not called again for that version: `ready` loads it no more."""
        self._unreadable[model] = version
        step = getattr(getattr(net, "_cyclegan_origin", None), "step", None)
        kept = f"kept the model loaded at step {step}" if step else "kept the model loaded before"
        said = f"{reason}; {kept}"  # the reason names the model
        print_warning(f"warning: {said}")
        gr.Warning(alert_text(without_paths(said)))

    @contextlib.contextmanager
    def using(self, net) -> Iterator[None]:
        """Run network `net` (a `generator`, a style backbone) in the block, one job at a time: translation changes
        a network's layers while it runs (tiles normalised with a thumbnail's statistics, a clip's shared
        statistics), so with --concurrency 2 two jobs on one model gave each other's colours, or an
        AttributeError; Gatys hooks every layer of its backbone to estimate its memory, and a job beside it
        counted the other's feature maps, refused as needing many times the memory it does. The lock is
        `inference.in_use`'s, which `cyclegan.translate` takes too: one per network, not one more here."""
        from ..inference import in_use  # on first use (torch)

        with in_use(net):
            yield

    def style_backbones(self, backbone: str) -> tuple[str, Any, Any]:
        """(name, Gatys' backbone, the comparison's metrics backbone), built once per name."""
        if backbone not in BACKBONES:
            raise CycleGANError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
        from ..compare import load_backbones  # on first use (torch)

        with self._lock:
            loading = self._loading.setdefault(("backbone", backbone), threading.Lock())
        with loading:  # as `generator`: other jobs go on while VGG19 loads
            if backbone not in self._backbones:
                self._backbones[backbone] = load_backbones(backbone, None, self.device())
            return self._backbones[backbone]

    def check_count(self, paths: Sequence[object], what: str) -> None:
        """Refuse a job of more than --max-images `what` ("images", "style images"): a request may name one
        upload any number of times, and 10,000 of a 25 MP image held the one heavy queue for hours."""
        if len(paths) > self.opts.max_images:
            raise CycleGANError(
                f"{len(paths)} {what} in one job, over this server's limit of {self.opts.max_images} "
                "(cyclegan serve --max-images); send them in several"
            )

    def name_first_frames(self, paths: Sequence[str | Path], used: str) -> None:
        """A pop-up for each upload of several frames (an animated GIF, a multi-page TIFF) whose first alone is
        `used` ("stylised", "used"): taken without a word, where `cyclegan stylize` names it."""
        from ..data.io import frame_count  # on first use (torch)

        for path in dict.fromkeys(paths):
            if (n := frame_count(path)) > 1:
                gr.Warning(alert_text(f"{display_name(path)} holds {n} frames; only the first is {used}"))

    def nothing_uploaded(self, ask: str) -> CycleGANError:
        """The refusal of a job whose upload box was empty, `ask` saying what to upload: an upload the server refused
        as it came (over --max-upload-mb, or with the upload space full) leaves the box empty, and the job's pop-up
        then read as if nothing had been sent. The server cannot say it was this page's: an upload names no page."""
        return CycleGANError(
            f"{ask}: none came with the job (a file over this server's limit of {self.opts.max_upload_mb:g} MB per "
            "upload, or sent while its upload space was full, is refused and not kept)"
        )

    def image(self, path: str | Path, *, keep_mode: bool = False):
        """An upload as an RGB PIL image (`keep_mode`: its transparency kept), checked against the server's limits
        (`uploads.check_upload`)."""
        max_bytes = int(self.opts.max_upload_mb * MB)
        return check_upload(path, max_bytes=max_bytes, max_pixels=self.opts.max_pixels, keep_mode=keep_mode)

    def image_on_white(self, path: str | Path):
        """An upload as `image` gives it (RGB, transparency composited on white, as every command reads it), and
        whether it had transparency: a tab whose networks take RGB says so, where a cut-out lost it silently."""
        from ..data.io import alpha_of, as_rgb  # on first use (torch)

        im = self.image(path, keep_mode=True)
        return as_rgb(im), alpha_of(im) is not None

    def check_cost(self, net, what: str, width: int, height: int) -> None:
        """Refuse an image (`what`: "NAME is", or a clip's "NAME's frames are") whose size as `net` translates it,
        each side padded to the network's multiple and least size (`padded_size`), is over --max-pixels: the
        limit bounds the work, not only the decode, and a 25,000,000 x 1 PNG (25 MP in a few kB) went through
        a ResNet as 8 rows, a U-Net (unet_256) as 256: 8 and 256 times the work the limit allows."""
        from ..tiling import least_size, size_multiple  # on first use (torch)

        inner = getattr(net, "multiple", 1)  # a U-Net pads itself to 2**levels, at least that (`models.unet`)
        w, h = padded_size(width, height, multiple=max(size_multiple(net), inner), least=max(least_size(net), inner))
        if w * h > self.opts.max_pixels:
            raise CycleGANError(
                f"{what} {width}x{height} pixels, which this model pads to {w}x{h} ({w * h / 1e6:.1f} MP), over this "
                f"server's limit of {self.opts.max_pixels / 1e6:g} MP (cyclegan serve --max-pixels); crop or "
                "resize it to a less thin shape"
            )

    def references(self, paths: Sequence[str | Path], size: int, *, stylised: bool = False) -> list:
        """Uploaded style images, each checked (`image`) and scaled to long side `size` as soon as it is
        decoded, as Gatys and the comparison's Gram distance scale them anyway (so the result is the same):
        decoded all at full size first, 100 uploads of 25 MP (the per-image limit) were 7.5 GB of pixels.
        `stylised`: one too thin to stylise at `size` is refused by its own size, before it is scaled
        (`style.gatys.too_thin`: once scaled, it was named by its scaled size and a wrong least long side)."""
        from ..data.io import resize_long_side  # on first use (torch)
        from ..style.gatys import too_thin

        self.check_count(paths, "style images")
        scaled = []
        for p in paths:
            im = self.image(p)
            what = f"style image {display_name(p)}"
            if stylised and (why := too_thin(what, *im.size, size, flag="--size", most=self.opts.max_style_size)):
                raise CycleGANError(why)
            scaled.append(resize_long_side(im, size))
            del im  # freed before the next is decoded: one upload at full size at a time
        return scaled

    def folder(self) -> Path:
        """A fresh folder for one request's outputs, under `outputs`: what a handler returns is a path in it
        (never a PIL image), so no two requests share a file."""
        d = self.outputs / uuid.uuid4().hex
        d.mkdir(parents=True)
        return d

    def refresh_lists(self, known: Any, *keys_and_run: str | None):
        """New models for the model dropdowns (Translate, Video, Compare: their values, then the Runs tab's run)
        and new runs for the Runs dropdown, when they changed. Returns an update for each, then `known`."""
        *model_keys, run = keys_and_run
        choices = self.model_choices()
        runs = list(self.runs())
        if (choices, runs) == known:
            return (*[gr.skip()] * len(keys_and_run), known)
        keys = [k for _, k in choices]

        def pick(current: str | None) -> str | None:
            if current in keys:
                return current
            if current is not None and (model := self.model(current)) is not None:
                return model.key  # its file listed anew ("runs/r (AtoB only)"): the direction radio follows it
            # none chosen yet: the first; a chosen model gone (its run deleted): none, so the next job asks
            # for a choice rather than running another model the visitor did not pick
            return keys[0] if current is None and keys else None

        return (
            *[gr.update(choices=choices, value=pick(key)) for key in model_keys],
            gr.update(choices=runs, value=run if run in runs else (runs[0] if runs else None)),
            (choices, runs),
        )
