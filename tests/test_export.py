"""`cyclegan export`: ONNX (run in onnxruntime) and TorchScript files that match PyTorch at any size."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cyclegan.checkpoint import FORMAT
from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.loading import load_generator
from cyclegan.models import build_models
from helpers import cli_signalled_at, save_ema_checkpoint, tiny_published_generator

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SIZES = [(1, 36, 52), (2, 23, 41)]  # (B, H, W): a multiple of 4, and odd sides the wrapper pads


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder with a small checkpoint in our format (ngf 8, 2 blocks), G and F different."""
    cfg = resolve({"ngf": 8, "n_blocks": 2, "size": 32})
    torch.manual_seed(0)
    models = {k: m.state_dict() for k, m in build_models(cfg.model).items()}  # G, F, D_X, D_Y
    folder = tmp_path_factory.mktemp("run")
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, folder / "checkpoint.pt")
    return folder


def inputs(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def reference(run: Path, direction: str, x: torch.Tensor) -> torch.Tensor:
    from cyclegan.inference import translate_tensor

    return translate_tensor(load_generator(run, direction), x)  # pads to a multiple of 4 and crops back


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_onnx_matches_pytorch_at_two_sizes(run, tmp_path, direction):
    out = tmp_path / "g.onnx"
    assert (
        main(["export", "--checkpoint", str(run), "--direction", direction, "--format", "onnx", "--out", str(out)]) == 0
    )
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "input" and inp.shape == ["batch", 3, "height", "width"]  # dynamic axes
    for b, h, w in SIZES:
        x = inputs(b, h, w)
        y = session.run([outp.name], {inp.name: x.numpy()})[0]
        expected = reference(run, direction, x)
        assert y.shape == (b, 3, h, w)
        assert np.abs(y - expected.numpy()).max() < 1e-4
    # The other direction's generator gives something else: the direction really chose the network.
    other = reference(run, "BtoA" if direction == "AtoB" else "AtoB", inputs(*SIZES[0]))
    assert np.abs(session.run(None, {"input": inputs(*SIZES[0]).numpy()})[0] - other.numpy()).max() > 1e-2


GENERATOR_VARIANTS = {
    "residual output": {"residual_output": True},  # atanh: torch's TorchScript exporter had no ONNX form of it
    "fast preset": {"preset": "fast"},
    "anti-aliased, zero padding, dilated blocks": {
        "downsample": "antialias",
        "upsample": "antialias",
        "padding": "zeros",
        "block_dilation": 2,
    },
    "cut": {"family": "cut"},
}


@pytest.mark.parametrize("variant", list(GENERATOR_VARIANTS))
def test_every_generator_variant_exports_to_onnx_and_runs_in_onnxruntime(tmp_path, variant):
    """A run with --residual-output stopped in torch's UnsupportedOperatorError ('aten::atanh'), after the whole
    traced graph was printed. Each variant's file runs in onnxruntime as PyTorch does, at sizes it was not traced at."""
    from cyclegan.export import export_generator
    from cyclegan.inference import translate_tensor
    from cyclegan.models import build_generator

    torch.manual_seed(0)
    G = build_generator(resolve({"ngf": 8, "n_blocks": 1, "size": 32, **GENERATOR_VARIANTS[variant]}).model).eval()
    export_generator(G, tmp_path / "g.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    for b, h, w in SIZES:
        x = inputs(b, h, w)
        y = session.run(None, {"input": x.numpy()})[0]
        assert np.abs(y - translate_tensor(G, x).numpy()).max() < 1e-4


def test_onnx_file_says_what_it_expects(run, tmp_path, monkeypatch):
    """The checkpoint it came from is recorded from the exported file's folder: as typed (`--checkpoint runs/h2z`),
    it named nothing once the file was read from another folder; absolute, it named the home folder in a file
    handed to others."""
    out = tmp_path / "g.onnx"
    monkeypatch.chdir(run.parent)
    assert main(["export", "--checkpoint", run.name, "--out", str(out)]) == 0  # format from the suffix
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["direction"] == "AtoB" and "[-1, 1]" in meta["input"]
    assert not os.path.isabs(meta["checkpoint"]) and (out.parent / meta["checkpoint"]).resolve() == run.resolve()


def test_the_export_records_no_folder_above_the_checkpoint_and_itself(monkeypatch):
    from cyclegan.export import recorded_checkpoint

    monkeypatch.setenv("HOME", "/home/ann")
    assert recorded_checkpoint("/home/ann/work/runs/h2z", "/home/ann/work/out/g.onnx") == "../runs/h2z"
    assert recorded_checkpoint("/home/ann/runs/h2z", "/home/ann/runs/g.onnx") == "h2z"
    # sharing only the root or /home: `../home/ann/runs/h2z` or `../ann/runs/h2z` names the home folder
    assert recorded_checkpoint("/home/ann/runs/h2z", "/tmp/g.onnx") == "h2z"
    assert recorded_checkpoint("/home/ann/runs/h2z", "/home/bob/g.onnx") == "h2z"
    assert recorded_checkpoint("/data/p/runs/h2z", "/data/q/g.onnx") == "../p/runs/h2z"


def test_a_checkpoint_under_tilde_is_the_home_folders_for_the_output_check_too(tmp_path, monkeypatch):
    """The loader reads `~/g.pt` as the home folder's g.pt, but the check that the output is not the input compared
    the path as written (a folder named ~ here): `--out ~/g.pt --overwrite` wrote the export over the checkpoint it
    was made from. Now refused, the file kept; and the export records the checkpoint's path from the home folder."""
    from cyclegan.export import export_checkpoint, recorded_checkpoint
    from cyclegan.export_options import ExportOptions
    from helpers import save_tiny_checkpoint

    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir(), here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    ckpt = save_tiny_checkpoint(home / "g.pt")
    before = ckpt.read_bytes()
    opts = ExportOptions("~/g.pt", str(ckpt), format="torchscript", overwrite=True, check=False, progress=False)
    with pytest.raises(CycleGANError, match="input"):
        export_checkpoint(opts)
    assert ckpt.read_bytes() == before
    assert recorded_checkpoint("~/g.pt", str(home / "out" / "g.ts")) == "../g.pt"  # was ../../here/~/g.pt


def test_export_generator_refuses_a_folder_before_tracing_in_its_callers_words(run, tmp_path, monkeypatch):
    """From Python, `out` an existing folder failed only after the generator was traced (seconds; the command refused
    it at once), and a name held by another export was refused as "option '--out'", a flag the caller never typed."""
    import cyclegan.export as export
    from cyclegan.files import FolderLock

    G = load_generator(run)
    (tmp_path / "models").mkdir()
    with monkeypatch.context() as m:
        m.setattr(export, "wrap_for_export", lambda net: pytest.fail("traced before the folder was refused"))
        with pytest.raises(CycleGANError, match=r"^option 'out': .*models is a folder, where a file would be written$"):
            export.export_generator(G, tmp_path / "models", format="onnx")
    busy = FolderLock(tmp_path, ".g.onnx.lock")  # another export of that file at work
    assert busy.acquire()
    try:
        with pytest.raises(
            CycleGANError, match=r"^option 'out': .*g.onnx is being written by another run .*another out$"
        ):
            export.export_generator(G, tmp_path / "g.onnx", format="onnx")
    finally:
        busy.release()


def test_torchscript_matches_pytorch_at_two_sizes(run, tmp_path):
    out = tmp_path / "g.pt"
    assert main(["export", "--checkpoint", str(run), "--format", "torchscript", "--out", str(out)]) == 0
    module = torch.jit.load(str(out))  # no cyclegan import needed to run it
    for b, h, w in SIZES:
        x = inputs(b, h, w, seed=1)
        torch.testing.assert_close(module(x), reference(run, "AtoB", x), atol=1e-5, rtol=0)
    # the archive's folder is the file's stem, as torch.jit.save(model, "g.pt") names it: it was the atomic
    # write's temporary (".g.pt.k3j2h1x9"), and nothing of that folder is left beside the file
    with zipfile.ZipFile(out) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"g"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_foreign_unet_exports_too(tmp_path):
    from cyclegan.interop.unet import UnetGenerator

    torch.save(UnetGenerator(num_downs=5, ngf=4, norm="instance").state_dict(), tmp_path / "unet.pth")
    out = tmp_path / "unet.onnx"
    assert main(["export", "--checkpoint", str(tmp_path / "unet.pth"), "--out", str(out)]) == 0
    net = load_generator(tmp_path / "unet.pth")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for b, h, w in [(1, 64, 96), (2, 40, 50)]:  # a multiple of 32, and one the network pads itself
        x = inputs(b, h, w)
        assert np.abs(session.run(None, {"input": x.numpy()})[0] - net(x).numpy()).max() < 1e-4


def test_a_foreign_generator_exported_without_direction_records_its_direction_as_unknown(tmp_path, capsys):
    """A generator file of another project says neither direction, and its export's metadata said AtoB whatever
    it translates; a direction given is recorded as given, with a word that it picked no generator."""
    from cyclegan.interop.unet import UnetGenerator

    torch.save(UnetGenerator(num_downs=5, ngf=4, norm="instance").state_dict(), tmp_path / "unet.pth")
    for extra, recorded in (([], "unknown"), (["--direction", "BtoA"], "BtoA")):
        out = tmp_path / f"unet_{recorded}.onnx"
        assert (
            main(["export", "--checkpoint", str(tmp_path / "unet.pth"), "--out", str(out), "--no-check", *extra]) == 0
        )
        assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["direction"] == recorded
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
        assert warnings == ([] if not extra else [warnings[0]])
    assert "--direction BtoA changes nothing here" in warnings[0] and "another project" in warnings[0]


def test_a_foreign_file_of_both_generators_exports_the_direction_asked_without_a_warning(tmp_path, capsys):
    """--direction picks G_B of a file of another project holding G_A and G_B; export said it "changes nothing
    here: ... is one generator of another project"."""
    from cyclegan.interop.unet import UnetGenerator

    nets = {k: UnetGenerator(num_downs=5, ngf=4, norm="instance").state_dict() for k in ("G_A", "G_B")}
    torch.save(nets, tmp_path / "both.pth")
    out = tmp_path / "g_b.onnx"
    args = ["export", "--checkpoint", str(tmp_path / "both.pth"), "--direction", "BtoA", "--out", str(out)]
    assert main([*args, "--no-check"]) == 0
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["direction"] == "BtoA"
    assert "warning" not in capsys.readouterr().err


def test_a_foreign_file_of_both_generators_exported_without_direction_records_the_g_a_it_wrote(tmp_path):
    """Without --direction, a file holding G_A and G_B exports G_A, the reference's A -> B generator, and its
    metadata said the direction was 'unknown', as for a file of one generator that says nothing."""
    from cyclegan.interop.unet import UnetGenerator

    torch.manual_seed(0)
    nets = {k: UnetGenerator(num_downs=5, ngf=4, norm="instance") for k in ("G_A", "G_B")}
    torch.save({k: net.state_dict() for k, net in nets.items()}, tmp_path / "both.pth")
    out = tmp_path / "g.pt"
    assert main(["export", "--checkpoint", str(tmp_path / "both.pth"), "--out", str(out), "--no-check"]) == 0
    exported = torch.jit.load(str(out), _extra_files=(extra := {"direction.txt": ""}))
    assert extra["direction.txt"] == b"AtoB"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(exported(x), nets["G_A"].eval()(x), atol=1e-5, rtol=0)


def test_a_published_generator_exported_with_the_other_direction_records_the_one_it_translates(
    tmp_path, monkeypatch, capsys
):
    """`export --checkpoint pretrained:horse2zebra --direction BtoA` recorded `direction: BtoA` beside `translates:
    horse photos -> zebras (AtoB of horse2zebra)`: the file holds one generator, used whatever is asked. Now the
    metadata says AtoB, and one warning says that --direction changed nothing."""
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "pretrained").mkdir(parents=True)
    net = tiny_published_generator()
    torch.save(net.state_dict(), tmp_path / "home" / "pretrained" / "horse2zebra.pth")  # in the cache: no download
    for asked in ("BtoA", "AtoB"):
        out = tmp_path / f"h2z_{asked}.onnx"
        args = ["export", "--checkpoint", "pretrained:horse2zebra", "--direction", asked, "--out", str(out)]
        assert main([*args, "--no-check"]) == 0
        meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
        assert (meta["direction"], meta["translates"]) == ("AtoB", "horse photos -> zebras (AtoB of horse2zebra)")
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
        if asked == "BtoA":
            assert len(warnings) == 1 and "--direction BtoA changes nothing here" in warnings[0]
            assert "pretrained:horse2zebra is one generator, horse photos -> zebras" in warnings[0]
        else:  # the way it translates: nothing to say
            assert warnings == []


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_exported_unet_takes_sides_too_short_to_reflect_its_padding(tmp_path, fmt):
    # The U-Net pads to a multiple of 32 here (256 for unet_256): a side of 16 px or less needs more padding than
    # reflection gives, and the traced graph had fixed reflect, so the file failed on any such image
    from cyclegan.interop.unet import UnetGenerator

    torch.save(UnetGenerator(num_downs=5, ngf=4, norm="instance").state_dict(), tmp_path / "unet.pth")
    out = tmp_path / ("unet.onnx" if fmt == "onnx" else "unet.pt")
    assert main(["export", "--checkpoint", str(tmp_path / "unet.pth"), "--out", str(out)]) == 0
    net = load_generator(tmp_path / "unet.pth")
    if fmt == "onnx":
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        run_file = lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])  # noqa: E731
    else:
        run_file = torch.jit.load(str(out))
    for b, h, w in [(1, 8, 8), (2, 16, 40), (1, 100, 10), (1, 3, 5)]:
        x = inputs(b, h, w)
        with torch.no_grad():
            y = run_file(x)
            assert y.shape == x.shape
            assert (y - net(x)).abs().max().item() < 1e-4


