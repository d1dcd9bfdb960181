"""The README and docs/ against the code: what they show exists and is spelled as the code spells it."""

import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest

from cyclegan.cli import build_parser
from cyclegan.commands import COMMANDS, Command

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text(page: Path) -> str:
    return re.sub(r"\\\n\s*", " ", page.read_text())  # a shell line continued with a backslash: one line


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _flags_of(words: tuple[str, ...]) -> set[str]:
    """The option strings of `cyclegan WORDS...` (a command, or a group and its action)."""
    parser = build_parser(list(words))
    for word in words:
        parser = _subparser(parser, word)
    return {s for action in parser._actions for s in action.option_strings}


def _anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub makes them (a repeated heading's get -1, -2, ...)."""
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
    return anchors


def test_every_anchor_of_a_link_between_the_docs_is_a_heading():
    wrong, seen = [], 0
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)\s#]*)#([^)\s]+)\)", page.read_text()):
            dest = page.parent / target if target else page
            if dest.suffix == ".md":
                seen += 1
                if anchor not in _anchors(dest):
                    wrong.append(f"{page.name}: {target}#{anchor}")
    assert seen > 20, "too few anchors read: the pattern no longer matches the pages"
    assert wrong == []


def test_every_image_and_link_of_the_docs_exists():
    missing, seen = [], 0
    for page in PAGES:
        text = page.read_text()
        targets = re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text) + re.findall(r"<img[^>]*src=\"([^\"]+)\"", text)
        for target in (t for t in targets if not re.match(r"[a-z]+:", t)):  # not https: or mailto:
            seen += 1
            if not (page.parent / target).exists():
                missing.append(f"{page.name}: {target}")
    assert seen > 50, "too few links read: the pattern no longer matches the pages"
    assert missing == []


def test_the_docs_point_into_the_code_by_name_not_by_line_number():
    """`execution.py:216` named `tf32_convolutions` once; a later edit put `cpu_compiler` there, and the page's
    other line numbers drifted the same way. A name is found whatever moves around it."""
    numbered = [
        f"{page.name}: {ref}" for page in PAGES for ref in re.findall(r"\b[\w/]+\.(?:py|sh):\d+", page.read_text())
    ]
    assert numbered == []


def test_no_recipe_the_docs_call_unmeasured_has_a_recorded_run():
    """results.md called `fast+residual-idt0` "not yet measured" after its run was recorded (and tabled) beside
    the other ablations: a sentence that says so must go when the record comes."""
    import json

    recorded = {
        json.loads(line)["variant"]
        for path in (ROOT / "benchmarks" / "results").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"variant"' in line
    }
    assert len(recorded) > 10, "too few recorded variants read: the records' format changed"
    stale = []
    for page in PAGES:
        text = re.sub(r"\]\([^)]*\)", "]", " ".join(_text(page).split()))  # not a link's anchor (#unmeasured-...)
        for sentence in re.split(r"(?<=[.;])\s", text):
            if re.search(r"\b(not yet measured|unmeasured|not measured)\b", sentence):
                stale += [f"{page.name}: {name}" for name in re.findall(r"`([^`]+)`", sentence) if name in recorded]
    assert stale == []


def test_the_readme_names_every_run_file_that_no_other_command_replaces():
    """`files.TRAINING_FILES` grew config.json and log.jsonl; the README's sentence still named checkpoint.pt and
    best.pt alone, as if an `--out RUN/log.jsonl --overwrite` were allowed."""
    from cyclegan.files import TRAINING_FILES

    text = " ".join(_text(ROOT / "README.md").split())
    sentence = re.search(r"A run folder's ((?:`[^`]+`|[^`.])*) are training's alone", text)  # names hold dots
    assert sentence, "the README's sentence on a run's own files is gone"
    assert set(re.findall(r"`([^`]+)`", sentence.group(1))) == set(TRAINING_FILES)


