"""What the one-generator families (pix2pix, CUT, FastCUT) share: a generator G that maps the source domain
to the target domain as `--direction` says, one discriminator D of the target domain, an Adam for G (with any
network trained with it, e.g. CUT's head H) and one for D, and the batch pairing."""

from __future__ import annotations

import torch
from torch import nn

from .trainer import Trainer


class OneGeneratorTrainer(Trainer):
    """G (source -> target) and D, one Adam each (G's also over `_with_generator`'s networks). A subclass
    builds its training modules in `_setup_modules` and writes `step` and `sample_columns`."""

    def _setup(self, nets: dict[str, nn.Module]) -> None:
        self.G, self.D = nets["G"], nets["D"]
        self._D = self.execution.compiled(self.D)  # for the generator's loss: input gradients only, no sync
        self._opt_G = self._adam(self.G, *self._with_generator(nets))
        self._opt_D = self._adam(self.D, discriminator=True)
        self._setup_modules(nets)

    def _with_generator(self, nets: dict[str, nn.Module]) -> tuple[nn.Module, ...]:
        """Networks trained by the generator's optimizer besides G (none by default)."""
        return ()

    def _setup_modules(self, nets: dict[str, nn.Module]) -> None:
        """The family's training modules (compiled, DDP-wrapped)."""
        raise NotImplementedError

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self._opt_G, "D": self._opt_D}

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(source, target) batches from A and B, as `direction` says."""
        return (a, b) if self.cfg.model.direction == "AtoB" else (b, a)

    def _inputs(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A step's (source, target) batches, in the networks' memory format."""
        return self.pair(*self._formatted(a, b))
