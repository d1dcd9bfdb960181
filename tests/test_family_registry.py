"""A model family is one entry (`cyclegan.families`): a family registered from this file alone (a toy
"identity + GAN" model: one generator pulled towards its input, one discriminator) trains, resumes exactly,
translates and is refused what it cannot do, with no other change to the package."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY
from cyclegan.checkpoint import load_checkpoint
from cyclegan.cli import main
from cyclegan.config import resolve
from cyclegan.errors import CycleGANError
from cyclegan.families import Family, register, unregister
from cyclegan.inference import translate
from cyclegan.loading import load_generator
from cyclegan.losses import adversarial_loss
from cyclegan.train import prepare_config, train
from cyclegan.train.one_generator import OneGeneratorTrainer
from cyclegan.train.trainer import RealFake


class ToyTrainer(OneGeneratorTrainer):
    """G: source -> target with an adversarial loss plus 10 |G(x) - x| (it stays near its input)."""

    def _setup_modules(self, nets):
        self._G, self._real_fake = self._wrap(self.G, RealFake(self._D))

    def step(self, a, b):
        x, y = self._inputs(a, b)
        fake = self._G(x)
        losses = {"D": self._update_D(self._real_fake, self._opt_D, y, fake.detach())}
        self.D.requires_grad_(False)
        losses["G_adv"] = adversarial_loss(self._D(fake), True, "lsgan", generator=True)
        losses["idt"] = (fake - x).abs().mean()
        losses = self._update_generators(losses["G_adv"] + 10 * losses["idt"], self._opt_G, losses, frozen=(self.D,))
        self._end_step()
        return losses

    @torch.no_grad()
    def sample_columns(self, xs, ys):
        x, _ = self.pair(xs, ys)
        with self._eval_mode(self._generator()) as G:
            return [x, G(x)]


TOY = Family(
    "toy",
    "identity + GAN, a test's family",
    networks={"G": "generator", "D": "discriminator"},
    trainer=f"{__name__}:ToyTrainer",
    defaults={"pool_size": 0, "n_blocks": 1},
    unused=("lambda_cycle", "lambda_identity"),
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


def toy_cfg(data: Path, out: Path, **extra):
    base = {k: v for k, v in TINY.items() if k not in ("preset", "pool_size", "n_blocks")}
    return resolve({**base, "family": "toy", "data": str(data), "out": str(out), **extra})


def test_a_registered_family_trains_resumes_exactly_and_translates(toy, dataset, tmp_path):
    cfg = toy_cfg(dataset, tmp_path / "once", steps=4)
    assert cfg.train.pool_size == 0 and cfg.model.n_blocks == 1  # the family's own defaults
    train(cfg, progress=False)
    first = toy_cfg(dataset, tmp_path / "twice", steps=2)
    train(first, progress=False)
    resumed, ckpt = prepare_config({"steps": 4}, resume=True, out=str(tmp_path / "twice"))
    train(resumed, ckpt=ckpt, progress=False)
    once, twice = load_checkpoint(tmp_path / "once", training=True), load_checkpoint(tmp_path / "twice", training=True)
    assert set(once["models"]) == {"G", "D"} and once["family"] == "toy"
    assert set(once["optimizers"]) == {"G", "D"} and once["pools"] == {}
    for name in ("G", "D"):
        for key, value in once["models"][name].items():
            assert torch.equal(value, twice["models"][name][key]), f"{name}.{key} differs after a resume"

    G = load_generator(tmp_path / "once", "AtoB")
    with pytest.raises(CycleGANError, match="translates A to B only; use --direction AtoB"):
        load_generator(tmp_path / "once", "BtoA")
    out = tmp_path / "out"
    assert (
        main(
            [
                "translate",
                "--checkpoint",
                str(tmp_path / "once"),
                "--out",
                str(out),
                "--no-progress",
                "--precision",
                "fp32",  # translate() below computes in fp32; auto would be bf16 on a CPU with native bf16
                str(dataset / "testA"),
            ]
        )
        == 0
    )
    written = sorted(out.iterdir())
    assert [p.name for p in written] == [p.name for p in sorted((dataset / "testA").iterdir())]
    expected = np.asarray(translate(G, Image.open(dataset / "testA" / written[0].name)))  # G of that very input
    assert np.array_equal(np.asarray(Image.open(written[0])), expected)


def test_a_registered_family_is_offered_by_the_command_line_and_refused_others_options(toy, dataset, tmp_path):
    args = [
        "train",
        "--model",
        "toy",
        "--data",
        str(dataset),
        "--size",
        "32",
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--num-workers",
        "0",
        "--no-progress",
        "--steps",
        "1",
    ]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    assert load_checkpoint(tmp_path / "run")["config"]["model"]["family"] == "toy"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    with pytest.raises(CycleGANError, match="option 'lambda_cycle' applies to family='cyclegan', not to family='toy'"):
        resolve({"family": "toy", "lambda_cycle": 3.0})
    with pytest.raises(CycleGANError, match="option 'lambda_nce' applies to family='cut' or 'fastcut', not"):
        resolve({"family": "toy", "lambda_nce": 3.0})


def test_an_unknown_family_is_one_line_and_names_the_known_ones(toy):
    with pytest.raises(
        CycleGANError,
        match=r"option .family.: expected .cyclegan. \| .pix2pix. \| .cut. \| .fastcut. "
        r"\| .toy., got .nope.",
    ):
        resolve({"family": "nope"})
    with pytest.raises(CycleGANError, match="registered already"):
        register(TOY)
    # "its networks lack the generator(s) F": one generator named as one, two as two
    with pytest.raises(CycleGANError, match="^model family 'toy2': its networks lack the generator F$"):
        register(dataclasses.replace(TOY, name="toy2", two_way=True))
    with pytest.raises(CycleGANError, match="^model family 'toy2': its networks lack the generators G, F$"):
        register(dataclasses.replace(TOY, name="toy2", two_way=True, networks={"D": "discriminator"}))


def test_a_checkpoint_of_a_family_not_registered_names_the_family(toy, tmp_path):
    # With the plug-in not imported, its file was checked as a CycleGAN's: "'models' has no 'F' network ... the file
    # is damaged", which sent the user the wrong way
    from cyclegan.models import build_networks
    from cyclegan.run_files import FORMAT

    cfg = resolve({**{k: v for k, v in TINY.items() if k != "preset"}, "family": "toy"})
    models = {k: m.state_dict() for k, m in build_networks(cfg).items()}
    torch.save({"format": FORMAT, "config": cfg.to_dict(), "step": 1, "models": models}, tmp_path / "toy.pt")
    unregister(TOY.name)
    try:
        with pytest.raises(CycleGANError, match=r"toy.pt: its stored config is not valid: option 'family': .* 'toy'"):
            load_generator(tmp_path / "toy.pt")
    finally:
        register(TOY)
