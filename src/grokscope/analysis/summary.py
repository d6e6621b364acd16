"""What a finished (or running) run says, per member: the table `grokscope show` prints and `--json` gives."""

from __future__ import annotations

import json
from typing import Any

import torch

from .. import metric_names as names
from ..instruments.collapse import softmax_collapse
from ..instruments.early_stopping import PATIENCE_INTERVALS, early_stopping_indices
from ..instruments.warning import DEFAULT_RULE, THRESHOLDS
from ..run import Run
from .first_steps import first_step_reaching, held_out_metric, loss_fall_start
from .stored_phases import key_frequency_histories, run_phases


def summarize(run: Run, threshold: float | None = None, early_stopping_patience: int | None = None, *,
              warning_rule: str | None = None) -> dict[str, Any]:
    """What `grokscope show --json` prints: config, evaluated steps, and per member the steps to
    memorize (train acc >= threshold) and to generalize (test acc >= threshold), the delay between
    them, and final accuracies (None where not reached). Commutative tasks add the same for the
    mirror-held-out accuracy, the honest generalization signal. `early_stopping` says where
    early stopping on the test loss (patience in steps; default 10 evaluation intervals) would have stopped, the
    step whose weights it would keep, and the test accuracy there. `softmax_collapse` is None, or the step
    from which softmax collapse stopped the member and the remedies it does not use yet
    (`instruments.collapse.softmax_collapse`). `early_warning_step` follows `warning_rule`
    (None: warning.DEFAULT_RULE): `peak` (W_E's Fourier peak ratio), `shuffle` (that peak ratio against shuffled
    residues), `either` (whichever of the two fires first) or `legacy` (the rule before them;
    instruments/warning.py). `early_warning_statistic_max` is the largest value its gated statistic reached (None
    for legacy), to be read against `early_warning.threshold`: how near a silent member came to warning;
    `test_loss_fall_start` is where the test loss starts its fall (first_steps.loss_fall_start), and the
    `early_warning_lead_to_*` keys how many steps the warning came before it and before 50% and 99% test accuracy.

    A run of task "table" (a stored table's scalar target) has no accuracy: its summary is `summarize_table`'s.

    Raises:
        ConfigError: an unknown warning rule (phases.run_phases).
    """
    if run.config.task == "table":
        return summarize_table(run)
    warning_rule = DEFAULT_RULE if warning_rule is None else warning_rule
    threshold = run.config.generalize_acc if threshold is None else threshold
    with run.metrics() as store:
        series = {name: store.series(name) for name in (names.TRAIN_ACC, names.TEST_ACC, names.MIRROR_ACC, names.DIVERGED)}
        loss_steps, test_loss = store.series_tensor(names.TEST_LOSS, run.config.n_members)
        collapse_steps, zero_grad = store.series_tensor(names.COLLAPSE_ZERO_GRAD_FRAC, run.config.n_members)
        phases, warnings, statistic_max = run_phases(store, run.config.n_members, warning_rule=warning_rule)
        histories = key_frequency_histories(store, run.config.n_members)
    steps = series[names.TRAIN_ACC][0]
    if early_stopping_patience is None:
        early_stopping_patience = PATIENCE_INTERVALS * run.config.eval_every
    stops, bests = early_stopping_indices(test_loss, loss_steps, early_stopping_patience)
    members = []
    for e, seed in enumerate(run.config.seeds):
        train = series[names.TRAIN_ACC][1].get(e, [])
        test = series[names.TEST_ACC][1].get(e, [])
        memorize = first_step_reaching(steps, train, threshold)
        generalize = first_step_reaching(steps, test, threshold)
        member = {
            "member": e, "seed": seed, **{name: run.config.per_member(name)[e] for name in ("frac", "lr", "wd")},
            "steps_to_memorize": memorize, "steps_to_generalize": generalize,
            "grokking_delay": None if memorize is None or generalize is None else generalize - memorize,
            "final_train_acc": train[-1] if train else None, "final_test_acc": test[-1] if test else None,
            "diverged": any(v for v in series[names.DIVERGED][1].get(e, []) if v),
            # the evaluation at which its loss stopped being finite (it was frozen from then on), or None
            "diverged_at": next((s for s, v in zip(series[names.DIVERGED][0], series[names.DIVERGED][1].get(e, []))
                                 if v), None),
            "phases": phases[e].to_dict(),
            "early_warning_step": warnings[e],
            "early_warning_statistic_max": statistic_max[e],
            **histories[e],
        }
        # how long before the test curve the warning came (reporting only: nothing here moves the warning)
        fall = loss_fall_start(loss_steps, test_loss[e].tolist()) if loss_steps else None
        member["test_loss_fall_start"] = fall
        marks = {"test_loss_fall": fall, **{f"test_acc_{int(level * 100)}": first_step_reaching(steps, test, level)
                                            for level in (0.5, 0.99)}}
        for name, reached in marks.items():
            member[f"early_warning_lead_to_{name}"] = None if reached is None or warnings[e] is None else reached - warnings[e]
        stop, best = int(stops[e]), int(bests[e])
        member["early_stopping"] = {
            "patience_steps": early_stopping_patience,
            "stopped_at": None if stop < 0 else loss_steps[stop],
            "kept_step": None if stop < 0 else loss_steps[best],
            "test_acc_kept": None if stop < 0 or not test else test[steps.index(loss_steps[best])],
        }
        mirror = series[names.MIRROR_ACC][1].get(e)
        if mirror is not None:
            member["steps_to_generalize_mirror"] = first_step_reaching(steps, mirror, threshold)
            member["final_test_mirror_acc"] = mirror[-1]
        members.append(member)
    # generalized as every reader counts it (first_steps.held_out_metric): mirror-held-out accuracy where logged
    decides = {names.MIRROR_ACC: "steps_to_generalize_mirror", names.TEST_ACC: "steps_to_generalize"}
    generalized = torch.tensor([m[decides[held_out_metric(series[names.MIRROR_ACC][1], m["member"])]] is not None
                                for m in members])
    for member, verdict in zip(members, softmax_collapse(run.config, collapse_steps, zero_grad, generalized)):
        member["softmax_collapse"] = verdict
    return {"path": str(run.path), "config": run.config.to_dict(), "status": run.status(),
            "steps": steps[-1] if steps else 0, "threshold": threshold,
            "early_warning": {"rule": warning_rule, "threshold": THRESHOLDS.get(warning_rule)}, "members": members}


