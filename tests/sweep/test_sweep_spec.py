import pytest
from sweep_helpers import tiny_spec
from typer.testing import CliRunner

from grokscope import cli
from grokscope.errors import ConfigError
from grokscope.sweep import load_spec, shipped_specs

runner = CliRunner()


def test_cells_are_cases_times_grid_each_with_its_own_fields():
    spec = tiny_spec()
    cells = spec.cells()
    assert len(cells) == 2 * 2 * 2 * 2
    assert [c.index for c in cells] == list(range(16))
    assert spec.axes == ["task", "wd", "frac", "lr", "seed"]
    for cell in cells:
        config = cell.config
        assert config.n_members == 1
        assert (config.task, config.frac, config.lr, config.seeds) == (
            cell.coords["task"], cell.coords["frac"], cell.coords["lr"], (cell.coords["seed"],))
        assert config.wd == (0.5 if config.task == "x-y" else 1.0)
    assert len({tuple(sorted(c.coords.items())) for c in cells}) == 16


def test_shipped_specs_load_and_follow_the_paper():
    assert {"power2022-fraction", "power2022-fraction-cpu"} <= set(shipped_specs())
    full = load_spec("power2022-fraction")
    tasks = {c.config.task for c in full.cells()}
    assert {"x+y", "x-y", "x/y", "x^2+y^2", "x^3+xy", "x∘y"} <= tasks
    assert {c.config.p for c in full.cells() if c.config.task != "x∘y"} == {97}
    assert {c.config.p for c in full.cells() if c.config.task == "x∘y"} == {5}
    assert len(full.grid["seed"]) >= 3 and len(full.grid["frac"]) >= 5
    cpu = load_spec("power2022-fraction-cpu")
    assert {c.config.p for c in cpu.cells() if c.config.task == "x∘y"} == {4}
    assert max(c.config.p for c in cpu.cells()) < 97


BAD_SPECS = [
    ('name = "s"\npreset = "tiny"\ngrdi = {}\n', "grdi"),
    ('name = "s"\npreset = "nope"\n', "preset"),
    ('preset = "tiny"\n', "name"),
    ('name = "s"\npreset = "tiny"\n[grid]\nfrac = 0.3\n', "grid.frac"),
    ('name = "s"\npreset = "tiny"\n[grid]\nfrac = []\n', "grid.frac"),
    ('name = "s"\npreset = "tiny"\n[grid]\nd_modle = [8]\n', "grid.d_modle"),
    ('name = "s"\npreset = "tiny"\n[grid]\nseeds = [0, 1]\n', "grid.seeds"),
    ('name = "s"\npreset = "tiny"\n[grid]\nfrac = [0.3, 1.5]\n', "frac"),
    ('name = "s"\npreset = "tiny"\n[grid]\ntask = ["x+y", "x**y"]\n', "task"),
    ('name = "s"\npreset = "tiny"\nmax_pack = 0\n', "max_pack"),
    ('name = "s"\npreset = "tiny"\n[grid]\nfrac = [0.3]\n[[cases]]\nfrac = 0.5\n', "cases[0].frac"),
    ('name = "s"\npreset = "tiny"\n[grid\n', "spec"),
]


@pytest.mark.parametrize("text,field", BAD_SPECS)
def test_invalid_spec_exits_2_with_one_line_naming_the_field_and_writes_nothing(tmp_path, text, field):
    spec = tmp_path / "spec.toml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "sweeps"
    result = runner.invoke(cli.app, ["sweep", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), lines
    assert not out.exists()


def test_unknown_field_message_lists_the_allowed_ones(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "s"\npreset = "tiny"\n[grid]\nd_modle = [8]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"grid.d_modle: unknown field; allowed: .*d_model.*seed"):
        load_spec(spec)


@pytest.mark.parametrize("args,field", [(["--backend", "spark"], "backend"), (["--address", "x:1"], "address"),
                                        (["--threads", "0"], "threads")])
def test_bad_backend_options_exit_2_and_write_nothing(tmp_path, args, field):
    out = tmp_path / "sweeps"
    result = runner.invoke(cli.app, ["sweep", "power2022-fraction-cpu", "--out", str(out), *args])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {field}:")
    assert not out.exists()


def test_missing_spec_exits_2(tmp_path):
    result = runner.invoke(cli.app, ["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.stderr.startswith("error: spec:")
