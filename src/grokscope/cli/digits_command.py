"""`grokscope digits`: Omnigrok's grokking on scikit-learn digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import parse_seeds
from ..errors import GrokscopeError
from .app import app, err, fail, numbers, out


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
    from ..digits import get_preset, train_digits

    try:
        config = get_preset(preset).replace(**{k: v for k, v in {
            "seeds": None if seeds is None else parse_seeds(seeds), "init_scale": numbers("init_scale", init_scale),
            "weight_decay": numbers("wd", wd), "max_steps": max_steps}.items() if v is not None})
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
        fail(error)
    out.print(str(run_dir))
