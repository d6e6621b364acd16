"""What a run says, in words: the sentences `grokscope show`, `grokscope analyze` and the report print, written
once for the terminal and the page alike from the instruments' results."""

from __future__ import annotations

from typing import Any

from .instruments.collapse import COLLAPSED_FRACTION
from .instruments.mechanism import (
    CLUSTERED_FVE,
    MAX_KEY_FREQUENCIES,
    NULL_DRAWS,
    MechanismReport,
)

MAX_LISTED = 16  # members named by `collapse_lines`; the rest are counted
REMEDY_NAMES = {"loss_dtype=float64": "float64 loss", "loss=stablemax": "StableMax", "orthogonal_grad=true": "⊥Grad",
                "wd=1.0": "weight decay"}


def remedy_words(settings: str) -> str:
    """'float64 loss (loss_dtype=float64), StableMax (loss=stablemax), ...' from a verdict's `remedies`."""
    if not settings:
        return "none left: float64 loss, StableMax, ⊥Grad and weight decay are all on already"
    return ", ".join(f"{REMEDY_NAMES.get(s, s)} (--set {s})" for s in settings.split(", "))


def collapse_lines(summary: dict[str, Any]) -> list[str]:
    """The words `grokscope show` and the report print for the members softmax collapse stopped ([] if none).

    Args:
        summary: `Run.summary()`.
    """
    members = summary["members"]
    stopped = [m for m in members if m.get("softmax_collapse")]
    if not stopped:
        return []
    lines = [f"Softmax collapse stopped {len(stopped)} of {len(members)} member{'s' if len(members) > 1 else ''} "
             f"(Prieto et al. 2025; the rule: docs/levers.md): from the step below to the end, more than "
             f"{COLLAPSED_FRACTION:.0%} of the training pairs had their correct class's probability rounded to exactly 1, "
             f"so they gave no gradient, and held-out accuracy never reached {summary['threshold']:g}."]
    for m in stopped[:MAX_LISTED]:
        v = m["softmax_collapse"]
        lines.append(f"member {m['member']} (seed {m['seed']}): from step {v['step']:,} ({v['zero_grad_fraction']:.0%} of "
                     f"training pairs without gradient there, {v['final_zero_grad_fraction']:.0%} at the end); "
                     f"remedies: {remedy_words(v['remedies'])}")
    if len(stopped) > MAX_LISTED:
        lines.append(f"... and {len(stopped) - MAX_LISTED} more members (grokscope show --json)")
    return lines


def summary_lines(report: MechanismReport) -> list[str]:
    """The report in words, for the terminal."""
    lines = [
        f"step {report.step}, member {report.member}: key frequencies {report.key_frequencies} (every neuron's "
        f"best frequency); with a neuron of FVE > {CLUSTERED_FVE}: {report.key_frequencies_clustered}; "
        f"W_E max/4 rule: {report.key_frequencies_max4}",
    ]
    for f in report.frequencies:
        lines.append(f"  frequency {f.frequency}: {f.neurons} neurons (FVE > {CLUSTERED_FVE}), "
                     f"{100 * f.embedding_share:.1f}% of the embedding, clock angle fit {f.clock_angle_fit:.2f}")
    lines.append(f"neurons explained by one frequency (FVE > {CLUSTERED_FVE}): {100 * report.neurons_clustered_fraction:.0f}%")
    if report.attention_to_operands:
        heads = ", ".join(f"{a:.2f}" for a in report.attention_to_operands)
        lines.append(f"attention from '=' to the operands, per head: {heads}")
    lines.append(f"logits explained by sum_k a_k cos(w_k(a+b-c)): {100 * report.logit_fit_explained_variance:.1f}% of variance")
    lines.append(f"loss {report.loss:.4f}; key frequencies only {report.loss_key_frequencies_only:.4f} "
                 f"(median of {NULL_DRAWS} random sets of that size: {report.loss_random_frequencies:.4f}); "
                 f"key frequencies removed {report.loss_key_frequencies_removed:.3f} (chance {report.chance_loss:.3f})")
    lines.append(f"clock or pizza (Zhong et al. 2023): gradient symmetricity {report.gradient_symmetricity:.2f} "
                 f"(pizza ~1), distance irrelevance {report.distance_irrelevance:.2f} (clock ~1, pizza < 0.4): "
                 f"nearer their {report.algorithm}")
    if report.verdict_key_frequencies != report.key_frequencies:
        lines.append(f"the verdict reads the frequencies with a neuron of FVE > {CLUSTERED_FVE}, {report.verdict_key_frequencies}: "
                     f"every neuron's best frequency gives {len(report.key_frequencies)}, more than {MAX_KEY_FREQUENCIES}")
    lines.append(f"verdict: the Fourier algorithm ({report.algorithm}) carries the predictions" if report.fourier_algorithm else
                 f"verdict: not yet: a Fourier algorithm does not carry the predictions ({report.verdict_reason}; "
                 f"the diagnostics lean {report.algorithm})")
    return lines


def stop_sentence(summary: dict[str, Any]) -> str:
    """Why the run stopped where it did, from its status and config (`grokscope demo` and `show` print it)."""
    status, config = summary["status"], summary["config"]
    step, budget = status.get("step", summary["steps"]), config["max_steps"]
    state, reason = status.get("state"), status.get("stop_reason")
    if state == "running":
        return f"still training: step {step:,} of {budget:,}"
    if state == "stopped":
        return f"stopped at step {step:,} of {budget:,}: {status.get('note', '')}"
    if reason == "generalized":
        return (f"stopped at step {step:,} of {budget:,}: every member reached {config['generalize_acc']:g} test accuracy "
                f"(diverged members aside) and held it for the patience window of {config['patience']:,} steps (the stop "
                f"rule; --set patience=N trains longer)")
    if reason == "all_diverged":
        return f"stopped at step {step:,} of {budget:,}: every member diverged (its loss stopped being finite)"
    if reason == "max_steps" and config["task"] == "table":
        return f"ran its whole budget of {budget:,} steps (a stored table's scalar target has no accuracy to stop on)"
    if reason == "max_steps":
        return f"ran its whole budget of {budget:,} steps (not every member held {config['generalize_acc']:g} test accuracy through the patience window)"
    return f"{state} at step {step:,} of {budget:,}"