@pytest.mark.slow  # starts git
def test_every_prototype_patch_kept_for_the_results_applies_to_this_tree():
    """results.md's `git apply benchmarks/results/ndown1_prototype.patch` failed ('patch does not apply') once
    ablate.py gained a variant where the patch's context was: the measurement could not be reproduced."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    patches = sorted((ROOT / "benchmarks" / "results").glob("*.patch"))
    assert len(patches) >= 4, "too few prototype patches found"
    failed = []
    for patch in patches:
        check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True, text=True)
        if check.returncode:
            failed.append(f"{patch.name}: {check.stderr.strip()}")
    assert failed == []


def test_every_flag_of_a_command_in_the_docs_is_an_option_of_that_command():
    """`cyclegan X ... --flag` in the README and docs/ (shell lines continued with a backslash included)."""
    cache: dict[tuple[str, ...], set[str]] = {}
    wrong, seen = [], 0
    for page in PAGES:
        for number, line in enumerate(_text(page).splitlines(), 1):
            # up to the end of the code span, a comment, a pipe or the next command (&&, ;)
            for m in re.finditer(r"cyclegan ([a-z]+)(?: ([a-z]+))?((?:[^`|;)&#]|&(?!&))*)", line):
                command, word, rest = m.groups()
                entry = COMMANDS.get(command)
                if entry is None:
                    continue
                if isinstance(entry, Command):
                    words, rest = (command,), f" {word or ''}{rest}"
                elif word in entry:
                    words = (command, word)
                else:
                    continue
                if words not in cache:
                    cache[words] = _flags_of(words)
                for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
                    seen += 1
                    if flag not in cache[words]:
                        wrong.append(f"{page.name}:{number}: cyclegan {' '.join(words)} {flag}")
    assert seen > 100, "too few flags read: the pattern no longer matches the pages"
    assert wrong == []


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "src" / "cyclegan"
    unnamed = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if path.stem in ("__init__", "__main__"):
            continue
        if len(rel.parts) == 1:  # a top-level module: its row
            named = f"| `{rel}` |" in page
        else:  # a module of a sub-package: named in its package's row, or by its path
            named = f"`{path.stem}`" in page or f"`{rel.parts[0]}/{path.stem}`" in page
        if not named:
            unnamed.append(str(rel))
    folders = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    unnamed += [f"{name}/" for name in folders if f"| `{name}/` |" not in page]
    assert unnamed == []


def test_the_readme_dependency_table_is_pyprojects():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    section = (ROOT / "README.md").read_text().split("## Dependencies", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")][2:]
    first_column = " ".join(line.split("|")[1] for line in table)

    def name(requirement: str) -> str:
        return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)

    assert [name(r) for r in project["dependencies"] if name(r) not in first_column] == []
    for extra, requirements in project["optional-dependencies"].items():
        assert f"`[{extra}]`" in section, f"[{extra}]: an extra the README's dependencies do not name"
        unnamed = [name(r) for r in requirements if not r.startswith("cyclegan[") and name(r) not in section]
        assert unnamed == [], f"[{extra}]"
    # and each lower bound as pyproject has it: "torch >= 2.4", "gradio >= 6" (the README said nothing of ruff's)
    every = [*project["dependencies"], *(r for rs in project["optional-dependencies"].values() for r in rs)]
    bounds = [(name(r), m[1]) for r in every if (m := re.search(r">=\s*([\d.]+)", r))]
    assert len(bounds) >= 4, "too few bounds read: pyproject's requirements changed form"
    said = [(n, b) for n, b in bounds if re.search(rf"\b{re.escape(n)}\b[^|;]*?>= {re.escape(b)}\b", section)]
    assert [f"{n} >= {b}" for n, b in bounds if (n, b) not in said] == []


def test_the_readme_shows_every_subcommand():
    readme = (ROOT / "README.md").read_text()
    names = [
        " ".join(words)
        for command, entry in COMMANDS.items()
        for words in ([(command,)] if isinstance(entry, Command) else [(command, action) for action in entry])
    ]
    assert [name for name in names if not re.search(rf"cyclegan {name}\b", readme)] == []


def _table_rows() -> dict[str, str]:
    """docs/architecture.md's package table: module or folder -> its imports column, top to bottom."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    return {m[1]: m[2] for m in re.finditer(r"^\| `([a-z_]+(?:\.py|/))` \| .* \| (.*) \|$", page, re.M)}


def _unit(module: str, folders: set[str]) -> str:
    """A dotted module of the package -> its row in the table (`data/` for data.io, `errors.py` for errors)."""
    first = module.split(".")[0]
    return f"{first}/" if first in folders else f"{first}.py"


