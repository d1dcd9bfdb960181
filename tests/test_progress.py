"""Progress where stderr is no terminal (`nohup cyclegan train ... > log 2>&1`, a batch job, CI): plain lines, a
bounded number of them, no carriage returns; on a terminal still tqdm's bar. capsys's stderr is no terminal."""

from __future__ import annotations

import re
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from cyclegan import progress
from cyclegan.progress import Lines, progress_bar
from helpers import evaluate_args, save_tiny_checkpoint, tiny_evaluation


def _on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")  # one that redraws, whatever the suite runs under (`progress.redraws`)


def test_lines_in_a_log_file_say_the_count_the_named_values_and_the_time_left(capsys):
    with progress_bar(1000, "work", unit="step", shown={"total": "loss"}) as bar:
        assert isinstance(bar, Lines)
        for i in range(1000):
            bar.set_postfix({"total": f"{1 / (i + 1):.3g}", "other": "x"})
            bar.update(1)
            if i == 499:
                tqdm.write("warning: halfway", file=sys.stderr)  # a warning above the bar: its own line here too
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 11 and "warning: halfway" in lines, lines
    assert lines[0].startswith("work: step 100/1000, loss 0.01, ") and lines[0].endswith(" s left")
    assert lines[-1].startswith("work: step 1000/1000, loss 0.001, ") and "other" not in lines[-1]


def test_lines_for_batches_that_step_over_a_tenth_and_for_an_iterable(capsys):
    with progress_bar(30, "translate", unit="img") as bar:
        for _ in range(10):
            bar.update(3)  # a tenth is 3 images, then batches of 4 would never land on one: see below
    assert len(capsys.readouterr().err.splitlines()) == 10
    with progress_bar(30, "translate", unit="img") as bar:
        for _ in range(7):
            bar.update(4)
        bar.update(2)
    assert len(capsys.readouterr().err.splitlines()) == 8  # 4, 8, 12, 16, 20, 24, 28 crossed a tenth; 30 the end
    assert list(progress_bar(iterable=range(5), desc="scan", unit="img")) == [0, 1, 2, 3, 4]
    assert capsys.readouterr().err.splitlines()[-1].startswith("scan: img 5/5, ")
    assert list(progress_bar(iterable=range(5), desc="tiles", nested=True)) == [0, 1, 2, 3, 4]
    assert capsys.readouterr().err == ""  # nested under another's lines: by the clock alone, none when quick


def test_a_terminal_still_gets_a_bar_and_no_progress_gets_nothing(capsys, monkeypatch):
    with progress_bar(5, "work", unit="step", enabled=False) as bar:
        bar.update(5)
    assert capsys.readouterr().err == ""
    _on_a_terminal(monkeypatch)
    with progress_bar(5, "work", unit="step") as bar:
        assert isinstance(bar, tqdm)
        bar.update(5)
    assert "\r" in capsys.readouterr().err


def test_a_terminal_that_cannot_redraw_gets_lines(capsys, monkeypatch):
    """`TERM=dumb` (an editor's shell buffer): tqdm's nested bars went up a line with ESC [A, shown as text."""
    _on_a_terminal(monkeypatch)
    monkeypatch.setenv("TERM", "dumb")
    with progress_bar(5, "tiles", unit="tile") as bar:
        assert isinstance(bar, Lines)
        bar.update(5)
    err = capsys.readouterr().err
    assert err.startswith("tiles: tile 5/5, ") and "\r" not in err and "\x1b" not in err
    monkeypatch.setenv("TERM", "xterm-256color")
    assert isinstance(progress_bar(5, "tiles", unit="tile"), tqdm)


def test_a_name_in_a_bars_description_is_escaped_on_a_terminal_and_in_a_log(capsys, monkeypatch):
    """A clip named "walk\\nerror: x.mp4" (its name the description of its frames' bar) wrote a line "error: x.mp4:
    frame 2/2" into the log, and an escape sequence in a name restyled the terminal: written as escapes, as every
    printed name is (`errors.escape`)."""
    for terminal in (False, True):
        if terminal:
            _on_a_terminal(monkeypatch)
        with progress_bar(2, "walk\nerror: \x1b[31mx.mp4", unit="frame") as bar:
            bar.update(2)
        err = capsys.readouterr().err
        assert "walk\\nerror: \\x1b[31mx.mp4" in err and "\n" not in err.rstrip("\n") and "\x1b" not in err, err


