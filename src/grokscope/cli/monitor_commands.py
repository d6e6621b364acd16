"""Commands of the monitor and the validation studies: monitor, monitor-validate, validate-warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from ..errors import ConfigError, GrokscopeError
from ..monitor.registry import measures_help
from .app import app, emit_tables, err, fail, out, parse_set


def _monitor_options(measures: str | None, every: int | None, expensive_every: int | None, checkpoints: str | None,
                     llc_set: list[str], hook: str | None, device: str, base: Any = None) -> Any:
    """MonitorOptions from the command's options (validated there; conflicts refused here); `--llc-set` changes
    `base`, the run's default LLC settings (monitor.run_monitor.default_llc)."""
    from ..monitor.registry import DEFAULT_MEASURES
    from ..monitor.run_monitor import MonitorOptions, llc_settings

    steps = None
    if checkpoints is not None:
        if every is not None or expensive_every is not None:
            raise ConfigError("checkpoints: cannot be combined with --every or --expensive-every")
        if checkpoints.strip() == "all":
            every = expensive_every = 1
        else:
            try:
                steps = tuple(int(s) for s in checkpoints.split(","))
            except ValueError:
                raise ConfigError(f"checkpoints: must be 'all' or a comma list of checkpoint steps, got {checkpoints!r}") from None
    llc, chains = llc_settings(parse_set(llc_set), base) if llc_set else (None, MonitorOptions.llc_chains)
    chosen = DEFAULT_MEASURES if measures is None else tuple(m.strip() for m in measures.split(",") if m.strip())
    return MonitorOptions(measures=chosen, every=1 if every is None else every, expensive_every=expensive_every,
                          steps=steps, llc=llc, llc_chains=chains, hook=hook, device=device)


