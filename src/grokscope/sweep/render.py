"""Rendering a sweep for the CLI: one bar for the sweep (packs done, members grokked), one for the training pack.

Where standard error is not a terminal, one line per finished pack instead of redrawn bars.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from ..progress import _accuracies
from ..store import metric_names as names
from .packing import Pack
from .runner import SweepProgress


def pack_lines(packs: list[Pack]) -> list[str]:
    """One line per pack: name, task, p, members and their shared settings (the dry run prints these)."""
    lines = []
    for pack in packs:
        c = pack.config
        lines.append(f"{pack.name}: {c.task} mod {c.p}, E={pack.n_members}, arch {c.arch} d_model {c.d_model_resolved}, "
                     f"fracs {sorted(set(c.fracs))}, seeds {sorted(set(c.seeds))}, max_steps {c.max_steps}")
    return lines


@contextlib.contextmanager
def sweep_bars(console: Console, packs: list[Pack]) -> Iterator[Callable[[SweepProgress], None]]:
    """A progress callback for `run_sweep` drawing the sweep bar and the current pack's bar on `console`."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    members = sum(p.n_members for p in packs)
    with RichProgress(*columns, console=console, transient=False) as bar:
        sweep = bar.add_task("packs", total=len(packs), info=f"grokked 0/{members}")
        current = bar.add_task("pack", total=1, info="", visible=False)

        def update(event: SweepProgress) -> None:
            grokked = f"grokked {event.members_grokked}/{event.members_total}"
            bar.update(sweep, completed=event.packs_done, info=grokked)
            if event.detail is None:  # a pack finished (or was found finished on resume)
                bar.update(current, visible=False)
                if not console.is_terminal:
                    console.print(f"pack {event.pack.name} done ({event.packs_done}/{event.packs_total}), {grokked}",
                                  highlight=False)
                return
            d = event.detail
            accs = f"train {_accuracies(d.metrics[names.TRAIN_ACC])} | test {_accuracies(d.metrics[names.TEST_ACC])}"
            bar.update(current, description=event.pack.name, completed=d.step, total=d.max_steps, visible=True,
                       info=f"{accs} {d.steps_per_second:.0f} steps/s")

        yield update
