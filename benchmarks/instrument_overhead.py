"""Cost of the live instruments at the default cadence, against training without them (printed, never asserted).

Times, in one process, a training step, an evaluation without instruments and an evaluation with
them (Fourier spectrum, Gini, live key frequencies, restricted and excluded loss), plus the
retrospective pass that runs once at the end, then scales each by how often the preset does it:

    overhead = (evaluations x (eval with - eval without) + retrospective) / (steps x step + evaluations x eval without)

The softmax-collapse diagnostics (training/collapse.py: one backward pass per evaluation) are timed apart
and reported as their own overhead, with the same denominator.

    python benchmarks/instrument_overhead.py [--preset nanda2023] [--members 1] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import grokscope
from grokscope.store.checkpoints import save_weights
from grokscope.store.metrics import MetricsStore
from grokscope.training.evaluate import Evaluator
from grokscope.training.retrospective import record_retrospective
from grokscope.training.schedule import checkpoint_steps, eval_steps
from grokscope.training.trainer import Trainer


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nanda2023")
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = grokscope.get_preset(args.preset).replace(seeds=tuple(range(args.members)), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp), device=torch.device("cpu"))
        step = {"n": 0}

        def train_step() -> None:
            trainer.train_step(step["n"], None)
            step["n"] += 1

        t_step = _median_seconds(train_step, args.repeats)
        plain = config.replace(instruments=False, collapse_diagnostics=False)
        t_plain = _median_seconds(lambda: Evaluator(plain, trainer.data, trainer.device)(trainer.model), args.repeats)
        with_collapse = Evaluator(plain.replace(collapse_diagnostics=True), trainer.data, trainer.device)
        t_collapse = _median_seconds(lambda: with_collapse(trainer.model), args.repeats)
        evaluator = Evaluator(config.replace(collapse_diagnostics=False), trainer.data, trainer.device)
        t_instr = _median_seconds(lambda: evaluator(trainer.model), args.repeats)
        checkpoints = checkpoint_steps(config.max_steps, config.checkpoints)
        n_evals = len(eval_steps(config.max_steps, eval_every=config.eval_every, log_points=config.eval_log_points) | checkpoints)
        for s in sorted(checkpoints):  # the retrospective pass reads every checkpoint once
            save_weights(Path(tmp), s, trainer.model.params)
        store = MetricsStore(Path(tmp) / "metrics.sqlite")
        start = time.perf_counter()
        record_retrospective(Path(tmp), trainer.model, trainer.data, store)
        t_retro = time.perf_counter() - start
        store.close()
    base = config.max_steps * t_step + n_evals * t_plain
    extra = n_evals * (t_instr - t_plain) + t_retro
    print(f"torch {torch.__version__}, cpu, threads {args.threads}, preset {args.preset}, E={args.members}")
    print(f"train step {t_step * 1e3:.1f} ms; evaluation {t_plain * 1e3:.1f} ms without instruments, "
          f"{t_instr * 1e3:.1f} ms with; retrospective pass over {len(checkpoints)} checkpoints {t_retro:.1f} s")
    print(f"cadence: {config.max_steps} steps, {n_evals} evaluations")
    print(f"run without instruments ~{base / 60:.1f} min; instruments add {extra:.1f} s = {100 * extra / base:.1f}%")
    collapse = n_evals * (t_collapse - t_plain)
    print(f"softmax-collapse diagnostics: evaluation {t_collapse * 1e3:.1f} ms with them; "
          f"they add {collapse:.1f} s = {100 * collapse / base:.1f}%")


if __name__ == "__main__":
    main()
