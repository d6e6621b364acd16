"""The data of a run: every pair's tokens once, per-member split masks and label noise (read by training, the
instruments and the readers alike; training/sampler.py draws its batches)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import RunConfig
from .counter_rng import inverse_permutations, random_keys
from .errors import ConfigError
from .tasks import (
    StoredTable,
    TaskTable,
    inputs_and_targets,
    mirror_heldout_masks,
    split_masks,
)

NOISE_PICK_STREAM = 2  # which training pairs a member's label noise corrupts (tasks.SPLIT_STREAM is 1)
NOISE_CLASS_STREAM = 3  # the wrong class each corrupted pair gets


def noisy_labels(answers: torch.Tensor, train_mask: torch.Tensor, seeds: tuple[int, ...],
                 noise: tuple[float, ...], n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training labels with a fraction replaced by a wrong class, and which pairs were corrupted.

    Member e corrupts round(noise_e · n_train_e) of its training pairs (Python's round), drawn
    uniformly without replacement from its (seed, split) only, and gives each a class drawn uniformly
    from the n_classes − 1 classes other than its true one, so exactly that many labels are wrong.
    Doshi et al. 2023 ("To grok or not to grok", d-doshi/Grokking `noisy_dataset`) draw the new label
    among all p classes instead, so about 1/p of their corrupted labels stay right. Held-out pairs are
    never touched.

    Args:
        answers: [N] int64 true class of every pair (targets column 0: the answer c).
        train_mask: [E, N] bool.
        seeds: one per member.
        noise: per member, in [0, 1).
        n_classes: answer classes (the task's elements); the new class is drawn among them.

    Returns:
        labels: [E, N] int64, the true answers except on corrupted pairs.
        corrupted: [E, N] bool, a subset of train_mask.
    """
    device = train_mask.device
    seed_t = torch.tensor(seeds, dtype=torch.int64, device=device)
    n = train_mask.shape[1]
    counts = torch.tensor([round(f * int(k)) for f, k in zip(noise, train_mask.sum(1).tolist())], device=device)  # [E]
    big = torch.iinfo(torch.int64).max
    keys = torch.where(train_mask, random_keys(seed_t, NOISE_PICK_STREAM, n), big)  # held-out pairs sort last
    order = torch.argsort(keys, dim=1, stable=True)  # [E, N]
    corrupted = train_mask & (inverse_permutations(order) < counts[:, None])  # [E, N]
    shift = 1 + torch.remainder(random_keys(seed_t, NOISE_CLASS_STREAM, n), n_classes - 1)  # [E, N] in 1..C-1
    labels = torch.where(corrupted, (answers[None, :] + shift) % n_classes, answers[None, :])
    return labels, corrupted


@dataclass
class RunData:
    """All pairs of the task and how each member splits them.

    inputs: [N, pos] tokens; targets: [N, n_out] true targets; train_mask, test_mask: [E, N] bool;
    mirror_mask: [E, N] bool held-out pairs whose mirror is held out too (None unless commutative);
    train_targets: [E, N, n_out] the targets each member trains on, `targets` with its label noise
    applied to the answer (column 0; openai/grok's `<eos>` target stays), None when no member has label
    noise; corrupted: [E, N] bool the training pairs whose label was replaced (None likewise).

    A stored table (task "table", tasks.StoredTable) gives each member its own rows: inputs [E, N, F],
    targets and train_targets [E, N, 1] float64, the test mask its in-era held-out rows, shift_mask [E, N] its
    shift era and permuted [E, F] the columns each member reads permuted across a step's examples (None: none).
    """

    table: TaskTable
    inputs: torch.Tensor
    targets: torch.Tensor
    train_mask: torch.Tensor
    test_mask: torch.Tensor
    mirror_mask: torch.Tensor | None
    train_targets: torch.Tensor | None = None
    corrupted: torch.Tensor | None = None
    shift_mask: torch.Tensor | None = None
    permuted: torch.Tensor | None = None

    @classmethod
    def build(cls, config: RunConfig, device: torch.device, table: StoredTable | None = None) -> "RunData":
        """The run's data; `table`: a stored table's rows (store/table.load_table), which task "table" needs."""
        if table is not None or config.task == "table":
            return cls.from_stored(config, device, table)
        table = config.table()
        inputs, targets, _ = inputs_and_targets(table, config.resolved("layout"))
        train = split_masks(table, config.seeds, config.per_member("frac"), method=config.split, symmetric=config.symmetric_split)
        mirror = mirror_heldout_masks(table, train) if table.op.commutative else None
        train_targets = corrupted = None
        if any(config.per_member("label_noise")):
            labels, corrupted = noisy_labels(targets[:, 0], train, config.seeds, config.per_member("label_noise"), table.n_elements)
            train_targets = targets.expand(len(config.seeds), *targets.shape).clone()  # [E, N, n_out]
            train_targets[..., 0] = labels
            train_targets, corrupted = train_targets.to(device), corrupted.to(device)
        return cls(table, inputs.to(device), targets.to(device), train.to(device), (~train).to(device),
                   None if mirror is None else mirror.to(device), train_targets, corrupted)

    @classmethod
    def from_stored(cls, config: RunConfig, device: torch.device, table: StoredTable | None) -> "RunData":
        if table is None or config.task != "table":
            raise ConfigError("task: a stored table's rows train a config of task 'table', and task 'table' needs them "
                              "(store.table.load_table)")
        inputs, targets, _ = inputs_and_targets(table, config.resolved("layout"))  # [E, N, F], [E, N, 1]
        inputs, targets = inputs.to(device=device, dtype=getattr(torch, config.param_dtype)), targets.to(device)
        permuted = None if table.permuted is None or not bool(table.permuted.any()) else table.permuted.to(device)
        return cls(table, inputs, targets, table.train.to(device), table.test.to(device), None, targets, None,
                   table.shift.to(device), permuted)

    def batch_inputs(self, rows: torch.Tensor, shuffled: torch.Tensor | None = None) -> torch.Tensor:
        """[E, B, ...] the inputs of rows [E, B]: the shared table's, or each member's own (a stored table's); where
        `permuted` marks a member's column, that column is read from row `shuffled` [E, B] instead."""
        if self.inputs.dim() == 2:
            return self.inputs[rows]
        width = self.inputs.shape[-1]
        x = self.inputs.gather(1, rows[..., None].expand(-1, -1, width))  # [E, B, F]
        if self.permuted is None or shuffled is None:
            return x
        moved = self.inputs.gather(1, shuffled[..., None].expand(-1, -1, width))  # [E, B, F]
        return torch.where(self.permuted[:, None, :], moved, x)

    @property
    def n_train(self) -> torch.Tensor:
        """[E] training pairs per member."""
        return self.train_mask.sum(dim=1)
