"""The `grokscope` command: options -> RunConfig -> one API call -> rendered result.

Results go to standard output (the run directory last, or JSON); progress and errors to standard
error. A GrokscopeError becomes one line and its exit code (2 for bad input, 1 for an explained
runtime failure); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import run as api
from .checks import check_integer
from .config import PRESETS, RunConfig, get_preset, parse_seeds
from .console import err
from .console import fail as _fail
from .errors import ConfigError, GrokscopeError
from .regime.cli import app as regime_app
from .tasks import OPERATIONS

THREADS_HELP = ("torch threads while training, pinned (default: torch's own, one per core); recorded in the run's "
                "provenance. On a shared or busy machine 1 is often several times faster.")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Reproduce grokking and see the hidden progress under the loss curve.")
# Piped output gets room for a member table instead of Rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)

KILL_ENV = "GROKSCOPE_KILL_AFTER_STEP"  # test hook: SIGKILL the process after this many updates


def _numbers(field: str, text: str | None) -> float | tuple[float, ...] | None:
    """`0.3` or a per-member list `0.3,0.5`."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{field}: expected a number or a comma list of numbers, got {text!r}") from None
    return values[0] if len(values) == 1 else values


def _parse_set(items: list[str]) -> dict[str, Any]:
    """`--set field=value`: the value is read as JSON where it parses (numbers, true, lists), else as text."""
    changes: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"set: expected FIELD=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            changes[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key.strip()] = raw
    return changes


def _after_step_hook() -> Callable[[int], None] | None:
    kill_after = os.environ.get(KILL_ENV)
    if kill_after is None:
        return None
    limit = int(kill_after)

    def kill(step: int) -> None:
        if step >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    return kill


