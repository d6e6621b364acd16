"""`grokscope export`: a run in the format of another tool: a member for TransformerLens, the metrics for
TensorBoard or Weights & Biases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..checks import check_choice, check_integer
from ..errors import ConfigError, GrokscopeError
from .app import app, fail, out

EXPORT_TARGETS = ("transformer-lens", "tensorboard", "wandb")


@app.command(rich_help_panel="Bridges")
def export(
    run: Annotated[Path, typer.Argument(help="A run directory (tensorboard and wandb: or a sweep directory).")],
    to: Annotated[str, typer.Option("--to", help="transformer-lens: a member as a HookedTransformer state dict (nanda "
                                                 "arch); tensorboard, wandb: every metric, one tracker run per member.")],
    out_file: Annotated[Optional[Path], typer.Option("--out", help="transformer-lens: the .safetensors file (its config goes "
                                                                   "beside it, .json); tensorboard, wandb: the folder "
                                                                   "(default: in the run directory).")] = None,
    member: Annotated[int, typer.Option(help="transformer-lens: which member.")] = 0,
    step: Annotated[Optional[int], typer.Option(help="transformer-lens: which checkpoint step (default: the last).")] = None,
) -> None:
    """A run for another tool: one member's weights as a TransformerLens state dict, or every metric of the run (or of
    each pack of a sweep) as TensorBoard event files or W&B runs, one per member (docs/bridges.md)."""
    from .. import run as api

    try:
        check_choice("to", to, EXPORT_TARGETS)
        check_integer("member", member, 0)
        if step is not None:
            check_integer("step", step, 0)
        if to == "transformer-lens":
            from ..bridges.transformer_lens import export as export_tl

            if out_file is None:
                raise ConfigError("out: --to transformer-lens needs --out FILE.safetensors")
            written = export_tl(api.load(run), out_file, member=member, step=step)
            lines = [str(path) for path in written]
        else:
            from ..bridges.tracker_export import export_tracker

            lines = [f"{path}: {logged} values, {to}" for path, logged in export_tracker(run, to, out_file)]
    except GrokscopeError as error:
        fail(error)
    for line in lines:
        out.print(escape(line))