def test_export_errors_are_one_line(run, tmp_path, capsys):
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "g.bin")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: option '--out'") and "--format" in err and "\n" not in err
    assert main(["export", "--checkpoint", str(tmp_path / "missing"), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    # a format that contradicts the file's name, and an opset beyond torch's exporter: one line, no file
    args = ["export", "--checkpoint", str(run), "--no-check"]
    assert main([*args, "--out", str(tmp_path / "g.onnx"), "--format", "torchscript"]) == 2
    # "(the name of a onnx file)" before
    assert f"'--format': torchscript does not match --out {tmp_path / 'g.onnx'}, whose suffix means onnx;" in (
        capsys.readouterr().err
    )
    pytest.importorskip("onnx")
    assert main([*args, "--out", str(tmp_path / "g.onnx"), "--opset", "10"]) == 2  # reflect padding needs 11
    assert "'--opset' must be >= 11" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "g.onnx"), "--opset", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: option '--opset'") and "\n" not in err and not (tmp_path / "g.onnx").exists()


def test_an_opset_beyond_torch_is_refused_before_tracing(run, tmp_path, capfd, monkeypatch):
    # torch's own refusal came after tracing, with the whole traced graph printed on stdout, and the message
    # named 20 (the TorchScript exporter's nominal top) although 21-23 export and pass the check
    top = torch.onnx._constants.ONNX_MAX_OPSET

    def no_tracing(*args, **kwargs):
        raise AssertionError("traced an opset torch cannot export")

    monkeypatch.setattr(torch.onnx, "export", no_tracing)
    out = tmp_path / "g.onnx"
    assert main(["export", "--checkpoint", str(run), "--out", str(out), "--opset", str(top + 1)]) == 2
    captured = capfd.readouterr()
    assert captured.err.strip() == (
        f"error: option '--opset': torch {torch.__version__} cannot export opset {top + 1} (at most {top}); "
        "give a lower --opset"
    )
    assert "graph" not in captured.out and not out.exists()


def test_an_op_torch_cannot_export_to_onnx_is_one_line_naming_torchscript(run, tmp_path, capsys, monkeypatch):
    """torch's UnsupportedOperatorError says "opset" too: it came through as a traceback, not a line to act on."""
    from torch.onnx.errors import UnsupportedOperatorError

    def unsupported(*a, **k):
        raise UnsupportedOperatorError("aten::x", 17, None)

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    out = tmp_path / "g.onnx"
    assert main(["export", "--checkpoint", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: cannot export to ONNX {out}: Exporting the operator 'aten::x'") and err.count("\n") == 1
    )
    assert "--format torchscript writes this generator" in err and not out.exists()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_file_that_fails_the_check_is_not_written(run, tmp_path, capsys, monkeypatch, fmt):
    # the check ran on the published file: it stayed (over the one --overwrite replaced), with exit status 1
    import cyclegan.export as export

    real = export._run_exported

    def off_by_1e3(path, f):
        run_file = real(path, f)
        return lambda x: run_file(x) + 1e-3

    monkeypatch.setattr(export, "_run_exported", off_by_1e3)
    out = tmp_path / ("g.onnx" if fmt == "onnx" else "g.pt")
    args = ["export", "--checkpoint", str(run), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the exported file differs from PyTorch by 1.0e-03") and err.count("\n") == 1
    assert f"{out} was not written" in err and not out.exists() and list(tmp_path.iterdir()) == []
    out.write_bytes(b"an earlier export")
    assert main([*args, "--overwrite"]) == 2
    assert out.read_bytes() == b"an earlier export"


@pytest.mark.parametrize("opset", ["13", "17"])
def test_an_opset_with_torchscript_is_refused_not_ignored(run, tmp_path, capsys, opset):
    """`--opset 17` (the default's value) with a TorchScript --out was taken without a word, as if it meant anything."""
    out = tmp_path / "g.pt"
    assert main(["export", "--checkpoint", str(run), "--out", str(out), "--opset", opset]) == 2
    assert capsys.readouterr().err == f"error: option '--opset' is for ONNX files, not TorchScript ({out}); drop it\n"
    assert not out.exists()


def test_an_onnx_file_onnxruntime_cannot_load_is_one_line_and_not_written(run, tmp_path, capsys, monkeypatch):
    # an onnxruntime older than the opset: its Fail went up as a traceback from inside the check
    def too_old(path, providers):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model failed: Opset 23 is under development\nmore")

    monkeypatch.setattr(ort, "InferenceSession", too_old)
    out = tmp_path / "g.onnx"
    assert main(["export", "--checkpoint", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: onnxruntime {ort.__version__} cannot load the exported file to check it (")
    assert "Opset 23 is under development)" in err and "--no-check" in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_format_from_the_library():
    from cyclegan.export import format_for

    assert format_for("a.ONNX", None) == "onnx" and format_for("a.pt", None) == "torchscript"
    with pytest.raises(CycleGANError, match="expected onnx or torchscript"):
        format_for("a.onnx", "coreml")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"format": "onx"}, "^format: expected onnx or torchscript, got 'onx'$"),
        ({"format": "onnx", "opset": 9}, "^opset: the generators' reflection padding needs opset 11 or later, got 9$"),
        ({"format": "torchscript", "opset": 17}, "^opset: is for ONNX files, not TorchScript"),  # it was ignored
        # a number: protobuf's "bad argument type for built-in operation", or torch's pages on save()'s signature
        (
            {"format": "onnx", "metadata": {"step": 5}},
            "^metadata: keys and values must be strings, got 'step': 5; write",
        ),
        ({"format": "torchscript", "metadata": {"step": 5}}, "^metadata: keys and values must be strings"),
    ],
)
def test_export_generator_refuses_what_the_options_refuse(run, tmp_path, kwargs, message):
    """From Python: 'onx' was written as TorchScript, then run as ONNX ('give a lower --opset'); opset 9 was torch's
    SymbolicValueError with the whole traced graph."""
    from cyclegan.export import export_generator

    with pytest.raises(CycleGANError, match=message):
        export_generator(load_generator(run), tmp_path / "g.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", [[], ["--format", "onnx"]])
def test_an_empty_out_is_named_as_empty(run, capsys, fmt):
    """`--out "$F"` with F unset: "option '--out' : cannot tell the format from 'no suffix'", or ". is a folder"."""
    assert main(["export", "--checkpoint", str(run), "--out", "", *fmt]) == 2
    assert capsys.readouterr().err == (
        "error: option '--out' is empty (an unset variable?): give the file to write (.onnx; .pt, .ts or "
        ".torchscript)\n"
    )


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_generator_leaves_the_callers_generator_as_it_was(tmp_path, fmt):
    # It moved the caller's generator to the CPU in float32, in eval mode with its gradients off, in place: a
    # generator exported mid-training stopped learning, one on a GPU went on on the CPU.
    from cyclegan.export import export_generator

    G = build_models(resolve({"ngf": 8, "n_blocks": 2, "size": 32}).model)["G"].to(torch.float64).train()
    export_generator(G, tmp_path / f"g.{'onnx' if fmt == 'onnx' else 'pt'}", format=fmt)
    assert G.training and all(p.requires_grad and p.dtype == torch.float64 for p in G.parameters())


@pytest.mark.parametrize("fmt", [[], ["--format", "onnx"]])
def test_an_out_ending_in_a_slash_is_refused_as_a_folder(run, tmp_path, capsys, fmt):
    # With --format, `--out models/` wrote a file named models where a folder was meant.
    out = f"{tmp_path / 'models'}/"
    assert main(["export", "--checkpoint", str(run), "--out", out, *fmt]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--out' {out} names a folder: give the file to write in it (e.g. {out}g.onnx)\n"
    )
    assert not (tmp_path / "models").exists()
    # a file's name with the slash: that file is said first (as evaluate's, bench's and stylize's file flags say it)
    out = f"{tmp_path / 'g.onnx'}/"
    assert main(["export", "--checkpoint", str(run), "--out", out, *fmt]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--out' {out} names a folder: give the file to write (e.g. {tmp_path / 'g.onnx'}, or "
        f"{out}g.onnx)\n"
    )
    assert not (tmp_path / "g.onnx").exists()


def test_a_run_trained_btoa_only_is_exported_in_its_direction_without_direction(tmp_path, capsys):
    """`--direction` defaulted to AtoB: a pix2pix run trained BtoA was refused unless its one direction was typed."""
    from cyclegan.models import build_networks

    cfg = resolve({"family": "pix2pix", "direction": "BtoA", "ngf": 4, "ndf": 4, "size": 32})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    ckpt = tmp_path / "p2p.pt"
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 0, "models": models}, ckpt)
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "g.onnx"), "--no-check"]) == 0
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "g.onnx")).metadata_props}
    assert meta["direction"] == "BtoA"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "h.onnx"), "--direction", "AtoB"]) == 2
    assert "translates B to A only; use --direction BtoA" in capsys.readouterr().err


