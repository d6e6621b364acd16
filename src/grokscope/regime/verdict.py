"""The verdict of issue 9: did a model compress its training era into a rule, or photograph its sub-periods?

`regime_verdict(model, inputs, targets, time_order=..., environments=...)` answers "compressed", "photographed" or
"not identifiable from training data", from the training data only, with the evidence: each measure, its value,
the direction in which Demos 1 and 2 read it, and how far they say to trust it at this number of sub-periods.

The decision rule (stated once, here and in docs/regime.md "The verdict"):

1. Fewer than `MIN_ENVIRONMENTS` (3) sub-periods in the training rows: **not identifiable from training data**.
   Within one sub-period a shortcut that is as correct as the rule and simpler *is* the shortest description, and
   no statistic of the data can tell them apart (Peters, Bühlmann & Meinshausen 2016; Arjovsky et al. 2019;
   D'Amour et al. 2022). Demo 2's single-period case shows it: the environment measures are undefined or 0.5, and
   the complexity measures that do separate the two models rank the shortcut model as the *simpler* one.
2. Otherwise the environment measures decide, with the sub-periods as environments: **photographed** when the
   model's dummy-scale gradients differ from zero across sub-periods beyond their sampling noise
   (`irmv1_z2` > `IRMV1_Z2_THRESHOLD`), else **compressed**. `irmv1_z2` is the IRMv1 penalty (Arjovsky et al.
   2019) with each sub-period's gradient divided by its standard error, so that one threshold holds at any
   noise level, target scale and sample size: Σ_e (g_e / se_e)² / M, ≈ 1 for a model whose relation holds in
   every sub-period. Cochran's Q of the per-sub-period risks (`risk_heterogeneity`, V-REx's variance in the
   same units) is reported beside it; it does not decide, because Demo 2 measured it as too weak.
3. The complexity measures (weight norm, effective rank, prequential code, LLC) never decide: a single model's
   value has no reference point (Demo 1 compares C and P on the same data). Each is reported with the
   direction Demo 1 reads it in and whether Demo 1's interval excludes 0.5 at the nearest number of regimes B.

Guard (Demo 1): a model given the sub-period's identity as an input can fit every sub-period's own mean and look
invariant (Demo 1's IRMv1 ranks the lookup P *below* the rule C, and its irmv1_z2 is ~0.1 at B = 16). So when a
linear probe reads the sub-period off the inputs (training accuracy ≥ `NAMES_PERIOD_ACCURACY`), the environment
measures cannot read the model either, and the answer is again **not identifiable from training data**, saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import metric_names as names
from ..checks import check_choice, check_integer
from ..errors import ConfigError
from ..models.mlp_stack import MLPStack
from ..monitor import Monitor, MonitorSettings
from ..monitor.ablation import FeatureGroups
from ..monitor.environments import scale_derivatives
from ..monitor.features import Features
from ..monitor.gaussian_code import gaussian_prequential_length, ridge_probe_fit
from ..monitor.stacked import PerExampleLoss, StackedModel, stack
from .measures import REGIME_SGLD
from .models import Members, TrainSettings, mse, train_zoo
from .shortcut import MULTI_PERIOD, SINGLE_PERIOD
from .synthetic import RegimeSpec

ANSWERS = ("compressed", "photographed", "not identifiable from training data")
# Demo 2 (docs/regime.md, "Demo 2"): with one sub-period nothing separates the rule from the shortcut; the
# multi-period case has 4. Below 3 sub-periods an invariance across them is not a test of anything (the issue's
# "≥ 3 sub-periods in which the shortcut's relation changes").
MIN_ENVIRONMENTS = 3
# Training accuracy of a linear probe from the inputs to the sub-period at and above which the inputs name it.
# Demo 1's inputs (a one-hot id, 5% of rows mapped to the unknown slot) give 0.96-0.97 (B = 4, 16; 8 seeds);
# Demo 2 full's [state, shortcut] inputs give at most 0.55 (MULTI_PERIOD, 24 seeds; chance 0.25).
NAMES_PERIOD_ACCURACY = 0.9
# irmv1_z2 above this reads "photographed". Demo 2 full (MULTI_PERIOD, 24 rule and 24 shortcut models, docs/regime.md):
# rule models' irmv1_z2 0.15-1.65 (median 0.61), shortcut models' 5.32-10.5 (median 7.9). Under invariance it is
# χ²_M / M, whose 99% quantile at M = 4 is 3.32: an invariant model at 4 sub-periods crosses 3.3 about 1% of the
# time, fewer at more sub-periods (2.5 at M = 8).
IRMV1_Z2_THRESHOLD = 3.3


def _per_environment(values: torch.Tensor, environments: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(mean, variance of the mean, count), each [E, M]: values [E, N] grouped by environments [E, N] in 0..M-1."""
    if environments.dtype not in (torch.int32, torch.int64) or bool((environments < 0).any()):
        raise ConfigError("environments: must be non-negative integer labels, one per example")
    onehot = torch.nn.functional.one_hot(environments.long(), int(environments.max()) + 1).double()  # [E, N, M]
    x = values.double()
    count = onehot.sum(1)  # [E, M]
    mean = torch.einsum("enm,en->em", onehot, x) / count.clamp(min=1)  # [E, M]
    second = torch.einsum("enm,en->em", onehot, x.square()) / count.clamp(min=1)  # [E, M]
    var_of_mean = (second - mean.square()).clamp(min=0) / (count - 1).clamp(min=1)  # unbiased variance / n
    return mean, var_of_mean, count


