import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import grokscope.training.launch
from grokscope import cli, get_preset, load
from grokscope.run import Run

runner = CliRunner()


def _fake_train(received):
    def fake(config, out, **kwargs):
        received["config"], received["out"] = config, out
        return Run(out / "fake-run", config, {})
    return fake


def test_train_options_reach_the_config(monkeypatch, tmp_path):
    received = {}
    monkeypatch.setattr(grokscope.training.launch, "train", _fake_train(received))
    result = runner.invoke(cli.app, ["train", "--preset", "nanda2023", "--task", "x-y", "--p", "97", "--frac", "0.3,0.5",
                                     "--seeds", "0-1", "--lr", "2e-3", "--wd", "0.5", "--max-steps", "100",
                                     "--set", "d_model=64", "--set", "symmetric_split=false", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = received["config"]
    assert config == get_preset("nanda2023").replace(task="x-y", p=97, frac=(0.3, 0.5), seeds=(0, 1), lr=2e-3, wd=0.5,
                                                     max_steps=100, d_model=64, symmetric_split=False)
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "fake-run")


@pytest.mark.parametrize("args,field", [
    (["--task", "x**y"], "task"),
    (["--task", "x/y", "--p", "12"], "p"),
    (["--frac", "1.5"], "frac"),
    (["--wd", "-1"], "wd"),
    (["--seeds", "3-1"], "seeds"),
    (["--set", "d_modle=3"], "d_modle"),
    (["--device", "tpu"], "device"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, field):
    out = tmp_path / "runs"
    result = runner.invoke(cli.app, ["train", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")
    assert not out.exists()


def test_output_directory_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(cli.app, ["train", "--out", str(blocker)])
    assert result.exit_code == 2 and "out:" in result.stderr
    assert blocker.read_text() == "x"


def test_dry_run_writes_nothing(tmp_path):
    out = tmp_path / "runs"
    result = runner.invoke(cli.app, ["train", "--set", "p=13", "--set", "d_model=16", "--set", "d_mlp=32", "--dry-run",
                                     "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "E=1" in result.stdout and "ms/step" in result.stdout
    assert not out.exists()


def test_show_runs_and_tasks(tmp_path):
    result = runner.invoke(cli.app, ["train", "--set", "p=13", "--set", "d_model=16", "--set", "d_mlp=32",
                                     "--max-steps", "10", "--eval-every", "5", "--seeds", "0,1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = result.stdout.strip().splitlines()[-1]
    shown = runner.invoke(cli.app, ["show", run_dir, "--json"])
    summary = json.loads(shown.stdout)
    assert set(summary) >= {"config", "steps", "members"} and summary["steps"] == 10
    assert [m["seed"] for m in summary["members"]] == [0, 1]
    assert set(summary["members"][0]) >= {"seed", "steps_to_memorize", "steps_to_generalize", "final_train_acc", "final_test_acc"}
    assert load(run_dir).config.seeds == (0, 1)
    listed = runner.invoke(cli.app, ["runs", str(tmp_path)])
    assert listed.exit_code == 0 and "finished" in listed.stdout
    assert "x∘y∘x⁻¹" in runner.invoke(cli.app, ["tasks"]).stdout


def test_show_of_a_non_run_is_exit_1(tmp_path):
    result = runner.invoke(cli.app, ["show", str(tmp_path)])
    assert result.exit_code == 1 and "not a grokscope run directory" in result.stderr


@pytest.mark.parametrize("extra", [["--dry-run"], ["--lr", "0.1"], ["--out", "elsewhere"]])
def test_resume_refuses_other_options(tmp_path, extra):
    result = runner.invoke(cli.app, ["train", "--resume", str(tmp_path), *extra])
    assert result.exit_code == 2 and result.stderr.startswith("error: resume:")


def test_cuda_asked_without_cuda_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = runner.invoke(cli.app, ["train", "--device", "cuda", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "device:" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_show_reads_runs_with_odd_names_and_refuses_broken_ones(tmp_path):
    odd = tmp_path / "we#ird ?dir"
    result = runner.invoke(cli.app, ["train", "--set", "p=13", "--set", "d_model=16", "--set", "d_mlp=32",
                                     "--max-steps", "5", "--out", str(odd)])
    assert result.exit_code == 0, result.output
    run_dir = result.stdout.strip().splitlines()[-1]
    assert runner.invoke(cli.app, ["show", run_dir, "--json"]).exit_code == 0
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    broken = runner.invoke(cli.app, ["show", str(tmp_path / "broken")])
    assert broken.exit_code == 1 and broken.stderr.startswith("error: run:")


def test_analyze_prints_a_report_and_json(tmp_path):
    result = runner.invoke(cli.app, ["train", "--preset", "tiny", "--max-steps", "30", "--out", str(tmp_path)])
    run_dir = result.stdout.strip().splitlines()[-1]
    text = runner.invoke(cli.app, ["analyze", run_dir])
    assert text.exit_code == 0 and "key frequencies" in text.stdout and "verdict" in text.stdout
    report = json.loads(runner.invoke(cli.app, ["analyze", run_dir, "--json", "--step", "0"]).stdout)
    assert report["step"] == 0 and report["n"] == 31 and report["chance_loss"] == pytest.approx(3.434, abs=1e-3)
    assert runner.invoke(cli.app, ["analyze", run_dir, "--member", "3"]).exit_code == 2
    missing = runner.invoke(cli.app, ["analyze", run_dir, "--step", "7"])  # not a checkpoint step: bad input
    assert missing.exit_code == 2 and missing.stderr.startswith("error: step:") and len(missing.stderr.splitlines()) == 1


def test_train_pins_threads_and_records_them(tmp_path):
    result = runner.invoke(cli.app, ["train", "--preset", "tiny", "--max-steps", "10", "--threads", "1", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    document = json.loads((Path(result.stdout.strip().splitlines()[-1]) / "config.json").read_text())
    assert document["provenance"]["threads"] == 1
    refused = runner.invoke(cli.app, ["train", "--preset", "tiny", "--threads", "0", "--out", str(tmp_path / "none")])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: threads:") and len(refused.stderr.splitlines()) == 1
    assert not (tmp_path / "none").exists()  # refused before anything is written


def test_help_and_tasks_start_without_torch_pandas_or_the_regime_package():
    """`grokscope --help` and `grokscope tasks` must start fast: nothing heavy is imported until a command needs it."""
    import subprocess
    import sys

    probe = ("import sys; from typer.testing import CliRunner; from grokscope.cli import app; r = CliRunner(); "
             "codes = [r.invoke(app, ['--help']).exit_code, r.invoke(app, ['tasks']).exit_code]; "
             "print(codes, sorted(m for m in ('torch', 'pandas', 'grokscope.regime') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[0, 0] []"


@pytest.mark.parametrize("args, field", [(["train", "--p", "abc"], "p: "), (["train", "--max-steps", "1e3"], "max_steps: "),
                                         (["train", "--bogus"], "train: No such option"), (["show"], "run: ")])
def test_parse_errors_are_one_line_and_exit_2(args, field, tmp_path):
    """The console entry prints Click's parse errors as the one line every bad input gets, not a usage box."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "grokscope", *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {field}"), done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_show_folds_the_mirror_columns_only_where_they_repeat_the_test_ones(grokked_run, tmp_path):
    """Under a symmetric split the mirror-held-out columns equal the test ones; without it they are shown."""
    folded = runner.invoke(cli.app, ["show", str(grokked_run.path)])
    assert folded.exit_code == 0 and "mirror acc" not in folded.stdout and "they equal the test ones" in folded.stdout
    plain = get_preset("tiny").replace(symmetric_split=False, max_steps=100, eval_log_points=0)
    kept = runner.invoke(cli.app, ["show", str(grokscope.training.launch.train(plain, tmp_path).path)])
    assert kept.exit_code == 0 and "mirror acc" in kept.stdout and "they equal the test ones" not in kept.stdout


def test_show_says_how_near_a_silent_member_came_to_warning():
    from grokscope.cli.render import _warning_cell

    assert _warning_cell({"early_warning_step": 225, "early_warning_statistic_max": 20.0}, 8.0) == 225  # it fired
    assert _warning_cell({"early_warning_step": None, "early_warning_statistic_max": 2.0}, 8.0) == "- (0.25)"
    assert _warning_cell({"early_warning_step": None, "early_warning_statistic_max": None}, None) is None  # legacy


def test_show_help_names_the_warning_rule_the_summary_uses_by_default():
    from grokscope.instruments.warning import DEFAULT_RULE

    words = " ".join(runner.invoke(cli.app, ["show", "--help"]).stdout.replace("│", " ").split())
    assert f"{DEFAULT_RULE} (whichever of the two fires first; the default)" in words


def test_the_default_thread_count_leaves_other_running_tasks_their_cores(monkeypatch):
    import os

    from grokscope.sweep import runner as sweep_runner

    cores = os.cpu_count() or 1
    monkeypatch.setattr(sweep_runner, "other_running_tasks", lambda: 0)
    assert sweep_runner.default_threads() is None  # an idle machine: torch's own
    monkeypatch.setattr(sweep_runner, "other_running_tasks", lambda: 1)
    assert sweep_runner.default_threads() == max(1, cores - 1)
    monkeypatch.setattr(sweep_runner, "other_running_tasks", lambda: 10 * cores)
    assert sweep_runner.default_threads() == 1


def test_the_member_table_fits_in_100_columns(grokked_run):
    shown = runner.invoke(cli.app, ["show", str(grokked_run.path)])
    rows = [line for line in shown.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert len(rows) >= 5 and max(len(line) for line in rows) <= 100


def test_version_presets_table_and_did_you_mean():
    from grokscope import __version__
    from grokscope.presets import PRESETS
    from grokscope.sweep.spec import shipped_specs

    version = runner.invoke(cli.app, ["--version"])
    assert version.exit_code == 0 and version.stdout.strip() == f"grokscope {__version__}"
    shown = runner.invoke(cli.app, ["--help"], terminal_width=120).stdout
    panels = [line.split("─")[1].strip() for line in shown.splitlines() if line.startswith("╭─ ")]
    assert panels == ["Options", "Runs", "Analysis", "Studies", "Reports", "Sweeps and comparisons",
                      "Beyond modular arithmetic", "Bridges"]
    assert "--install-completion" in shown
    table = runner.invoke(cli.app, ["presets"], terminal_width=250)
    assert table.exit_code == 0
    for name in (*PRESETS, *shipped_specs()):  # every preset and spec has its line, with a description
        [line] = [row for row in table.stdout.splitlines() if row.startswith(f"│ {name} ")]
        assert len(line.split("│")[3].strip()) > 20, name
    full = json.loads(runner.invoke(cli.app, ["presets", "--json"]).stdout)
    assert full["omnigrok-digits"]["arch"] == "mlp_stack" and set(full) == set(PRESETS)
    for args, hint in ((["train", "--set", "weight_decay=1"], "did you mean 'wd'?"),
                       (["train", "--task", "x+z"], "did you mean 'x+y'?"),
                       (["train", "--preset", "quickstrat"], "did you mean 'quickstart'?"),
                       (["train", "--device", "cdua"], "did you mean 'cuda'?")):
        result = runner.invoke(cli.app, [*args, "--dry-run"])
        assert result.exit_code == 2 and hint in result.output, (args, result.output)
