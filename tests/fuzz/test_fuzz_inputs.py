"""Bad values for every config field and CLI option: each is refused before work starts, exit 2, one line on
standard error naming the field, no traceback, and nothing written (issue 18, section 5).

The values are generated per field kind (huge, negative, NaN, inf, empty, wrong type, wrong length, unicode
digits, NUL, overlong text) and run through the real CLI in this process (`--set FIELD=VALUE`), so the suite
stays within seconds; a Hypothesis property adds arbitrary JSON values for arbitrary fields.
"""

from __future__ import annotations

import json

import pytest
from conftest import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grokscope import RunConfig
from grokscope.config import FIELD_SYNONYMS

NAN, INF = float("nan"), float("inf")
UNICODE_DIGITS = ("１２", "٣", "৪", "Ⅻ", "²")  # fullwidth, Arabic-Indic, Bengali, a Roman numeral, a superscript
TEXTS = ("", "abc", "\x00", "1\x00", "x" * 400, "🙂", "null-ish")
WRONG_TYPES = (True, [1, 2], {"a": 1}, *TEXTS, *UNICODE_DIGITS)

POSITIVE_INTS = ("n_layers", "d_mlp", "max_steps", "eval_every", "checkpoints", "resume_every", "batch_size")
NON_NEGATIVE_INTS = ("warmup_steps", "patience", "eval_log_points", "checkpoint_every")
UNIT_FLOATS = {"frac": (0.0, 1.0, 1.5, -0.1), "generalize_acc": (0.0, 1.5, -1.0), "beta1": (1.0, -0.1, 2.0),
               "beta2": (1.0, -0.5), "attention_rate": (-0.1, 1.5), "label_noise": (1.0, -0.2),
               "grokfast_alpha": (1.0, -0.1), "cooldown_frac": (1.5, -0.1)}
POSITIVE_FLOATS = ("lr", "eps", "init_scale", "grokfast_max_gib")
CHOICES = ("task", "arch", "act_fn", "normalization", "positional", "init", "optimizer", "grokfast", "loss",
           "loss_dtype", "param_dtype", "logits_over", "device", "split")
BOOLEANS = ("symmetric_split", "train_biases", "tf32", "cuda_graph", "instruments", "collapse_diagnostics",
            "init_scale_biases", "orthogonal_grad", "fixed_weight_norm")
# Values that fit the type but not the machine: refused by the memory and disk estimate (footprint.py), by name.
TOO_LARGE = {"d_model": (2**20, 10**9), "d_mlp": (10**8, 2**40), "n_layers": (10**6,), "p": (100_003, 999_983),
             "max_steps": (10**12, 2**62), "checkpoints": (10**9,)}


def _cases():
    for field in POSITIVE_INTS:
        for value in (0, -1, -(2**70), 1.5, NAN, INF, -INF, *WRONG_TYPES):
            yield field, value
    for field in NON_NEGATIVE_INTS:
        for value in (-1, -(2**64), 2.5, NAN, INF, *WRONG_TYPES):
            yield field, value
    for field, out_of_range in UNIT_FLOATS.items():
        for value in (*out_of_range, NAN, INF, -INF, *WRONG_TYPES):
            yield field, value
    for field in POSITIVE_FLOATS:
        for value in (0.0, -1.0, -1e-300, NAN, INF, -INF, *WRONG_TYPES):
            yield field, value
    for field in ("wd",):
        for value in (-1.0, -1e-9, NAN, INF, *WRONG_TYPES):
            yield field, value
    for field in CHOICES:
        for value in ("", "bogus", "RELU", "x" * 300, "\x00", "ｒｅｌｕ", 3, 1.5, True, ["relu"], {"a": 1}):
            yield field, value
    for field in BOOLEANS:
        for value in ("yes", "no", 2, 0.5, "", [True, "x"], {"a": 1}, "\x00", "ｔｒｕｅ"):
            yield field, value
    for field, values in TOO_LARGE.items():
        for value in values:
            yield field, value
    for value in ([], [-1], [0, -1], [2**63], [1.5], ["a"], [True], "0", [0, 0.5], 5):
        yield "seeds", value


CASES = list(_cases())
CONTEXT = {"grokfast_alpha": {"grokfast": "ema"}}  # settings a value needs to be judged


def _refused(args: list[str], field: str, out) -> None:
    code, stdout, stderr = invoke(["train", "--preset", "tiny", *args, "--out", str(out)])
    lines = stderr.strip().splitlines()
    assert code == 2, (args, code, stderr[-600:])
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), (args, lines)
    assert "Traceback" not in stdout + stderr
    assert not out.exists(), args


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={json.dumps(v)[:24]}" for f, v in CASES])
def test_a_bad_field_value_is_one_line_exit_2_nothing_written(tmp_path, field, value):
    context = [f"--set={k}={json.dumps(v)}" for k, v in CONTEXT.get(field, {}).items()]
    _refused([*context, f"--set={field}={json.dumps(value, allow_nan=True)}"], field, tmp_path / "out")


def test_the_suite_covers_every_config_field_kind():
    """Every RunConfig field with a fixed kind has generated bad values (a new field needs its cases here)."""
    fuzzed = {field for field, _ in CASES}
    free = {"layout", "d_model", "n_heads", "use_biases", "grokfast_lamb", "grokfast_window", "parity_k",
            "parity_examples", "momentum"}  # None or arch-dependent: covered by the option and combination cases
    missing = {f for f in RunConfig.__dataclass_fields__} - fuzzed - free
    assert not missing, missing
    assert len(CASES) >= 300


