"""Packing: cells that share every non-per-member field train together as one ensemble.

A member's init, split and data order derive from its own seed only (design.md), so a cell trains
the same in any pack. The seed and the per-member fields of RunConfig (config.PER_MEMBER_FIELDS: `frac`,
`lr`, `wd` and the levers' strengths) ride in the ensemble; any other difference (task, p, model size,
schedule, optimizer, loss) puts cells in different packs.
Packs hold at most `max_pack` members, in cell order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import PER_MEMBER_FIELDS, RunConfig
from ..operations import get_operation
from .spec import Cell


@dataclass(frozen=True)
class Pack:
    """One ensemble of the sweep: its run directory name, its cells (member e is cells[e]) and config."""

    name: str
    cells: tuple[Cell, ...]
    config: RunConfig

    @property
    def n_members(self) -> int:
        return len(self.cells)


SHARED_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "seeds" and f.name not in PER_MEMBER_FIELDS)


def shape_key(config: RunConfig) -> str:
    """Every field except the per-member ones (read off the frozen config, no copy: 10^6 cells take seconds): cells
    with equal keys can share an ensemble."""
    return repr(tuple(getattr(config, name) for name in SHARED_FIELDS))


def pack_config(cells: list[Cell]) -> RunConfig:
    """The ensemble config of cells sharing a shape key: one member per cell, in order. Cells of one pack differ only
    in per-member fields, so their resolved values are computed once per distinct set of raw values."""
    resolved: dict[str, dict[str, tuple]] = {}
    rows = []
    for cell in cells:
        raw = repr(tuple(getattr(cell.config, name) for name in PER_MEMBER_FIELDS))
        if raw not in resolved:
            resolved[raw] = cell.config.per_member_values()
        rows.append(resolved[raw])
    names = set().union(*rows)  # a field any cell sets; defaults resolved
    fields = {name: tuple(row[name][0] if name in row else cell.config.per_member(name)[0] for row, cell in
                          zip(rows, cells)) for name in names}
    return cells[0].config.replace(seeds=tuple(c.config.seeds[0] for c in cells), **fields)


def pack_cells(cells: list[Cell], max_pack: int) -> list[Pack]:
    """Group cells by shape key (in order of first appearance) and cut each group into packs of at most max_pack."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(shape_key(cell.config), []).append(cell)
    packs = []
    for group in groups.values():
        for start in range(0, len(group), max_pack):
            members = group[start:start + max_pack]
            config = pack_config(members)
            name = f"{len(packs):03d}-{get_operation(config.task).slug}-p{config.p}-e{len(members)}"
            packs.append(Pack(name, tuple(members), config))
    return packs
