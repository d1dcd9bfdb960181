"""The web page of `cyclegan serve`: five tabs (Translate, Video, Style transfer, Compare, Runs) over the library.

Each tab is a module (`translate_tab`, `video_tab`, `style_tab`, `compare_tab`, `runs_tab`) holding its layout and its
handlers; they share the server's state, `engine.Engine` (the models offered and loaded, the device, the
upload checks, the working folder). `build_app` lays the page out from them and wires what spans tabs: the
timer that refreshes the model and run lists. `launch` serves it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
from gradio.exceptions import ComponentProcessingError, InvalidPathError
from starlette.middleware import Middleware  # gradio's server

from ..errors import counted
from ..progress import print_line, print_out
from .compare_tab import CompareTab
from .disk import UploadBudget, sweeping
from .engine import HEAVY, LIGHT_EVENTS, Engine, alert_text, user_errors
from .options import MB, ServeOptions, url_host
from .runs_tab import RunsTab
from .style_tab import StyleTab
from .translate_tab import TranslateTab
from .video_tab import VideoTab

# Gradio's `delete_cache`: every CACHE_SWEEP_S seconds, the uploads and the page's outputs older than CACHE_KEPT_S
# are deleted (all of them when the server stops); they stayed for the server's whole life. `disk.sweep`, as often,
# deletes what that leaves: partial uploads, empty folders.
CACHE_SWEEP_S = 300
# A request's input naming a file not uploaded to this server: a script's, or a page left open while the server
# restarted (its uploads were the old server's, removed with its folder)
NOT_UPLOADED = "that file was not uploaded to this server (restarted since?): upload it again"
CACHE_KEPT_S = 3600
# A request's input that no control of the page sends: a choice not offered (a forged direction, a model path) or a
# value of another kind (text for a slider). Gradio's words were Python's: "Value: 'XtoY' (type: <class 'str'>) is not
# in the list of choices: ['AtoB', 'BtoA']", and a TypeError's traceback in the log for the text.
NOT_OFFERED = "the request holds a choice or value this page does not offer: reload the page and choose again"
_NOT_A_CHOICE = "is not in the list of choices"  # Gradio's Dropdown and Radio refusing a value (`preprocess`)


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only: nothing is fetched from a font service."""
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
    )


def build_app(opts: ServeOptions, files: Sequence[Path], work: Path | None = None) -> gr.Blocks:
    """The page for `opts` (files: the checked --checkpoint files). `work`: the server's private folder
    (examples); a temporary one by default. Outputs and copies of sample grids go into Gradio's folder."""
    work = Path(work or tempfile.mkdtemp(prefix="cyclegan-serve-"))
    engine = Engine(opts, files, work)
    choices = engine.model_choices()
    runs = list(engine.runs())
    translate_tab, video_tab, compare_tab = TranslateTab(engine), VideoTab(engine), CompareTab(engine)
    style_tab = StyleTab(engine)
    runs_tab = RunsTab(engine)

    with gr.Blocks(title="cyclegan serve", analytics_enabled=False, delete_cache=(CACHE_SWEEP_S, CACHE_KEPT_S)) as app:
        app.engine = engine  # for tests and tools
        engine.outputs = Path(app.GRADIO_CACHE) / f"cyclegan-{work.name}"  # served as they are: see Engine
        gr.Markdown("# cyclegan\nUnpaired image-to-image translation and style transfer, on this machine.")
        with gr.Tabs():
            t_model = translate_tab.layout(choices)
            v_model = video_tab.layout(choices)
            style_tab.layout()
            c_model = compare_tab.layout(choices)
            r_run = runs_tab.layout(runs)

        known = gr.State((choices, runs))
        timer = gr.Timer(opts.refresh)
        timer.tick(
            user_errors(engine.refresh_lists),
            [known, t_model, v_model, c_model, r_run],
            [t_model, v_model, c_model, r_run, known],
            **LIGHT_EVENTS,
        )
        runs_tab.redraw_on(timer, app)
        # each tab's stop flags: a closed page's (`unload`), a page's next job (`cancels_end_at_next_job`)
        app.stops = [tab.stops for tab in (translate_tab, video_tab, style_tab, compare_tab)]
        for stops in app.stops:  # a closed or reloaded page: no one sees its job
            app.unload(stops.closed)
    for block in app.blocks.values():
        if isinstance(block, gr.File):
            uploads_only(block)
    uploaded_files_only(app)
    return app


