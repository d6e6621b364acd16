"""Commands over many runs: the sweep group (sweep [run] SPEC, sweep results, sweep plot; `results` and `plot` also
stand alone, their names before the group) and compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import ConfigError, GrokscopeError
from .app import FORCE_HELP, after_step_hook, app, err, fail, out


class SweepGroup(TyperGroup):
    """`grokscope sweep`: `run`, `results` and `plot`, where a first argument that names none of them is the SPEC of
    `run` (`grokscope sweep SPEC` as before; a spec file named like a command is given as ./results)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=SweepGroup, no_args_is_help=True, help="Sweeps: train a grid packed into ensembles "
                        "(sweep SPEC, or sweep run SPEC), read its table (sweep results), draw Power et al.'s figure (sweep plot).")
app.add_typer(sweep_app, name="sweep", rich_help_panel="Sweeps and comparisons")


@sweep_app.command("run")
def sweep(
    spec: Annotated[str, typer.Argument(help="A sweep spec: a TOML file, a shipped spec's name (power2022-fraction, "
                                              "grokfast-decomposed, nanda-decay-fraction, no-decay-stablemax, each "
                                              "with a -cpu variant), or a sweep directory to resume.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the sweep directory (named after the spec).")] = Path("sweeps"),
    backend: Annotated[str, typer.Option(metavar="[local|ray]", help="local (packs one after another here) or ray (each pack a Ray task).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (with --backend ray; default: a local instance).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch threads per pack, pinned (default: this process's; 1 on Ray and with --jobs > 1).")] = None,
    jobs: Annotated[int, typer.Option(help="Local packs trained at once, one process each (1 thread each unless --threads).")] = 1,
    gpus_per_pack: Annotated[Optional[float], typer.Option(help="GPUs a pack on CUDA asks Ray for (with --backend ray; "
                                                           "default 1; 0.25 puts four small packs on one GPU).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the packs and the first pack's estimates; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    """Train a grid of runs packed into ensembles; re-running resumes. Prints the sweep directory last."""
    from ..estimate import estimate_run
    from ..sweep import load_spec, plan, read_spec, run_sweep
    from ..sweep.directory import is_sweep_dir
    from ..sweep.runner import check_options
    from .render import pack_lines, plan_text, sweep_bars

    try:
        if is_sweep_dir(Path(spec)):
            sweep_spec, out_dir = read_spec(Path(spec)), Path(spec).parent
        else:
            sweep_spec = load_spec(spec)
        packs = plan(sweep_spec)
        check_options(backend=backend, address=address, threads=threads, jobs=jobs, gpus_per_pack=gpus_per_pack)
        if dry_run:
            out.print("\n".join([f"{sweep_spec.name}: {sum(p.n_members for p in packs)} members in {len(packs)} packs",
                                 *pack_lines(packs), f"first pack ({packs[0].name}):", plan_text(estimate_run(packs[0].config, out_dir, force=force))]))
            return
        hook = after_step_hook()
        with sweep_bars(err, packs) as on_progress:
            sweep_dir = run_sweep(sweep_spec, out_dir, backend=backend, address=address, threads=threads, jobs=jobs,
                                  gpus_per_pack=gpus_per_pack, progress=on_progress, force=force,
                                  after_step=None if hook is None else lambda _pack, step: hook(step))
    except GrokscopeError as error:
        fail(error)
    out.print(str(sweep_dir))


@sweep_app.command("results")
@app.command(rich_help_panel="Sweeps and comparisons")
def results(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    fmt: Annotated[str, typer.Option("--format", metavar="[csv|json|parquet]", help="csv or json (to standard output), or parquet (a file).")] = "csv",
    output: Annotated[Optional[Path], typer.Option(help="Write to this file instead (parquet: default SWEEP/results.parquet).")] = None,
) -> None:
    """The sweep's results table: one row per member (grid coordinates, steps to memorize and generalize, accuracies)."""
    from ..sweep.directory import RESULTS_FILE
    from ..sweep.results import FORMATS, export, read_results

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
        frame = read_results(sweep_dir)
    except GrokscopeError as error:
        fail(error)
    if fmt == "parquet":
        if output is not None:
            frame.to_parquet(output, index=False)
        out.print(str(output or sweep_dir / RESULTS_FILE))
    elif output is not None:
        output.write_text(export(frame, fmt), encoding="utf-8")
        out.print(str(output))
    else:
        typer.echo(export(frame, fmt), nl=False)


@sweep_app.command("plot")
@app.command(rich_help_panel="Sweeps and comparisons")
def plot(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    output: Annotated[Optional[Path], typer.Option(help="Figure file, .png or .svg (default SWEEP/fraction_curve.png).")] = None,
) -> None:
    """Power et al.'s figure: steps to 99% validation accuracy vs training fraction per operation (censored cells marked)."""
    from ..sweep import plot_sweep

    try:
        path = plot_sweep(sweep_dir, output)
    except GrokscopeError as error:
        fail(error)
    out.print(str(path))


def _comparison_table(comparison: Any) -> Any:
    """The comparison as a Rich table: `>N` marks a value censored at the budget, ≥/≤ a speed-up that is a bound."""
    from rich.table import Table

    def steps(value: float, censored: bool) -> str:
        return f">{value:,.0f}" if censored else f"{value:,.0f}"

    caption = (f"steps until {comparison.metric} ≥ {comparison.threshold:g}; members that never got there are censored at "
               f"the budget (>N: beyond N). speed-up = median(control) / median(arm) (?: both medians are beyond the budget, "
               f"so no ratio is known), bootstrap 95% interval over "
               f"{comparison.resamples:,} resamples (BCa); p: log-rank, two-sided (-: no member of either arm generalized; "
               f"Mann–Whitney's in --json); paired: seeds shared with the control "
               f"on which the arm was faster")
    table = Table(caption=caption, caption_justify="left")
    for column in ("arm", "generalized", "median steps", "IQR", "speed-up [95% CI]", "p", "paired faster"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for arm in comparison.arms:
        if arm.arm == comparison.control:
            speedup, p, paired = "control", "", ""
        else:
            bound = {"lower": "≥", "upper": "≤", None: ""}[arm.speedup_bound]
            ratio = "?" if arm.speedup is None else f"{bound}{arm.speedup:.2f}"
            interval = "-" if arm.speedup_low is None else f"{arm.speedup_low:.2f}, {arm.speedup_high:.2f}"
            speedup = f"{ratio} [{interval}]"
            p = "-" if arm.p_value is None else f"{arm.p_value:.3g}"
            paired = "" if arm.paired is None else f"{arm.paired_faster}/{arm.paired}"
        table.add_row(escape(arm.arm), f"{arm.generalized}/{arm.members}", steps(arm.median, arm.median_censored),
                      f"{steps(arm.q25, arm.q25_censored)}–{steps(arm.q75, arm.q75_censored)}", speedup, p, paired)
    return table


def _table_comparison_table(comparison):
    """A stored table's comparison (analysis.table_compare) as a Rich table: each final's median [IQR], the outcome's
    ratio to the control with its interval, Mann–Whitney's p and the paired seeds that ended lower."""
    from rich.table import Table

    def cell(arm, key: str) -> str:
        if arm.median[key] is None:
            return "-"
        return f"{arm.median[key]:.3g} [{arm.q25[key]:.3g}–{arm.q75[key]:.3g}]"

    outcome = comparison.outcome.replace("_", " ")
    caption = (f"final values, median [IQR] over members; ratio = median {outcome} of the arm / of the control, BCa "
               f"bootstrap 95% interval over {comparison.resamples:,} resamples; p: Mann–Whitney, two-sided; paired: "
               f"seeds shared with the control on which the arm's {outcome} ended lower")
    table = Table(caption=caption, caption_justify="left")
    for column in ("arm", "members", "test loss", "failure", "excess failure", f"ratio of {outcome} [95% CI]", "p",
                   "paired lower"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for arm in comparison.arms:
        if arm.arm == comparison.control:
            ratio, p, paired = "control", "", ""
        else:
            interval = "-" if arm.ratio_low is None else f"{arm.ratio_low:.2f}, {arm.ratio_high:.2f}"
            ratio, p = f"{arm.ratio:.2f} [{interval}]", f"{arm.p_mann_whitney:.3g}"
            paired = "" if arm.paired is None else f"{arm.paired_lower}/{arm.paired}"
        table.add_row(escape(arm.arm), str(arm.members), cell(arm, "test_loss"), cell(arm, "failure"),
                      cell(arm, "excess_failure"), ratio, p, paired)
    return table


@app.command(rich_help_panel="Sweeps and comparisons")
def compare(
    runs: Annotated[list[Path], typer.Argument(help="One run whose members form arms, or several runs.")],
    by: Annotated[Optional[str], typer.Option(help="FIELD[,FIELD]: the fields that define arms (default: those that differ).")] = None,
    control: Annotated[Optional[str], typer.Option(help="The control arm's label, e.g. wd=1.0 (default: the first arm).")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Held-out accuracy that counts as generalized (default: generalize_acc).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    output: Annotated[Optional[Path], typer.Option("--out", help="Also save the table: FILE.csv or FILE.json.")] = None,
    figure: Annotated[Optional[Path], typer.Option(help="Draw the fraction generalized against step: FILE.png or FILE.svg.")] = None,
) -> None:
    """Compare arms over seeds: members generalized, censored median steps, speed-up with a bootstrap interval, p-value
    (stored tables, task table: the final held-out loss, failure and excess failure, and the outcome's ratio)."""
    from .. import run as api
    from ..analysis.compare import (
        FIGURE_SUFFIXES,
        TABLE_SUFFIXES,
        plot_generalized_fraction,
        write_table,
    )
    from ..analysis.compare import compare as compare_arms
    from ..checks import check_output_suffix

    try:
        check_output_suffix("out", output, TABLE_SUFFIXES)
        check_output_suffix("figure", figure, FIGURE_SUFFIXES)
        fields = None if by is None else [f.strip() for f in by.split(",")]
        loaded = [api.load(run) for run in runs]
        stored = bool(loaded) and loaded[0].config.task == "table"
        if stored:
            from ..analysis.table_compare import compare_tables

            for name, value in (("threshold", threshold), ("figure", figure)):
                if value is not None:
                    raise ConfigError(f"{name}: a stored table's runs have no accuracy to reach or fraction "
                                      "generalized to draw; leave it out")
            comparison = compare_tables(loaded, by=fields, control=control)
        else:
            comparison = compare_arms(loaded, by=fields, threshold=threshold, control=control)
    except GrokscopeError as error:
        fail(error)
    if as_json:
        typer.echo(comparison.to_json())
    else:
        out.print(_table_comparison_table(comparison) if stored else _comparison_table(comparison))
    for path in [write_table(comparison, output) if output else None, plot_generalized_fraction(comparison, figure) if figure else None]:
        if path is not None:
            err.print(f"wrote {escape(str(path))}")
