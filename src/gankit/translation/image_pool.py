"""A history of generated images for the discriminator (Shrivastava et al. 2017; CycleGAN, Zhu et al. 2017, Sec. 4).

D is updated on a mix of the newest fakes and fakes from earlier generators, which damps the oscillation
of G and D chasing each other. CycleGAN keeps the last 50 (``train.pool_size``). For each image of a batch
(in order), as in the reference implementation:

    while the pool holds fewer than ``size`` images:   store the image, hand it to D
    otherwise, with probability 1/2:                    hand D a uniformly chosen stored image and
                                                        store the new one in its place
               else:                                   hand D the new image (the pool is unchanged)

``size = 0`` turns the pool off (D sees exactly the newest fakes; pix2pix's default). All randomness comes
from the caller's ``torch.Generator``, and :meth:`state_dict` captures the stored images, so a resumed
run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ImagePool"]


class ImagePool:
    """Up to ``size`` past fakes, stored detached on their device; :meth:`query` swaps them in for new ones."""

    def __init__(self, size: int):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.count = 0
        self.images: Tensor | None = None  # (size, C, H, W), allocated on the first query

    def query(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """The batch D should see instead of ``images`` (a new tensor; ``images`` is detached, never modified)."""
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is None:
            self.images = images.new_empty((self.size, *images.shape[1:]))
        n = images.shape[0]
        # One draw per image whether used or not, so the stream does not depend on the pool's fill level.
        swap = torch.rand(n, generator=generator, device=generator.device) < 0.5
        slot = torch.randint(self.size, (n,), generator=generator, device=generator.device)
        out = images.clone()
        for i, (do_swap, j) in enumerate(zip(swap.tolist(), slot.tolist())):  # one host sync per query
            if self.count < self.size:
                self.images[self.count] = images[i]
                self.count += 1
            elif do_swap:
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out

    def state_dict(self) -> dict:
        stored = self.images[: self.count].clone() if self.images is not None else torch.empty(0)
        return {"size": self.size, "count": self.count, "images": stored}

    def load_state_dict(self, state: dict) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"pool state for size {int(state['size'])} loaded into a pool of size {self.size}")
        self.count = int(state["count"])
        self.images = None
        if self.count:
            stored = state["images"]
            self.images = stored.new_empty((self.size, *stored.shape[1:]))
            self.images[: self.count] = stored