def build_config(preset: str, overrides: dict[str, Any]) -> RunConfig:
    """The preset with CLI overrides applied (None means not given), validated."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    return get_preset(preset).replace(**changes)


@app.command()
def train(
    preset: Annotated[str, typer.Option(help=f"Starting point: {', '.join(PRESETS)}.")] = "quickstart",
    task: Annotated[Optional[str], typer.Option(help="Operation, e.g. 'x+y' or its slug 'add' (see `grokscope tasks`).")] = None,
    p: Annotated[Optional[int], typer.Option(help="Modulus (or the degree n of S_n).")] = None,
    frac: Annotated[Optional[str], typer.Option(help="Training fraction in (0, 1); a comma list gives one per member.")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds, one member each: 0, 0-7 or 1,5,9.")] = None,
    lr: Annotated[Optional[str], typer.Option(help="Learning rate, or one per member (comma list).")] = None,
    wd: Annotated[Optional[str], typer.Option(help="Weight decay, or one per member (comma list).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Step budget.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Evaluate every N steps.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Minibatch size (default: the preset's; full batch for Nanda).")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any config field: --set d_model=64 (repeatable).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run from its last checkpoint.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and estimates; write nothing.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
) -> None:
    """Train an ensemble (one member per seed); prints the run directory last."""
    from .progress import plan, progress_bar
    from .sweep.runner import pinned_threads

    try:
        if threads is not None:
            check_integer("threads", threads, 1)
        if resume is not None:
            given = [name for name, value in (("preset", preset != "quickstart"), ("task", task), ("p", p), ("frac", frac),
                     ("seeds", seeds), ("lr", lr), ("wd", wd), ("max_steps", max_steps), ("eval_every", eval_every),
                     ("batch_size", batch_size), ("device", device), ("set", set_), ("dry_run", dry_run),
                     ("out", out_dir != Path("runs"))) if value]
            if given:
                raise ConfigError(f"resume: continues a run with its own config; --{given[0].replace('_', '-')} cannot be combined with it")
            run = api.load(resume)
            with progress_bar(err, run.config) as on_progress, pinned_threads(threads):
                run = api.resume(resume, progress=on_progress, after_step=_after_step_hook())
        else:
            config = build_config(preset, {
                "task": task, "p": p, "frac": _numbers("frac", frac), "lr": _numbers("lr", lr),
                "wd": _numbers("wd", wd), "seeds": None if seeds is None else parse_seeds(seeds),
                "max_steps": max_steps, "eval_every": eval_every, "batch_size": batch_size, "device": device,
                **_parse_set(set_ or []),
            })
            if dry_run:
                out.print(plan(config))
                return
            with progress_bar(err, config) as on_progress, pinned_threads(threads):
                run = api.train(config, out_dir, progress=on_progress, after_step=_after_step_hook())
    except GrokscopeError as error:
        _fail(error)
    out.print(str(run.path))


@app.command()
def runs(root: Annotated[Path, typer.Argument(help="Directory of run directories.")] = Path("runs")) -> None:
    """List the runs under a directory."""
    from .progress import runs_table

    try:
        out.print(runs_table(api.list_runs(root)))
    except GrokscopeError as error:
        _fail(error)


@app.command()
def show(run: Annotated[Path, typer.Argument(help="A run directory.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
         early_stopping_patience: Annotated[Optional[int], typer.Option(
             help="Steps without a test-loss improvement before early stopping would stop (default: 10 x eval_every).")] = None,
         warning_rule: Annotated[str, typer.Option(
             help="The early warning's rule: peak (the detector, docs/instruments.md) or legacy (the rule before it).")] = "peak") -> None:
    """Summarize each member: steps to memorize and to generalize, grokking delay, final accuracies, the early
    warning, what early stopping on the test loss would have kept, and which members softmax collapse stopped
    (with remedies)."""
    from .instruments.collapse import collapse_lines
    from .progress import summary_table

    try:
        if early_stopping_patience is not None and early_stopping_patience < 1:
            raise ConfigError(f"early-stopping-patience: must be a positive number of steps, got {early_stopping_patience}")
        summary = api.load(run).summary(early_stopping_patience=early_stopping_patience, warning_rule=warning_rule)
    except GrokscopeError as error:
        _fail(error)
    if as_json:
        out.print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        out.print(summary_table(summary))
        for line in collapse_lines(summary):
            out.print(escape(line))


@app.command()
def analyze(run: Annotated[Path, typer.Argument(help="A run directory.")],
            step: Annotated[Optional[int], typer.Option(help="Checkpoint step (default: the last).")] = None,
            member: Annotated[int, typer.Option(help="Ensemble member.")] = 0,
            as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """The mechanistic report of a checkpoint: key frequencies, clock, neuron clusters, logit fit, ablations."""
    from .instruments.mechanism import summary_lines

    try:
        report = api.load(run).analyze(step, member)
    except GrokscopeError as error:
        _fail(error)
    if as_json:
        out.print(json.dumps(report.to_dict()))
    else:
        for line in summary_lines(report):
            out.print(escape(line))


@app.command()
def tasks() -> None:
    """List the operations of the registry."""
    from rich.table import Table

    table = Table("name", "slug", "group", "commutative", "definition")
    for op in OPERATIONS.values():
        group = "Z_p" + (" (p prime)" if op.needs_prime else "") if op.group == "Zp" else "S_n (n = 3, 4, 5)"
        table.add_row(op.name, op.slug, group, "yes" if op.commutative else "no", escape(op.description))
    out.print(table)


@app.command()
def presets() -> None:
    """List the presets and their settings."""
    for name, config in PRESETS.items():
        out.print(f"[bold]{name}[/bold]: {json.dumps({k: v for k, v in config.to_dict().items() if v is not None})}")


@app.command()
def demo(out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
         preset: Annotated[str, typer.Option(help="Preset to train (quickstart; tiny is faster).")] = "quickstart",
         threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None) -> None:
    """The quickstart: train the quickstart preset and write what a newcomer should look at."""
    from .demo_files import write_demo_files
    from .progress import progress_bar, summary_table
    from .sweep.runner import pinned_threads

    try:
        if threads is not None:
            check_integer("threads", threads, 1)
        config = get_preset(preset)
        with progress_bar(err, config) as on_progress, pinned_threads(threads):
            run = api.train(config, out_dir, progress=on_progress)
        written = write_demo_files(run)
    except GrokscopeError as error:
        _fail(error)
    out.print(summary_table(run.summary()))
    for path in written:
        out.print(f"wrote {path}")
    report = run.path / "report.html"
    out.print(f"open the report: file://{report.resolve()}  (or: grokscope serve {out_dir})")
    out.print(str(run.path))


# --- report commands (report, serve) ---
@app.command()
def report(run: Annotated[Path, typer.Argument(help="A run directory.")],
           out_file: Annotated[Optional[Path], typer.Option("--out", help="The HTML file (default: RUN/report.html).")] = None,
           figures: Annotated[Optional[Path], typer.Option("--figures", help="Also write PNG and SVG figures into this directory.")] = None,
           member: Annotated[int, typer.Option(help="The member whose weights the clock, neuron and attention panels show.")] = 0) -> None:
    """Write the run's report: one self-contained HTML file (no network needed), figures for papers on request."""
    from .report import render_report, report_data
    from .report.figures import write_figures
    from .store.atomic import write_text_atomic

    try:
        loaded = api.load(run)
        data = report_data(loaded, focus=member)
        path = out_file if out_file is not None else loaded.path / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, render_report(data))
        written = [path, *(write_figures(data, figures) if figures is not None else [])]
    except GrokscopeError as error:
        _fail(error)
    for item in written:
        out.print(f"wrote {item}")


