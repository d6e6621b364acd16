"""Per-step cost of each lever against none, as ratios timed in one run (printed, never asserted).

Every arm is the same preset and ensemble with one lever changed. The arms' training steps are timed
round-robin (one step of each arm per round, the median over rounds), so a machine that slows down
during the run slows every arm alike and the ratios stay comparable:

    ratio = median step time of the arm / median step time of the arm with no lever

    python benchmarks/lever_cost.py [--preset quickstart] [--members 8] [--threads 2] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import grokscope
from grokscope.errors import ConfigError
from grokscope.training.trainer import Trainer

# arm name -> the fields it changes (the levers of docs/levers.md, each with its papers' defaults)
ARMS: dict[str, dict] = {
    "none": {},
    "grokfast ema": dict(grokfast="ema"),
    "grokfast ma (window 100)": dict(grokfast="ma"),
    "orthogonal grad": dict(orthogonal_grad=True),
    "stablemax": dict(loss="stablemax"),
    "adam (coupled L2)": dict(optimizer="adam"),
    "sgd": dict(optimizer="sgd"),
    "float32 loss": dict(loss_dtype="float32"),
    "label noise 10%": dict(label_noise=0.1),
    "mse loss": dict(loss="mse"),
    "fixed weight norm": dict(fixed_weight_norm=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = grokscope.get_preset(args.preset).replace(seeds=tuple(range(args.members)), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        trainers: dict[str, Trainer] = {}
        for name, changes in ARMS.items():
            try:
                config = base.replace(**changes)
            except ConfigError as err:  # a lever this preset or this version does not have
                print(f"{name}: skipped ({err})")
                continue
            trainers[name] = Trainer(config, Path(tmp) / name.replace(" ", "_"), device=torch.device("cpu"))
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for step in range(args.rounds + 2):  # the first two rounds warm up (allocations, filter windows)
            for name, trainer in trainers.items():
                start = time.perf_counter()
                trainer.train_step(step, None)
                if step >= 2:
                    times[name].append(time.perf_counter() - start)
    reference = statistics.median(times["none"])
    print(f"torch {torch.__version__}, cpu, threads {args.threads}, preset {args.preset}, E={args.members}, "
          f"median of {args.rounds} round-robin steps")
    print(f"{'lever':<28}{'ms/step':>10}{'vs none':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28}{median * 1e3:>10.1f}{median / reference:>9.2f}x")


if __name__ == "__main__":
    main()