def environment_statistics(outputs: torch.Tensor, labels: torch.Tensor, environments: torch.Tensor,
                           loss: PerExampleLoss) -> dict[str, torch.Tensor]:
    """[E] each: the environment measures in units of their own sampling noise, and the number of environments.

    - `irmv1_z2` = Σ_e (g_e / se_e)² / M, g_e the mean dummy-scale derivative of environment e (IRMv1, Arjovsky
      et al. 2019), se_e its standard error over e's examples: a Wald statistic that every environment's
      gradient is 0, χ²_M / M (mean 1) when the model's outputs are optimally scaled in every environment.
    - `risk_heterogeneity` = Q / (M − 1), Cochran's Q (Cochran 1954) of the per-environment risks R_e with their
      standard errors: Q = Σ_e (R_e − R̄)² / se_e², R̄ the inverse-variance weighted mean; χ²_{M−1} / (M − 1)
      (mean 1) when every environment has the same risk (V-REx's variance, Krueger et al. 2021, in noise
      units). 0 with one environment.
    Environments with fewer than 2 examples of a member are left out.

    Args:
        outputs: [E, N, ...] the model's outputs on its training rows. labels: [E, N, ...].
        environments: [E, N] int64. loss: per-example loss -> [E, N].
    """
    g, g_var, count = _per_environment(scale_derivatives(outputs, labels, loss), environments)
    risk, risk_var, _ = _per_environment(loss(outputs.detach(), labels), environments)
    present = count >= 2  # [E, M]
    m = present.sum(1).double()  # [E]
    tiny = torch.finfo(torch.float64).tiny
    z2 = torch.where(present, g.square() / g_var.clamp(min=tiny), 0).sum(1) / m.clamp(min=1)
    w = torch.where(present, 1 / risk_var.clamp(min=tiny), 0)  # [E, M]
    pooled = (w * risk).sum(1) / w.sum(1)  # [E]
    q = (w * (risk - pooled[:, None]).square()).sum(1)
    heterogeneity = torch.where(m > 1, q / (m - 1).clamp(min=1), 0.0)  # one environment: exactly 0, not rounding
    return {"irmv1_z2": z2, "risk_heterogeneity": heterogeneity, "n_environments": m}


def period_probe_accuracy(inputs: torch.Tensor, environments: torch.Tensor) -> torch.Tensor:
    """[E] training accuracy of least squares from the inputs (flattened, with an intercept) to the one-hot
    sub-period: how well each member's inputs name the sub-period (1: exactly, as Demo 1's id columns do).

    Args:
        inputs: [E, N, ...] each member's training inputs. environments: [E, N] int64.
    """
    x = inputs.reshape(*inputs.shape[:2], -1).double()
    x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)  # [E, N, d + 1]
    target = torch.nn.functional.one_hot(environments.long()).double()  # [E, N, M]
    coef = torch.linalg.lstsq(x, target).solution  # [E, d + 1, M]
    return ((x @ coef).argmax(-1) == environments).double().mean(1)


