"""The levers on grokking (docs/levers.md): Grokfast filters, ⊥Grad, Adam/SGD, StableMax, init scale,
and the softmax-collapse diagnostics; each against its formula or torch's own optimizer."""

import pytest
import torch
from conftest import tiny_config

from grokscope import metric_names as names
from grokscope import train
from grokscope.errors import ConfigError
from grokscope.training.filters import GrokfastEMA, GrokfastMA, orthogonalize_
from grokscope.training.loss import log_stablemax, per_example_loss
from grokscope.training.optim import MemberAdamW, MemberSGD

F64 = torch.float64


def _gradient_sequence(steps: int, shape=(3, 4, 2)) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(steps, *shape, generator=g, dtype=F64)  # [T, E, ...]


def _filtered(filter_, w: torch.Tensor, grads: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for g in grads:
        w.grad = g.clone()
        filter_()
        out.append(w.grad.clone())
    return out


def test_grokfast_ema_follows_its_formula_from_the_first_step():
    """h starts at g_0 (so the first output is g_0 + lamb * g_0), then h = a h + (1-a) g; lamb 0 is the identity."""
    grads = _gradient_sequence(6)
    alpha, lamb = [0.98, 0.5, 0.9], [2.0, 0.0, 1.5]
    w = torch.zeros(3, 4, 2, dtype=F64, requires_grad=True)
    out = _filtered(GrokfastEMA({"w": w}, alpha=torch.tensor(alpha, dtype=F64), lamb=torch.tensor(lamb, dtype=F64)),
                    w, grads)
    for e in range(3):
        h = grads[0, e].clone()  # the reference: ironjr/grokfast gradfilter_ema, one member alone
        for t in range(6):
            h = h * alpha[e] + grads[t, e] * (1 - alpha[e])
            torch.testing.assert_close(out[t][e], grads[t, e] + lamb[e] * h, rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(out[0][e], grads[0, e] * (1 + lamb[e]), rtol=1e-14, atol=1e-15)
    assert all(torch.equal(out[t][1], grads[t, 1]) for t in range(6))


def test_grokfast_ma_adds_nothing_until_the_window_is_full():
    grads = _gradient_sequence(7)
    window, lamb = 3, [5.0, 0.0, 1.0]
    w = torch.zeros(3, 4, 2, dtype=F64, requires_grad=True)
    out = _filtered(GrokfastMA({"w": w}, window=window, lamb=torch.tensor(lamb, dtype=F64)), w, grads)
    for t in range(window - 1):  # warm-up: the gradient unchanged
        assert torch.equal(out[t], grads[t])
    for t in range(window - 1, 7):
        mean = grads[t - window + 1 : t + 1].mean(0)  # the last `window` gradients, the current one included
        for e in range(3):
            torch.testing.assert_close(out[t][e], grads[t, e] + lamb[e] * mean[e], rtol=1e-14, atol=1e-15)
    assert all(torch.equal(out[t][1], grads[t, 1]) for t in range(7))


def test_orthogonal_grad_is_orthogonal_per_tensor_and_member_with_the_original_norm():
    g = torch.Generator().manual_seed(2)
    params = {"a": torch.randn(3, 4, 5, generator=g, dtype=F64), "b": torch.randn(3, 7, generator=g, dtype=F64)}
    grads = {}
    for name, p in params.items():
        p.requires_grad_(True)
        grads[name] = torch.randn(p.shape, generator=g, dtype=F64) + 0.7 * p.detach()  # a parallel part to remove
        p.grad = grads[name].clone()
    on = torch.tensor([True, False, True])
    orthogonalize_(params, on)
    for name, p in params.items():
        for e in range(3):
            w, before, after = p[e].detach().flatten(), grads[name][e].flatten(), p.grad[e].flatten()
            if not on[e]:
                assert torch.equal(after, before)
                continue
            assert abs(torch.dot(w, after)) < 1e-12 * w.norm() * after.norm()
            torch.testing.assert_close(after.norm(), before.norm(), rtol=1e-12, atol=0)
            # Prieto et al.'s code, member e alone
            g_orth = before - torch.dot(w, before) / (torch.dot(w, w) + 1e-30) * w
            torch.testing.assert_close(after, g_orth * (before.norm() / (g_orth.norm() + 1e-30)), rtol=1e-13, atol=1e-15)


def _run_against_torch(ours_factory, torch_factory, steps: int = 10):
    """Three members with different lr and wd, each against torch's optimizer on that member alone (float64)."""
    g = torch.Generator().manual_seed(0)
    lrs, wds = [1e-3, 3e-3, 1e-2], [1.0, 0.0, 0.3]
    weights = torch.randn(3, 5, 4, generator=g, dtype=F64)
    targets = torch.randn(3, 5, 4, generator=g, dtype=F64)
    ours = weights.clone().requires_grad_(True)
    optimizer = ours_factory({"w": ours}, torch.tensor(lrs, dtype=F64), torch.tensor(wds, dtype=F64))
    refs = [weights[e].clone().requires_grad_(True) for e in range(3)]
    torch_opts = [torch_factory([refs[e]], lrs[e], wds[e]) for e in range(3)]
    for _ in range(steps):
        ((ours - targets) ** 3).sum().backward()
        optimizer.step(1.0)
        ours.grad = None
        for e in range(3):
            ((refs[e] - targets[e]) ** 3).sum().backward()
            torch_opts[e].step()
            torch_opts[e].zero_grad()
    for e in range(3):
        torch.testing.assert_close(ours[e], refs[e], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(ours[0], weights[0])


def test_adam_with_coupled_decay_equals_torch_adam_per_member():
    _run_against_torch(
        lambda params, lr, wd: MemberAdamW(params, lr=lr, wd=wd, betas=(0.9, 0.98), coupled_decay=True),
        lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=(0.9, 0.98)))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_equals_torch_sgd_per_member(momentum):
    _run_against_torch(lambda params, lr, wd: MemberSGD(params, lr=lr * 10, wd=wd, momentum=momentum),
                       lambda params, lr, wd: torch.optim.SGD(params, lr=lr * 10, weight_decay=wd, momentum=momentum))


def test_stablemax_is_a_distribution_equal_to_its_definition():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, 11, generator=g, dtype=F64) * 5
    probs = log_stablemax(x).exp()
    s = torch.tensor([[[v + 1 if v >= 0 else 1 / (1 - v) for v in row] for row in block] for block in x.tolist()], dtype=F64)
    torch.testing.assert_close(probs, s / s.sum(-1, keepdim=True), rtol=1e-14, atol=0)
    assert (probs > 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 6, dtype=F64), rtol=1e-14, atol=0)