TABLE_FINALS = {"train_loss": names.TRAIN_LOSS, "test_loss": names.TEST_LOSS, "shift_loss": names.SHIFT_LOSS,
                "failure": names.SHIFT_FAILURE, "rule_failure": names.SHIFT_RULE_FAILURE,
                "excess_failure": names.SHIFT_EXCESS_FAILURE}


def table_finals(store, n_members: int) -> tuple[int, dict[str, torch.Tensor]]:
    """A stored table's run: the last evaluated step and key -> [E] each TABLE_FINALS metric's value there
    (a metric the run does not log is left out; NaN where a member has none)."""
    finals: dict[str, torch.Tensor] = {}
    last = 0
    for key, name in TABLE_FINALS.items():
        steps, values = store.series_tensor(name, n_members)  # [E, S]
        if steps:
            last, finals[key] = steps[-1], values[:, -1]
    return last, finals


def summarize_table(run: Run) -> dict[str, Any]:
    """A stored table's run (task "table"): per member its seed, learning rate, weight decay, init scale, the
    columns it reads permuted (its kind, for the regime demos), and the last evaluation's squared error on the
    training, held-out and shift rows, the failure ratios (None where the table has no shift era or no true rule)
    and the route ablation of each feature group on the held-out rows."""
    n = run.config.n_members
    table = run.table()
    with run.metrics() as store:
        last, finals = table_finals(store, n)
        groups = json.loads(store.meta("feature_groups") or "[]")
        _, ablation = store.vector_array(names.TEST_ROUTE_ABLATION, list(range(n)))  # [E][S][G]
    permuted = torch.zeros(n, table.p, dtype=torch.bool) if table.permuted is None else table.permuted
    members = []
    for e, seed in enumerate(run.config.seeds):
        moved = [g for g, cols in table.groups.items() if cols and bool(permuted[e, cols].all())]
        member = {"member": e, "seed": seed,
                  **{name: run.config.per_member(name)[e] for name in ("lr", "wd", "init_scale")},
                  "permuted_groups": moved}
        for key, values in finals.items():
            value = float(values[e])
            member[f"final_{key}"] = None if value != value else value
        last = ablation[e][-1] if ablation and ablation[e] else []
        member["final_route_ablation"] = {g: last[i] for i, g in enumerate(groups) if i < len(last)}
        members.append(member)
    return {"path": str(run.path), "config": run.config.to_dict(), "status": run.status(),
            "steps": last, "threshold": None, "members": members}