OPTION_CASES = [
    (["--p", "abc"], "p"), (["--p", "1e3"], "p"), (["--p", "-7"], "p"), (["--p", "１３"], "p"),
    (["--max-steps", "1e3"], "max_steps"), (["--max-steps", "0"], "max_steps"), (["--max-steps", ""], "max_steps"),
    (["--eval-every", "-5"], "eval_every"), (["--batch-size", "0"], "batch_size"), (["--batch-size", "x"], "batch_size"),
    (["--frac", ""], "frac"), (["--frac", "0.3,,0.5"], "frac"), (["--frac", "nan"], "frac"), (["--lr", "inf"], "lr"),
    (["--lr", "0.1,0.2"], "lr"), (["--wd", "-inf"], "wd"), (["--wd", "1,2,3", "--seeds", "0,1"], "wd"),
    (["--seeds", ""], "seeds"), (["--seeds", "a"], "seeds"), (["--seeds", "1-"], "seeds"), (["--seeds", "3-1"], "seeds"),
    (["--seeds", "99999999999999999999999"], "seeds"), (["--seeds", "١"], "seeds"), (["--seeds", "0,,1"], "seeds"),
    (["--seeds", "1.5"], "seeds"), (["--seeds", "\x00"], "seeds"), (["--seeds", "0-100000"], "seeds"),
    (["--device", "tpu"], "device"), (["--task", "x**y"], "task"), (["--task", ""], "task"),
    (["--preset", "nanda"], "preset"), (["--threads", "0"], "threads"), (["--threads", "-2"], "threads"),
    (["--log-to", "mlflow"], "log-to"), (["--set", "d_modle=3"], "d_modle"), (["--set", "novalue"], "set"),
    (["--set", "weight_decay=1"], "weight_decay"), (["--set", "=3"], ""),
]


@pytest.mark.parametrize("args,field", OPTION_CASES, ids=[" ".join(a)[:40] for a, _ in OPTION_CASES])
def test_a_bad_option_is_one_line_exit_2_nothing_written(tmp_path, args, field):
    _refused(args, field, tmp_path / "out")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(RunConfig.__dataclass_fields__) + sorted(FIELD_SYNONYMS) + ["zz", "D_MODEL"]),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                        max_size=2), max_leaves=5))
def test_any_json_value_for_any_field_is_accepted_or_refused_in_one_line(tmp_path, field, value):
    """Arbitrary values: either a valid config (checked with a dry run: nothing written) or a one-line refusal."""
    out = tmp_path / f"out-{abs(hash((field, json.dumps(value, allow_nan=True))))}"
    code, stdout, stderr = invoke(["train", "--preset", "tiny", f"--set={field}={json.dumps(value, allow_nan=True)}",
                                   "--dry-run", "--out", str(out)])
    assert "Traceback" not in stdout + stderr and not out.exists()
    if code != 0:
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (field, value, stderr)


def _snapshot(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


SWEEP_NAMES = [("a\x00b", "name"), ("x" * 300, "name"), ("../up", "name"), (".hidden", "name"), ("a/b", "name"),
               ("a\\b", "name"), ("", "name"), ("tab\there", "name"), (7, "name")]


@pytest.mark.parametrize("name,field", SWEEP_NAMES, ids=[repr(n)[:20] for n, _ in SWEEP_NAMES])
def test_a_bad_sweep_name_is_one_line_exit_2_nothing_written(tmp_path, name, field):
    spec = tmp_path / "spec.toml"
    spec.write_text(f'name = {json.dumps(name)}\npreset = "tiny"\n[grid]\nseed = [0]\n', encoding="utf-8")
    before = _snapshot(tmp_path)
    code, stdout, stderr = invoke(["sweep", str(spec), "--out", str(tmp_path / "out")])
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {field}: "), (name, stderr[-400:])
    assert "Traceback" not in stdout + stderr and _snapshot(tmp_path) == before


def test_a_sweep_spec_that_is_not_utf8_is_one_line(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_bytes(b'name = "caf\xe9"\npreset = "tiny"\n[grid]\nseed = [0]\n')
    code, _, stderr = invoke(["sweep", str(spec), "--out", str(tmp_path / "out")])
    assert code == 2 and stderr.strip().splitlines() == [
        f"error: spec: {spec} is not UTF-8 text (byte 0xe9 at offset 11)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [
    ["report", "{run}", "--out", "{file}/x.html"], ["report", "{run}", "--out", "{file}/sub/x.html"],
    ["report", "{run}", "--figures", "{file}/figures"],
    ["regime", "verdict", "--report", "{file}/x.html"], ["regime", "verdict", "--seed", "100000000000000000000"],
    ["regime", "verdict", "--seed", "-3"], ["train", "--preset", "tiny", "--out", "{file}/runs"],
    ["sweep", "power2022-fraction-cpu", "--out", "{file}/sweeps"],
])
def test_outputs_under_a_file_and_overflowing_seeds_are_one_line_before_any_work(tmp_path, grokked_run, command):
    """The filer's cases: an output path under a file (report, and regime verdict, which failed after training)
    and a seed of 1e20 to regime verdict."""
    afile = tmp_path / "afile"
    afile.write_text("a file, not a directory")
    args = [a.format(run=grokked_run.path, file=afile) for a in command]
    run_before = _snapshot(grokked_run.path)
    code, stdout, stderr = invoke(args)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, stderr[-400:])
    assert "Traceback" not in stdout + stderr
    assert afile.read_text() == "a file, not a directory" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert _snapshot(grokked_run.path) == run_before