def test_stablemax_gradient_survives_where_float32_softmax_collapses():
    """A confident float32 logit vector: softmax cross-entropy's gradient is exactly 0, StableMax's is not."""
    logits = torch.tensor([[[[0.0, 120.0, -3.0, 5.0]]]], requires_grad=True)  # [E, B, n_out, d_vocab_out]
    targets = torch.tensor([[1]])
    grads = {}
    for loss in ("cross_entropy", "stablemax"):
        logits.grad = None
        per_example_loss(logits, targets, loss_dtype=torch.float32, loss=loss).sum().backward()
        grads[loss] = logits.grad.clone()
    assert (grads["cross_entropy"] == 0).all()
    assert (grads["stablemax"] != 0).all() and torch.isfinite(grads["stablemax"]).all()


def test_member_with_levers_off_trains_like_the_plain_trainer(tmp_path):
    """Member 0 has lamb 0, ⊥Grad off and init scale 1; member 1 uses all three. Member 0 ends where a
    plain lone run ends, for both filters; member 1 does not."""
    plain = train(tiny_config(seeds=(0,)), tmp_path / "plain").model().params
    for grokfast, window in (("ema", 100), ("ma", 3)):
        config = tiny_config(seeds=(0, 0), grokfast=grokfast, grokfast_window=window, grokfast_lamb=(0.0, 2.0),
                             orthogonal_grad=(False, True), init_scale=(1.0, 2.0))
        packed = train(config, tmp_path / grokfast).model().params
        for name, tensor in plain.items():
            torch.testing.assert_close(packed[name][:1], tensor, rtol=1e-12, atol=1e-12)
        assert not torch.allclose(packed["embed.W_E"][1], plain["embed.W_E"][0])