def test_an_export_killed_before_removes_its_temporary_and_two_exports_of_one_file_are_one_at_a_time(
    run, tmp_path, capsys
):
    """A killed export left its temporary (`.g.pt.XXXXXXXX.tmp`, hidden and as large as the file) beside --out for
    ever; the next export of that file removes it, under a lock on the file's name, so never another's live one."""
    from helpers import check_file_claim

    out = tmp_path / "g.pt"
    check_file_claim(["export", "--checkpoint", str(run), "--format", "torchscript", "--out", str(out)], out, capsys)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, said", [("SIGHUP", 129, "hung up"), ("SIGTERM", 143, "terminated")])
def test_a_closed_terminal_stops_an_export_as_ctrl_c_does(run, tmp_path, signum, status, said):
    """A closed terminal's SIGHUP or a scheduler's SIGTERM while the file was checked killed `cyclegan export`
    without a word, its written temporary left beside --out. Now as Ctrl-C: the temporary removed, one line,
    exit 129 or 143, as translate and the other commands stop."""
    out = tmp_path / "out" / "g.pt"
    out.parent.mkdir()
    argv = ["export", "--checkpoint", str(run), "--out", str(out)]
    done = cli_signalled_at("torch.jit", "load", signum, argv)  # the temporary written, about to be checked
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stderr == f"{said}\n"
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("preset", ["paper", "fast"])
def test_a_generator_with_the_faster_cpu_layers_of_training_exports_as_the_plain_one(tmp_path, preset):
    """Training on a CPU turns the generators' layers into faster forms in place (`models.fused`); exporting such a
    generator (a trainer's G, from Python) stopped in torch's SymbolicValueError after pages of traced graph (ONNX)
    or "Could not export Python function call" (TorchScript). The files now run as the fused generator does."""
    from cyclegan.export import export_generator
    from cyclegan.inference import translate_tensor
    from cyclegan.models import build_generator
    from cyclegan.models.fused import GroupInstanceNorm, SubpixelUpConv, WinogradConv2d, fuse_layers

    torch.manual_seed(0)
    kw = {"ngf": 32, "n_blocks": 1} if preset == "paper" else {"preset": "fast"}  # ngf 32: 128-channel blocks
    G = fuse_layers(build_generator(resolve({"size": 32, **kw}).model).eval())
    kinds = {type(m) for m in G.modules()}
    assert GroupInstanceNorm in kinds and (WinogradConv2d if preset == "paper" else SubpixelUpConv) in kinds
    keys = list(G.state_dict())
    export_generator(G, tmp_path / "g.onnx", format="onnx")
    export_generator(G, tmp_path / "g.pt", format="torchscript")
    assert list(G.state_dict()) == keys and {type(m) for m in G.modules()} == kinds  # the caller's G still fused
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    module = torch.jit.load(str(tmp_path / "g.pt"))
    for b, h, w in SIZES:
        x = inputs(b, h, w)
        expected = translate_tensor(G, x)
        assert np.abs(session.run(None, {"input": x.numpy()})[0] - expected.numpy()).max() < 1e-4
        torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=0)


