"""Sweeps: grids of runs packed into ensembles, trained locally or on Ray, summarized in one table.

    spec = load_spec("power2022-fraction-cpu")     # a TOML path or a shipped spec's name
    sweep_dir = run_sweep(spec, "sweeps")          # resumes what an earlier call left
    table = read_results(sweep_dir)                # pandas DataFrame, one row per member
    plot_sweep(sweep_dir)                          # Power et al.'s Fig. 1 (right) as PNG or SVG
"""

from .directory import read_spec
from .packing import Pack, pack_cells
from .plot import fraction_curve, plot_fraction_curve, plot_sweep
from .results import read_results
from .runner import SweepProgress, plan, run_sweep
from .spec import Cell, SweepSpec, load_spec, parse_spec, shipped_specs

__all__ = ["Cell", "Pack", "SweepProgress", "SweepSpec", "fraction_curve", "load_spec", "pack_cells", "parse_spec",
           "plan", "plot_fraction_curve", "plot_sweep", "read_results", "read_spec", "run_sweep", "shipped_specs"]
