import pytest

from grokscope import PRESETS, RunConfig
from grokscope.config import parse_seeds
from grokscope.errors import ConfigError


@pytest.mark.parametrize("changes,field", [
    (dict(task="nope"), "task"),
    (dict(task="x/y", p=12), "p"),
    (dict(frac=1.5), "frac"),
    (dict(frac=0.0), "frac"),
    (dict(wd=-1.0), "wd"),
    (dict(lr=0.0), "lr"),
    (dict(seeds=()), "seeds"),
    (dict(seeds=(1, -2)), "seeds"),
    (dict(seeds=(0, 1), lr=(1e-3, 1e-3, 1e-3)), "lr"),
    (dict(arch="rnn"), "arch"),
    (dict(d_model=130, n_heads=4), "n_heads"),
    (dict(max_steps=0), "max_steps"),
    (dict(loss_dtype="float16"), "loss_dtype"),
    (dict(device="tpu"), "device"),
    (dict(task="x-y", symmetric_split=True), "symmetric_split"),
    (dict(arch="power", logits_over="answers"), "logits_over"),
    (dict(batch_size=0), "batch_size"),
    (dict(symmetric_split="False"), "symmetric_split"),
    (dict(p=13.0), "p"),
    (dict(generalize_acc="0.9"), "generalize_acc"),
    (dict(p=13, frac=0.001), "frac"),
    (dict(p=13, frac=0.995, symmetric_split=True), "frac"),
])
def test_invalid_fields_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        RunConfig(**changes)


def test_unknown_field_is_named():
    with pytest.raises(ConfigError, match="^d_modle: unknown config field"):
        RunConfig.from_dict({"d_modle": 3})


def test_per_member_values():
    config = RunConfig(seeds=(0, 1, 2), lr=(1e-3, 2e-3, 3e-3), wd=0.5, frac=[0.3, 0.4, 0.5])
    assert config.per_member("lr") == (1e-3, 2e-3, 3e-3) and config.per_member("wd") == (0.5, 0.5, 0.5) and config.per_member("frac") == (0.3, 0.4, 0.5)
    assert RunConfig(seeds=(0, 1), lr=(1e-3, 1e-3)).lr == 1e-3  # equal values collapse to one


def test_round_trip_through_dict():
    for config in PRESETS.values():
        assert RunConfig.from_dict(config.to_dict()) == config


def test_presets_follow_the_papers():
    nanda = PRESETS["nanda2023"]
    assert (nanda.task, nanda.p, nanda.frac, nanda.lr, nanda.wd, nanda.warmup_steps, nanda.max_steps) == ("x+y", 113, 0.3, 1e-3, 1.0, 10, 50_000)
    assert (nanda.resolved("d_model"), nanda.resolved("n_heads"), nanda.resolved("d_mlp")) == (128, 4, 512)
    assert nanda.loss_dtype == "float64" and nanda.logits_over == "vocab" and nanda.split == "python_random"
    tl = PRESETS["nanda2023-tl"]
    assert (tl.max_steps, tl.warmup_steps, tl.train_biases, tl.logits_over) == (25_000, 0, False, "answers")
    power = PRESETS["power2022"]
    assert (power.task, power.p, power.frac, power.batch_size, power.arch) == ("x/y", 97, 0.5, 512, "power")
    assert power.resolved("n_layers") == 2 and power.resolved("normalization") == "post"


def test_parse_seeds():
    assert parse_seeds("0-3") == (0, 1, 2, 3)
    assert parse_seeds("1,5,7-8") == (1, 5, 7, 8)
    for bad in ("a", "3-1", "1,,2"):
        with pytest.raises(ConfigError, match="^seeds:"):
            parse_seeds(bad)
