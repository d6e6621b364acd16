"""The data of a run: every pair's tokens once, per-member split masks, and training batches."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import RunConfig
from ..counter_rng import random_keys
from ..tasks import TaskTable, inputs_and_targets, mirror_heldout_masks, split_masks

EPOCH_STREAM_BASE = 1_000  # counter_rng stream of epoch k's data order is EPOCH_STREAM_BASE + k


@dataclass
class RunData:
    """All pairs of the task and how each member splits them.

    inputs: [N, pos] tokens; targets: [N, n_out]; train_mask, test_mask: [E, N] bool;
    mirror_mask: [E, N] bool held-out pairs whose mirror is held out too (None unless commutative).
    """

    table: TaskTable
    inputs: torch.Tensor
    targets: torch.Tensor
    train_mask: torch.Tensor
    test_mask: torch.Tensor
    mirror_mask: torch.Tensor | None

    @classmethod
    def build(cls, config: RunConfig, device: torch.device) -> "RunData":
        table = config.table()
        inputs, targets, _ = inputs_and_targets(table, config.resolved("layout"))
        train = split_masks(table, config.seeds, config.fracs, method=config.split, symmetric=config.symmetric_split)
        mirror = mirror_heldout_masks(table, train) if table.op.commutative else None
        return cls(table, inputs.to(device), targets.to(device), train.to(device), (~train).to(device),
                   None if mirror is None else mirror.to(device))

    @property
    def n_train(self) -> torch.Tensor:
        """[E] training pairs per member."""
        return self.train_mask.sum(dim=1)


class BatchSampler:
    """Per-member training batches as row indices into the pair table, with weights.

    Full batch (batch_size None): every member's whole training set, padded to the largest with
    weight 0. Minibatch: openai/grok's rule, batch = min(batch_size, ceil(n_train / 2)), the training
    set reshuffled every epoch; member e's order depends on (seed_e, epoch) only (counter_rng), so
    it is the same in any pack and after a resume.
    """

    def __init__(self, data: RunData, seeds: tuple[int, ...], batch_size: int | None):
        self.data = data
        self.seeds = torch.tensor(seeds, dtype=torch.int64, device=data.inputs.device)
        n_train = data.n_train.cpu()
        self.full_batch = batch_size is None
        if self.full_batch:
            self.batch = n_train.clone()
            width = int(n_train.max())
        else:
            self.batch = torch.minimum(torch.full_like(n_train, batch_size), (n_train + 1) // 2)
            width = int(self.batch.max())
        self.steps_per_epoch = [math.ceil(int(n) / int(b)) for n, b in zip(n_train, self.batch)]
        self.columns = torch.arange(width, device=data.inputs.device)
        self._orders: torch.Tensor | None = None
        self._epochs: tuple[int, ...] | None = None
        if self.full_batch:
            self._orders = self._train_first(torch.zeros_like(data.train_mask, dtype=torch.int64))

    def _train_first(self, keys: torch.Tensor) -> torch.Tensor:
        """[E, N] row order: training rows first (sorted by key), then the held-out rows."""
        big = torch.iinfo(torch.int64).max
        return torch.argsort(torch.where(self.data.train_mask, keys, big), dim=1, stable=True)

    def batch_at(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices [E, B] and weights [E, B] (1/batch_e on real rows, 0 on padding) of step's batch."""
        counts = self.batch.to(self.columns.device)
        if self.full_batch:
            offsets = torch.zeros_like(counts)
        else:
            epochs = tuple(step // spe for spe in self.steps_per_epoch)
            if epochs != self._epochs:  # reshuffle only when some member starts an epoch
                streams = torch.tensor(epochs, dtype=torch.int64, device=self.seeds.device) + EPOCH_STREAM_BASE
                keys = random_keys(self.seeds, streams, self.data.train_mask.shape[1])  # [E, N]
                self._orders, self._epochs = self._train_first(keys), epochs
            offsets = torch.tensor([(step % spe) * int(b) for spe, b in zip(self.steps_per_epoch, self.batch)],
                                   device=counts.device)
            counts = torch.minimum(counts, self.data.n_train - offsets)  # the epoch's last batch may be short
        assert self._orders is not None
        positions = offsets[:, None] + self.columns[None, :]  # [E, B]
        valid = self.columns[None, :] < counts[:, None]
        rows = self._orders.gather(1, positions.clamp(max=self._orders.shape[1] - 1))
        weights = valid.to(torch.float64) / counts[:, None].to(torch.float64)
        return rows, weights