# Demo 1's full grid (docs/regime.md): AUROC of P (the lookup) vs C (the rule) with its 95% interval, per B, and
# the direction a larger value reads (P above C: larger = photographed). B = 128 kept too few pairs.
DEMO1_FULL: dict[str, dict[int, tuple[float, float, float]]] = {
    "llc": {2: (0.28, 0.14, 0.46), 4: (0.43, 0.25, 0.61), 8: (0.39, 0.21, 0.57), 16: (0.48, 0.31, 0.65),
            32: (0.49, 0.30, 0.68), 64: (0.67, 0.48, 0.83)},
    "prequential_bits": {2: (0.49, 0.33, 0.69), 4: (0.49, 0.32, 0.66), 8: (0.49, 0.33, 0.65),
                         16: (0.46, 0.30, 0.63), 32: (0.54, 0.36, 0.71), 64: (0.79, 0.64, 0.91)},
    "prequential_bits_time": {2: (0.56, 0.36, 0.73), 4: (0.59, 0.41, 0.75), 8: (0.55, 0.37, 0.72),
                              16: (0.54, 0.36, 0.70), 32: (0.66, 0.50, 0.81), 64: (0.85, 0.69, 0.96)},
    "regime_specificity_bits": {2: (0.57, 0.39, 0.73), 4: (0.58, 0.40, 0.75), 8: (0.53, 0.35, 0.71),
                                16: (0.57, 0.39, 0.71), 32: (0.71, 0.55, 0.85), 64: (0.75, 0.58, 0.90)},
    "weight_norm": {2: (0.44, 0.27, 0.62), 4: (0.80, 0.66, 0.93), 8: (0.95, 0.87, 1.00), 16: (1.00, 1.00, 1.00),
                    32: (1.00, 1.00, 1.00), 64: (1.00, 1.00, 1.00)},
    "effective_rank": {2: (0.50, 0.33, 0.68), 4: (0.49, 0.29, 0.66), 8: (0.69, 0.53, 0.84),
                       16: (0.87, 0.73, 0.97), 32: (1.00, 1.00, 1.00), 64: (1.00, 1.00, 1.00)},
    "risk_variance": {2: (0.50, 0.34, 0.68), 4: (0.50, 0.33, 0.66), 8: (0.49, 0.34, 0.65), 16: (0.50, 0.34, 0.67),
                      32: (0.49, 0.32, 0.67), 64: (0.47, 0.28, 0.66)},
    "irmv1_penalty": {2: (0.52, 0.35, 0.71), 4: (0.17, 0.06, 0.31), 8: (0.13, 0.05, 0.25), 16: (0.01, 0.00, 0.04),
                      32: (0.01, 0.00, 0.04), 64: (0.00, 0.00, 0.00)},
}
# Demo 2 (docs/regime.md, "Demo 2", full preset): AUROC of the shortcut model vs the rule model, per number of
# sub-periods M (1: SINGLE_PERIOD, 4: MULTI_PERIOD).
DEMO2_FULL: dict[str, dict[int, tuple[float, float, float]]] = {
    "llc": {1: (0.26, 0.13, 0.41), 4: (0.93, 0.86, 0.99)},
    "prequential_bits": {1: (0.49, 0.33, 0.65), 4: (0.50, 0.33, 0.66)},
    "prequential_bits_time": {1: (0.51, 0.35, 0.68), 4: (0.47, 0.30, 0.63)},
    "regime_specificity_bits": {1: (0.56, 0.41, 0.72), 4: (0.46, 0.31, 0.61)},
    "weight_norm": {1: (0.22, 0.10, 0.37), 4: (0.97, 0.92, 1.00)},
    "effective_rank": {1: (0.53, 0.36, 0.69), 4: (0.07, 0.01, 0.16)},
    "risk_variance": {1: (0.50, 0.50, 0.50), 4: (0.55, 0.38, 0.72)},
    "irmv1_penalty": {1: (0.49, 0.32, 0.65), 4: (1.00, 1.00, 1.00)},
    "irmv1_z2": {1: (0.49, 0.32, 0.66), 4: (1.00, 1.00, 1.00)},
    "risk_heterogeneity": {1: (0.50, 0.50, 0.50), 4: (0.52, 0.34, 0.68)},
}