def test_training_in_a_log_file_prints_a_line_at_each_logged_step_with_its_losses(tiny_cfg, capsys, monkeypatch):
    """`nohup cyclegan train ... > log 2>&1` held one line of carriage returns growing for the whole run."""
    from cyclegan.train import train

    train(tiny_cfg(steps=12, log_every=4), progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("train run: ")]
    assert "\r" not in err and len(lines) == 3, err
    assert [line.split(",")[0] for line in lines] == [f"train run: step {n}/12" for n in (4, 8, 12)]
    assert all(" D_X " in line and " G_adv " in line for line in lines), lines  # the losses logged at that step
    _on_a_terminal(monkeypatch)
    train(tiny_cfg(steps=2, out=str(tiny_cfg().train.out) + "2"), progress=True)
    assert "\r" in capsys.readouterr().err


def test_translate_in_a_log_file_prints_lines(tmp_path, capsys):
    from cyclegan.cli import main

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    rng = np.random.default_rng(0)
    images = []
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(p := tmp_path / f"{i:02d}.png")
        images.append(str(p))
    assert main(["translate", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o"), *images]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("translate: img ")]
    assert "\r" not in err and 1 <= len(lines) <= 11 and lines[-1].startswith("translate: img 12/12, "), err


def test_evaluate_in_a_log_file_prints_lines(tmp_path, capsys):
    from cyclegan.cli import main

    ckpt, data = tiny_evaluation(tmp_path / "e", 3)
    args = evaluate_args(ckpt, data, "--out", str(tmp_path / "r.json"))[:-1]  # with progress
    assert main(args) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("evaluate tiny.pt: img ")]
    assert "\r" not in err and 1 <= len(lines) <= 11, err


def test_each_checkpoints_bar_counts_its_own_work_and_the_test_images_features_have_their_own(tmp_path, capsys):
    """`evaluate RUN` on the demo's run counted 240 images for its checkpoint.pt and 160 for its best.pt, the same
    work: the real test images' features, computed once for every checkpoint, were in the first one's bar alone."""
    import torch

    from cyclegan.cli import main

    first, data = tiny_evaluation(tmp_path, 3)
    ckpt = torch.load(first, weights_only=True)
    for state in ckpt["models"].values():  # other generators, or the second is scored as the same ones, at once
        for value in state.values():
            if value.is_floating_point():
                value.add_(0.01)
    torch.save(ckpt, second := tmp_path / "second.pt")
    assert main(["evaluate", "--checkpoint", str(first), str(second), "--data", str(data)]) == 0
    last = {}  # each bar's last line: its count and total
    for line in capsys.readouterr().err.splitlines():
        if m := re.fullmatch(r"(.+): img (\d+)/(\d+)(, .*)?", line):
            last[m[1]] = (int(m[2]), int(m[3]))
    # 3 images a domain: each checkpoint translates both ways and puts each direction's targets through (identity)
    assert last == {
        "features of the test images at 32 px": (6, 6),
        "evaluate tiny.pt": (12, 12),
        "evaluate second.pt": (12, 12),
    }


def test_a_clip_in_a_log_file_prints_lines_of_its_frames(tmp_path, capsys):
    import av

    from cyclegan.cli import main

    clip = tmp_path / "walk.mp4"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 16, "yuv420p"
        for i in range(20):
            frame = np.full((16, 32, 3), 10 * i, dtype=np.uint8)
            c.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(v.encode(None))
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    assert main(["translate", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o"), str(clip)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("walk.mp4: frame ")]
    assert "\r" not in err and 1 <= len(lines) <= 11 and lines[-1].startswith("walk.mp4: frame 20/20, "), err


def test_a_nested_bar_in_a_log_file_says_a_slow_image_by_the_clock(capsys, monkeypatch):
    """An image's tiles under the images' bar: a line when a minute has gone by (here: every update), never per
    tenth, so that a folder of quick tiled images does not fill the log; a slow one is not silent for minutes."""
    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.0)
    with progress_bar(12, "tiles of 80x96", unit="tile", nested=True) as bar:
        bar.update(1)
    assert capsys.readouterr().err.startswith("tiles of 80x96: tile 1/12, ")


def test_downloads_in_a_log_file_print_lines_of_sizes_ending_with_the_whole(tmp_path, capsys, monkeypatch):
    """`cyclegan datasets download` and `cyclegan pretrained download` drew tqdm's carriage returns into a log."""
    import hashlib

    from cyclegan.cli import main
    from helpers import RangeServer, serving

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CYCLEGAN_PRETRAINED_URL", raising=False)
    data = hashlib.sha256(b"x").digest() * (2**15)  # 1 MiB: 16 chunks, so the tenths come in between
    with serving(RangeServer("/m")) as server:
        server.files["/m/horse2zebra.pth"] = data
        main(["pretrained", "download", "horse2zebra", "--base-url", server.base_url])  # not a generator: refused
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("horse2zebra.pth: ")]
        assert "\r" not in err and 2 <= len(lines) <= 10, err
        assert lines[0].startswith("horse2zebra.pth: ") and " KiB of 1 MiB, " in lines[0], lines
        assert lines[-1].startswith("horse2zebra.pth: 1 MiB of 1 MiB, "), lines
        server.files["/m/horse2zebra.zip"] = data
        server.short["/m/horse2zebra.zip"] = 3 * 2**18  # no Content-Length: no tenths, the size said at the end
        main(["datasets", "download", "horse2zebra", "--root", str(tmp_path / "d"), "--base-url", server.base_url])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("horse2zebra.zip: ")]
        assert "\r" not in err and len(lines) == 1 and lines[0].startswith("horse2zebra.zip: 768 KiB, "), err


