"""Training batches: per member, row indices into the pair table and their weights, the same in any pack."""

from __future__ import annotations

import torch

from ..counter_rng import random_keys
from ..dataset import RunData

EPOCH_STREAM_BASE = 1_000  # counter_rng stream of epoch k's data order is EPOCH_STREAM_BASE + k (dataset.py uses 2, 3)
SHUFFLE_STREAM = 1 << 30  # + step: the order in which a stored table's permuted columns are read at that step


def shuffled_rows(seeds: torch.Tensor, step: int, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[E, B] the rows whose permuted columns each batch position reads at `step` (the regime demos' kinds: a
    member's route columns carry no information about its target): member e's real rows (weight > 0) in an order
    drawn from (seeds[e], SHUFFLE_STREAM + step) only, its padding left in place, so the same in any pack."""
    big = torch.iinfo(torch.int64).max
    keys = torch.where(weights > 0, random_keys(seeds, SHUFFLE_STREAM + step, rows.shape[1]), big)  # [E, B]
    return rows.gather(1, torch.argsort(keys, dim=1, stable=True))


class BatchSampler:
    """Per-member training batches as row indices into the pair table, with weights.

    Full batch (batch_size None): every member's whole training set, padded to the largest with
    weight 0. Minibatch: openai/grok's rule, batch = min(batch_size, ceil(n_train / 2)), the training
    set reshuffled every epoch; member e's order depends on (seed_e, epoch) only (counter_rng), so
    it is the same in any pack and after a resume.
    """

    def __init__(self, data: RunData, seeds: tuple[int, ...], batch_size: int | None):
        self.data = data
        device = data.inputs.device
        self.seeds = torch.tensor(seeds, dtype=torch.int64, device=device)
        n_train = data.n_train  # [E]
        self.full_batch = batch_size is None
        self.batch = n_train.clone() if self.full_batch else torch.minimum(torch.full_like(n_train, batch_size), (n_train + 1) // 2)
        self.steps_per_epoch = -(-n_train // self.batch)  # [E] ceil
        self.columns = torch.arange(int(self.batch.max()), device=device)
        self._orders: torch.Tensor | None = None
        self._epochs: torch.Tensor | None = None
        if self.full_batch:
            self._orders = self._train_first(torch.zeros_like(data.train_mask, dtype=torch.int64))

    def _train_first(self, keys: torch.Tensor) -> torch.Tensor:
        """[E, N] row order: training rows first (sorted by key), then the held-out rows."""
        big = torch.iinfo(torch.int64).max
        return torch.argsort(torch.where(self.data.train_mask, keys, big), dim=1, stable=True)

    def batch_at(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices [E, B] and weights [E, B] (1/batch_e on real rows, 0 on padding) of step's batch."""
        counts = self.batch
        if self.full_batch:
            offsets = torch.zeros_like(counts)
        else:
            epochs = step // self.steps_per_epoch  # [E]
            if self._epochs is None or not torch.equal(epochs, self._epochs):  # reshuffle when some member starts an epoch
                keys = random_keys(self.seeds, epochs + EPOCH_STREAM_BASE, self.data.train_mask.shape[1])  # [E, N]
                self._orders, self._epochs = self._train_first(keys), epochs
            offsets = (step % self.steps_per_epoch) * self.batch  # [E]
            counts = torch.minimum(counts, self.data.n_train - offsets)  # the epoch's last batch may be short
        assert self._orders is not None
        positions = offsets[:, None] + self.columns[None, :]  # [E, B]
        valid = self.columns[None, :] < counts[:, None]
        rows = self._orders.gather(1, positions.clamp(max=self._orders.shape[1] - 1))
        weights = valid.to(torch.float64) / counts[:, None].to(torch.float64)
        return rows, weights