def test_init_scale_multiplies_every_initial_parameter():
    from grokscope.models import Ensemble

    base = Ensemble.create(tiny_config(seeds=(0, 1)))
    scaled = Ensemble.create(tiny_config(seeds=(0, 1), init_scale=(1.0, 3.0)))
    for name, tensor in base.params.items():
        assert torch.equal(scaled.params[name][0], tensor[0])
        torch.testing.assert_close(scaled.params[name][1], 3.0 * tensor[1], rtol=1e-15, atol=0)


@pytest.mark.parametrize("changes, field", [
    (dict(optimizer="lion"), "optimizer"),
    (dict(loss="hinge"), "loss"),
    (dict(grokfast="fft"), "grokfast"),
    (dict(grokfast="ema", grokfast_alpha=1.0), "grokfast_alpha"),
    (dict(grokfast="ema", grokfast_lamb=-1.0), "grokfast_lamb"),
    (dict(grokfast_lamb=2.0), "grokfast_lamb"),  # no filter chosen
    (dict(grokfast="ma", grokfast_window=0), "grokfast_window"),
    (dict(grokfast="ma", grokfast_window=10**9), "grokfast_window"),  # over the memory limit
    (dict(grokfast="ma", grokfast_window=1000, grokfast_max_gib=0.001), "grokfast_window"),
    (dict(grokfast_max_gib=0), "grokfast_max_gib"),
    (dict(seeds=(0, 1), grokfast="ema", grokfast_lamb=(1.0, 2.0, 3.0)), "grokfast_lamb"),
    (dict(orthogonal_grad="yes"), "orthogonal_grad"),
    (dict(seeds=(0, 1), orthogonal_grad=(True,)), "orthogonal_grad"),
    (dict(init_scale=0.0), "init_scale"),
    (dict(momentum=0.9), "momentum"),  # adamw has no momentum field
    (dict(optimizer="sgd", momentum=1.0), "momentum"),
    (dict(collapse_diagnostics=1), "collapse_diagnostics"),
])
def test_invalid_lever_configs_are_rejected(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}: ") as error:
        tiny_config(**changes)
    assert "\n" not in str(error.value)


def test_lever_fields_round_trip_and_default_lambs():
    config = tiny_config(seeds=(0, 1), grokfast="ma", grokfast_lamb=(0.0, 5.0), orthogonal_grad=[False, True],
                         init_scale=(1.0, 1.0), optimizer="sgd", momentum=0.5, loss="stablemax")
    assert config.replace() == config
    assert config.per_member("orthogonal_grad") == (False, True) and config.init_scale == 1.0
    assert tiny_config(grokfast="ema").per_member("grokfast_lamb") == (2.0,) and tiny_config(grokfast="ma").per_member("grokfast_lamb") == (5.0,)


def _series(run, name):
    with run.metrics() as store:
        steps, by_member = store.series(name)
    return steps, by_member


