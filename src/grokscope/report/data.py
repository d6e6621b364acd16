"""Everything a report shows, read from a run directory into one JSON-ready dict.

Numbers travel as float32 arrays in base64 (`packed`), about a third of their JSON text: a report of
a 256-member run stays a few megabytes. Missing values (a measure not logged at a step, a member
frozen after diverging) are NaN, which the page draws as gaps.

Scalars are kept for every member; the page draws each member's line for small ensembles and, for
large ones, the median and a 10–90% band with any single member on demand. Vector data (W_E's
Fourier spectrum per evaluation) is kept for the first `SPECTRUM_MEMBERS` members and as the median
over all. The model-reading panels (the clock over checkpoints, neurons and attention on the (a, b)
grid, the mechanistic report) show one member, `focus`. Where the members form more than one arm,
`grokscope compare`'s table and per-arm curves of the fraction generalized come along (`arms`); where
softmax collapse stopped members, the words `grokscope show` prints (`collapse`). The monitor's series
(`grokscope monitor`) are scalar curves of the "monitor" panel, drawn like the others where they exist.
Where a run's mirror-held-out series equal its test series (a symmetric split), one curve stands for
both and `mirror_note` says why.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from .. import metric_names as names
from ..analysis.compare import arm_fields, compare, generalized_fraction
from ..instruments.fourier import neuron_frequency_fve
from ..instruments.grid import additive_grid, skip_note
from ..instruments.mechanism import (
    CLUSTERED_FVE,
    analyze_member,
    clock_coordinates,
    clock_plane,
)
from ..instruments.retro import neurons_on_grid
from ..operations import task_title
from ..run import Run
from ..store.checkpoints import checkpoint_path, load_weight_of_member
from ..tasks import OPERAND_POSITIONS
from ..version import __version__
from ..words import collapse_lines, summary_lines

SPECTRUM_MEMBERS = 16
MIRROR_TWINS = ((names.TEST_LOSS, names.MIRROR_LOSS), (names.TEST_ACC, names.MIRROR_ACC))
MIRROR_NOTE = ("symmetric split: every held-out pair's mirror is held out, so mirror-held-out loss and accuracy "
               "equal the test ones; one curve shows both")
MAX_KEY_PANELS = 6  # clock planes and neuron grids drawn at most (a grokked model has at most 6 key frequencies)

# (panel, metric, label): the order in which the page draws scalar panels and lines.
CURVES = [
    ("loss", names.TRAIN_LOSS, "train loss"), ("loss", names.TEST_LOSS, "test loss"),
    ("loss", names.MIRROR_LOSS, "test loss (mirror held out)"), ("loss", names.SHIFT_LOSS, "shift-era loss"),
    ("shift", names.SHIFT_FAILURE, "failure (shift loss / test loss)"),
    ("shift", names.SHIFT_EXCESS_FAILURE, "excess failure (over the true rule's)"),
    ("accuracy", names.TRAIN_ACC, "train accuracy"), ("accuracy", names.TEST_ACC, "test accuracy"),
    ("accuracy", names.MIRROR_ACC, "test accuracy (mirror held out)"),
    ("progress", names.TRAIN_LOSS, "train loss"), ("progress", names.TEST_LOSS, "test loss"),
    ("progress", names.RESTRICTED_LOSS, "restricted loss (final keys)"),
    ("progress", names.EXCLUDED_LOSS, "excluded loss (final keys)"),
    ("progress", names.RESTRICTED_LOSS_LIVE, "restricted loss (live keys)"),
    ("progress", names.EXCLUDED_LOSS_LIVE, "excluded loss (live keys)"),
    ("gini", names.GINI_EMBED, "Gini of W_E's Fourier norms"), ("gini", names.GINI_NEURON_LOGIT, "Gini of W_L's Fourier norms"),
    ("gini", names.IDEAL_FORM_FVE, "explained variance of the ideal logits (final keys)"),
    ("gini", names.IDEAL_FORM_FVE_LIVE, "explained variance of the ideal logits (live keys)"),
    ("gini", names.WALSH_COEFFICIENT, "Walsh coefficient on the hidden subset (sparse parity)"),
    ("gini", names.RELEVANT_WEIGHT_RATIO, "weight on the subset's bits / on the others (sparse parity)"),
    ("warning", names.EMBED_PEAK_Z, "W_E peak ratio, z against shuffled residues"),
    ("norm", names.WEIGHT_NORM_SQ, "total sum of squared weights"),
    ("norm", names.N_KEY_FREQUENCIES_LIVE, "live key frequencies"),
    # `grokscope monitor RUN` (docs/monitor.md): drawn only where the run has been monitored.
    ("monitor", names.LLC, "local learning coefficient"), ("monitor", names.PREQUENTIAL_BITS, "prequential code (bits)"),
    ("monitor", names.EFFECTIVE_RANK, "effective rank of the features"), ("monitor", names.WEIGHT_NORM, "weight norm ‖w‖"),
    ("monitor", names.EFFECTIVE_LR_PER_STEP, "effective learning rate per step"),
]


def packed(values: Any) -> dict[str, Any]:
    """An array as {"shape", "f32": base64 of little-endian float32} (the page decodes it with a Float32Array)."""
    array = np.asarray(values, dtype="<f4")
    return {"shape": list(array.shape), "f32": base64.b64encode(array.tobytes()).decode("ascii")}


def _none_to_nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def scalar_series(run: Run) -> dict[str, dict[str, Any]]:
    """name -> {"steps": [T], "values": packed [E, T]} for every scalar metric the run logged."""
    n_members = run.config.n_members
    series = {}
    with run.metrics() as store:
        for name in store.names():
            steps, by_member = store.series(name)
            missing = [None] * len(steps)
            series[name] = {"steps": steps,
                            "values": packed([_none_to_nan(by_member.get(e, missing)) for e in range(n_members)])}
    return series


def mirror_equals_test(series: dict[str, dict[str, Any]]) -> bool:
    """Whether every member's mirror-held-out loss and accuracy equal its test ones at every step.

    They do when the split holds every held-out pair's mirror out too (`symmetric_split`): the two held-out
    sets are then the same pairs (equal series from different sets, at every step, would be a coincidence).
    Packed values compare as float32 bytes, NaN included.
    """
    return all(test in series and mirror in series and series[test] == series[mirror] for test, mirror in MIRROR_TWINS)


def drawn_curves(mirror_is_test: bool) -> list[dict[str, str]]:
    """The scalar curves the page draws, in order: `CURVES`, less the mirror-held-out ones where they repeat the
    test ones; the test curve beside which a mirror curve would have been drawn then says it stands for both."""
    mirrors = {mirror for _, mirror in MIRROR_TWINS}
    beside_mirror = {(panel, test) for panel, metric, _ in CURVES for test, mirror in MIRROR_TWINS if metric == mirror}
    curves = []
    for panel, metric, label in CURVES:
        if mirror_is_test and metric in mirrors:
            continue
        if mirror_is_test and (panel, metric) in beside_mirror:
            label += " (= mirror held out)"
        curves.append({"panel": panel, "metric": metric, "label": label})
    return curves


def spectrum(run: Run, focus: int) -> dict[str, Any] | None:
    """W_E's Fourier norms per evaluation: [M, T, K] for the first members (and `focus`) and the median over all."""
    n_members = run.config.n_members
    shown = sorted(set(range(min(n_members, SPECTRUM_MEMBERS))) | {focus})
    with run.metrics() as store:
        steps, values = store.vector_array(names.EMBED_NORMS, list(range(n_members)))
    if not steps:
        return None
    every = np.asarray(values, dtype=np.float64)  # [E, T, K]
    median = np.nanmedian(every, axis=0) if n_members > 1 else every[0]
    return {"steps": steps, "members": shown, "values": packed(every[shown]), "median": packed(median),
            "frequencies": list(range(1, every.shape[2] + 1))}


