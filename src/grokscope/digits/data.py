"""The digits data: scikit-learn's bundled 8×8 images, a seeded split per member, and per-member batch orders.

Pixels are integers 0..16; they are divided by 16 so that inputs lie in [0, 1], as Omnigrok's
MNIST notebook feeds `ToTensor()` images (pixels / 255, no normalization). Member e's split and its
batch order are pure functions of its seed (counter-based, grokscope.counter_rng), so a member
trains the same alone or beside others.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from ..counter_rng import random_permutations
from .config import N_IMAGES, DigitsConfig

SPLIT_STREAM = 7_000  # counter_rng streams of the digits preset
ORDER_STREAM = 8_000_000  # + epoch
N_CLASSES = 10
N_PIXELS = 64


@cache
def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float64) / 16.0, digits.target.astype(np.int64)


def load_images(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(images [1797, 64] in [0, 1], labels [1797] int64) in scikit-learn's order."""
    x, y = _load()
    return torch.tensor(x, dtype=dtype, device=device), torch.tensor(y, device=device)


def split_indices(seeds: torch.Tensor, n_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train [E, n_train], test [E, 1797 - n_train]) image indices: member e's from seeds[e] only.

    Args:
        seeds: [E] int64.
    """
    order = random_permutations(seeds, SPLIT_STREAM, N_IMAGES)  # [E, 1797]
    return order[:, :n_train], order[:, n_train:]


@dataclass(frozen=True)
class DigitsData:
    """Each member's training and test sets, member axis first.

    train_x: [E, n_train, 64]; train_y: [E, n_train] int64; test_x: [E, n_test, 64]; test_y: [E, n_test].
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    seeds: torch.Tensor

    @classmethod
    def build(cls, config: DigitsConfig, device: torch.device | str = "cpu") -> "DigitsData":
        dtype = getattr(torch, config.dtype)
        images, labels = load_images(dtype, device)
        seeds = torch.tensor(config.seeds, dtype=torch.int64, device=device)
        train, test = split_indices(seeds, config.n_train)
        return cls(images[train], labels[train], images[test], labels[test], seeds)

    @property
    def n_train(self) -> int:
        return self.train_x.shape[1]

    def batch(self, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs [E, B, 64], labels [E, B]) of `step` (0-based).

        Each epoch every member draws its own permutation of its training set from (seed, epoch) and
        takes n_train // B consecutive batches of B (a remainder is left out of that epoch), like a
        shuffling DataLoader with drop_last: Omnigrok's 1,000 images in batches of 200 make 5 per epoch.
        """
        per_epoch = self.n_train // batch_size
        epoch, offset = divmod(step, per_epoch)
        order = random_permutations(self.seeds, ORDER_STREAM + epoch, self.n_train)  # [E, n_train]
        idx = order[:, offset * batch_size:(offset + 1) * batch_size]  # [E, B]
        return torch.gather(self.train_x, 1, idx[..., None].expand(-1, -1, self.train_x.shape[2])), \
            torch.gather(self.train_y, 1, idx)