def uploaded_files_only(app: gr.Blocks) -> None:
    """Refuse, in one line, a request naming as an input a file the page was not given (`/etc/passwd`, another
    app's file): Gradio refuses it before any handler of ours runs, and logged a 30-line traceback for each one
    (its InvalidPathError, naming the path), while the page showed an "Error" saying nothing. Now the log has one
    line and the page says what is wrong: a page left open while the server restarted sends its uploads so. A
    choice or value no control offers (`NOT_OFFERED`) is refused so too, in the page's words, not Python's."""
    preprocess = app.preprocess_data

    async def checked(*args, **kwargs):
        try:
            return await preprocess(*args, **kwargs)
        except InvalidPathError as e:
            print_line(f"refused: {e}")  # the operator's log: the path a request named
            raise gr.Error(NOT_UPLOADED, print_exception=False) from None
        except gr.Error as e:
            if _NOT_A_CHOICE not in str(e.message):
                raise
            print_line(f"refused: {e.message}")  # the value sent, for the operator
            raise gr.Error(NOT_OFFERED, print_exception=False) from None
        except ComponentProcessingError as e:  # a value of another kind (text for a number); its first line names it
            first = str(e).partition("\n")[0]
            print_line(f"refused: {first}")
            raise gr.Error(NOT_OFFERED, print_exception=False) from None

    app.preprocess_data = checked


def uploads_only(component: gr.File) -> None:
    """Have `component` take uploads only: Gradio downloads a file input given as an http(s) URL, so a request
    naming any public address had the server fetch it, whole into memory and past --max-upload-mb. Set on the
    component itself: one replaced by a property update would lose it, and no file input of the page is updated.
    A path that names no file (a folder) is refused too."""

    def refuse(path: object) -> None:
        if isinstance(path, str) and path.lower().startswith(("http://", "https://")):
            raise gr.Error("a file is taken as an upload, not as an address to fetch", print_exception=False)
        # A request may name any path in Gradio's folder, that folder itself too (its name is in every file URL):
        # Gradio then listed the folder among its files, its hourly clean-up failed on it and never ran again.
        # A path that is gone is let through: the tab says the upload is gone (deleted after an hour).
        if isinstance(path, (str, Path)) and os.path.lexists(path) and not os.path.isfile(path):
            raise gr.Error("a file is taken as an upload, and that is not a file", print_exception=False)

    move, move_async = component.move_resource_to_block_cache, component.async_move_resource_to_block_cache

    def checked(path):
        refuse(path)
        return move(path)

    async def checked_async(path):
        refuse(path)
        return await move_async(path)

    component.move_resource_to_block_cache = checked
    component.async_move_resource_to_block_cache = checked_async


def heavy_jobs(queue) -> tuple[list, list]:
    """(the heavy jobs waiting in Gradio's `queue`, those running), as its events: a job that ends, fails, is
    cancelled or dropped leaves them, so a count read from them frees its place with no bookkeeping to leak."""
    group = queue.event_queue_per_concurrency_id.get(HEAVY)
    running = [e for events in queue.active_jobs if events for e in events if e.concurrency_id == HEAVY]
    return (list(group.queue) if group is not None else []), running


def too_many_jobs(mine: int, waiting: int, limit: int) -> str:
    """The pop-up refusing a page's job past --max-jobs-per-visitor."""
    return (
        f"this page already has {counted(mine, 'job')} waiting or running, the most one page may have (cyclegan "
        f"serve --max-jobs-per-visitor {limit}); jobs waiting in the queue, from all pages: {waiting}. Wait for one "
        "of yours to end, or cancel one, then try again"
    )