def test_the_vgg19_download_in_a_log_file_draws_no_bar_and_ends_with_its_size(tmp_path, capsys, monkeypatch):
    """`stylize --backbone vgg19` on a fresh machine, in a log: torch.hub's bar drew its carriage returns there."""
    import hashlib
    from types import SimpleNamespace

    import torch

    from cyclegan import pretrained
    from helpers import RangeServer, serving

    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "w.pth")
    data = (tmp_path / "w.pth").read_bytes()
    name = f"vgg19-{hashlib.sha256(data).hexdigest()[:8]}.pth"  # torch.hub checks the digest the name starts
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with serving(RangeServer()) as server:
        server.files[f"/{name}"] = data
        url = f"{server.base_url}/{name}"
        monkeypatch.setattr(pretrained, "VGG19_Weights", SimpleNamespace(IMAGENET1K_V1=SimpleNamespace(url=url)))
        assert list(pretrained.vgg19_state_dict()) == ["features.0.weight"]
    err = capsys.readouterr().err
    assert len(data) // 1024 == 8 and "\r" not in err, err
    assert err.endswith(f"downloaded {tmp_path / 'hub' / 'checkpoints' / name} (8 KiB)\n"), err


def test_a_small_downloads_size_lines_never_repeat_after_rounding(capsys):
    """A 5 MiB download's tenths (every 512 KiB) in whole MiB: "2 MiB of 5 MiB" was printed at 1.5, 2 and 2.5 MiB,
    three lines of one text in a log file. A line now comes only when its text changes, and the end says the whole."""
    with progress_bar(5 * 2**20, "d.zip", unit="B") as bar:
        for _ in range(40):
            bar.update(2**17)  # 128 KiB reads
    said = [line.split(", ")[0] for line in capsys.readouterr().err.splitlines()]
    assert said == [f"d.zip: {size} of 5 MiB" for size in ("512 KiB", "1 MiB", "2 MiB", "3 MiB", "4 MiB", "5 MiB")]


