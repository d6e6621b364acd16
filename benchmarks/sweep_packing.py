"""Member-steps per second of a 256-cell sweep packed into ensembles vs the same cells one at a time (printed, never asserted).

The cells: x+y mod 23 on the `tiny` preset's model (d_model 32, full batch), a 4 x 4 x 4 x 4 grid of
training fraction, learning rate, weight decay and seed. Packed, they share one shape and train as one
ensemble of E = 256 (`max_pack = 256`); one at a time, the same sweep runs with `max_pack = 1`: 256
packs of E = 1, each with its own run directory, as 256 separate `grokscope train` runs would. Both go
through `run_sweep` end to end (run directories, metrics, checkpoints, results table), with the
instruments off and evaluations only at the start and end, so the figure is training throughput.
Absolute rates on shared machines move by tens of percent between runs: read the ratio.

    python benchmarks/sweep_packing.py [--steps 50] [--threads 2] [--device cpu|cuda] [--alone-cells 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from grokscope.sweep import parse_spec, run_sweep

GRID = {"frac": [0.3, 0.5, 0.7, 0.9], "lr": [3e-3, 1e-2, 3e-2, 1e-1], "wd": [0.0, 0.3, 1.0, 3.0], "seed": [0, 1, 2, 3]}


def spec(name: str, *, max_pack: int, steps: int, device: str, cells: int | None = None):
    """The 256-cell spec (or its first `cells` seeds x fractions x ... cells, for a quicker one-at-a-time sample)."""
    grid = dict(GRID)
    if cells is not None:  # keep the first cells of the expansion: cut the first axis
        grid["frac"] = GRID["frac"][: max(1, cells // 64)]
    base = {"p": 23, "symmetric_split": False, "max_steps": steps, "eval_every": steps, "eval_log_points": 0,
            "checkpoints": 1, "resume_every": steps, "instruments": False, "device": device, "patience": steps}
    return parse_spec({"name": name, "preset": "tiny", "max_pack": max_pack, "base": base, "grid": grid})


def member_steps_per_second(name: str, *, max_pack: int, steps: int, threads: int, device: str,
                            cells: int | None = None) -> float:
    sweep = spec(name, max_pack=max_pack, steps=steps, device=device, cells=cells)
    cells = len(sweep.cells())
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_sweep(sweep, out, threads=threads)
        elapsed = time.perf_counter() - start
    return cells * steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--alone-cells", type=int, default=256,
                        help="time this many of the cells one at a time (64, 128, 192 or 256; the rate is per member-step)")
    args = parser.parse_args()
    packed = member_steps_per_second("packed", max_pack=256, steps=args.steps, threads=args.threads, device=args.device)
    alone = member_steps_per_second("alone", max_pack=1, steps=args.steps, threads=args.threads, device=args.device,
                                    cells=None if args.alone_cells >= 256 else args.alone_cells)
    print(f"256 cells x {args.steps} steps, x+y mod 23, tiny model, device {args.device}, {args.threads} threads")
    print(f"packed (1 pack of E=256):      {packed:10.0f} member-steps/s")
    sample = min(args.alone_cells, 256) // 64 * 64 or 64
    print(f"one at a time ({sample} packs of 1):  {alone:10.0f} member-steps/s")
    print(f"ratio packed / one at a time:   {packed / alone:10.1f}x")


if __name__ == "__main__":
    main()