def jobs_per_visitor(app: gr.Blocks, limit: int) -> None:
    """Refuse at once a heavy job of a page session that has `limit` waiting or running: one page (a script's
    session) could take all --max-queue places and hold every other visitor up for hours. Checked where Gradio's
    queue takes a job in (its `push`: the job joins, or is refused with the page's pop-up), so a job still waiting
    counts. Per session, not per address: behind a reverse proxy every visitor has the proxy's address; a script
    may make up sessions, which only a limit per address at that proxy holds."""
    queue, push = app._queue, app._queue.push
    joining = asyncio.Lock()  # counted and taken in as one: two requests at once passed on one count
    # The jobs sent with no session (Gradio's /call API, as curl sends them), one visitor together: Gradio gives
    # each a session of its own, so a loop of them passed as many visitors.
    sessionless: set[str] = set()

    async def limited(body, request, username):
        fn = app.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is None or fn.concurrency_id != HEAVY:
            return await push(body, request, username)
        session = body.session_hash  # Gradio's push sets a new one where there is none
        async with joining:
            waiting, running = heavy_jobs(queue)
            if session is None:
                sessionless.intersection_update(e._id for e in waiting + running)
                mine = len(sessionless)
            else:
                mine = sum(e.session_hash == session for e in waiting + running)
            if mine >= limit:
                print_line(f"refused: a page's job past --max-jobs-per-visitor {limit}")
                return False, alert_text(too_many_jobs(mine, len(waiting), limit)), "error"
            joined, event_id, state = await push(body, request, username)
            if joined and session is None:
                sessionless.add(event_id)
            return joined, event_id, state

    queue.push = limited


def cancels_end_at_next_job(app: gr.Blocks) -> None:
    """Have each tab forget a page's Cancel when the page's next job of that tab joins Gradio's queue or is refused
    there (`Stops.joining`), before `jobs_per_visitor` or the full queue answers: a job refused so never starts, and
    its failure kept the partial result of the job cancelled before it, as if the Cancel were this job's."""
    queue, push = app._queue, app._queue.push

    async def joining(body, request, username):
        for stops in getattr(app, "stops", ()):
            stops.joining(body.fn_index, body.session_hash)
        return await push(body, request, username)

    queue.push = joining


def launch(app: gr.Blocks, opts: ServeOptions, *, block: bool = True):
    """Serve `app` on opts.host:opts.port with the queue's limits and nothing that needs the internet."""
    # A waiting job holds its request in memory: unbounded, a script's requests grew the server without end.
    app.queue(default_concurrency_limit=opts.concurrency, max_size=opts.max_queue)
    jobs_per_visitor(app, opts.max_jobs_per_visitor)
    cancels_end_at_next_job(app)  # around it: its refusals too
    folder = Path(app.GRADIO_CACHE)  # the uploads and the page's outputs
    max_bytes = int(opts.max_upload_mb * MB)
    budget = Middleware(UploadBudget, folder=folder, limit=int(opts.max_disk_mb * MB), file_limit=max_bytes)
    app.launch(
        server_name=url_host(opts.host),
        server_port=opts.port,
        prevent_thread_lock=True,
        share=False,
        quiet=True,  # Gradio's own lines tell a Python caller to pass `share=True` to launch(): not ours to offer
        inbrowser=False,
        show_error=False,
        max_file_size=max_bytes,  # checked by the server, said in the page's words (`disk.over_file_limit`)
        allowed_paths=[],
        theme=theme(),
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        app_kwargs={
            "middleware": [budget],
            "lifespan": sweeping(folder, CACHE_SWEEP_S, CACHE_KEPT_S, own=app.engine.outputs),
        },
    )
    # The page checks no size itself: its refusal put the file's name in the page as HTML (`disk.over_file_limit`)
    app.config["max_file_size"] = None
    print_out(f"cyclegan serve: the page is at {app.local_url} (Ctrl-C stops the server)")
    if block:
        wait_while_running(app)
    return app


def wait_while_running(app: gr.Blocks) -> None:
    """Block until the server stops; a KeyboardInterrupt closes it and goes on. Not Gradio's block_thread: it
    swallowed the interrupt (and so SIGTERM's and SIGHUP's `Terminated`) and printed "Keyboard interruption in
    main thread" for a `kill` too; the command says how it stopped."""
    try:
        while app.is_running:
            time.sleep(0.1)
    finally:
        app.close(verbose=False)
