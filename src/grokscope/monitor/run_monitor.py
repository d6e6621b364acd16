"""`grokscope monitor RUN`: the monitor's measures at a run's weights checkpoints, written into its metrics store.

Each member is measured on its own training pairs only (its split, with its label noise), never on
held-out pairs. Members whose training sets have the same size share one Monitor (one batched tensor
program); a symmetric split gives members sets that differ by a pair or two (the tiny preset: 768 or
769 of 961), so a run forms a few such groups, each measured exactly on its members' full sets, with
no subsampling. Groups hold at most MAX_GROUP members, to bound memory.

Cadence: cheap measures at every `every`-th weights checkpoint; the expensive ones (LLC, prequential)
at every `expensive_every`-th, by default about EXPENSIVE_POINTS checkpoints (the checkpoints are
log-spaced, so these are too); the last checkpoint always. Everything is computed first and written
in one transaction that replaces the measures' earlier rows, so a second pass never duplicates rows
and an interrupted one leaves the store as it was. The run directory's writer lock is held throughout:
a run still training (its trainer holds the lock) is refused with RunLockedError.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

import torch

from .. import metric_names as names
from ..dataset import RunData
from ..errors import ConfigError
from ..models import Ensemble
from ..store.checkpoints import checkpoint_path, load_weights
from ..store.metrics import MetricsStore
from ..store.run_dir import RunLock
from ..tasks import OPERAND_POSITIONS, StoredTable
from ..training import resolve_device
from ..training.loss import per_example_loss
from .features import Features
from .inputs import TrainingData, require
from .monitor import Monitor, MonitorSettings
from .probe import ProbeSettings, linear_probe_fit
from .registry import DEFAULT_MEASURES, EXPENSIVE, MEASURES
from .sgld import SGLDSettings

if TYPE_CHECKING:
    from ..config import RunConfig
    from ..run import Run

EXPENSIVE_POINTS = 8
MAX_GROUP = 16
DEVICES = ("cpu", "cuda", "auto")
META_KEY = "monitor"  # the meta table's record of the last pass: options, measures, steps


@dataclass(frozen=True)
class MonitorOptions:
    """What `grokscope monitor` measures, where, and at which settings.

    measures: names from registry.MEASURES (default DEFAULT_MEASURES; vrex and irmv1 need environment
        labels, which a grokscope run does not have, and are refused).
    every: cheap measures at every `every`-th weights checkpoint (1: all), the last always.
    expensive_every: LLC and prequential at every `expensive_every`-th; None: ⌈C / EXPENSIVE_POINTS⌉
        for C checkpoints, i.e. about 8 of them.
    steps: explicit checkpoint steps at which every measure runs (overrides every, expensive_every).
    llc: SGLD settings (None: the run's task default, `default_llc`); llc_chains: chains per member (seeds
        0..chains-1).
    hook: the activation whose features effective rank and the prequential probe read, at the scored
        positions (None: the last MLP's neurons, `blocks.{L-1}.mlp.hook_post`, `mlp.hook_post`, or the
        mlp_stack's last hidden layer `layers.{L-1}.hook_post`).
    probe: the prequential probe's settings. device: cpu, cuda or auto.
    """

    measures: tuple[str, ...] = DEFAULT_MEASURES
    every: int = 1
    expensive_every: int | None = None
    steps: tuple[int, ...] | None = None
    llc: SGLDSettings | None = None
    llc_chains: int = 2
    hook: str | None = None
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    device: str = "cpu"

    def __post_init__(self) -> None:
        measures = tuple(dict.fromkeys(self.measures))  # order kept, repeats dropped
        if not measures:
            raise ConfigError(f"measures: name at least one of {', '.join(MEASURES)}")
        unknown = [m for m in measures if m not in MEASURES]
        if unknown:
            raise ConfigError(f"measures: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(MEASURES)}")
        object.__setattr__(self, "measures", measures)
        for name in ("every", "expensive_every", "llc_chains"):
            value = getattr(self, name)
            if value is None and name == "expensive_every":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        if self.steps is not None:
            if not self.steps or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.steps):
                raise ConfigError(f"checkpoints: must be 'all' or checkpoint steps (non-negative integers), "
                                  f"got {self.steps!r}")
            object.__setattr__(self, "steps", tuple(sorted(set(self.steps))))
        if self.device not in DEVICES:
            raise ConfigError(f"device: must be one of {', '.join(DEVICES)}, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Calibrated on the digits MLP under MSE (calibrate_llc; docs/digits.md, "LLC settings"): L_n is ~100x smaller than a
# cross-entropy's and the x8 members' gradients are large, so ε is 30x smaller and nβ 15x larger than the grokking
# defaults. ε 1e-4 or nβ 1,000 blew up x8 chains; none of ε 1e-5..3e-4 was ε-stable (values ~2x per 3x ε).
DIGITS_MSE_LLC = SGLDSettings(epsilon=3e-5, nbeta=300.0, gamma=100.0, batch_size=200, burn_in=50, draws=200)
# Calibrated on the regime demos' MLP under the squared error (docs/regime.md, "LLC settings"): at nβ 20 the values move
# < 25% from ε 3e-4 to 3e-3 and ε 3e-3 flagged no chain (minibatch noise of an MSE near 1.7-2.7 per example flags
# slower chains as drifting down); nβ = n/ln n ≈ 405 moved 2-30x with ε and blew up at 3e-3.
TABLE_LLC = SGLDSettings(epsilon=3e-3, nbeta=20.0, gamma=100.0, batch_size=256, burn_in=100, draws=200)
TABLE_PREQUENTIAL = ("prequential: a stored table's target is a real number, whose code length is the Gaussian one "
                     "(monitor.gaussian_code, as the regime demos measure it); grokscope monitor's probe codes classes")


def default_llc(config: "RunConfig") -> SGLDSettings:
    """The SGLD settings a run's LLC uses unless told otherwise: the digits MLP's calibration under MSE, Omnigrok's
    batch of 200 under its cross-entropy (not calibrated), the monitor's grokking defaults elsewhere."""
    if config.task == "digits":
        return DIGITS_MSE_LLC if config.loss == "mse" else SGLDSettings(batch_size=200)
    if config.task == "table":
        return TABLE_LLC
    return SGLDSettings()


LLC_FIELDS = ("epsilon", "nbeta", "gamma", "batch_size", "burn_in", "draws", "chains")


def for_run(options: MonitorOptions, config: "RunConfig") -> MonitorOptions:
    """The options as they apply to a run: its default LLC settings where unset, and the default measures without
    route ablation where the inputs have no operands to ablate (digits' pixels, sparse parity's bits; named
    explicitly, it is refused by name); a stored table's default measures keep its route ablation (its feature
    groups) and leave out the classification probe's prequential code (refused by name)."""
    measures = options.measures
    table = config.task == "table"
    if measures == DEFAULT_MEASURES and config.resolved("layout") not in OPERAND_POSITIONS and not table:
        measures = tuple(m for m in measures if m != "route_ablation")
    if table and "prequential" in measures:
        if measures != DEFAULT_MEASURES:
            raise ConfigError(TABLE_PREQUENTIAL)
        measures = tuple(m for m in measures if m != "prequential")
    return replace(options, measures=measures, llc=options.llc or default_llc(config))


def llc_settings(changes: dict[str, Any], base: SGLDSettings | None = None) -> tuple[SGLDSettings, int]:
    """(SGLDSettings, chains) from `base` (default: the grokking defaults) with `changes` (field -> number;
    batch_size None = full batch), every field checked by name (`grokscope monitor --llc-set FIELD=VALUE`)."""
    for key, value in changes.items():
        if key not in LLC_FIELDS:
            raise ConfigError(f"llc-set: unknown field {key!r}; choose from {', '.join(LLC_FIELDS)}")
        integer = key in ("batch_size", "burn_in", "draws", "chains")
        allowed = (int,) if integer else (int, float)
        if not (value is None and key == "batch_size") and (isinstance(value, bool) or not isinstance(value, allowed)):
            kind = "an integer" + (" or null (full batch)" if key == "batch_size" else "") if integer else "a number"
            raise ConfigError(f"llc-set: {key} must be {kind}, got {value!r}")
    fields = {k: v for k, v in changes.items() if k != "chains"}
    return replace(base or SGLDSettings(), **fields), changes.get("chains", MonitorOptions.llc_chains)


@dataclass
class MonitorReport:
    """What a pass measured and what it cost.

    plan: measure -> checkpoint steps measured. seconds: measure -> step -> wall-clock seconds (all
    members). llc_flagged: (member, step, reason) of each LLC estimate written as missing, reason
    "drifted_down" or "blew_up". llc_estimates: member × checkpoint LLC estimates made.
    rows: scalar rows written; vector_rows: vector rows written; groups: members measured together.
    """

    path: str
    plan: dict[str, list[int]]
    seconds: dict[str, dict[int, float]]
    llc_flagged: list[tuple[int, int, str]]
    llc_estimates: int
    rows: int
    vector_rows: int
    groups: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        mean = {m: (sum(s.values()) / len(s) if s else None) for m, s in self.seconds.items()}
        return {"path": self.path, "plan": self.plan, "groups": self.groups,
                "seconds": {m: {str(k): v for k, v in s.items()} for m, s in self.seconds.items()},
                "seconds_per_checkpoint": mean, "llc_estimates": self.llc_estimates,
                "llc_flagged": [{"member": e, "step": s, "reason": r} for e, s, r in self.llc_flagged],
                "rows": self.rows, "vector_rows": self.vector_rows}


def plan_checkpoints(steps: list[int], options: MonitorOptions) -> dict[str, list[int]]:
    """measure -> the checkpoint steps it runs at (see the module docstring). effective_lr skips the first
    checkpoint (it has no predecessor)."""
    count = len(steps)
    if options.steps is not None:
        missing = [s for s in options.steps if s not in steps]
        if missing:
            raise ConfigError(f"checkpoints: no weights checkpoint at step {missing[0]}; the run has them at {steps}")
        chosen = {m: list(options.steps) for m in options.measures}
    else:
        expensive_every = options.expensive_every or math.ceil(count / EXPENSIVE_POINTS)
        chosen = {}
        for m in options.measures:
            stride = expensive_every if m in EXPENSIVE else options.every
            chosen[m] = [steps[i] for i in sorted(set(range(0, count, stride)) | {count - 1})]
    if "effective_lr" in chosen:
        chosen["effective_lr"] = [s for s in chosen["effective_lr"] if s != steps[0]]
        if not chosen["effective_lr"]:
            raise ConfigError(f"effective_lr: needs previous (a preceding weights checkpoint); no checkpoint chosen has "
                              f"one (checkpoints at {steps})")
    return chosen


def member_groups(data: RunData, max_group: int = MAX_GROUP) -> list[tuple[list[int], TrainingData]]:
    """Members with training sets of equal size, in groups of at most max_group, each with its training
    pairs: inputs [G, N, pos] and the labels the members train on [G, N, n_out] (label noise included),
    rows in the pair table's order."""
    by_size: dict[int, list[int]] = {}
    for e, n in enumerate(data.n_train.tolist()):
        by_size.setdefault(int(n), []).append(e)
    groups = []
    for members in by_size.values():
        for start in range(0, len(members), max_group):
            chunk = members[start:start + max_group]
            index = torch.tensor(chunk, device=data.train_mask.device)
            rows = data.train_mask[index].nonzero()[:, 1].view(len(chunk), -1)  # [G, N]: every row has N pairs
            targets = data.targets[rows] if data.train_targets is None else \
                data.train_targets[index[:, None], rows]  # [G, N, n_out]
            own = isinstance(data.table, StoredTable)  # a stored table: each member's own rows
            groups.append((chunk, TrainingData(data.inputs[index[:, None], rows] if own else data.inputs[rows], targets)))
    return groups


def ensemble_features(ensemble: Ensemble, hook: str, position: int | None = -1) -> Features:
    """Features of an Ensemble: the activation named `hook` (TransformerLens names, e.g.
    `blocks.0.mlp.hook_post`), at sequence `position` when the activation has a position axis."""

    def features(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            _, cache = ensemble.run_with_cache(inputs)
        if hook not in cache:
            raise ConfigError(f"features: no activation {hook!r}; the model records {sorted(cache)}")
        acts = cache[hook]  # [E, N, pos, d] or [E, N, d]
        return acts[:, :, position] if acts.dim() == 4 and position is not None else acts

    return features


def default_hook(model: Ensemble) -> str:
    """The last MLP's neurons: `blocks.{L-1}.mlp.hook_post` (`mlp.hook_post` for the mlp arch, the last hidden
    layer `layers.{L-1}.hook_post` for mlp_stack)."""
    if model.spec.arch == "mlp_stack":
        return f"layers.{model.spec.n_layers - 1}.hook_post"
    return "mlp.hook_post" if model.spec.arch == "mlp" else f"blocks.{model.spec.n_layers - 1}.mlp.hook_post"


def readout_features(model: Ensemble, hook: str, positions: tuple[int, ...] | None, *, chunk: int = 4096) -> Features:
    """features(tokens [E, N, pos]) -> the activation `hook` at the scored positions: [E, N, len(positions), d],
    or [E, N, d] with positions None (the first scored position) or for an activation without a position
    axis. Evaluated in chunks of examples (memory)."""
    readout = model.spec.readout

    def features(inputs: torch.Tensor) -> torch.Tensor:
        parts = []
        with torch.no_grad():
            for start in range(0, inputs.shape[1], chunk):
                _, cache = model.run_with_cache(inputs[:, start:start + chunk])
                if hook not in cache:
                    raise ConfigError(f"hook: no activation {hook!r}; choose from {', '.join(sorted(cache))}")
                acts = cache[hook]  # [E, n, pos, d] or [E, n, d]
                if acts.dim() == 4:
                    acts = acts[:, :, readout[0]] if positions is None else acts[:, :, list(positions)]
                parts.append(acts)
        return torch.cat(parts, dim=1)

    return features


def _loss(run: Run) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    dtype, kind = getattr(torch, run.config.loss_dtype), run.config.loss
    return lambda logits, labels: per_example_loss(logits, labels, loss_dtype=dtype, loss=kind)  # noqa: E731


def _check_inputs(options: MonitorOptions, model: Ensemble, tokens: torch.Tensor) -> str:
    """Refuse measures whose inputs a grokscope run cannot supply; check the hook. Returns the hook."""
    for m in options.measures:
        if "environments" in MEASURES[m].needs:
            require(m, "environments", None, "an environment label per training example; a grokscope run has none: "
                    "use grokscope.monitor.Monitor(..., environments=...) from Python")
    hook = options.hook or default_hook(model)
    if {"effective_rank", "prequential"} & set(options.measures):
        with torch.no_grad():
            _, cache = model.members(slice(0, 1)).run_with_cache(tokens[:1])
        if hook not in cache:
            raise ConfigError(f"hook: no activation {hook!r}; choose from {', '.join(sorted(cache))}")
    return hook


def feature_groups(config: "RunConfig", data: RunData) -> dict[str, list[int]] | None:
    """The route ablation's feature groups of a run: a stored table's own (the regime demos: state and id), else
    the operand positions "a" and "b" (None for features and bits, which have no operands)."""
    if isinstance(data.table, StoredTable):
        return data.table.groups
    operands = OPERAND_POSITIONS.get(config.resolved("layout"))
    return None if operands is None else {"a": [operands[0]], "b": [operands[1]]}


def group_monitors(run: Run, model: Ensemble, groups: list[tuple[list[int], TrainingData]], options: MonitorOptions,
                   hook: str, route_groups: dict[str, list[int]] | None) -> list[tuple[list[int], Monitor]]:
    """One Monitor per group of members of a checkpoint's ensemble, with what a grokscope run supplies: its own
    loss (loss kind and dtype of the config), the features of `hook` (effective rank: the first scored position),
    the linear probe on them with K = d_vocab_out (prequential), `route_groups` as the feature groups (route
    ablation: feature_groups), and the LLC settings of `options` (the run's default_llc where unset)."""
    settings = MonitorSettings(llc=options.llc or default_llc(run.config), llc_seeds=tuple(range(options.llc_chains)))
    monitors = []
    for members, train in groups:
        view = model.members(torch.tensor(members, device=next(iter(model.params.values())).device))
        probe = linear_probe_fit(readout_features(view, hook, view.spec.readout), view.spec.d_vocab_out, options.probe)
        monitors.append((members, Monitor(view, _loss(run), train.inputs, train.labels, settings=settings,
                                          features=readout_features(view, hook, None), fit=probe,
                                          n_classes=view.spec.d_vocab_out,
                                          feature_groups=route_groups)))
    return monitors


def run_monitors(run: Run, step: int, options: MonitorOptions = MonitorOptions()) -> list[tuple[list[int], Monitor]]:
    """(members, Monitor) per group of members at checkpoint `step`, as `grokscope monitor` builds them: for
    `calibrate_llc(monitor.stack, monitor.data, monitor.loss, ...)` or a single measure. Row g of a Monitor's
    results is member members[g]."""
    options = for_run(options, run.config)
    device = resolve_device(options.device)
    data = run.data(device)
    model = run.model(step, device=str(device))
    return group_monitors(run, model, member_groups(data), options, _check_inputs(options, model, data.inputs),
                          feature_groups(run.config, data))


def _measure_checkpoint(monitors: list[tuple[list[int], Monitor]], measures: list[str], step: int,
                        previous: dict[str, torch.Tensor] | None, n_members: int):
    """values name -> [E] or [E, G], seconds measure -> s (all groups), flagged (member, step, reason)."""
    values: dict[str, torch.Tensor] = {}
    seconds: dict[str, float] = {}
    flagged = []
    for members, monitor in monitors:
        index = torch.tensor(members, device=monitor.data.inputs.device)
        before = None if previous is None else {k: v.to(index.device)[index] for k, v in previous.items()}
        result = monitor.measure(measures, step, previous=before)
        for name, value in result.values.items():
            full = values.setdefault(name, torch.full((n_members, *value.shape[1:]), math.nan, dtype=torch.float64,
                                                      device=index.device))
            full[index] = value.double()
        for m, s in result.seconds.items():
            seconds[m] = seconds.get(m, 0.0) + s
        if result.llc is not None:
            drifted, blew = result.llc.drifted_down.any(1).tolist(), result.llc.blew_up.any(1).tolist()
            flagged += [(e, step, "blew_up" if up else "drifted_down") for e, down, up in zip(members, drifted, blew)
                        if up or down]
    return values, seconds, flagged


def monitor_run(run: Run, options: MonitorOptions = MonitorOptions(), *,
                progress: Callable[[int, int, int], None] | None = None) -> MonitorReport:
    """Measure the run's weights checkpoints with the monitor and write the values into its metrics store.

    Args:
        run: a grokscope run (grokscope.load(path)).
        options: MonitorOptions (measures, cadence, LLC and probe settings).
        progress: called as progress(done, total, step) after each checkpoint.

    Returns:
        A MonitorReport: the plan, seconds per measure per checkpoint, the LLC estimates flagged.

    Raises:
        ConfigError: a run without weights checkpoints, a checkpoint step it does not have, a measure
            whose input the run cannot supply, an unknown hook (nothing is written).
        RunLockedError: another process writes the run (it is still training).
    """
    steps = run.checkpoint_steps()
    if not steps:
        raise ConfigError(f"run: {run.path} has no weights checkpoint to monitor; train it first")
    MetricsStore.check(run.path / "metrics.sqlite")  # before minutes of measuring, not after
    run.check_checkpoints()
    options = for_run(options, run.config)  # the record names what ran
    plan = plan_checkpoints(steps, options)
    device = resolve_device(options.device)
    data = run.data(device)
    hook = _check_inputs(options, run.model(steps[0], device=str(device)), data.inputs)
    groups, route_groups = member_groups(data), feature_groups(run.config, data)
    n_members = run.config.n_members
    todo = sorted({s for measured in plan.values() for s in measured})
    scalars: dict[int, dict[str, torch.Tensor]] = {}
    vectors: dict[int, dict[str, torch.Tensor]] = {}
    seconds: dict[str, dict[int, float]] = {m: {} for m in options.measures}
    flagged: list[tuple[int, int, str]] = []
    with RunLock(run.path):
        for done, step in enumerate(todo, 1):
            measures = [m for m in options.measures if step in plan[m]]
            before = steps[steps.index(step) - 1] if step != steps[0] else None
            previous = load_weights(checkpoint_path(run.path, before))[1] if "effective_lr" in measures else None
            monitors = group_monitors(run, run.model(step, device=str(device)), groups, options, hook, route_groups)
            values, costs, flags = _measure_checkpoint(monitors, measures, step, previous, n_members)
            if names.EFFECTIVE_LR in values:
                values[names.EFFECTIVE_LR_PER_STEP] = values[names.EFFECTIVE_LR] / (step - before)
            vectors[step] = {k: v for k, v in values.items() if v.dim() == 2}
            scalars[step] = {k: v for k, v in values.items() if v.dim() == 1}
            for m, s in costs.items():
                seconds[m][step] = s
            flagged += flags
            if progress is not None:
                progress(done, len(todo), step)
        record = {"options": options.to_dict(), "plan": plan, "hook": hook,
                  "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with MetricsStore(run.path / "metrics.sqlite") as store:
            store.replace_metrics([n for m in options.measures for n in MEASURES[m].metrics], scalars, vectors,
                                  meta={META_KEY: json.dumps(record)})
    rows = sum(len(v) * n_members for v in scalars.values())
    vector_rows = sum(v.numel() for values in vectors.values() for v in values.values())
    return MonitorReport(path=str(run.path), plan=plan, seconds=seconds, llc_flagged=sorted(flagged),
                         llc_estimates=n_members * len(plan.get("llc", [])), rows=rows, vector_rows=vector_rows,
                         groups=[members for members, _ in groups])