@dataclass(frozen=True)
class Evidence:
    """One row of a verdict's evidence.

    measure: its name; value: this model's value (NaN: not measured, see reason); reading: what a larger value
    means, per Demos 1 and 2; trust: what Demos 1 and 2 measured at the nearest number of sub-periods; role:
    "decides", "guard", "supporting" or "context"; reason: one sentence.
    """

    measure: str
    value: float
    reading: str
    trust: str
    role: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The answer (one of ANSWERS), the number of sub-periods it rests on, the rule it applied, and its evidence."""

    answer: str
    n_periods: int
    reason: str
    evidence: tuple[Evidence, ...]
    rule: str = ""

    def to_dict(self) -> dict:
        return {"answer": self.answer, "n_periods": self.n_periods, "reason": self.reason, "rule": self.rule,
                "evidence": [{**vars(e), "value": None if math.isnan(e.value) else e.value} for e in self.evidence]}

    def to_markdown(self) -> str:
        lines = [f"**Verdict: {self.answer}** ({self.n_periods} sub-period{'s' * (self.n_periods != 1)})", "",
                 self.reason, "", "| measure | value | role | a larger value reads | trust (Demos 1, 2) | why |",
                 "|---|---|---|---|---|---|"]
        for e in self.evidence:
            value = "–" if math.isnan(e.value) else f"{e.value:.4g}"
            lines.append(f"| {e.measure} | {value} | {e.role} | {e.reading} | {e.trust} | {e.reason} |")
        return "\n".join(lines + ["", f"Rule: {self.rule}"]) + "\n"


RULE = (f"fewer than {MIN_ENVIRONMENTS} sub-periods, or inputs that name the sub-period (linear probe accuracy "
        f">= {NAMES_PERIOD_ACCURACY}): not identifiable from training data; else photographed if irmv1_z2 > "
        f"{IRMV1_Z2_THRESHOLD:g}, compressed otherwise; every other measure is evidence, never the decision.")

# measure -> (what a larger value reads, per Demos 1 and 2; its role)
READINGS = {
    "irmv1_z2": ("photographed: the relation changes across sub-periods (Demo 2: shortcut above rule)", "decides"),
    "risk_heterogeneity": ("photographed in principle; separated nothing in Demo 2, and noise that differs by "
                           "sub-period inflates it (Demo 1's regimes)", "context"),
    "irmv1_penalty": ("photographed in Demo 2 (shortcut above rule), compressed in Demo 1 (P below C)", "context"),
    "risk_variance": ("nothing: separated nothing in Demos 1 and 2", "context"),
    "weight_norm": ("photographed in Demo 1 (P above C) and in Demo 2 at 4 sub-periods; at 1 the shortcut model is "
                    "lower (the simpler description)", "supporting"),
    "effective_rank": ("photographed in Demo 1 (P above C); compressed in Demo 2 at 4 sub-periods (shortcut below)",
                       "supporting"),
    "prequential_bits": ("photographed in Demo 1 at B ≥ 64 (P above C); nothing in Demo 2", "supporting"),
    "prequential_bits_time": ("photographed in Demo 1 at B ≥ 64 (P above C); nothing in Demo 2", "supporting"),
    "regime_specificity_bits": ("photographed in Demo 1 at B ≥ 32 (P above C); nothing in Demo 2", "supporting"),
    "llc": ("compressed in Demo 1 at B = 2 and Demo 2 at 1 sub-period (lookup, shortcut below); photographed in "
            "Demo 2 at 4 (shortcut above)", "supporting"),
}


def _nearest(table: dict[int, tuple[float, float, float]], m: int) -> int:
    return min(table, key=lambda b: (abs(math.log(b) - math.log(max(m, 1))), b))


def trust(measure: str, n_periods: int) -> str:
    """What Demos 1 and 2 measured for `measure` at the number of regimes nearest to n_periods (log scale)."""
    parts = []
    for demo, table, symbol in (("Demo 1", DEMO1_FULL, "B"), ("Demo 2", DEMO2_FULL, "M")):
        if measure not in table:
            parts.append(f"{demo}: not measured")
            continue
        at = _nearest(table[measure], n_periods)
        value, low, high = table[measure][at]
        verdict = "separates" if low > 0.5 or high < 0.5 else "does not separate"
        parts.append(f"{demo} at {symbol} = {at}: {value:.2f} [{low:.2f}, {high:.2f}], {verdict}")
    return "; ".join(parts)


def regime_verdict(model: nn.Module | StackedModel, train_inputs: torch.Tensor, train_targets: torch.Tensor, *,
                   time_order: torch.Tensor, environments: torch.Tensor | None = None,
                   per_example_loss: PerExampleLoss = mse, feature_groups: FeatureGroups | None = None,
                   features: Features | None = None, llc: bool = False, seed: int = 0) -> Verdict:
    """Compressed, photographed or not identifiable from training data: one model's verdict and its evidence.

    The rule is the module docstring's (and `RULE`). Only the training rows are read.

    Args:
        model: one model: an MLPStack of one member (`stack.member(e)`), any StackedModel of one member, or any
            nn.Module (in eval mode).
        train_inputs: [N, ...] its training inputs. train_targets: [N, ...].
        time_order: [N] the time of each row (the prequential code in time order).
        environments: [N] int64 sub-period of each row (None: one undivided training era).
        per_example_loss: loss(outputs [E, B, ...], targets [E, B, ...]) -> [E, B] (default: squared error of a
            one-output regression, [E, B, 1] against [E, B]).
        feature_groups: name -> input columns, for the route ablation rows (context only).
        features: features(inputs [E, N, ...]) -> [E, N, d] for the effective rank and the prequential code
            (default for an MLPStack: its last hidden layer; otherwise those rows are left out).
        llc: also estimate the LLC (REGIME_SGLD; a few seconds).
        seed: of the prequential shuffle and the ablation permutation.

    Raises:
        ConfigError: a model of more than one member, or inputs that do not match it.
    """
    is_module = isinstance(model, nn.Module)
    n_members = stack(model).n_members
    if n_members != 1:
        raise ConfigError(f"model: one model per verdict, got {n_members} members; pass model.member(e)")
    if features is None and isinstance(model, MLPStack):
        features = model.hidden
    x, y = (train_inputs, train_targets) if is_module else (train_inputs[None], train_targets[None])
    monitor = Monitor(model, per_example_loss, x, y, environments=environments, time_order=time_order,
                      feature_groups=feature_groups, features=features,
                      settings=MonitorSettings(llc=REGIME_SGLD, seed=seed))
    asked = ["weight_norm"] + ["effective_rank"] * (features is not None) + ["vrex", "irmv1"] * (
        environments is not None) + ["route_ablation"] * (feature_groups is not None) + ["llc"] * llc
    got = monitor.measure(asked, 0).values
    values = {m: float(got[key][0]) for m, key in (
        ("weight_norm", names.WEIGHT_NORM), ("effective_rank", names.EFFECTIVE_RANK), ("llc", names.LLC),
        ("risk_variance", names.RISK_VARIANCE), ("irmv1_penalty", names.IRMV1_PENALTY)) if key in got}
    if features is not None:
        code = gaussian_prequential_length(monitor.data, ridge_probe_fit(features), time_order=monitor.time_order,
                                           seed=seed)
        values |= {"prequential_bits": float(code.shuffled.bits[0]), "prequential_bits_time": float(code.time.bits[0]),
                   "regime_specificity_bits": float(code.regime_specificity_bits[0])}
    n_periods, probe = 1, float("nan")
    if environments is not None:
        with torch.no_grad():
            outputs = monitor.stack.outputs(monitor.stack.parameters(), monitor.data.inputs)  # [1, N, ...]
        stats = environment_statistics(outputs, monitor.data.labels, monitor.environments, per_example_loss)
        values |= {k: float(stats[k][0]) for k in ("irmv1_z2", "risk_heterogeneity")}
        n_periods = int(stats["n_environments"][0])
        if n_periods >= 2:
            probe = float(period_probe_accuracy(monitor.data.inputs, monitor.environments)[0])
    answer, reason = decide(n_periods, probe, values.get("irmv1_z2", float("nan")))
    evidence = [Evidence("sub-periods", float(n_periods), f"≥ {MIN_ENVIRONMENTS} needed for any verdict",
                         "Demo 2: at 1, no measure tells the rule from the shortcut", "guard",
                         "the environments present in the training rows (≥ 2 rows each)"),
                Evidence("period_probe_accuracy", probe, f"≥ {NAMES_PERIOD_ACCURACY}: the inputs name the sub-period",
                         "Demo 1: a lookup fits every sub-period and looks invariant", "guard",
                         "linear probe from the inputs to the sub-period, training rows" if not math.isnan(probe)
                         else "needs ≥ 2 sub-periods")]
    for measure in READINGS:
        if measure in values:
            reading, role = READINGS[measure]
            why = ("the decision" if role == "decides" and answer in ANSWERS[:2] else
                   "not applied: " + reason if role == "decides" else
                   "never decides: a single model's value has no reference point" if role == "supporting" else
                   "reported beside the decision")
            evidence.append(Evidence(measure, values[measure], reading, trust(measure, n_periods), role, why))
    if feature_groups is not None:
        for g, group in enumerate(monitor.group_names):
            evidence.append(Evidence(f"train_ablation_{group}", float(got[names.ROUTE_ABLATION][0, g]),
                                     "the model uses this input group", "Demos 1, 2: shows the route, not which "
                                     "route is right", "context", "needs to know which columns are the rule's"))
    return Verdict(answer, n_periods, reason, tuple(evidence), RULE)


def decide(n_periods: int, probe: float, irmv1_z2: float) -> tuple[str, str]:
    """(answer, reason) under RULE."""
    if n_periods < MIN_ENVIRONMENTS:
        return ANSWERS[2], (f"{n_periods} sub-period{'s' * (n_periods != 1)} in the training rows (< "
                            f"{MIN_ENVIRONMENTS}): a shortcut as correct as the rule inside them is indistinguishable "
                            f"from it (Demo 2)")
    if probe >= NAMES_PERIOD_ACCURACY:
        return ANSWERS[2], (f"the inputs name the sub-period (probe accuracy {probe:.2f}): a lookup of the "
                            f"sub-period fits each one and looks invariant (Demo 1), so the environment measures "
                            f"cannot read this model")
    if irmv1_z2 > IRMV1_Z2_THRESHOLD:
        return ANSWERS[1], (f"irmv1_z2 = {irmv1_z2:.2f} > {IRMV1_Z2_THRESHOLD:g}: the model's outputs are "
                            f"mis-scaled differently in different sub-periods, its relation changes with them")
    return ANSWERS[0], (f"irmv1_z2 = {irmv1_z2:.2f} ≤ {IRMV1_Z2_THRESHOLD:g}: the model's relation holds in every "
                        f"one of the {n_periods} sub-periods, within sampling noise")


# The generated cases `grokscope regime verdict --case` trains a model on (Demo 1's at B = 16 sub-periods).
VERDICT_CASES = ("single-period", "multi-period", "demo1")
# Demo 2's names for Demo 1's kinds: the rule model (C), the shortcut or lookup model (P), a plain model (E).
VERDICT_KINDS = {"rule": "C", "shortcut": "P", "plain": "E"}


def case_verdict(case: str, kind: str = "shortcut", *, seed: int = 0, settings: TrainSettings = TrainSettings()
                 ) -> Verdict:
    """Train one model of `kind` on a generated case and return its verdict (the truth stays out of it).

    Args:
        case: "single-period" or "multi-period" (Demo 2's SINGLE_PERIOD, MULTI_PERIOD) or "demo1" (Demo 1's
            regimes, B = 16, where the inputs carry the regime id).
        kind: "rule", "shortcut" or "plain" (Demo 1's C, P, E; in the demo1 case the shortcut is the id lookup).
        seed: the model's sample, initialization and training randomness.
        settings: training settings (weight decay 0.1, init scale 1, as Demos 1 and 2's pairs).
    """
    check_choice("case", case, VERDICT_CASES)
    check_choice("kind", kind, tuple(VERDICT_KINDS))
    check_integer("seed", seed, 0)
    spec = {"single-period": SINGLE_PERIOD, "multi-period": MULTI_PERIOD, "demo1": RegimeSpec(n_regimes=16)}[case]
    zoo = train_zoo(spec, Members((VERDICT_KINDS[kind],), (seed,), (0.1,), (1.0,)), settings)
    data = zoo.data
    return regime_verdict(zoo.model, data.train_x[0], data.train_y[0], time_order=data.train_time[0],
                          environments=data.train_regime[0], feature_groups=data.groups)
