import json

import duckdb
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from sweep_helpers import TINY_BASE
from typer.testing import CliRunner

from grokscope import cli
from grokscope.sweep import fraction_curve, plan, read_results
from grokscope.sweep.directory import RESULTS_FILE, pack_dir
from grokscope.sweep.plot import fraction_figure
from grokscope.sweep.results import pack_rows, results_frame

runner = CliRunner()

SPEC = f"""
name = "cli-sweep"
preset = "tiny"
[base]
{chr(10).join(f"{k} = {json.dumps(v)}" for k, v in TINY_BASE.items())}
[grid]
frac = [0.4, 0.6]
seed = [0, 1]
[[cases]]
task = "x+y"
[[cases]]
task = "x-y"
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    spec = root / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    result = runner.invoke(cli.app, ["sweep", str(spec), "--out", str(root / "out"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    path = root / "out" / "cli-sweep"
    assert result.stdout.strip().splitlines()[-1] == str(path)
    return path


def test_results_table_round_trips_through_parquet(sweep_dir):
    from grokscope.sweep import read_spec

    spec = read_spec(sweep_dir)
    rows = [row for pack in plan(spec) for row in pack_rows(pack_dir(sweep_dir, pack), pack, spec.axes)]
    expected = results_frame(rows)
    table = read_results(sweep_dir)
    pd.testing.assert_frame_equal(table, expected)
    assert len(table) == 8 and list(table["cell"]) == list(range(8))
    assert str(table["steps_to_generalize"].dtype) == "Int64" and str(table["generalized"].dtype) == "boolean"
    assert str(table["final_test_acc"].dtype) == "Float64" and str(table["task"].dtype) == "string"
    assert {"task", "frac", "seed", "lr", "wd", "p", "budget", "steps_to_memorize", "final_train_acc",
            "phases_memorization_end", "early_warning_step"} <= set(table.columns)


def test_results_table_is_queryable_from_duckdb(sweep_dir):
    path = sweep_dir / RESULTS_FILE
    query = (f"SELECT task, count(*) AS n, count(steps_to_memorize) AS memorized, max(frac) AS top "
             f"FROM read_parquet('{path}') GROUP BY task ORDER BY task")
    rows = duckdb.sql(query).fetchall()
    table = read_results(sweep_dir)
    expected = [(task, len(g), int(g["steps_to_memorize"].notna().sum()), float(g["frac"].max()))
                for task, g in sorted(table.groupby("task"), key=lambda item: item[0])]
    assert rows == expected


def test_results_command_formats(sweep_dir, tmp_path):
    table = read_results(sweep_dir)
    csv = runner.invoke(cli.app, ["results", str(sweep_dir)])
    assert csv.exit_code == 0
    assert pd.read_csv(pd.io.common.StringIO(csv.stdout))["cell"].tolist() == table["cell"].tolist()
    as_json = runner.invoke(cli.app, ["results", str(sweep_dir), "--format", "json"])
    records = json.loads(as_json.stdout)
    assert [r["task"] for r in records] == table["task"].tolist()
    target = tmp_path / "copy.parquet"
    parquet = runner.invoke(cli.app, ["results", str(sweep_dir), "--format", "parquet", "--output", str(target)])
    assert parquet.exit_code == 0 and parquet.stdout.strip() == str(target)
    pd.testing.assert_frame_equal(pd.read_parquet(target), table)
    bad = runner.invoke(cli.app, ["results", str(sweep_dir), "--format", "xlsx"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: format:")


def test_resuming_a_finished_sweep_by_its_directory_trains_nothing(sweep_dir):
    before = (sweep_dir / RESULTS_FILE).stat().st_mtime_ns
    result = runner.invoke(cli.app, ["sweep", str(sweep_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(sweep_dir)
    statuses = [json.loads((p / "status.json").read_text())["state"] for p in (sweep_dir / "packs").iterdir()]
    assert statuses == ["finished", "finished"]
    assert (sweep_dir / RESULTS_FILE).stat().st_mtime_ns >= before


def test_plot_command_writes_png_and_svg(sweep_dir, tmp_path):
    for name in ("curve.png", "curve.svg"):
        result = runner.invoke(cli.app, ["plot", str(sweep_dir), "--output", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 1000
    default = runner.invoke(cli.app, ["plot", str(sweep_dir)])
    assert default.exit_code == 0 and (sweep_dir / "fraction_curve.png").is_file()
    bad = runner.invoke(cli.app, ["plot", str(sweep_dir), "--output", str(tmp_path / "curve.pdf")])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: output:")


def test_dry_run_prints_the_packs_and_writes_nothing(tmp_path):
    out = tmp_path / "sweeps"
    result = runner.invoke(cli.app, ["sweep", "power2022-fraction-cpu", "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "48 members in 6 packs" in result.stdout and "nothing written" in result.stdout
    assert not out.exists()


def _synthetic(steps: dict[tuple[str, float], list[int | None]], budget: int = 100) -> pd.DataFrame:
    rows = [{"task": task, "frac": frac, "seed": s, "budget": budget, "steps_to_generalize": v}
            for (task, frac), values in steps.items() for s, v in enumerate(values)]
    return pd.DataFrame(rows).astype({"steps_to_generalize": "Int64"})


def test_fraction_curve_censors_never_generalized_seeds_at_the_budget():
    frame = _synthetic({("x+y", 0.3): [None, None, None], ("x+y", 0.5): [40, 60, None], ("x+y", 0.7): [10, 20, 30],
                        ("x^3+xy", 0.3): [None, None, None], ("x^3+xy", 0.5): [None, None, 50], ("x^3+xy", 0.7): [70, 80, 90]})
    curve = fraction_curve(frame)
    assert curve["task"].tolist() == ["x+y"] * 3 + ["x^3+xy"] * 3
    assert curve["censored"].tolist() == [True, False, False, True, True, False]
    assert curve["median"].tolist()[1:3] == [60, 20] and curve["median"].tolist()[5] == 80
    assert curve.loc[1, "high"] == 100 and curve.loc[1, "low"] == 40 and curve.loc[1, "n_generalized"] == 2

    ax = fraction_figure(frame).axes[0]
    assert [len(c.lines[0].get_xdata()) for c in ax.containers] == [3, 3]  # one point per cell and task
    censored = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert censored == 3  # one hollow marker at the budget per censored cell


def test_table_does_not_depend_on_the_order_packs_finish_in(sweep_dir):
    """Ray hands packs back as they complete; x+y members carry mirror columns that x-y members lack."""
    table = read_results(sweep_dir)
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in table.to_dict("records")]
    mirror = [c for c in table.columns if "mirror" in c]
    for row in rows:
        if row["task"] != "x+y":
            for c in mirror:
                row.pop(c)  # as pack_rows gives them: no mirror figures for a non-commutative task
    forward, backward = results_frame(rows), results_frame(rows[::-1])
    pd.testing.assert_frame_equal(forward, backward)
    assert list(forward["cell"]) == sorted(forward["cell"])


def test_the_sweep_group_runs_reads_and_plots_and_keeps_the_old_names(tmp_path):
    """`sweep SPEC` = `sweep run SPEC`; `sweep results` and `sweep plot` = `results` and `plot` (issue 17)."""
    from typer.testing import CliRunner

    from grokscope.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["sweep", "--help"], terminal_width=200)
    assert shown.exit_code == 0 and all(name in shown.stdout for name in ("run", "results", "plot"))
    plans = [runner.invoke(app, [*prefix, "power2022-fraction-cpu", "--dry-run"], terminal_width=200)
             for prefix in (["sweep"], ["sweep", "run"])]
    packs = [plan.stdout.split("first pack")[0] for plan in plans]  # the estimates after it are measured each time
    assert plans[0].exit_code == 0 and packs[0] == packs[1] and "48 members in 6 packs" in packs[0]
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "g"\npreset = "tiny"\n[base]\nmax_steps = 30\np = 13\n[grid]\nseed = [0]\n')
    trained = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "out"), "--threads", "1"])
    assert trained.exit_code == 0, trained.output
    sweep_dir = tmp_path / "out" / "g"
    tables = [runner.invoke(app, [*prefix, str(sweep_dir), "--format", "json"]) for prefix in (["results"], ["sweep", "results"])]
    assert tables[0].exit_code == 0 and tables[0].stdout == tables[1].stdout and '"seed"' in tables[0].stdout
    for prefix, name in ((["plot"], "a.png"), (["sweep", "plot"], "b.png")):
        drawn = runner.invoke(app, [*prefix, str(sweep_dir), "--output", str(tmp_path / name)])
        assert drawn.exit_code == 0 and (tmp_path / name).stat().st_size > 1000, drawn.output
