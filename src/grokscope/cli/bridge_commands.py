"""`grokscope export`: a run's member in the format of another tool (TransformerLens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..checks import check_choice, check_integer
from ..errors import GrokscopeError
from .app import app, fail, out

EXPORT_TARGETS = ("transformer-lens",)


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    to: Annotated[str, typer.Option("--to", help="transformer-lens: a HookedTransformer state dict (nanda arch).")],
    out_file: Annotated[Path, typer.Option("--out", help="The .safetensors file to write (its config goes beside it, .json).")],
    member: Annotated[int, typer.Option(help="Which member.")] = 0,
    step: Annotated[Optional[int], typer.Option(help="Which checkpoint step (default: the last).")] = None,
) -> None:
    """Write one member's weights for another tool: a TransformerLens HookedTransformer state dict as safetensors,
    with the HookedTransformerConfig arguments beside it (docs/bridges.md); prints both paths."""
    from .. import run as api
    from ..bridges.transformer_lens import export as export_tl

    try:
        check_choice("to", to, EXPORT_TARGETS)
        check_integer("member", member, 0)
        if step is not None:
            check_integer("step", step, 0)
        written = export_tl(api.load(run), out_file, member=member, step=step)
    except GrokscopeError as error:
        fail(error)
    for path in written:
        out.print(escape(str(path)))