def test_softmax_collapse_is_provoked_in_float32_and_avoided_by_stablemax(tmp_path):
    """Gromov's MLP, no weight decay, a large lr: in float32 the correct class's probability rounds to 1 for
    most training pairs within 100 steps (measured: 0 -> 0.79 and 0.89 for seeds 0, 1); float64 collapses
    later and less (0.44, 0.59); StableMax in float32 not at all (0, 0)."""
    base = dict(arch="mlp", d_model=16, d_mlp=64, seeds=(0, 1), frac=0.8, wd=0.0, lr=3e-2, param_dtype="float32",
                max_steps=100, eval_every=25, instruments=False, checkpoints=2, resume_every=1000)
    collapsed = train(tiny_config(loss_dtype="float32", **base), tmp_path / "f32")
    _, frac = _series(collapsed, names.COLLAPSE_ZERO_GRAD_FRAC)
    _, cosine = _series(collapsed, names.COLLAPSE_GRAD_WEIGHT_COSINE)
    _, norm = _series(collapsed, names.COLLAPSE_LOGIT_NORM)
    for e in (0, 1):
        assert frac[e][0] == 0 and frac[e][-1] > 0.5
        assert norm[e][-1] > 10 * norm[e][0]
        assert -1 <= cosine[e][-1] <= 1
    _, all_zero = _series(collapsed, names.COLLAPSE_ALL_ZERO_GRAD_FRAC)
    assert all(0 <= v <= f for e in (0, 1) for v, f in zip(all_zero[e], frac[e]))
    _, frac64 = _series(train(tiny_config(loss_dtype="float64", **base), tmp_path / "f64"), names.COLLAPSE_ZERO_GRAD_FRAC)
    assert all(frac64[e][-1] < frac[e][-1] for e in (0, 1))
    stable = train(tiny_config(loss_dtype="float32", loss="stablemax", **base), tmp_path / "stablemax")
    _, frac_stable = _series(stable, names.COLLAPSE_ZERO_GRAD_FRAC)
    _, acc_stable = _series(stable, names.TRAIN_ACC)
    assert all(v == 0 for e in (0, 1) for v in frac_stable[e])
    assert all(acc_stable[e][-1] == 1 for e in (0, 1))  # it learned: no collapse, not no progress


def test_collapse_diagnostics_can_be_turned_off(tmp_path):
    run = train(tiny_config(collapse_diagnostics=False, max_steps=5), tmp_path)
    with run.metrics() as store:
        assert names.COLLAPSE_ZERO_GRAD_FRAC not in store.names() and names.TRAIN_LOSS in store.names()


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("levers", [dict(grokfast="ema", grokfast_lamb=(0.0, 2.0)),
                                    dict(grokfast="ma", grokfast_window=4, orthogonal_grad=(True, False)),
                                    dict(optimizer="sgd", momentum=0.9, lr=0.1),
                                    dict(label_noise=(0.3, 0.0), fixed_weight_norm=(True, False))])
def test_resume_restores_the_filter_and_optimizer_state(tmp_path, levers):
    """Interrupted after step 12 (last resume checkpoint at 10), the run resumes to the uninterrupted weights."""
    from grokscope import resume

    config = tiny_config(seeds=(0, 1), max_steps=20, resume_every=5, **levers)
    whole = train(config, tmp_path / "whole").model().params

    def interrupt(step):
        if step == 12:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train(config, tmp_path / "cut", after_step=interrupt)
    resumed = resume(next((tmp_path / "cut").iterdir())).model().params
    for name, tensor in whole.items():
        assert torch.equal(resumed[name], tensor), name


@pytest.mark.parametrize("args, field", [(["--set", "optimizer=lion"], "optimizer"),
                                         (["--set", "grokfast=ma", "--set", "grokfast_window=1000000000"], "grokfast_window"),
                                         (["--set", "loss=softmax"], "loss")])
def test_cli_refuses_a_bad_lever_with_exit_2_and_writes_nothing(tmp_path, args, field):
    from typer.testing import CliRunner

    from grokscope import cli

    out = tmp_path / "runs"
    result = CliRunner().invoke(cli.app, ["train", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")
    assert not out.exists()


def test_member_config_carries_its_lever_values():
    config = tiny_config(seeds=(4, 5), grokfast="ema", grokfast_lamb=(0.0, 2.0), grokfast_alpha=(0.9, 0.98),
                         orthogonal_grad=(False, True), init_scale=(1.0, 3.0), lr=(1e-3, 2e-3))
    one = config.member(1)
    assert (one.seeds, one.grokfast_lamb, one.grokfast_alpha, one.orthogonal_grad, one.init_scale, one.lr) == \
        ((5,), 2.0, 0.98, True, 3.0, 2e-3)
    assert tiny_config(seeds=(4, 5), grokfast="ma").member(0).grokfast_lamb is None
