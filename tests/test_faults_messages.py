"""Every message one line, whatever the names in it hold (docs/reliability.md, "Round two"): a file name
with a newline, an escape sequence or a bidirectional override is shown escaped, never as a second,
spoofed `error:` line or a recoloured terminal."""

from __future__ import annotations

import pickle

import pytest
from PIL import Image

from cyclegan.cli import main
from cyclegan.errors import CycleGANError, escape
from helpers import save_tiny_checkpoint


def test_escape_writes_line_breaks_and_terminal_controls_as_python_escapes():
    assert escape("a\nb\r\tc\x1b[31md\x7f\x85e\u2028f\u202eg\udcff") == (
        "a\\nb\\r\\tc\\x1b[31md\\x7f\\x85e\\u2028f\\u202eg\\udcff"
    )
    plain = "runs/été 漢字/photo (1).png"
    assert escape(plain) == plain and escape(escape("x\ny")) == "x\\ny"  # nothing else changes; idempotent
    e = CycleGANError("cannot read x\nerror: fake")
    assert str(e) == "cannot read x\\nerror: fake" and str(pickle.loads(pickle.dumps(e))) == str(e)


def test_a_name_with_a_newline_cannot_spoof_an_error_line(tmp_path, capsys):
    """Before: 'error: nl/missing' and then 'error: spoofed.png: no such file or folder', two lines for one
    input (and the same for an unreadable file)."""
    ckpt = save_tiny_checkpoint(tmp_path / "g.pt")
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (16, 16)).save(inputs / "good.png")
    (inputs / "bad.png\nerror: all images were translated.png").write_text("not an image")
    missing = tmp_path / "missing\nerror: spoofed.png"
    args = ["translate", "--checkpoint", str(ckpt), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, str(inputs), str(missing)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), lines
    assert "missing\\nerror: spoofed.png: no such file or folder" in lines[0]
    assert lines[2] == "error: 2 inputs could not be translated (listed above)"


def test_the_renamed_output_warning_is_one_line_whatever_the_names(tmp_path, capsys):
    """Two inputs with one stem get suffixed output names, and the warning saying so cannot be split into a
    spoofed second line by a name holding a newline."""
    from cyclegan.files import unique_stems

    a, b = tmp_path / "x" / "p\nerror: fake.png", tmp_path / "y" / "p\nerror: fake.jpg"
    assert unique_stems([a, b], ext="png", warn=True) == ["p\nerror: fake", "p\nerror: fake-2"]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "fake-2.png" in lines[0], lines


def test_a_missing_extra_is_named_as_the_readme_installs_it(monkeypatch):
    """The messages for a missing optional package said `pip install 'cyclegan[video]'`, which fails: there is
    no cyclegan on a package index; the README installs from the clone. Now they give the clone's command."""
    import sys

    from cyclegan import clipio, pretrained

    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    with pytest.raises(CycleGANError, match=r'video needs PyAV: pip install -e "\.\[video\]" in the cyclegan clone'):
        clipio._av()
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(CycleGANError, match=r'needs timm: pip install -e "\.\[style\]"'):
        pretrained.lite0_model()


@pytest.mark.parametrize("command", ["translate", "export", "evaluate"])
def test_a_written_name_with_a_newline_is_one_line_on_stdout(tmp_path, capsys, monkeypatch, command):
    """`translate --out $'x\\nerror: fake'` printed "wrote 1 file(s) to x" and a second line "error: fake" it did
    not write; export's "wrote" line and evaluate's "report:" line did the same (stylize, compare and the
    datasets' lines escaped their names already)."""
    from helpers import evaluate_args, write_split

    monkeypatch.chdir(tmp_path)
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    Image.new("RGB", (24, 24), "red").save(tmp_path / "in.png")
    name = "x\nerror: fake"
    if command == "evaluate":
        write_split(tmp_path / "data", 2, paired=True)
        argv = evaluate_args(ckpt, tmp_path / "data", "--out", f"{name}.json")
    elif command == "export":
        argv = ["export", "--checkpoint", str(ckpt), "--out", f"{name}.pt", "--no-check"]
    else:
        argv = ["translate", "--checkpoint", str(ckpt), "--out", name, "--no-progress", "in.png"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "x\\nerror: fake" in out and not any(line.startswith("error: fake") for line in out.splitlines())


def test_translate_skip_existing_names_its_out_on_one_line(tmp_path, capsys, monkeypatch):
    """`translate --skip-existing --out $'x\\nerror: fake'` printed "1 input(s) already translated in x" and a second
    line "error: fake" it did not write (the twin of the "wrote" line above)."""
    monkeypatch.chdir(tmp_path)
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    Image.new("RGB", (24, 24), "red").save(tmp_path / "in.png")
    argv = ["translate", "--checkpoint", str(ckpt), "--out", "x\nerror: fake", "--no-progress", "in.png"]
    assert main(argv) == 0 and main([*argv, "--skip-existing"]) == 0
    out = capsys.readouterr().out
    assert "already translated in x\\nerror: fake" in out
    assert not any(line.startswith("error: fake") for line in out.splitlines())