PACKAGE = ROOT / "src" / "cyclegan"
FOLDERS = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def _imports(row: str) -> list[tuple[str, str]]:
    """(where, the dotted module) of each relative import of a row's module or folder, inside functions too."""
    import ast

    files = [PACKAGE / row] if row.endswith(".py") else sorted((PACKAGE / row).rglob("*.py"))
    found = []
    for path in files:
        here = path.relative_to(PACKAGE).parent.parts
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = ".".join(here[: len(here) - node.level + 1])
            modules = [f"{base}.{node.module}" if base else node.module] if node.module else []
            modules = modules or [f"{base}.{a.name}" if base else a.name for a in node.names]
            found += [(f"{path.relative_to(PACKAGE)}:{node.lineno}", module) for module in modules]
    return found


def test_each_module_imports_only_modules_above_it_in_the_architecture_table():
    """The page's promise: layers, no import from a lower row to a higher one (imports inside functions too)."""
    order = list(_table_rows())
    assert len(order) > 30, "too few rows read: the pattern no longer matches the table"
    upward = []
    for row in order:
        for where, module in _imports(row):
            unit = _unit(module, FOLDERS)
            if unit != row and unit in order and order.index(unit) > order.index(row):
                upward.append(f"{where} imports {module}")
    assert upward == []


def test_each_row_of_the_architecture_table_names_what_its_module_imports():
    """Both ways: `pretrained.py` imported `progress` (`--no-progress`) and `compare.py` `interop/`, neither named
    in its row, while `translation.py`'s row named `temporal`, which it never imported. A row that says it imports
    more than it lists (`...`, "the library") is checked one way: what it names, it imports."""
    rows = _table_rows()
    wrong = []
    for row, column in rows.items():
        column = re.sub(r"never `[^`]+`", "", column)  # `evaluate/` and `web/`: **never `train`**
        named = {_unit(name.split("/")[0], FOLDERS) for name in re.findall(r"`([a-z_./]+)`", column)} & set(rows)
        imported = {_unit(module, FOLDERS) for _, module in _imports(row)} - {row}
        open_ended = "..." in column or "the library" in column
        wrong += [f"{row} imports {unit}, unnamed" for unit in sorted(imported - named) if not open_ended]
        wrong += [f"{row} names {unit}, never imported" for unit in sorted(named - imported)]
    assert wrong == []


def _defined(path: Path) -> set[str]:
    """Every name a module defines: functions, classes, methods, assignments, attributes set, names imported and
    exported."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            names.add(node.id if isinstance(node, ast.Name) else node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[-1] for a in node.names)
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "__all__" for target in node.targets):
            names.update(s.value for s in ast.walk(node.value) if isinstance(s, ast.Constant))  # lazy exports
    return names


def _names_module(path: Path) -> bool:
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_every_module_and_name_the_architecture_page_writes_as_module_name_exists():
    """`inputs.training_images`, `trainer.restore`, `data.io.left_out`: a name renamed or moved leaves the map
    pointing at nothing. A module is named by its path's end (`run_folder` for train/run_folder.py)."""
    modules = {
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }
    page = (ROOT / "docs" / "architecture.md").read_text()
    seen, missing = 0, []
    for ref in sorted(set(re.findall(r"`(?:cyclegan\.)?([a-z_]+(?:\.[a-z_]+)*\.[A-Za-z_]\w*)(?:\(.*?\))?`", page))):
        where, name = ref.rsplit(".", 1)
        candidates = [path for module, path in modules.items() if module == where or module.endswith(f".{where}")]
        candidates = [PACKAGE / "__init__.py"] if where == "cyclegan" else candidates  # the package's own names
        if not candidates or name in ("py", "pt", "json", "jsonl"):  # a file's name (`checkpoint.pt`), torch's own
            continue
        seen += 1
        if not any(name in _defined(path) or _names_module(path.parent / name) for path in candidates):
            missing.append(ref)
    assert seen > 40, "too few names read: the pattern no longer matches the page"
    assert missing == []


def _commands(page: Path) -> list[str]:
    """The shell commands a reader copies: a code block's lines and an inline code span, one wrapped over lines too."""
    text = _text(page)
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
    spans = re.findall(r"`([^`]+)`", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))
    return [line for block in blocks for line in block.splitlines()] + [re.sub(r"\s*\n\s*", " ", s) for s in spans]