def _grid_panels(run: Run, focus: int) -> tuple[dict[str, Any], list[str]]:
    """The panels that read the focus member's weights: mechanistic report, clock frames over checkpoints,
    neurons and attention on the (a, b) grid. Returns (panels, notes)."""
    steps = run.checkpoint_steps()
    data = run.member_data(focus)
    grid = additive_grid(data.table)
    if grid is None:
        return {}, [f"Fourier panels: {skip_note(data.table)}"]
    if not steps:
        return {}, ["Fourier panels: no weights checkpoint yet"]
    model = run.model(steps[-1]).members(slice(focus, focus + 1))  # loaded once for every panel below
    report = analyze_member(model, data, member=focus, step=steps[-1])
    notes: list[str] = []
    panels: dict[str, Any] = {"mechanism": {"member": focus, "step": report.step, "lines": summary_lines(report),
                                            "key_frequencies": report.key_frequencies}}
    keys = report.key_frequencies
    if len(keys) > MAX_KEY_PANELS:  # no sparse set yet (an early or a memorizing checkpoint): the strongest few
        strongest = sorted(report.frequencies, key=lambda f: f.embedding_share, reverse=True)[:MAX_KEY_PANELS]
        keys = sorted(f.frequency for f in strongest)
        notes.append(f"member {focus} has {len(report.key_frequencies)} candidate key frequencies at step {report.step} "
                     f"(no sparse set yet): the clock and neuron panels show the {MAX_KEY_PANELS} with the most embedding norm")
    final = model.params["embed.W_E"][0, grid.classes].double()
    planes = [clock_plane(final, k) for k in keys]
    frames = []
    for step in steps:
        w_e = load_weight_of_member(checkpoint_path(run.path, step), "embed.W_E", focus)[grid.classes].double()
        frames.append([clock_coordinates(w_e, plane).tolist() for plane in planes])
    panels["clock"] = {"member": focus, "frequencies": keys, "steps": steps, "coords": packed(frames),
                       "residues": list(range(grid.n))}

    with torch.no_grad():
        _, cache = model.run_with_cache(data.inputs[grid.order])
    neurons = neurons_on_grid(cache, model.spec, grid.n)[0].double()  # [n, n, d_mlp]
    best, fve = neuron_frequency_fve(neurons[None])
    best, fve = best[0], fve[0]
    chosen = []
    for k in keys:  # the neuron that frequency k explains best stands for its cluster
        candidates = (best == k).nonzero().flatten()
        if len(candidates):
            chosen.append((k, int(candidates[fve[candidates].argmax()])))
    panels["neurons"] = {"member": focus, "step": steps[-1], "frequencies": [k for k, _ in chosen],
                         "neurons": [i for _, i in chosen], "fve": [fve[i].item() for _, i in chosen],
                         "grid": packed(np.stack([neurons[:, :, i].numpy() for _, i in chosen]) if chosen else np.zeros((0, grid.n, grid.n))),
                         "clustered_fve": CLUSTERED_FVE}
    pattern = cache.get("blocks.0.attn.hook_pattern")  # [1, N, heads, q, k]
    if pattern is not None:
        query = model.spec.readout[-1]
        a_position = OPERAND_POSITIONS[run.config.resolved("layout")][0]
        to_a = pattern[0, :, :, query, a_position].reshape(grid.n, grid.n, -1).permute(2, 0, 1)  # [heads, n, n]
        panels["attention"] = {"member": focus, "step": steps[-1], "grid": packed(to_a.numpy())}
    return panels, notes


