"""How long a sweep takes to plan, against validating and keying every cell one by one (printed, never asserted).

grokscope's plan (spec.cells() then packing.pack_cells) validates each setting (a cell less its seed) once, checks
each seed alone and reads the shape key off the frozen config. The reference is the plain path: `RunConfig.replace`
for every cell and a JSON dump of `to_dict()` as the shape key, timed in the same run on the first `--reference`
cells and scaled. The grid: 10 fractions x 10 weight decays x N/100 seeds on the `tiny` preset.

    python benchmarks/sweep_plan.py [--cells 1000000] [--reference 20000]
"""

from __future__ import annotations

import argparse
import json
import time

from grokscope import get_preset
from grokscope.config import PER_MEMBER_FIELDS
from grokscope.sweep import pack_cells, parse_spec
from grokscope.sweep.spec import _config_fields


def spec(cells: int):
    grid = {"frac": [round(0.3 + 0.06 * i, 2) for i in range(10)], "wd": [round(0.1 * (i + 1), 1) for i in range(10)],
            "seed": list(range(max(1, cells // 100)))}
    return parse_spec({"name": "plan-benchmark", "preset": "tiny", "base": {"max_steps": 100}, "grid": grid})


def plain_plan_seconds(sweep, cells: int) -> float:
    """Seconds per cell of the plain path: every cell validated and JSON-keyed on its own."""
    base = get_preset(sweep.preset).replace(**_config_fields(sweep.base))
    coords = [c.coords for c in sweep.cells()[:cells]]
    started = time.perf_counter()
    groups: dict[str, list] = {}
    for point in coords:
        config = base.replace(**_config_fields(point))
        key = json.dumps({k: v for k, v in config.to_dict().items() if k != "seeds" and k not in PER_MEMBER_FIELDS},
                         sort_keys=True)
        groups.setdefault(key, []).append(config)
    return (time.perf_counter() - started) / len(coords)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--reference", type=int, default=20_000, help="cells the plain path is timed on")
    args = parser.parse_args()
    started = time.perf_counter()
    sweep = spec(args.cells)
    cells = sweep.cells()
    packs = pack_cells(cells, sweep.max_pack)
    ours = time.perf_counter() - started  # parse (which validates every cell), expand and pack
    plain = plain_plan_seconds(sweep, args.reference) * len(cells)
    print(f"{len(cells):,} cells, {len(packs):,} packs: planned in {ours:.1f} s; the plain path "
          f"(timed on {args.reference:,} cells and scaled, keys only, no packs built) {plain:.1f} s; "
          f"ratio {plain / ours:.1f}x")


if __name__ == "__main__":
    main()