def test_the_metadata_says_which_weights_of_which_step_were_exported(tmp_path):
    """A checkpoint that keeps averaged weights (--ema-decay) exported with --ema on and with --ema off gave two
    different files whose metadata were the same: a reader could not tell which weights, nor which step, it had."""
    ckpt = save_ema_checkpoint(tmp_path / "checkpoint.pt")
    recorded = {}
    for choice in ("on", "off"):
        out = tmp_path / f"g_{choice}.onnx"
        assert main(["export", "--checkpoint", str(ckpt), "--ema", choice, "--out", str(out), "--no-check"]) == 0
        meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
        recorded[choice] = (meta["step"], meta["weights"])
    assert recorded == {"on": ("120", "averaged (--ema-decay)"), "off": ("120", "last (not averaged)")}


def test_a_generator_saved_by_save_generator_exports_saying_which_weights_it_holds(tmp_path):
    """`save_generator` of a run's averaged generator (load_generator's default) wrote its weights as the last raw
    ones: the export of that file said 'last (not averaged)' of the averaged weights."""
    import cyclegan

    save_ema_checkpoint(tmp_path / "c.pt")
    for choice, weights in (("auto", "averaged (--ema-decay)"), ("off", "last (not averaged)")):
        saved = cyclegan.save_generator(
            cyclegan.load_generator(tmp_path / "c.pt", ema=choice), tmp_path / f"{choice}.pt"
        )
        out = tmp_path / f"{choice}.onnx"
        assert main(["export", "--checkpoint", str(saved), "--out", str(out), "--no-check"]) == 0
        assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["weights"] == weights


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_compiled_generator_exports_and_a_discriminator_is_refused_in_one_line(tmp_path, fmt):
    """From Python: a generator wrapped by torch.compile stopped in torch's "Detected that you are using FX to
    torch.jit.trace a dynamo-optimized function"; a discriminator passed by mistake was traced and written to the
    temporary, then failed the check in onnxruntime's or TorchScript's own multi-line error."""
    from cyclegan.export import export_generator
    from cyclegan.inference import translate_tensor

    torch.manual_seed(0)
    nets = build_models(resolve({"ngf": 8, "ndf": 8, "n_blocks": 1, "size": 32}).model)
    out = tmp_path / f"g.{'onnx' if fmt == 'onnx' else 'pt'}"
    result = export_generator(torch.compile(nets["G"]), out, format=fmt)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    x = inputs(*SIZES[1])
    if fmt == "onnx":
        y = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    else:
        y = torch.jit.load(str(out))(x).numpy()
    assert np.abs(y - translate_tensor(nets["G"], x).numpy()).max() < 1e-4
    with pytest.raises(
        CycleGANError, match=r"^PatchGANDiscriminator gave \(1, 1, 6, 6\) for images \(1, 3, 64, 64\): not"
    ):
        export_generator(nets["D_X"], tmp_path / out.name.replace("g.", "d."), format=fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize(
    "out, fmt, said",
    [
        ("g", [], "option '--out' g: cannot tell the format from a name without a suffix; give --format"),
        ("g.xyz", [], "option '--out' g.xyz: cannot tell the format from its suffix '.xyz'; give --format"),
        ("-", [], "option '--out': - is not standard output here; give the file to write (.onnx; .pt"),
        ("-", ["--format", "onnx"], "option '--out': - is not standard output here; give the file to write"),
    ],
)
def test_an_out_without_a_format_says_what_it_lacks(run, tmp_path, monkeypatch, capsys, out, fmt, said):
    """A name without a suffix was "cannot tell the format from 'no suffix'", the words quoted as if they were its
    suffix; `--out -` (standard output, as a shell user writes it) read the same, or with --format wrote a file
    named '-'."""
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--checkpoint", str(run), "--out", out, *fmt]) == 2
    assert capsys.readouterr().err.startswith(f"error: {said}") and list(tmp_path.iterdir()) == []
