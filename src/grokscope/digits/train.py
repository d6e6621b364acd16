"""Train the digits ensemble, evaluate it, checkpoint it and run the monitor at its own cadence; write a run directory.

A run directory: `config.json` (the DigitsConfig and provenance, written atomically), `metrics.sqlite`
(long format: train/loss, train/acc, test/loss, test/acc at every evaluation; monitor/... at
checkpoints), `checkpoints/step_XXXXXXXX.safetensors` (name -> [E, ...]), and `report.html`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .. import metric_names as names
from ..store.atomic import write_text_atomic
from ..store.checkpoints import save_weights
from ..store.metrics import MetricsStore
from ..store.run_dir import base_provenance, check_output_dir, unique_run_dir
from ..training.optim import MemberAdamW
from ..training.trainer import resolve_device
from .config import DigitsConfig
from .data import DigitsData
from .loss import per_example_loss
from .model import DigitsMLP, Params
from .monitoring import measure, measures_at

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.sqlite"
REPORT_FILE = "report.html"
SECONDS_META = "monitor_seconds"  # meta key: measure -> {step: seconds, all members}


@dataclass(frozen=True)
class Progress:
    """What a progress callback receives at each evaluation: step and [E] accuracies."""

    step: int
    max_steps: int
    train_acc: torch.Tensor
    test_acc: torch.Tensor
    monitor_seconds: dict[str, float]


def evaluate(model: DigitsMLP, data: DigitsData, loss_name: str) -> dict[str, torch.Tensor]:
    """train/loss, train/acc, test/loss, test/acc: [E] each, on every image of each member's sets (float64 loss)."""
    loss = per_example_loss(loss_name)
    values = {}
    with torch.no_grad():
        for part, x, y in (("train", data.train_x, data.train_y), ("test", data.test_x, data.test_y)):
            out = model(x).double()  # [E, N, 10]
            values[f"{part}/loss"] = loss(out, y).mean(1)
            values[f"{part}/acc"] = (out.argmax(-1) == y).double().mean(1)
    return {names.TRAIN_LOSS: values["train/loss"], names.TRAIN_ACC: values["train/acc"],
            names.TEST_LOSS: values["test/loss"], names.TEST_ACC: values["test/acc"]}


def _step_loss(model: DigitsMLP, data: DigitsData, step: int, config: DigitsConfig) -> torch.Tensor:
    """Sum over members of each member's mean minibatch loss (the sum keeps members' gradients separate)."""
    x, y = data.batch(step, config.batch_size)  # [E, B, 64], [E, B]
    return per_example_loss(config.loss)(model(x), y).mean(1).sum()


def train_members(config: DigitsConfig, *, device: torch.device | str = "cpu",
                  on_eval: Callable[[int, DigitsMLP], None] | None = None) -> DigitsMLP:
    """The trained ensemble (no run directory): AdamW per member, torch's betas (0.9, 0.999) and eps 1e-8.

    on_eval(step, model) is called at step 0, every eval_every steps and at max_steps, before that
    step's update. What the trainer and the packing test share.
    """
    data = DigitsData.build(config, device)
    model = DigitsMLP.from_config(config, device)
    dtype = getattr(torch, config.dtype)
    optimizer = MemberAdamW(model.params, lr=torch.tensor(config.per_member("lr"), dtype=dtype, device=device),
                            wd=torch.tensor(config.per_member("weight_decay"), dtype=dtype, device=device),
                            betas=(0.9, 0.999), eps=1e-8)
    for step in range(config.max_steps + 1):
        if on_eval is not None and (step % config.eval_every == 0 or step % config.checkpoint_every == 0
                                    or step == config.max_steps):
            on_eval(step, model)
        if step == config.max_steps:
            break
        for p in model.params.values():
            p.grad = None
        _step_loss(model, data, step, config).backward()
        optimizer.step(1.0)
    return model


def train_digits(config: DigitsConfig, out: Path, *, progress: Callable[[Progress], None] | None = None) -> Path:
    """Train, evaluate, checkpoint and monitor `config`; write metrics and the report. Returns the run directory.

    Args:
        config: a validated DigitsConfig.
        out: directory that receives the run directory.
        progress: called at every evaluation (the CLI prints it on standard error).
    """
    check_output_dir(out)
    device = resolve_device(config.device)
    data = DigitsData.build(config, device)
    run_dir = unique_run_dir(out, f"digits-e{config.n_members}")
    write_text_atomic(run_dir / CONFIG_FILE, json.dumps(
        {"kind": "digits", "config": config.to_dict(), "provenance": {**base_provenance(device), "dtype": config.dtype}}, indent=2))
    seconds: dict[str, dict[int, float]] = {}
    previous: Params | None = None
    with MetricsStore(run_dir / METRICS_FILE) as store:
        store.set_meta("kind", "digits")

        def on_eval(step: int, model: DigitsMLP) -> None:
            nonlocal previous
            values = evaluate(model, data, config.loss)
            store.write_scalars(step, values)
            spent: dict[str, float] = {}
            if step % config.checkpoint_every == 0 or step == config.max_steps:
                params = model.all_parameters()
                save_weights(run_dir, step, params)
                due = measures_at(config, step, has_previous=previous is not None)
                if due:
                    result = measure(config, data, params, step, due, previous=previous)
                    store.write_scalars(step, {k: v for k, v in result.values.items() if v.dim() == 1})
                    spent = result.seconds
                    for m, s in spent.items():
                        seconds.setdefault(m, {})[step] = s
                previous = {name: t.clone() for name, t in params.items()}
            if progress is not None:
                progress(Progress(step, config.max_steps, values[names.TRAIN_ACC], values[names.TEST_ACC], spent))

        # The data and model are rebuilt inside from the same seeds: identical to `data` above.
        train_members(config, device=device, on_eval=on_eval)
        store.set_meta(SECONDS_META, json.dumps(seconds))
    from .report import write_report

    write_report(run_dir)
    return run_dir
