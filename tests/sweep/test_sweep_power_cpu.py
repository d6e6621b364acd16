import math

import pytest
from matplotlib.collections import PathCollection

from grokscope.sweep import (
    fraction_curve,
    load_spec,
    parse_spec,
    read_results,
    run_sweep,
)
from grokscope.sweep.plot import fraction_figure


def _cpu_subset():
    """The shipped CPU variant cut to what CI can afford: x+y and x^3+xy, fractions 0.3 and 0.9, 1,500 steps.

    The whole variant (6 operations x 4 fractions x 2 seeds, 3,000 steps) takes ~6 min on 2 cores; its
    measured figure is in docs/sweeps.md.
    """
    shipped = load_spec("power2022-fraction-cpu").to_dict()
    shipped["cases"] = [c for c in shipped["cases"] if c["task"] in ("x+y", "x^3+xy")]
    shipped["grid"]["frac"] = [0.3, 0.9]
    shipped["base"]["max_steps"] = 1500
    return parse_spec(shipped)


@pytest.mark.slow
def test_cpu_variant_has_power2022_shape(tmp_path):
    """Power et al. 2022, Fig. 1: steps to generalize fall as the fraction grows, x+y needs less data than
    x^3+xy, and cells that never generalize within the budget are marked censored."""
    spec = _cpu_subset()
    table = read_results(run_sweep(spec, tmp_path, threads=1))  # one core: the suite runs a worker per core
    curve = fraction_curve(table)
    medians = {task: cells.sort_values("frac")["median"].tolist() for task, cells in curve.groupby("task")}
    for task, values in medians.items():
        assert all(later <= earlier for earlier, later in zip(values, values[1:])), (task, values)
    assert medians["x+y"][-1] < medians["x+y"][0]  # falls: censored at 0.3, generalized at 0.9

    def least_data(task):
        finite = curve[(curve["task"] == task) & ~curve["censored"]]
        return finite["frac"].min() if len(finite) else math.inf

    assert least_data("x+y") < least_data("x^3+xy")
    censored = curve[curve["censored"]]
    assert len(censored) >= 1 and (censored["budget"] == 1500).all()
    assert set(table.loc[~table["generalized"], "steps_to_generalize"].isna()) == {True}
    ax = fraction_figure(table).axes[0]
    drawn = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert drawn == len(censored)


def test_lines_split_by_every_other_varying_axis_never_pooled():
    """Two weight decays of one task are two lines, not one pooled median."""
    import pandas as pd

    frame = pd.DataFrame({"task": ["x+y"] * 8, "frac": [0.3, 0.3, 0.6, 0.6] * 2, "wd": [0.0] * 4 + [1.0] * 4,
                          "steps_to_generalize": pd.array([None, None, None, None, 900, 700, 300, 200], dtype="Int64"),
                          "budget": [1000] * 8})
    pooled = fraction_curve(frame)
    split = fraction_curve(frame, ("wd",))
    assert len(pooled) == 2 and len(split) == 4
    assert set(split["line"]) == {"x+y wd=0", "x+y wd=1"}
    decayed = split[split["wd"] == 1.0].sort_values("frac")["median"].tolist()
    assert decayed == [800.0, 250.0] and split[split["wd"] == 0.0]["censored"].all()
