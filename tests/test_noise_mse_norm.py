"""Label noise, MSE loss and training at a fixed weight norm (docs/levers.md), each against its
definition, per member, and a member with all of them off against the plain trainer."""

import math

import pytest
import torch
from conftest import tiny_config

from grokscope import metric_names as names
from grokscope import train
from grokscope.dataset import RunData
from grokscope.errors import ConfigError
from grokscope.models import Ensemble
from grokscope.training.evaluate import Evaluator
from grokscope.training.loss import exact_match, per_example_loss
from grokscope.training.trainer import Trainer
from grokscope.training.weight_norm import squared_norm

F64 = torch.float64
CPU = torch.device("cpu")


# label noise
def test_label_noise_corrupts_the_documented_count_of_training_labels_only():
    config = tiny_config(seeds=(0, 1, 2), frac=(0.5, 0.6, 0.3), label_noise=(0.3, 0.0, 0.5))
    data = RunData.build(config, CPU)
    true, noisy = data.targets[:, 0], data.train_targets[..., 0]  # [N], [E, N]
    n_classes = data.table.n_elements
    for e, noise in enumerate(config.per_member("label_noise")):
        train_rows = data.train_mask[e]
        wrong = noisy[e] != true
        assert int(wrong.sum()) == round(noise * int(train_rows.sum()))
        assert torch.equal(wrong, data.corrupted[e]) and not (wrong & ~train_rows).any()  # held-out labels clean
        assert ((noisy[e] >= 0) & (noisy[e] < n_classes)).all()
    shifts = (noisy - true)[data.corrupted] % n_classes
    assert (shifts != 0).all() and len(shifts.unique()) > 1  # another class, not a fixed one
    assert torch.equal(data.train_targets[..., 1:], data.targets[None, :, 1:].expand_as(data.train_targets[..., 1:]))


def test_label_noise_leaves_the_eos_target_of_openai_grok_layout_alone():
    config = tiny_config(arch="power", n_layers=1, frac=0.5, label_noise=0.4)
    data = RunData.build(config, CPU)
    assert data.targets.shape[1] == 2  # c, then <eos>
    assert torch.equal(data.train_targets[0, :, 1], data.targets[:, 1])
    assert int(data.corrupted.sum()) == round(0.4 * int(data.train_mask.sum())) > 0


def test_label_noise_is_deterministic_and_the_same_alone_or_in_a_pack():
    config = tiny_config(seeds=(3, 4, 5), frac=(0.5, 0.7, 0.5), label_noise=(0.2, 0.4, 0.4),
                         symmetric_split=True)
    packed = RunData.build(config, CPU)
    again = RunData.build(config, CPU)
    assert torch.equal(packed.train_targets, again.train_targets)
    for e in range(3):
        alone = RunData.build(config.member(e), CPU)
        assert torch.equal(alone.train_targets[0], packed.train_targets[e])
        assert torch.equal(alone.corrupted[0], packed.corrupted[e])
    assert not torch.equal(packed.corrupted[1], packed.corrupted[2])  # the seed decides


def test_train_accuracy_is_measured_against_the_noisy_labels_and_corrupted_pairs_against_the_true_ones():
    config = tiny_config(seeds=(0, 1), label_noise=(0.4, 0.0), collapse_diagnostics=False, instruments=False)
    data = RunData.build(config, CPU)
    model = Ensemble.create(config)
    scalars, _ = Evaluator(config, data, CPU)(model)
    with torch.no_grad():
        logits = model.logits(data.inputs)  # [E, N, n_out, d_vocab_out]
    for e in range(2):
        train_rows = data.train_mask[e]
        noisy_hits = exact_match(logits[e:e + 1], data.train_targets[e:e + 1])[0]
        true_hits = exact_match(logits[e:e + 1], data.targets)[0]
        assert scalars[names.TRAIN_ACC][e] == pytest.approx(noisy_hits[train_rows].double().mean().item(), abs=1e-15)
        assert scalars[names.TEST_ACC][e] == pytest.approx(true_hits[~train_rows].double().mean().item(), abs=1e-15)
        noisy_loss = per_example_loss(logits[e:e + 1], data.train_targets[e:e + 1], loss_dtype=F64)[0]
        assert scalars[names.TRAIN_LOSS][e] == pytest.approx(noisy_loss[train_rows].mean().item(), rel=1e-13)
    corrupted = data.corrupted[0]
    expected = exact_match(logits[:1], data.targets)[0][corrupted].double().mean().item()
    assert scalars[names.TRAIN_CORRUPTED_ACC][0] == pytest.approx(expected, abs=1e-15)
    assert math.isnan(scalars[names.TRAIN_CORRUPTED_ACC][1])  # no corrupted pairs: missing, not 0