def test_a_closed_or_missing_stderr_takes_no_progress_and_raises_nothing(monkeypatch):
    """A library caller's `sys.stderr.close()` (or pythonw's sys.stderr None) made the first progress line raise
    ValueError (AttributeError for None) in the middle of the work: no stream, no progress, the work goes on."""
    import io

    closed = io.StringIO()
    closed.close()
    for stream in (closed, None):
        monkeypatch.setattr(sys, "stderr", stream)
        with progress_bar(10, "d.zip", unit="B") as bar:
            for _ in range(10):
                bar.update(1)
        assert list(progress_bar(iterable=range(3), desc="scan", unit="img")) == [0, 1, 2]
    later = io.StringIO()  # open when the lines began, closed in the middle
    monkeypatch.setattr(sys, "stderr", later)
    with progress_bar(10, "work", unit="step") as bar:
        bar.update(5)
        said = later.getvalue()
        later.close()
        bar.update(5)
    assert said.startswith("work: step 5/10, ")


def test_a_warning_to_a_closed_or_missing_stderr_raises_nothing_nor_goes_to_stdout(monkeypatch, tmp_path, capsys):
    """The warnings' writer (`clipio.print_warning`) raised ValueError on a library caller's closed stderr, in the
    middle of the work (`read_still` of an animated PNG, whose frames left out it names), and wrote the line to
    stdout where sys.stderr was None (pythonw): into a result piped there. Now, as the progress lines, it is left
    unsaid where stderr cannot take it."""
    import io

    from cyclegan.inference import read_still

    path = tmp_path / "two.png"
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    closed = io.StringIO()
    closed.close()
    for stream in (closed, None):
        monkeypatch.setattr(sys, "stderr", stream)
        assert read_still(path).size == (8, 8)
    assert capsys.readouterr().out == ""
    monkeypatch.undo()
    read_still(path)  # an open stderr still says it
    assert "two.png" in capsys.readouterr().err


def test_each_warning_goes_through_the_one_writer_that_a_closed_or_missing_stderr_cannot_break(monkeypatch, capsys):
    """Warnings printed straight to stderr (a name collision's `unique_stems`, a direction a foreign generator
    ignores, an option given twice) raised ValueError on a library caller's closed stderr, in the middle of the
    work, and went to stdout where sys.stderr was None (pythonw). Now each is said by `progress.print_warning`,
    which leaves it unsaid there; with a stderr it is said as before."""
    import argparse
    import io
    from pathlib import Path

    from cyclegan.files import unique_stems
    from cyclegan.loading import warn_direction_unused
    from cyclegan.options import _note_given

    def warn_all() -> None:
        assert unique_stems([Path("a/x.png"), Path("b/x.png")], ext="png", warn=True) == ["x", "x-2"]
        warn_direction_unused("--direction", "BtoA", given="other.pth", source="other.pth")
        namespace = argparse.Namespace()
        _note_given(namespace, "lr", 0.001, "--lr 0.001")
        _note_given(namespace, "lr", 0.002, "--lr 0.002")

    closed = io.StringIO()
    closed.close()
    for stream in (closed, None):
        monkeypatch.setattr(sys, "stderr", stream)
        warn_all()
    assert capsys.readouterr().out == ""
    monkeypatch.undo()
    warn_all()
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[0] for line in err] == ["warning:"] * 3, err


def test_no_warning_line_is_printed_to_stderr_past_the_one_writer():
    """Every `warning: ...` line of the package goes through `progress.print_warning` (one line, escaped, above a
    progress bar, nothing where stderr is closed or None): a `print(f"warning: ...", file=sys.stderr)` or
    `tqdm.write` of one written beside it is each of those bugs again."""
    import ast
    from pathlib import Path

    import cyclegan

    found = []
    for path in Path(cyclegan.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            to_stderr = isinstance(node, ast.Call) and any(
                k.arg == "file" and ast.unparse(k.value) == "sys.stderr" for k in node.keywords
            )
            if to_stderr and node.args and "warning:" in ast.unparse(node.args[0]):
                found.append(f"{path.name}:{node.lineno}")
    assert found == [], found


def _outside_the_command_line(found) -> list[str]:
    """`path:line` of each node of the package's code that `found` (a test of an `ast` node), but in the command
    line's files (which guard their own streams: `cli._Unfailing`, `cli._Watched`) and progress itself (the one
    writer)."""
    import ast
    from pathlib import Path

    import cyclegan

    root = Path(cyclegan.__file__).parent
    command_line = {"progress.py", "cli.py", "commands.py", "__main__.py"}
    return [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).as_posix() not in command_line
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if found(node)
    ]


