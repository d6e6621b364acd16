"""The training step captured in a CUDA graph and replayed.

On a GPU, a small model's step is a few hundred tiny kernels and its speed is set by launch
overhead, not arithmetic; replaying one captured graph launches them all at once. The capture
follows PyTorch's whole-network recipe (torch.cuda.graphs): a few eager warm-up steps on a side
stream, gradients unset before capture, static input buffers refilled before every replay. Every
quantity that changes between steps lives in a device tensor (the batch rows and weights, a stored
table's shuffled rows, the warm-up and cool-down scale, the active-member mask, AdamW's step count), so a replay is exactly the eager step.
The warm-up steps are real training steps, so the trajectory is the eager one. The levers need
nothing more: label noise is a fixed [E, N, n_out] target table gathered with the rows buffer, the MSE
loss is plain tensor arithmetic, and the fixed-norm rescale reads only device tensors (the initial
norms, the member flags and the active mask), so all three are captured with the rest of the step.

Not yet run on a GPU by its author (no GPU was available): `--set cuda_graph=false` trains eagerly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .optim import lr_scale

if TYPE_CHECKING:
    from .trainer import Trainer

WARMUP_STEPS = 3  # eager steps on a side stream before capture, as the PyTorch recipe asks


class GraphedStep:
    """Callable like Trainer.train_step; captures on the first call after the warm-up steps."""

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer
        device = trainer.device
        n_members = trainer.config.n_members
        self.lr_scale = torch.zeros((), dtype=torch.float64, device=device)
        self.active = torch.ones(n_members, dtype=torch.bool, device=device)
        self.batch: tuple[torch.Tensor | None, ...] | None = None  # static rows, weights, shuffled rows
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warmed_up = 0
        self.stream = torch.cuda.Stream(device=device)

    def __call__(self, step: int, active: torch.Tensor | None) -> None:
        trainer = self.trainer
        batch = trainer.batch_at(step)  # rows [E, B], weights [E, B], shuffled rows [E, B] or None
        self.lr_scale.fill_(lr_scale(step, trainer.config))
        self.active.copy_(torch.ones_like(self.active) if active is None else active)
        if self.graph is None and self.warmed_up < WARMUP_STEPS:
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                trainer.update(*batch[:2], self.lr_scale, self.active, batch[2])
            torch.cuda.current_stream().wait_stream(self.stream)
            self.warmed_up += 1
            return
        if self.graph is None:
            self.batch = tuple(None if t is None else t.clone() for t in batch)
            rows, weights, shuffled = self.batch
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                trainer.update(rows, weights, self.lr_scale, self.active, shuffled)
        else:
            assert self.batch is not None
            for static, fresh in zip(self.batch, batch):
                if static is not None:
                    static.copy_(fresh)
        self.graph.replay()