def test_every_training_command_in_the_docs_names_its_run_folder():
    """`cyclegan train --data W ...` without --out stops at once ("option 'out' is required"): a copied line fails."""
    missing, seen = [], 0
    for page in PAGES:
        for command in _commands(page):
            for m in re.finditer(r"cyclegan train((?:[^|;&#]|&(?!&))*)", command):
                if re.search(r"--(data|domain-a)\b", m.group(1)):
                    seen += 1
                    if not re.search(r"--(out|config)\b", m.group(1)):
                        missing.append(f"{page.name}: {m.group(0).strip()}")
    assert seen > 10, "too few training commands read: the pattern no longer matches the pages"
    assert missing == []


def test_the_command_list_says_what_the_readme_says_translate_and_serve_take():
    """The README's Video section: clips go through `translate` and the page's Video tab (one of the heavy jobs
    --concurrency bounds); `cyclegan --help` named images alone, and `serve --concurrency` left Video out."""
    from cyclegan.web.options import ServeOptions

    assert "clips" in COMMANDS["translate"].help
    assert "clips" in COMMANDS["serve"].help
    assert "--video" in COMMANDS["datasets"]["synthetic"].help
    concurrency = next(f for f in fields(ServeOptions) if f.name == "concurrency")
    assert "video" in concurrency.metadata["help"]


def test_every_command_the_readme_says_takes_a_models_own_direction_defaults_to_it():
    """The README's model families: translate, export, compare and bench's two tasks take a one-way model's direction
    without being told. `bench --task style`'s --direction defaulted to BtoA, refusing a file holding G alone."""
    readme = " ".join(_text(ROOT / "README.md").split())
    sentence = (
        "`translate`, `export`, `compare` and `bench --task style` take it without `--direction`, "
        "`bench --task tiles` without `--tile-direction`"
    )
    assert sentence in readme, "the README's sentence on the model's own direction changed: update this test with it"
    flags = [("translate", "--direction"), ("export", "--direction"), ("compare", "--direction")]
    for command, flag in [*flags, ("bench", "--direction"), ("bench", "--tile-direction")]:
        action = next(a for a in _subparser(build_parser([command]), command)._actions if flag in a.option_strings)
        assert action.default is None, f"cyclegan {command} {flag} defaults to {action.default}, not the model's own"


def test_the_video_figures_script_writes_no_committed_result_unless_told_to(tmp_path, capsys):
    """Its `--json` defaulted to benchmarks/results/video_table.json: every run wrote over the committed figures.
    Now the rows go to a file only when one is named, and an existing one only with --overwrite, before any work."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("video_table", ROOT / "benchmarks" / "video_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.arguments(["run"]).json is None
    kept = tmp_path / "video_table.json"
    kept.write_text("{}")
    with pytest.raises(SystemExit) as stop:
        module.arguments(["run", "--json", str(kept)])
    assert stop.value.code == 2
    assert f"--json {kept} exists: give another file, or --overwrite to replace it" in capsys.readouterr().err
    assert module.arguments(["run", "--json", str(kept), "--overwrite"]).json == str(kept)
    assert kept.read_text() == "{}"


def test_the_video_figures_script_refuses_a_strip_its_frames_cannot_fill_before_any_work(monkeypatch, capsys):
    """The README's video figure is `benchmarks/video_table.py RUN ... --strip PNG`, of frames 4 to 28: a shorter
    --frames was an IndexError traceback once every clip was translated both ways."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("video_table", ROOT / "benchmarks" / "video_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr("sys.argv", ["video_table.py", "no-such-run", "--frames", "8", "--strip", "strip.png"])
    with pytest.raises(SystemExit) as stop:  # before loading the run: it does not exist
        module.main()
    assert stop.value.code == 2
    assert "--frames 29 or more" in capsys.readouterr().err