def test_only_the_command_line_and_the_one_writer_touch_sys_stderr():
    """Every line the package says on stderr goes through `progress.print_line` (one line, escaped, above a bar,
    nothing where stderr is closed or None), and whether it is a terminal is asked through `progress.on_terminal`:
    a `print(..., file=sys.stderr)`, a traceback printed there or a `sys.stderr.isatty()` beside them raised for a
    library caller whose stderr was closed (ValueError) or None (AttributeError), or wrote to stdout. Only the
    command line, which guards its own stderr (`cli._Unfailing`), uses it itself."""
    import ast

    def found(node) -> bool:
        said = ast.unparse(node) if isinstance(node, (ast.Attribute, ast.Call)) else ""
        return said == "sys.stderr" or said.startswith("traceback.print_")

    assert _outside_the_command_line(found) == []


def test_only_the_command_line_and_the_one_writer_touch_sys_stdout():
    """Every line a library function says on stdout goes through `progress.print_out` (one line, escaped, above a
    bar, nothing where stdout is closed or None): a bare `print(...)` or `tqdm.write(...)` (both write to stdout
    without `file=`) raised ValueError out of `train` for a library caller whose stdout was closed, after the run's
    checkpoint was saved. Only the command line, which watches its own stdout (`cli._Watched`), prints there itself;
    a `print(..., file=f)` into a file of the package's is no stdout."""
    import ast

    def found(node) -> bool:
        if isinstance(node, ast.Attribute):
            return ast.unparse(node) == "sys.stdout"
        named = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
        return named in ("print", "tqdm.write") and not any(k.arg == "file" for k in node.keywords)

    assert _outside_the_command_line(found) == []


def test_the_package_says_nothing_through_python_warnings():
    """Python writes a `warnings.warn` to sys.stderr itself and catches only OSError there: on a library caller's
    closed stderr the warning raised ValueError out of the work. The package's warnings are `warning:` lines through
    `progress.print_warning`, which leaves them unsaid there (the README tells a caller what to do about another
    library's). The web page's pop-ups (`gr.Warning`) fall back to `warnings.warn` only outside a page's job."""
    import ast

    def found(node) -> bool:
        return isinstance(node, ast.Call) and ast.unparse(node.func) in ("warnings.warn", "warnings.showwarning")

    assert _outside_the_command_line(found) == []


def test_lines_to_a_stderr_that_takes_nothing_more_raise_nothing(monkeypatch):
    """A library caller's stderr that takes no more (a pipe whose reader ended, `python job.py 2>&1 | head`; a full
    disk, `2>/dev/full`): a warning's line or a progress line raised BrokenPipeError out of the work (a training
    stopped at its next logged step, a downloaded model never returned), where a closed stderr or none raises
    nothing. The command line guards its own stderr (`cli._Unfailing`); the one writer and the bars' lines now
    leave the work going on, unsaid."""
    import contextlib
    import os

    read, write = os.pipe()
    os.close(read)  # the reader gone: every write fails (Python ignores SIGPIPE)
    stream = os.fdopen(write, "w", buffering=1)  # line-buffered, as stderr is
    try:
        monkeypatch.setattr(sys, "stderr", stream)
        progress.print_warning("warning: a word the caller cannot see")
        progress.print_line("note: one", "note: two")
        with progress_bar(total=4, desc="work", unit="img") as bar:  # no terminal: `Lines`
            assert isinstance(bar, Lines)
            for _ in range(4):
                bar.update(1)
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):  # what is left in its buffer cannot be written either
            stream.close()
