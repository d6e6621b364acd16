"""Packing: cells that share every non-per-member field train together as one ensemble.

A member's init, split and data order derive from its own seed only (design.md), so a cell trains
the same in any pack. The seed and the per-member fields of RunConfig (config.PER_MEMBER_FIELDS: `frac`,
`lr`, `wd` and the levers' strengths) ride in the ensemble; any other difference (task, p, model size,
schedule, optimizer, loss) puts cells in different packs.
Packs hold at most `max_pack` members, in cell order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import PER_MEMBER_FIELDS, RunConfig
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


def shape_key(config: RunConfig) -> str:
    """Every field except the per-member ones: cells with equal keys can share an ensemble."""
    shared = {k: v for k, v in config.to_dict().items() if k != "seeds" and k not in PER_MEMBER_FIELDS}
    return json.dumps(shared, sort_keys=True, ensure_ascii=False)


def pack_config(cells: list[Cell]) -> RunConfig:
    """The ensemble config of cells sharing a shape key: one member per cell, in order."""
    names = set().union(*(c.config.per_member_values() for c in cells))  # a field any cell sets; defaults resolved
    fields = {name: tuple(c.config.per_member(name)[0] for c in cells) for name in names}
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
            name = f"{len(packs):03d}-{config.table().op.slug}-p{config.p}-e{len(members)}"
            packs.append(Pack(name, tuple(members), config))
    return packs
