"""The image pool: discriminators see a history of generated images, not only the latest ones."""

from __future__ import annotations

import torch


class ImagePool:
    """Up to `size` past generated images. Each query image is stored while the pool fills; after that,
    half the time a random stored image is returned in its place (and the new one stored), as in the paper.

    Its own seeded generator and its contents are part of the checkpoint, so resuming is exact.
    """

    def __init__(self, size: int, *, seed: int):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.gen = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W), detached -> (B, C, H, W) mixing new and stored images."""
        if self.size == 0:
            return images
        if self.images and self.images[0].shape != images.shape[1:]:
            self.images = []  # images of another size (--half-size-fraction's switch): the pool fills again
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.gen) < 0.5:
                i = int(torch.randint(0, self.size, (), generator=self.gen))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        stacked = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stacked, "rng": self.gen.get_state()}

    def load_state_dict(self, state: dict, *, device: torch.device | str = "cpu") -> None:
        self.size = state["size"]
        self.images = [im.to(device) for im in state["images"]] if state["images"].numel() else []
        self.gen.set_state(state["rng"])