@app.command(rich_help_panel="Analysis")
def monitor(
    run: Annotated[Path, typer.Argument(help="A run directory (not one still training).")],
    measures: Annotated[Optional[str], typer.Option(help=measures_help())] = None,
    every: Annotated[Optional[int], typer.Option(help="Cheap measures at every N-th weights checkpoint (default 1).")] = None,
    expensive_every: Annotated[Optional[int], typer.Option(help="LLC and prequential at every N-th checkpoint "
                                                                 "(default: about 8 checkpoints).")] = None,
    checkpoints: Annotated[Optional[str], typer.Option(help="'all' (every measure at every checkpoint) or a comma list of steps.")] = None,
    llc_set: Annotated[Optional[list[str]], typer.Option("--llc-set", help="LLC setting FIELD=VALUE (repeatable): epsilon, "
                                                                            "nbeta, gamma, batch_size, burn_in, draws, chains.")] = None,
    hook: Annotated[Optional[str], typer.Option(help="Activation read by effective rank and the prequential probe "
                                                     "(default: the last MLP's neurons).")] = None,
    device: Annotated[str, typer.Option(metavar="[cpu|cuda|auto]", help="Where the measures run.")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan, costs and flagged estimates as JSON.")] = False,
) -> None:
    """Measure the run's checkpoints with the model-agnostic monitor (LLC, prequential code, weight norm, ...) on the
    training pairs only, and write the values into its metrics store; prints the cost per measure per checkpoint."""
    from .. import run as api

    try:
        from ..monitor.run_monitor import default_llc

        loaded = api.load(run)
        options = _monitor_options(measures, every, expensive_every, checkpoints, llc_set or [], hook, device,
                                   default_llc(loaded.config))
        report = loaded.monitor(options, progress=lambda done, total, step: err.print(
            f"monitor: checkpoint {done}/{total} (step {step})", highlight=False))
    except GrokscopeError as error:
        fail(error)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    from .render import monitor_cost_table, monitor_value_table

    out.print(monitor_value_table(api.load(run), report))
    out.print(monitor_cost_table(report))
    flagged = report.llc_flagged
    if "llc" in report.plan:
        detail = "; ".join(f"member {e} at step {s}: {r.replace('_', ' ')}" for e, s, r in flagged[:10])
        out.print(f"LLC: {len(flagged)} of {report.llc_estimates} estimates flagged and written as missing"
                  + (f" ({detail}{'; ...' if len(flagged) > 10 else ''})" if flagged else ""))
    out.print(f"wrote {report.rows} scalar and {report.vector_rows} vector rows into {escape(str(run / 'metrics.sqlite'))}")
    page = run / "report.html"
    if page.is_file():  # the run's report shows the new values in its Monitor panel: rebuilt, not left stale
        from ..report import render_report, report_data
        from ..store.atomic import write_text_atomic

        write_text_atomic(page, render_report(report_data(api.load(run))))
        out.print(f"rebuilt {escape(str(page))} (its Monitor panel draws these values)")
    else:
        out.print(f"grokscope report {escape(str(run))} draws these values in its Monitor panel")
    out.print(str(run))


@app.command("monitor-validate", rich_help_panel="Studies")
def monitor_validate(
    grok: Annotated[list[Path], typer.Option(help="A monitored run that groks (repeatable: its members are pooled).")],
    control: Annotated[list[Path], typer.Option(help="A monitored control run that does not grok; each is an arm (repeatable).")],
    holdout_grok: Annotated[Optional[list[Path]], typer.Option(help="Grokking run of a second task, scored with the first task's rules.")] = None,
    holdout_control: Annotated[Optional[list[Path]], typer.Option(help="Control run of the second task (repeatable).")] = None,
    lead: Annotated[int, typer.Option(help="AUROC uses only checkpoints at least this many steps before t_g.")] = 1_000,
    grokked_acc: Annotated[float, typer.Option(help="t_g: held-out accuracy (mirror-held-out where logged) reaching this.")] = 0.95,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 2_000,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
) -> None:
    """Score the monitor's measures and the early warning against the Fourier ground truth: Spearman with the
    restricted loss, AUROC of grok vs control before t_g, and an alarm rule fit on half the seeds (docs/monitor.md)."""
    from ..analysis.monitor_validation import load_arm, to_markdown, validate
    from ..checks import check_output_suffix

    try:
        if lead < 0 or resamples < 1 or not 0 < grokked_acc <= 1:
            raise ConfigError("lead, resamples, grokked_acc: need lead >= 0, resamples >= 1 and 0 < grokked_acc <= 1")
        check_output_suffix("out", out_file, (".md", ".json"))
        if bool(holdout_grok) != bool(holdout_control):
            raise ConfigError("holdout_grok, holdout_control: give both or neither")

        def arms(paths: list[Path]) -> tuple[dict[str, list], str]:
            loaded, tasks = {}, set()
            for path in paths:
                name, traces, task = load_arm(path, grokked_acc=grokked_acc)
                loaded.setdefault(name, []).extend(traces)
                tasks.add(task)
            return loaded, ", ".join(sorted(tasks))

        def score(grok_paths, control_paths, rules=None):
            grok_arms, task = arms(grok_paths)
            control_arms, _ = arms(control_paths)
            grok_traces = [t for traces in grok_arms.values() for t in traces]
            return validate(grok_traces, control_arms, task=task, rules=rules, lead=lead, resamples=resamples)

        first, rules = score(grok, control)
        tables = [first] + ([score(holdout_grok, holdout_control, rules)[0]] if holdout_grok else [])
    except GrokscopeError as error:
        fail(error)
    emit_tables({"tables": [t.to_dict() for t in tables]}, "\n\n".join(to_markdown(t) for t in tables), out_file, as_json)


@app.command("validate-warning", rich_help_panel="Studies")
def validate_warning(
    sweep_dir: Annotated[Path, typer.Argument(help="A trained benchmark sweep directory (e.g. of warning-benchmark-cpu).")],
    tuning: Annotated[str, typer.Option(help="Comma list of the tasks the rules are fitted on; the others are held out.")] = "x+y,x*y",
    fraction: Annotated[float, typer.Option(help="AUROC reads grokking members at t_mem + FRACTION·(t_g − t_mem).")] = 0.5,
    calibrate: Annotated[bool, typer.Option(help="Print the threshold the calibration gives on the tuning tasks' controls, beside the frozen one.")] = False,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 2_000,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
) -> None:
    """Score the early warning, the phases and the monitor's measures on a benchmark sweep: time-matched AUROC
    of grok vs each control, true and false alarm rates and the lead as a fraction of the plateau, tuning and
    held-out tasks apart (docs/instruments.md, "The warning benchmark")."""
    from ..analysis.warning_benchmark import calibration, to_markdown, validate_sweep
    from ..checks import check_output_suffix

    try:
        if resamples < 1 or not 0 < fraction < 1:
            raise ConfigError(f"fraction, resamples: need 0 < fraction < 1 and resamples >= 1, got {fraction}, {resamples}")
        check_output_suffix("out", out_file, (".md", ".json"))
        tasks = tuple(t.strip() for t in tuning.split(",") if t.strip())
        if not tasks:
            raise ConfigError("tuning: give at least one task, e.g. x+y,x*y")
        if calibrate:
            result = calibration(sweep_dir, tuning=tasks)
            typer.echo(json.dumps(result) if as_json else "\n".join(
                f"{rule}: tuning tasks {', '.join(tasks)}: largest gated statistic over {r['control_members']} control "
                f"members {r['largest_control_statistic']:.3f}; x{result['margin']:g} = threshold "
                f"{r['calibrated_threshold']:.3f} (frozen in instruments/warning.py: {r['frozen_threshold']:g})"
                for rule, r in result["rules"].items()))
            return
        tables = validate_sweep(sweep_dir, tuning=tasks, fraction=fraction, resamples=resamples)
    except GrokscopeError as error:
        fail(error)
    emit_tables({"tuning_tasks": list(tasks), "tables": [t.to_dict() for t in tables]},
                 "\n\n".join(to_markdown(t) for t in tables), out_file, as_json)