def test_the_readme_states_the_compare_grid_cap_and_the_demos_few_steps_as_the_code_has_them():
    """A newcomer reads the defaults in the README, not in the code: the cap on compare's grid cells and the step
    count under which the demo names a slow or busy machine, each said with the code's value."""
    from cyclegan.compare_options import GRID_CELL_MOST
    from cyclegan.demo import FEW_STEPS

    readme = " ".join(_text(ROOT / "README.md").split())
    assert f"the grid's cells are `--size` px, at most {GRID_CELL_MOST} (`--grid-cell N` for others)" in readme
    assert f"(under {FEW_STEPS} steps, the demo says so in a `note:` line under its table" in readme


def test_every_benchmark_scripts_default_output_folder_is_ignored_by_git():
    """`bash benchmarks/gpu_compile_check.sh` run as its header says, without OUT, writes gpu_compile_out/ in the
    clone (also when it skips for want of a GPU): `git status` listed it, and `git add -A` would commit it."""
    ignored = set((ROOT / ".gitignore").read_text().split())
    for script in sorted((ROOT / "benchmarks").glob("*.sh")):
        for folder in re.findall(r"^OUT=\$\{OUT:-([\w.-]+)\}", script.read_text(), re.M):
            assert f"/{folder}/" in ignored, f"{script.name}: its default OUT, {folder}/, is not in .gitignore"


_ANSWER_HELP = """
import contextlib, io, json, os, runpy, signal, sys

def ran(signum, frame):
    raise TimeoutError("it started its work instead of answering --help")

signal.signal(signal.SIGALRM, ran)
answers = {}
sys.path.insert(0, os.path.dirname(sys.argv[1]))  # as `python benchmarks/X.py` has it: siblings import each other
for script in sys.argv[1:]:
    sys.argv = [script, "--help"]
    printed = io.StringIO()
    signal.alarm(30)
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            runpy.run_path(script, run_name="__main__")
        answers[script] = "ended without a word on --help"
    except SystemExit as stop:
        answers[script] = "ok" if stop.code in (0, None) and "usage:" in printed.getvalue() else f"exit {stop.code}"
    except BaseException as e:
        answers[script] = f"{type(e).__name__}: {e}"
    finally:
        signal.alarm(0)
print(json.dumps(answers))
"""


@pytest.mark.slow
def test_every_benchmark_script_answers_help_without_running():
    """The figures name their commands (`python benchmarks/demo_figure.py RUN OUT`, `python
    benchmarks/lite0_layout.py`): `--help` on demo_figure.py was an IndexError traceback, and on lite0_layout.py
    and profile_step.py it ran the minute-long measurement. Each script, run in one process apart from the tests'."""
    import json
    import subprocess
    import sys

    scripts = sorted(str(p) for p in (ROOT / "benchmarks").glob("*.py"))
    assert len(scripts) > 20, "too few scripts found: benchmarks/ moved"
    proc = subprocess.run(
        [sys.executable, "-c", _ANSWER_HELP, *scripts], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answers = json.loads(proc.stdout.splitlines()[-1])
    assert {Path(s).name: a for s, a in answers.items() if a != "ok"} == {}


def test_the_results_pages_side_by_side_grids_name_the_command_that_joins_them(tmp_path):
    """docs/results.md's AtoB | BtoA grids of evaluate --save-images said "left: A→B, right: B→A" and no step
    joined them. The command it names, run on the figure's own two halves as --save-images writes them, gives
    the figure back pixel for pixel."""
    import shlex
    import subprocess
    import sys

    from PIL import Image

    text = (ROOT / "docs" / "results.md").read_text()
    command = re.search(r"`(python benchmarks/demo_figure\.py [^`]*h2z_seed_step600\.png)`", text)
    assert command, "the h2z seed grid names no command"
    args = shlex.split(command.group(1).replace("\n", " "))
    figure = ROOT / args[-1]
    whole = Image.open(figure).convert("RGB")
    half = (whole.width - 8) // 2  # the two grids, 8 px apart
    whole.crop((0, 0, half, whole.height)).save(tmp_path / "AtoB_grid.png")
    whole.crop((whole.width - half, 0, whole.width, whole.height)).save(tmp_path / "BtoA_grid.png")
    out = tmp_path / "joined.png"
    script = [sys.executable, str(ROOT / args[1]), *args[2:-2], str(tmp_path), str(out)]
    subprocess.run(script, check=True, capture_output=True, timeout=60)
    assert Image.open(out).convert("RGB").tobytes() == whole.tobytes()
