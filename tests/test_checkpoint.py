import os
import pickle
import re
import zipfile
from pathlib import Path

import pytest
import torch

from cyclegan.checkpoint import save_atomic
from cyclegan.cli import main
from cyclegan.errors import CycleGANError
from cyclegan.loading import load_generator
from cyclegan.safeload import ZipBounds, check_zip_sizes, load_weights_only
from cyclegan.train import train
from helpers import save_tiny_checkpoint, zip_bomb


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoint(path, marker):
    with open(path, "wb") as f:
        pickle.dump({"format": "cyclegan-checkpoint", "models": Payload(marker)}, f)
    torch.save({"models": {"G": Payload(marker)}}, str(path) + ".zip.pt")  # the zip format too


@pytest.mark.parametrize("suffix", ["", ".zip.pt"])
def test_crafted_checkpoint_is_refused_and_never_runs(tmp_path, capsys, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    hostile_checkpoint(path, marker)
    target = str(path) + suffix
    with pytest.raises(CycleGANError, match="refusing to load"):
        load_generator(target)
    img = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(img)
    code = main(["translate", "--checkpoint", target, "--out", str(tmp_path / "o"), str(img)])
    err = capsys.readouterr().err
    assert code == 2 and "refusing to load" in err and "Traceback" not in err
    assert "could run code when loaded (it would call posix.system)" in err  # named from the pickle's opcodes
    assert err.strip().count("\n") == 0
    assert not marker.exists()


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_whole_network_saved_by_torch_save_is_refused_naming_how_to_save_one(tmp_path, capsys, zip_format):
    """`torch.save(G)` of a whole module (not its state dict) was refused as code, naming its class, with "only load
    checkpoints you trust": nothing said how to save a generator that loads. Now the line names save_generator."""
    from cyclegan import save_generator

    G = load_generator(save_tiny_checkpoint(tmp_path / "ckpt.pt"))
    whole = tmp_path / "whole.pt"
    torch.save(G, whole, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CycleGANError) as e:
        load_generator(whole)
    assert str(e.value).startswith(f"refusing to load {whole}: it holds a whole network (")
    assert "save a generator load_generator gave with cyclegan.save_generator(net, path)" in str(e.value)
    assert main(["export", "--checkpoint", str(whole), "--out", str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err
    assert "cyclegan.save_generator(net, path)" in err and err.count("\n") == 1
    saved = save_generator(G, tmp_path / "saved.pt")  # what the line says: read back
    torch.testing.assert_close(load_generator(saved).state_dict(), G.state_dict())


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    bad = tmp_path / "half.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CycleGANError, match=r"cannot read checkpoint .*\(is the file complete\?\)") as e:
        load_generator(bad)
    assert "could run code" not in str(e.value)  # broken, not hostile
    with pytest.raises(CycleGANError, match="checkpoint not found"):
        load_generator(tmp_path / "missing.pt")
    with pytest.raises(CycleGANError, match="direction must be AtoB or BtoA"):
        load_generator(bad, "sideways")


def test_a_checkpoint_cut_short_in_its_first_bytes_is_called_incomplete(tmp_path):
    """A download or copy stopped after its first 5 KB: torch's zip reader fails with EINVAL, shown as
    'cannot read checkpoint head.pt: Invalid argument', which says nothing of what is wrong."""
    valid = save_tiny_checkpoint(tmp_path / "valid.pt")
    head = tmp_path / "head.pt"
    head.write_bytes(valid.read_bytes()[:5000])
    with pytest.raises(CycleGANError, match=r"cannot read checkpoint .*head.pt: not a file saved by torch.save, or an"):
        load_weights_only(head)


def test_a_generator_with_weights_that_are_not_finite_is_refused_by_name(tmp_path):
    """NaN weights (a damaged file, a diverged run saved by other code) loaded without a word: translate wrote
    black images and evaluate reported NaN scores."""
    ckpt = torch.load(save_tiny_checkpoint(tmp_path / "ok.pt"), weights_only=True)
    key = next(k for k, t in ckpt["models"]["G"].items() if t.is_floating_point())
    ckpt["models"]["G"][key] = torch.full_like(ckpt["models"]["G"][key], float("nan"))
    torch.save(ckpt, tmp_path / "nan.pt")
    with pytest.raises(CycleGANError, match=rf"nan.pt: the AtoB generator's {key} holds NaN or infinite values"):
        load_generator(tmp_path / "nan.pt", "AtoB")
    assert load_generator(tmp_path / "nan.pt", "BtoA") is not None  # F is whole
    foreign = {k: torch.full_like(t, float("inf")) for k, t in ckpt["models"]["G"].items()}
    torch.save(foreign, tmp_path / "inf.pth")  # a generator file of another project, the same way
    with pytest.raises(CycleGANError, match=r"inf.pth: the AtoB generator's .* holds NaN or infinite values"):
        load_generator(tmp_path / "inf.pth")


def test_a_run_folder_with_only_its_best_pt_names_that_file(tmp_path, capsys):
    """A run whose checkpoint.pt was deleted to save space (best.pt kept): 'checkpoint not found:
    RUN/checkpoint.pt (give a run folder or a checkpoint file)', though the run folder was given and best.pt is
    there to translate with."""
    run = tmp_path / "run"
    run.mkdir()
    save_tiny_checkpoint(run / "best.pt")
    with pytest.raises(CycleGANError, match=r"run/checkpoint.pt; the run keeps .*run/best.pt \(its best generators\)"):
        load_generator(run)
    assert load_generator(run / "best.pt") is not None  # the file it names


@pytest.mark.parametrize("ext, kind", [("png", "a PNG"), ("jpg", "a JPEG"), ("webp", "a WebP"), ("tif", "a TIFF")])
def test_an_image_given_as_the_checkpoint_is_named_an_image(tmp_path, capsys, ext, kind):
    """`--checkpoint photo.jpg` (the arguments swapped) read 'not a file saved by torch.save, or an incomplete one
    (is the file complete?)': the image is whole, and it is no checkpoint."""
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / f"photo.{ext}")
    with pytest.raises(CycleGANError) as info:
        load_generator(tmp_path / f"photo.{ext}")
    assert str(info.value) == (
        f"cannot read checkpoint {tmp_path / f'photo.{ext}'}: it is {kind} image, not a checkpoint; give the training "
        "run's folder, its checkpoint.pt or a generator file"
    )
    with pytest.raises(CycleGANError, match=f"it is {kind} image, not a weights file$"):
        load_weights_only(tmp_path / f"photo.{ext}", what="weights file")


def test_a_weight_of_integers_is_refused_not_cast(tmp_path):
    """A weight stored as integers (a damaged or hand-edited file) was cast to float by load_state_dict without a
    word: the generator's weights truncated to whole numbers, its translations noise."""
    ckpt = torch.load(save_tiny_checkpoint(tmp_path / "ok.pt"), weights_only=True)
    ckpt["models"]["G"]["model.1.weight"] = ckpt["models"]["G"]["model.1.weight"].to(torch.int64)
    torch.save(ckpt, tmp_path / "int.pt")
    with pytest.raises(CycleGANError, match=r"int.pt: tensor 'models.G.model.1.weight' is torch.int64 where the net"):
        load_generator(tmp_path / "int.pt", "BtoA")  # checked whichever generator is asked for


def test_a_checkpoint_of_another_version_with_an_unknown_option_names_that_version(tmp_path):
    """A newer version's checkpoint (an option this version lacks) was refused as an invalid config only: the
    version that wrote it, and that it may need that version, went unsaid."""
    ckpt = torch.load(save_tiny_checkpoint(tmp_path / "ok.pt"), weights_only=True)
    ckpt["config"]["model"]["a_later_option"] = 1
    torch.save({**ckpt, "package_version": "99.0"}, tmp_path / "newer.pt")
    with pytest.raises(CycleGANError, match=r"unknown option 'model.a_later_option' \(written by cyclegan 99.0, this"):
        load_generator(tmp_path / "newer.pt")
    torch.save(ckpt, tmp_path / "same.pt")  # no version recorded: nothing to add
    with pytest.raises(CycleGANError, match=r"unknown option 'model.a_later_option'$"):
        load_generator(tmp_path / "same.pt")


def test_a_checkpoint_of_another_versions_format_or_layout_is_named_as_that_versions(tmp_path):
    """Another version's checkpoint in another format was read as another project's generator file ("no AtoB
    generator among the entries format, package_version, ...; expected ... the reference layout"), and one laid out
    otherwise was "damaged" without the version that wrote it."""
    ckpt = torch.load(save_tiny_checkpoint(tmp_path / "ok.pt"), weights_only=True)
    torch.save({**ckpt, "format": "cyclegan-checkpoint-v2", "package_version": "99.0"}, tmp_path / "v2.pt")
    with pytest.raises(
        CycleGANError,
        match=r"v2.pt is not a cyclegan training checkpoint of this version's format 'cyclegan-checkpoint' "
        r"\(its format is 'cyclegan-checkpoint-v2'\) \(written by cyclegan 99.0, this is",
    ):
        load_generator(tmp_path / "v2.pt")
    models = {k: v for k, v in ckpt["models"].items() if k != "D_Y"}  # a network renamed in that version
    torch.save({**ckpt, "models": models, "package_version": "99.0"}, tmp_path / "renamed.pt")
    with pytest.raises(CycleGANError, match=r"'models' has no 'D_Y' network .* \(written by cyclegan 99.0, this is"):
        load_generator(tmp_path / "renamed.pt")


def test_a_generators_weights_alone_given_to_resume_are_named_as_such(tmp_path):
    """Another project's generator file put as a run's checkpoint.pt: "is not a cyclegan training checkpoint", nothing
    said of what it is, nor that translate reads it."""
    from cyclegan.train import prepare_config

    ckpt = torch.load(save_tiny_checkpoint(tmp_path / "ok.pt"), weights_only=True)
    (tmp_path / "run").mkdir()
    torch.save(ckpt["models"]["G"], tmp_path / "run" / "checkpoint.pt")
    says = r"checkpoint.pt is not a cyclegan training checkpoint \(it holds a network's weights alone"
    with pytest.raises(CycleGANError, match=says):
        prepare_config({}, resume=True, out=str(tmp_path / "run"))


def test_a_zip_bomb_checkpoint_is_refused_before_torch_reads_it(tmp_path, monkeypatch, capsys):
    """A checkpoint whose data.pkl (or a tensor's storage) inflates to 40 MiB from a file of about 0.7 MB
    (at full scale: 1 MB to 1 GiB, docs/reliability.md): refused from the zip directory in one line, and
    torch never opens it. Before the check, torch inflated the whole data.pkl and loaded the file."""
    valid = save_tiny_checkpoint(tmp_path / "valid.pth")
    pickle_bomb = zip_bomb(valid, tmp_path / "bomb.pth", inflate=40 << 20)
    storage_bomb = zip_bomb(valid, tmp_path / "bomb0.pth", inflate=40 << 20, entry="data/0")
    assert pickle_bomb.stat().st_size < valid.stat().st_size + 100_000
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached with a zip bomb"))
    with pytest.raises(CycleGANError, match=r"^refusing to load .*bomb.pth: its entries expand to 4\d{7} bytes"):
        load_weights_only(pickle_bomb)
    with pytest.raises(CycleGANError, match=r"bomb0.pth: its entries expand .*a zip bomb\? nothing was decompressed"):
        load_weights_only(storage_bomb)
    # the pickle's own bound, under a total that would pass
    with pytest.raises(CycleGANError, match=r"its 'valid/data.pkl' expands to \d+ bytes, more than the 1000"):
        check_zip_sizes(valid, ZipBounds(pickle_bytes=1000))
    out = tmp_path / "out"
    assert main(["translate", "--checkpoint", str(pickle_bomb), "--out", str(out), str(_png(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to load") and err.count("\n") == 1 and not out.exists()

    monkeypatch.setattr(torch, "load", real_load)  # a valid file passes, also re-zipped with compression
    check_zip_sizes(valid)
    deflated = tmp_path / "deflated.pth"
    with zipfile.ZipFile(valid) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    check_zip_sizes(deflated)
    assert load_weights_only(valid)["step"] == 7


def _png(folder: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (16, 16), (90, 120, 30)).save(folder / "in.png")
    return folder / "in.png"


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "c.pt"
    save_atomic({"a": torch.ones(2)}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_atomic({"a": Unsaveable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_load_generator_rebuilds_both_directions(tiny_cfg):
    cfg = tiny_cfg(steps=1)
    train(cfg, progress=False)
    G = load_generator(cfg.train.out, "AtoB")
    F = load_generator(cfg.train.out + "/checkpoint.pt", "BtoA")
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert not torch.equal(G(x), F(x))


LOAD = "torch" + ".load("  # split, so grep-based checks do not flag this file's own search string


def torch_load_calls(text: str):
    """The full text of every torch load call in `text`, matching parentheses."""
    start = text.find(LOAD)
    while start != -1:
        depth, i = 0, start + len(LOAD) - 1
        while True:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        yield text[start:i]
        start = text.find(LOAD, i)


def test_every_torch_load_in_the_package_is_weights_only():
    import pathlib

    src = pathlib.Path(__file__).parents[1] / "src" / "cyclegan"
    calls = [(f, c) for f in src.rglob("*.py") for c in torch_load_calls(f.read_text())]
    assert len(calls) >= 2  # checkpoint.py and features.py at least
    for f, call in calls:
        assert "weights_only=True" in call, f"{f}: {call}"


@pytest.mark.skipif("Umask:" not in Path("/proc/self/status").read_text(), reason="no umask in /proc (not Linux)")
def test_atomic_writes_read_the_umask_without_setting_it(tmp_path, monkeypatch):
    """Reading the umask with os.umask(0) and back let a folder made by another thread at that moment (the web
    page serves requests on threads) be created world-writable; Linux tells it in /proc/self/status."""
    from cyclegan.files import write_atomic

    old = os.umask(0o027)
    try:
        with monkeypatch.context() as m:
            m.setattr(os, "umask", lambda mask: pytest.fail(f"the umask was set to {mask:o}"))
            path = write_atomic(tmp_path / "report.json", lambda tmp: Path(tmp).write_text("{}"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_atomic_writes_get_a_new_files_usual_mode(tmp_path):
    """The temporary file of an atomic write is private (0600); the file it becomes must not stay so."""
    from cyclegan.files import write_atomic

    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "report.json", lambda tmp: Path(tmp).write_text("{}"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("replace", [True, False])
def test_an_atomic_write_syncs_its_folder_after_the_rename(tmp_path, monkeypatch, replace):
    """The file was synced before its rename, the folder never after it: a power cut could bring the previous
    checkpoint back (or no file) after the write had returned."""
    import stat

    from cyclegan.files import write_atomic

    synced, fsync = [], os.fsync

    def recording(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), (tmp_path / "report.json").exists()))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    write_atomic(tmp_path / "report.json", lambda tmp: Path(tmp).write_text("{}"), replace=replace)
    assert synced == [(False, False), (True, True)]  # the file before the rename, its folder after it


def test_the_python_apis_paths_take_tilde_as_the_home_folder(tmp_path, monkeypatch):
    """No shell expands a Python caller's `~`: `save_generator(G, "~/g.pt")` made a folder named `~` in the current
    folder (missing parents are made), and `load_generator("~/g.pt")` or `translate(G, "~/x.png")` said "not found".
    Now `~` is the home folder, as a user typing it means."""
    from PIL import Image

    import cyclegan

    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir(), here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    G = cyclegan.load_generator(save_tiny_checkpoint(tmp_path / "ckpt.pt"))
    assert cyclegan.save_generator(G, "~/g.pt") == home / "g.pt"
    assert (home / "g.pt").is_file() and not (here / "~").exists()
    torch.testing.assert_close(cyclegan.load_generator("~/g.pt").state_dict(), G.state_dict())
    Image.new("RGB", (8, 8)).save(home / "x.png")
    assert cyclegan.translate(G, "~/x.png").size == (8, 8)


def test_a_tilde_with_no_home_folder_known_is_refused_in_one_line_naming_the_path(tmp_path, monkeypatch):
    """With no $HOME and no passwd entry (a container run under an arbitrary uid) no `~` can be expanded:
    `save_generator(G, "~/g.pt")` raised pathlib's RuntimeError "Could not determine home directory" (a folder named
    `~` where the ~ was left as it was), and `load_generator("~/g.pt")` said "checkpoint not found". Now one line
    naming the path, and nothing made."""
    import pwd

    import cyclegan

    G = cyclegan.load_generator(save_tiny_checkpoint(tmp_path / "ckpt.pt"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOME", raising=False)

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    said = "~/g.pt: its ~ names no home folder here (no $HOME, and no user entry for it); give the whole path"
    with pytest.raises(CycleGANError, match=f"^{re.escape(said)}, or ./~/g.pt for a file or folder of that name here$"):
        cyclegan.save_generator(G, "~/g.pt")
    assert not (tmp_path / "~").exists()
    with pytest.raises(CycleGANError, match=f"^{re.escape(said)}"):
        cyclegan.load_generator("~/g.pt")
    with pytest.raises(CycleGANError, match=f"^{re.escape(said.replace('g.pt', 'x.png'))}"):
        cyclegan.translate(G, "~/x.png")
    assert cyclegan.save_generator(G, "./~/g.pt") == Path("~/g.pt")  # a folder truly named ~: as written


def test_a_quoted_tilde_checkpoint_on_the_command_line_is_read_from_home_as_the_loader_reads_it(
    tmp_path, monkeypatch, capsys
):
    """`--checkpoint '~/g.pt'` (quoted: no shell expands it) was refused by the CLI's early, torch-free check as
    "checkpoint not found: ~/g.pt" though the loader reads $HOME/g.pt, as it does for a Python caller. Now the check
    expands it as the loader does: the translation runs; with no home folder known, the loader's one line."""
    import pwd

    home = tmp_path / "home"
    home.mkdir()
    save_tiny_checkpoint(home / "g.pt")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    image = _png(tmp_path)
    assert main(["translate", "--checkpoint", "~/g.pt", "--out", "o", str(image)]) == 0
    assert (tmp_path / "o" / "in.png").is_file()

    monkeypatch.delenv("HOME")

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    capsys.readouterr()
    assert main(["translate", "--checkpoint", "~/g.pt", "--out", "o2", str(image)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ~/g.pt: its ~ names no home folder here") and err.count("\n") == 1
    assert not (tmp_path / "o2").exists()