def arms(run: Run) -> dict[str, Any] | None:
    """`grokscope compare`'s table of the arms the run's members form, and per arm the fraction of its members
    generalized against step (`compare.generalized_fraction`); None where the members form a single arm, and for a
    stored table's run (task table), whose scalar target has no steps to generalization."""
    if run.config.task == "table":
        return None
    with run.metrics() as store:
        budget = store.last_step()
    if not budget or not arm_fields([run]):  # nothing past step 0 yet (a live run): no budget to draw or divide by
        return None
    comparison = compare([run])
    curves = []
    for arm in comparison.arms:
        steps, fractions = generalized_fraction(comparison, arm.arm)
        curves.append({"arm": arm.arm, "steps": steps, "fractions": fractions})
    return {**comparison.to_dict(), "curves": curves}


def report_data(run: Run, *, focus: int = 0, live: bool = False) -> dict[str, Any]:
    """The whole report of a run as a JSON-ready dict (see the module docstring)."""
    summary = run.summary()
    panels, notes = _grid_panels(run, focus)
    with run.metrics() as store:
        instrument_note = store.meta("instrument_note")
        collapse_note = store.meta("collapse_note")  # why the collapse diagnostics were not logged (loss=mse)
    if instrument_note and not any(instrument_note in note for note in notes):  # the skip note once, not twice
        notes.append(instrument_note)
    scalars = scalar_series(run)
    mirror_is_test = mirror_equals_test(scalars)
    table = run.member_data(focus).table
    return {
        "format": "grokscope-report-1",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "grokscope_version": __version__,
        "run": run.path.name,
        "title": task_title(run.config.task, run.config.p),
        "live": live,
        "config": run.config.to_dict(),
        "provenance": run.provenance,
        "summary": summary,
        "collapse": collapse_lines(summary) or ([collapse_note] if collapse_note else []),
        "arms": arms(run),
        "n_members": run.config.n_members,
        "focus": focus,
        "curves": drawn_curves(mirror_is_test),
        "scalars": scalars,
        "mirror_note": MIRROR_NOTE if mirror_is_test else None,
        "spectrum": spectrum(run, focus),
        "notes": notes,
        "fourier_note": None if additive_grid(table) is not None else skip_note(table),
        **panels,
    }