# MSE
def test_mse_loss_is_the_mean_over_classes_of_the_squared_error_against_one_hot():
    logits = torch.tensor([[[[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]]]], dtype=F64)  # [E=1, B=1, n_out=2, 3 classes]
    targets = torch.tensor([[0, 2]])
    first = ((2 - 1) ** 2 + (-1) ** 2 + 0.5**2) / 3  # 0.75
    second = (0 + 0 + (3 - 1) ** 2) / 3
    loss = per_example_loss(logits, targets, loss_dtype=F64, loss="mse")
    assert loss.shape == (1, 1)
    torch.testing.assert_close(loss, torch.tensor([[(first + second) / 2]], dtype=F64), rtol=1e-15, atol=0)
    float32 = per_example_loss(logits.float(), targets, loss_dtype=torch.float32, loss="mse")
    assert float32.dtype == torch.float32


def test_a_tiny_mse_run_lowers_its_loss_and_skips_the_collapse_diagnostics_with_a_note(tmp_path):
    run = train(tiny_config(seeds=(0, 1), loss="mse", lr=1e-2, max_steps=40, instruments=False), tmp_path)
    with run.metrics() as store:
        _, loss = store.series(names.TRAIN_LOSS)
        assert names.COLLAPSE_ZERO_GRAD_FRAC not in store.names()
        assert "loss=mse" in store.meta("collapse_note")
    for e in (0, 1):
        assert loss[e][-1] < 0.5 * loss[e][0]


# fixed weight norm
def test_fixed_weight_norm_holds_each_members_initial_norm_while_its_neighbour_drifts(tmp_path):
    config = tiny_config(seeds=(0, 1, 2), fixed_weight_norm=(True, False, True), init_scale=(1.0, 1.0, 3.0),
                         lr=1e-2, warmup_steps=0)
    trainer = Trainer(config, tmp_path, device=CPU)
    initial = squared_norm(trainer.model.trainable()).sqrt()  # [E]
    unscaled = squared_norm(Ensemble.create(config.replace(init_scale=1.0)).trainable()).sqrt()
    torch.testing.assert_close(initial[2], 3 * unscaled[2], rtol=1e-14, atol=0)  # measured after init_scale
    for step in range(8):
        trainer.train_step(step, None)
        norm = squared_norm(trainer.model.trainable()).sqrt()
        assert abs(norm[0] - initial[0]) < 1e-6 and abs(norm[2] - initial[2]) < 1e-6
    assert abs(norm[1] - initial[1]) > 1e-3
    assert not torch.allclose(trainer.model.params["embed.W_E"][0], Ensemble.create(config).params["embed.W_E"][0])


# all off, and resume
def test_member_with_noise_and_fixed_norm_off_trains_like_the_plain_trainer(tmp_path):
    plain = train(tiny_config(seeds=(0,)), tmp_path / "plain")
    packed = train(tiny_config(seeds=(0, 0), label_noise=(0.0, 0.3), fixed_weight_norm=(False, True)), tmp_path / "packed")
    plain_params, packed_params = plain.model().params, packed.model().params
    for name, tensor in plain_params.items():
        torch.testing.assert_close(packed_params[name][:1], tensor, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(packed_params["embed.W_E"][1], plain_params["embed.W_E"][0])
    with plain.metrics() as a, packed.metrics() as b:
        for name in (names.TRAIN_LOSS, names.TRAIN_ACC, names.TEST_LOSS, names.COLLAPSE_GRAD_WEIGHT_COSINE):
            torch.testing.assert_close(torch.tensor(b.series(name)[1][0]), torch.tensor(a.series(name)[1][0]),
                                       rtol=1e-10, atol=1e-10)


# configuration
def test_member_config_carries_noise_and_fixed_norm():
    config = tiny_config(seeds=(4, 5), label_noise=(0.0, 0.25), fixed_weight_norm=[False, True], loss="mse")
    assert config.replace() == config
    one = config.member(1)
    assert (one.seeds, one.label_noise, one.fixed_weight_norm, one.loss) == ((5,), 0.25, True, "mse")
    assert tiny_config(seeds=(4, 5), label_noise=0.1).member(0).label_noise == 0.1


@pytest.mark.parametrize("changes, field", [
    (dict(label_noise=1.0), "label_noise"),
    (dict(label_noise=-0.1), "label_noise"),
    (dict(label_noise="some"), "label_noise"),
    (dict(label_noise=True), "label_noise"),
    (dict(seeds=(0, 1), label_noise=(0.1, 0.2, 0.3)), "label_noise"),
    (dict(fixed_weight_norm="yes"), "fixed_weight_norm"),
    (dict(fixed_weight_norm=1), "fixed_weight_norm"),
    (dict(seeds=(0, 1), fixed_weight_norm=(True,)), "fixed_weight_norm"),
    (dict(loss="l2"), "loss"),
])
def test_invalid_noise_norm_and_loss_configs_are_rejected(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}: ") as error:
        tiny_config(**changes)
    assert "\n" not in str(error.value)
