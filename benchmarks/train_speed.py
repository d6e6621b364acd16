"""Training-step speed of grokscope's ensemble against a plain eager PyTorch loop (printed, never asserted).

The canonical setting is the `nanda2023` preset: x+y mod 113, 30% of the pairs (3830) as one full
batch, d_model 128, 4 heads, d_mlp 512. A step is forward, float64 cross-entropy, backward and
AdamW. grokscope runs E members at once (`Trainer.train_step`); the baseline is one model written
the ordinary way, as Nanda et al.'s `transformers.py`: nn.Parameters, attention over all three
positions, unembedding of every position, the last position's logits, torch.optim.AdamW.

Every setting is timed in interleaved rounds, so drift on a shared machine hits all of them alike;
the figure is the median step. Absolute times on shared CPUs move by tens of percent between runs:
compare ratios taken in the same run.

    python benchmarks/train_speed.py [--members 1,8,64,256] [--steps N] [--threads T] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

import grokscope
from grokscope.dataset import RunData
from grokscope.models import ModelSpec
from grokscope.training.trainer import Trainer, resolve_device

MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
MALLOC_HINT = "MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=536870912"


class EagerTransformer(nn.Module):
    """Nanda et al.'s 1-layer model as their code writes it (weights [out, in], einsums, all positions)."""

    def __init__(self, d_vocab: int, d_vocab_out: int, d_model: int, n_heads: int, d_mlp: int, n_ctx: int,
                 g: torch.Generator):
        super().__init__()
        d_head = d_model // n_heads
        randn = lambda *shape: nn.Parameter(torch.randn(*shape, generator=g) / math.sqrt(d_model))
        self.n_heads, self.d_head = n_heads, d_head
        self.W_E, self.W_pos = randn(d_model, d_vocab), randn(n_ctx, d_model)
        self.W_K, self.W_Q, self.W_V = randn(n_heads, d_head, d_model), randn(n_heads, d_head, d_model), randn(n_heads, d_head, d_model)
        self.W_O = randn(d_model, d_head * n_heads)
        self.W_in, self.b_in = randn(d_mlp, d_model), nn.Parameter(torch.zeros(d_mlp))
        self.W_out, self.b_out = randn(d_model, d_mlp), nn.Parameter(torch.zeros(d_model))
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab_out, generator=g) / math.sqrt(d_vocab))
        self.register_buffer("mask", torch.tril(torch.ones(n_ctx, n_ctx)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, pos, d_vocab_out] logits at every position; tokens [B, pos]."""
        x = self.W_E[:, tokens].permute(1, 2, 0) + self.W_pos[: tokens.shape[1]]  # [B, pos, d_model]
        k = torch.einsum("ihd,bpd->biph", self.W_K, x)  # [B, n_heads, pos, d_head]
        q = torch.einsum("ihd,bpd->biph", self.W_Q, x)
        v = torch.einsum("ihd,bpd->biph", self.W_V, x)
        scores = torch.einsum("biph,biqh->biqp", k, q)  # [B, n_heads, q_pos, k_pos]
        n = tokens.shape[1]
        scores = torch.tril(scores) - 1e10 * (1 - self.mask[:n, :n])
        pattern = F.softmax(scores / math.sqrt(self.d_head), dim=-1)
        z = torch.einsum("biph,biqp->biqh", v, pattern)  # [B, n_heads, q_pos, d_head]
        z = z.permute(0, 2, 1, 3).reshape(z.shape[0], n, -1)  # [B, q_pos, n_heads * d_head]
        x = x + torch.einsum("df,bqf->bqd", self.W_O, z)
        hidden = F.relu(torch.einsum("md,bpd->bpm", self.W_in, x) + self.b_in)  # [B, pos, d_mlp]
        x = x + torch.einsum("dm,bpm->bpd", self.W_out, hidden) + self.b_out
        return x @ self.W_U  # [B, pos, d_vocab_out]


def eager_step_fn(config: grokscope.RunConfig, device: torch.device) -> Callable[[int], None]:
    """One training step of the eager baseline on the same training pairs as member 0."""
    data = RunData.build(config.replace(seeds=(0,)), device)
    rows = data.train_mask[0].nonzero().squeeze(1)
    inputs, labels = data.inputs[rows], data.targets[rows, 0]  # [B, 3], [B]
    spec = ModelSpec.from_config(config)
    model = EagerTransformer(spec.d_vocab, spec.d_vocab_out, spec.d_model, spec.n_heads, spec.d_mlp, spec.n_ctx,
                             torch.Generator().manual_seed(0)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))

    def step(_: int) -> None:
        logits = model(inputs)[:, -1]  # [B, d_vocab_out]
        log_probs = logits.to(torch.float64).log_softmax(dim=-1)  # Nanda et al.'s cross_entropy_high_precision
        loss = -log_probs.gather(-1, labels[:, None]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def grokscope_step_fn(config: grokscope.RunConfig, n_members: int, device: torch.device, tmp: Path) -> Callable[[int], None]:
    trainer = Trainer(config.replace(seeds=tuple(range(n_members))), run_dir=tmp / f"E{n_members}", device=device)
    return lambda step: trainer.train_step(step, None)


def timed(step: Callable[[int], None], index: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    step(index)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1,8,64", help="comma-separated ensemble sizes E")
    parser.add_argument("--steps", type=int, default=30, help="most timed steps per setting")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per setting first")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of timed steps per setting, at most")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--preset", default="nanda2023")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = grokscope.get_preset(args.preset)
    members = [int(m) for m in args.members.split(",")]
    malloc_set = [v for v in MALLOC_VARS if v in os.environ]
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, preset {args.preset}")
    print(f"glibc malloc tuning: {'set (' + ', '.join(malloc_set) + ')' if malloc_set else 'not set (for CPU try: ' + MALLOC_HINT + ')'}")

    with tempfile.TemporaryDirectory() as tmp:
        settings: dict[str, tuple[int, Callable[[int], None]]] = {"eager (1 model)": (1, eager_step_fn(config, device))}
        for n in members:
            settings[f"grokscope E={n}"] = (n, grokscope_step_fn(config, n, device, Path(tmp)))
        per_round: dict[str, int] = {}
        for name, (_, step) in settings.items():
            warm = [timed(step, i, device) for i in range(args.warmup)]
            estimate = min(warm) if warm else timed(step, 0, device)
            total = max(1, min(args.steps, int(args.budget / max(estimate, 1e-6))))
            per_round[name] = max(1, math.ceil(total / args.rounds))
        times: dict[str, list[float]] = {name: [] for name in settings}
        for r in range(args.rounds):
            for name, (_, step) in settings.items():
                base = args.warmup + r * per_round[name]
                for i in range(per_round[name]):
                    if times[name] and sum(times[name]) > args.budget:  # the machine got slower than estimated
                        break
                    times[name].append(timed(step, base + i, device))

    print(f"{'setting':<20} {'steps':>5} {'ms/step':>9} {'steps/s':>8} {'member-steps/s':>15}")
    medians = {}
    for name, (n, _) in settings.items():
        med = statistics.median(times[name])
        medians[name] = med
        print(f"{name:<20} {len(times[name]):>5} {med * 1e3:>9.1f} {1 / med:>8.2f} {n / med:>15.1f}")
    if "grokscope E=1" in medians:
        ratio = medians["eager (1 model)"] / medians["grokscope E=1"]
        print(f"grokscope E=1 vs eager: {ratio:.2f}x faster per step")
    for name, (n, _) in settings.items():
        if n > 1:
            print(f"{name}: {n * medians['eager (1 model)'] / medians[name]:.2f}x the eager loop's member-steps/s")


if __name__ == "__main__":
    main()