@app.command()
def serve(root: Annotated[Path, typer.Argument(help="Directory of runs (sweeps included).")] = Path("runs"),
          port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
          host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1") -> None:
    """A live, read-only dashboard of the runs under ROOT, in the browser."""
    from .report.server import make_server

    try:
        server = make_server(root, host=host, port=port)
    except GrokscopeError as error:
        _fail(error)
    except OSError as error:
        err.print(f"[red]error:[/red] port: cannot listen on {host}:{port} ({escape(str(error))})", highlight=False)
        raise typer.Exit(2)
    bound_host, bound_port = server.server_address[:2]
    out.print(f"serving {root} at http://{bound_host}:{bound_port}/  (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()



# --- monitor command ---


def _monitor_options(measures: str | None, every: int | None, expensive_every: int | None, checkpoints: str | None,
                     llc_set: list[str], hook: str | None, device: str) -> Any:
    """MonitorOptions from the command's options (validated there; conflicts refused here)."""
    from .monitor.run_monitor import DEFAULT_MEASURES, MonitorOptions, llc_settings

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
    llc, chains = llc_settings(_parse_set(llc_set))
    chosen = DEFAULT_MEASURES if measures is None else tuple(m.strip() for m in measures.split(",") if m.strip())
    return MonitorOptions(measures=chosen, every=1 if every is None else every, expensive_every=expensive_every,
                          steps=steps, llc=llc, llc_chains=chains, hook=hook, device=device)


def _monitor_table(report: Any) -> Any:
    """Seconds per measure (columns) per checkpoint (rows), all members together, with the mean per checkpoint."""
    from rich.table import Table

    measures = list(report.seconds)
    table = Table("step", *measures, caption="seconds per checkpoint, all members; blank: not measured at that step",
                  caption_justify="left")
    for step in sorted({s for costs in report.seconds.values() for s in costs}):
        table.add_row(str(step), *(f"{report.seconds[m][step]:.3g}" if step in report.seconds[m] else "" for m in measures))
    mean = report.to_dict()["seconds_per_checkpoint"]
    table.add_row("mean", *(f"{mean[m]:.3g}" if mean[m] is not None else "" for m in measures), style="bold")
    return table


@app.command()
def monitor(
    run: Annotated[Path, typer.Argument(help="A run directory (not one still training).")],
    measures: Annotated[Optional[str], typer.Option(help="Comma list of llc, weight_norm, effective_lr, effective_rank, "
                                                         "prequential, route_ablation (default: all six).")] = None,
    every: Annotated[Optional[int], typer.Option(help="Cheap measures at every N-th weights checkpoint (default 1).")] = None,
    expensive_every: Annotated[Optional[int], typer.Option(help="LLC and prequential at every N-th checkpoint "
                                                                 "(default: about 8 checkpoints).")] = None,
    checkpoints: Annotated[Optional[str], typer.Option(help="'all' (every measure at every checkpoint) or a comma list of steps.")] = None,
    llc_set: Annotated[Optional[list[str]], typer.Option("--llc-set", help="LLC setting FIELD=VALUE (repeatable): epsilon, "
                                                                            "nbeta, gamma, batch_size, burn_in, draws, chains.")] = None,
    hook: Annotated[Optional[str], typer.Option(help="Activation read by effective rank and the prequential probe "
                                                     "(default: the last MLP's neurons).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan, costs and flagged estimates as JSON.")] = False,
) -> None:
    """Measure the run's checkpoints with the model-agnostic monitor (LLC, prequential code, weight norm, ...) on the
    training pairs only, and write the values into its metrics store; prints the cost per measure per checkpoint."""
    try:
        options = _monitor_options(measures, every, expensive_every, checkpoints, llc_set or [], hook, device)
        report = api.load(run).monitor(options, progress=lambda done, total, step: err.print(
            f"monitor: checkpoint {done}/{total} (step {step})", highlight=False))
    except GrokscopeError as error:
        _fail(error)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    out.print(_monitor_table(report))
    flagged = report.llc_flagged
    if "llc" in report.plan:
        detail = "; ".join(f"member {e} at step {s}: {r.replace('_', ' ')}" for e, s, r in flagged[:10])
        out.print(f"LLC: {len(flagged)} of {report.llc_estimates} estimates flagged and written as missing"
                  + (f" ({detail}{'; ...' if len(flagged) > 10 else ''})" if flagged else ""))
    out.print(f"wrote {report.rows} scalar and {report.vector_rows} vector rows into {escape(str(run / 'metrics.sqlite'))}")
    out.print(str(run))


def _emit_tables(document: dict[str, Any], markdown: str, out_file: Path | None, as_json: bool) -> None:
    """Print validation tables (Markdown, or JSON with --json) and write them to `out_file` (.md or .json) when given."""
    from .store.atomic import write_text_atomic

    if out_file is not None:
        write_text_atomic(out_file, json.dumps(document, indent=1) if out_file.suffix.lower() == ".json" else markdown + "\n")
    typer.echo(json.dumps(document) if as_json else markdown)


@app.command("monitor-validate")
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
    from .compare import check_output_suffix
    from .monitor.validation import load_arm, to_markdown, validate

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
        _fail(error)
    _emit_tables({"tables": [t.to_dict() for t in tables]}, "\n\n".join(to_markdown(t) for t in tables), out_file, as_json)


@app.command("validate-warning")
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
    from .compare import check_output_suffix
    from .monitor.warning_benchmark import calibration, to_markdown, validate_sweep

    try:
        if resamples < 1 or not 0 < fraction < 1:
            raise ConfigError(f"fraction, resamples: need 0 < fraction < 1 and resamples >= 1, got {fraction}, {resamples}")
        check_output_suffix("out", out_file, (".md", ".json"))
        tasks = tuple(t.strip() for t in tuning.split(",") if t.strip())
        if not tasks:
            raise ConfigError("tuning: give at least one task, e.g. x+y,x*y")
        if calibrate:
            result = calibration(sweep_dir, tuning=tasks)
            typer.echo(json.dumps(result) if as_json else
                       f"tuning tasks {', '.join(tasks)}: largest gated peak ratio over {result['control_members']} control "
                       f"members {result['largest_control_peak_ratio']:.3f}; x{result['margin']:g} = threshold "
                       f"{result['calibrated_threshold']:.3f} (frozen in instruments/warning.py: {result['frozen_threshold']:g})")
            return
        tables = validate_sweep(sweep_dir, tuning=tasks, fraction=fraction, resamples=resamples)
    except GrokscopeError as error:
        _fail(error)
    _emit_tables({"tuning_tasks": list(tasks), "tables": [t.to_dict() for t in tables]},
                 "\n\n".join(to_markdown(t) for t in tables), out_file, as_json)


# --- sweep commands (sweep, results, plot) ---


@app.command()
def sweep(
    spec: Annotated[str, typer.Argument(help="A sweep spec: a TOML file, a shipped spec's name (power2022-fraction, "
                                              "grokfast-decomposed, nanda-decay-fraction, no-decay-stablemax, each "
                                              "with a -cpu variant), or a sweep directory to resume.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the sweep directory (named after the spec).")] = Path("sweeps"),
    backend: Annotated[str, typer.Option(help="local (packs one after another here) or ray (each pack a Ray task).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (with --backend ray; default: a local instance).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch threads per pack, pinned (default: this process's; 1 on Ray and with --jobs > 1).")] = None,
    jobs: Annotated[int, typer.Option(help="Local packs trained at once, one process each (1 thread each unless --threads).")] = 1,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the packs and the first pack's estimates; write nothing.")] = False,
) -> None:
    """Train a grid of runs packed into ensembles; re-running resumes. Prints the sweep directory last."""
    from .progress import plan as pack_plan
    from .sweep import load_spec, plan, read_spec, run_sweep
    from .sweep.directory import is_sweep_dir
    from .sweep.render import pack_lines, sweep_bars
    from .sweep.runner import check_options

    try:
        if is_sweep_dir(Path(spec)):
            sweep_spec, out_dir = read_spec(Path(spec)), Path(spec).parent
        else:
            sweep_spec = load_spec(spec)
        packs = plan(sweep_spec)
        check_options(backend=backend, address=address, threads=threads, jobs=jobs)
        if dry_run:
            out.print("\n".join([f"{sweep_spec.name}: {sum(p.n_members for p in packs)} members in {len(packs)} packs",
                                 *pack_lines(packs), f"first pack ({packs[0].name}):", pack_plan(packs[0].config)]))
            return
        hook = _after_step_hook()
        with sweep_bars(err, packs) as on_progress:
            sweep_dir = run_sweep(sweep_spec, out_dir, backend=backend, address=address, threads=threads, jobs=jobs,
                                  progress=on_progress,
                                  after_step=None if hook is None else lambda _pack, step: hook(step))
    except GrokscopeError as error:
        _fail(error)
    out.print(str(sweep_dir))


@app.command()
def results(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json (to standard output), or parquet (a file).")] = "csv",
    output: Annotated[Optional[Path], typer.Option(help="Write to this file instead (parquet: default SWEEP/results.parquet).")] = None,
) -> None:
    """The sweep's results table: one row per member (grid coordinates, steps to memorize and generalize, accuracies)."""
    from .sweep.directory import RESULTS_FILE
    from .sweep.results import FORMATS, export, read_results

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
        frame = read_results(sweep_dir)
    except GrokscopeError as error:
        _fail(error)
    if fmt == "parquet":
        if output is not None:
            frame.to_parquet(output, index=False)
        out.print(str(output or sweep_dir / RESULTS_FILE))
    elif output is not None:
        output.write_text(export(frame, fmt), encoding="utf-8")
        out.print(str(output))
    else:
        typer.echo(export(frame, fmt), nl=False)


@app.command()
def plot(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep directory.")],
    output: Annotated[Optional[Path], typer.Option(help="Figure file, .png or .svg (default SWEEP/fraction_curve.png).")] = None,
) -> None:
    """Power et al.'s figure: steps to 99% validation accuracy vs training fraction per operation (censored cells marked)."""
    from .sweep import plot_sweep

    try:
        path = plot_sweep(sweep_dir, output)
    except GrokscopeError as error:
        _fail(error)
    out.print(str(path))


# --- compare command ---


def _comparison_table(comparison: Any) -> Any:
    """The comparison as a Rich table: `>N` marks a value censored at the budget, ≥/≤ a speed-up that is a bound."""
    from rich.table import Table

    def steps(value: float, censored: bool) -> str:
        return f">{value:,.0f}" if censored else f"{value:,.0f}"

    caption = (f"steps until {comparison.metric} ≥ {comparison.threshold:g}; members that never got there are censored at "
               f"the budget (>N: beyond N). speed-up = median(control) / median(arm), bootstrap 95% interval over "
               f"{comparison.resamples:,} resamples; p: Mann–Whitney U, two-sided; paired: seeds shared with the control "
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
            speedup = f"{ratio} [{arm.speedup_low:.2f}, {arm.speedup_high:.2f}]"
            p = f"{arm.p_value:.3g}"
            paired = "" if arm.paired is None else f"{arm.paired_faster}/{arm.paired}"
        table.add_row(escape(arm.arm), f"{arm.generalized}/{arm.members}", steps(arm.median, arm.median_censored),
                      f"{steps(arm.q25, arm.q25_censored)}–{steps(arm.q75, arm.q75_censored)}", speedup, p, paired)
    return table


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="One run whose members form arms, or several runs.")],
    by: Annotated[Optional[str], typer.Option(help="FIELD[,FIELD]: the fields that define arms (default: those that differ).")] = None,
    control: Annotated[Optional[str], typer.Option(help="The control arm's label, e.g. wd=1.0 (default: the first arm).")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Held-out accuracy that counts as generalized (default: generalize_acc).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    output: Annotated[Optional[Path], typer.Option("--out", help="Also save the table: FILE.csv or FILE.json.")] = None,
    figure: Annotated[Optional[Path], typer.Option(help="Draw the fraction generalized against step: FILE.png or FILE.svg.")] = None,
) -> None:
    """Compare arms over seeds: members generalized, censored median steps, speed-up with a bootstrap interval, p-value."""
    from .compare import FIGURE_SUFFIXES, TABLE_SUFFIXES, check_output_suffix, plot_generalized_fraction, write_table
    from .compare import compare as compare_arms

    try:
        check_output_suffix("out", output, TABLE_SUFFIXES)
        check_output_suffix("figure", figure, FIGURE_SUFFIXES)
        fields = None if by is None else [f.strip() for f in by.split(",")]
        comparison = compare_arms(runs, by=fields, threshold=threshold, control=control)
    except GrokscopeError as error:
        _fail(error)
    if as_json:
        typer.echo(comparison.to_json())
    else:
        out.print(_comparison_table(comparison))
    for path in [write_table(comparison, output) if output else None, plot_generalized_fraction(comparison, figure) if figure else None]:
        if path is not None:
            err.print(f"wrote {escape(str(path))}")


@app.command()
def digits(
    preset: Annotated[str, typer.Option(help="omnigrok-digits (about 10k steps) or omnigrok-digits-quick.")] = "omnigrok-digits",
    seeds: Annotated[Optional[str], typer.Option(help="Seeds, one member each: 0, 0-7 or 1,5,9.")] = None,
    init_scale: Annotated[Optional[str], typer.Option(help="Initialization scale α, or one per member: 8,1.")] = None,
    wd: Annotated[Optional[str], typer.Option(help="Weight decay, or one per member (comma list).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Step budget.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
    no_monitor: Annotated[bool, typer.Option("--no-monitor", help="Skip the monitor's measures.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the config; write nothing.")] = False,
) -> None:
    """Omnigrok's grokking on scikit-learn digits (MLP, ×8 init, MSE); trains, monitors, writes report.html; prints the run directory last."""
    from .digits import get_preset, train_digits

    try:
        config = get_preset(preset).replace(**{k: v for k, v in {
            "seeds": None if seeds is None else parse_seeds(seeds), "init_scale": _numbers("init_scale", init_scale),
            "weight_decay": _numbers("wd", wd), "max_steps": max_steps}.items() if v is not None})
        if no_monitor:
            config = config.replace(monitor_every=None, expensive_every=None)
        if dry_run:
            out.print(json.dumps(config.to_dict()))
            return
        run_dir = train_digits(config, out_dir, progress=lambda p: err.print(
            f"step {p.step}/{p.max_steps} train acc {' '.join(f'{a:.2f}' for a in p.train_acc.tolist())} test acc "
            f"{' '.join(f'{a:.2f}' for a in p.test_acc.tolist())}" + "".join(f" {m} {s:.1f}s" for m, s in p.monitor_seconds.items()),
            highlight=False) if p.step % config.checkpoint_every == 0 or p.step == p.max_steps else None)
    except GrokscopeError as error:
        _fail(error)
    out.print(str(run_dir))


app.add_typer(regime_app, name="regime")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
