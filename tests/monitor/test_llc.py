"""The local learning coefficient: a regular model's d/2, batched chains, trace checks, devinterp's estimator."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config
from monitor_helpers import cross_entropy, one_thread, squared_error  # noqa: F401 (an autouse fixture)
from torch import nn

from grokscope.errors import ConfigError
from grokscope.models import Ensemble
from grokscope.monitor import (
    SGLDSettings,
    TrainingData,
    calibrate_llc,
    local_learning_coefficient,
    stack,
)
from grokscope.monitor.sgld import standard_normal
from grokscope.training.loss import per_example_loss


def fitted_linear_regression(n: int = 2000, k: int = 5):
    """nn.Linear(k, 1) at its least-squares fit to y = x·a + b + N(0, 0.5²): d = k + 1 free parameters."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, k, generator=g, dtype=torch.float64)
    y = x @ torch.randn(k, 1, generator=g, dtype=torch.float64) + 0.3 + 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    solution = torch.linalg.lstsq(torch.cat((x, torch.ones(n, 1, dtype=torch.float64)), 1), y).solution  # [k + 1, 1]
    model = nn.Linear(k, 1).double()
    with torch.no_grad():
        model.weight.copy_(solution[:k].T)
        model.bias.copy_(solution[k])
    return model, x, y


def small_classifier():
    """A 2-8-3 tanh MLP trained to a minimum of a noisy 3-class problem (float32, n = 1024)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 2, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    y = torch.where(torch.rand(1024, generator=g) < 0.2, torch.randint(0, 3, (1024,), generator=g), y)  # 20% noise: a finite minimum
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(600):  # to a minimum: loss 0.520, largest gradient entry < 1e-3
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


@pytest.mark.slow
def test_llc_of_linear_regression_is_half_its_parameter_count():
    # A regular model: λ = d/2 = 3. At n = 2000, nβ = n/ln n, γ = 1, ε = 1e-4, batch 256, 64 chains of
    # 100 + 400 steps (~3 s), three sets of chain seeds gave 3.03, 3.03, 3.21. SGLD's own bias at this ε is
    # ~+2.6% (stationary variance 1/(a(2 − εa)) instead of 1/(2a), a = nβ·h ≈ 263).
    model, x, y = fitted_linear_regression()
    n = x.shape[0]
    settings = SGLDSettings(epsilon=1e-4, nbeta=n / math.log(n), gamma=1.0, batch_size=256, burn_in=100, draws=400)
    est = local_learning_coefficient(stack(model), TrainingData(x[None], y[None]), squared_error, settings,
                                     seeds=tuple(range(64)))
    assert est.d == 6
    assert bool(est.accepted.all())
    assert abs(est.llc.item() - 3.0) < 0.3  # 10% of d/2


def test_chains_are_batched_and_each_equals_its_one_chain_run():
    model, x, y = fitted_linear_regression(n=300, k=3)
    settings = SGLDSettings(epsilon=1e-4, nbeta=50.0, gamma=10.0, batch_size=64, burn_in=5, draws=20)
    data = TrainingData(x[None], y[None])
    together = local_learning_coefficient(stack(model), data, squared_error, settings, seeds=(11, 12, 13))
    assert together.loss_trace.shape == (1, 3, 25)
    assert together.llc_per_chain.shape == (1, 3)
    for c, seed in enumerate((11, 12, 13)):
        alone = local_learning_coefficient(stack(model), data, squared_error, settings, seeds=(seed,))
        torch.testing.assert_close(together.loss_trace[:, c], alone.loss_trace[:, 0], rtol=1e-12, atol=0)
    assert not torch.equal(together.loss_trace[0, 0], together.loss_trace[0, 1])  # own noise and batch order


def test_chain_noise_is_standard_normal_and_per_seed():
    z = standard_normal(torch.tensor([3, 4]), stream=7, n=20_001)
    assert z.shape == (2, 20_001)
    assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 1) < 0.02
    torch.testing.assert_close(standard_normal(torch.tensor([4]), stream=7, n=20_001)[0], z[1], rtol=0, atol=0)


def test_ensemble_member_equals_lone_member():
    config = tiny_config(seeds=(0, 1, 2))
    ensemble = Ensemble.create(config)
    inputs = torch.randint(0, 13, (40, 3))
    inputs[:, 2] = 13
    labels = (inputs[:, :1] + inputs[:, 1:2]) % 13  # [N, 1]
    loss = lambda out, lab: per_example_loss(out, lab, loss_dtype=torch.float64)  # noqa: E731
    settings = SGLDSettings(epsilon=1e-4, nbeta=10.0, gamma=100.0, batch_size=16, burn_in=3, draws=7)
    data = TrainingData(inputs.expand(3, -1, -1), labels.expand(3, -1, -1))
    packed = local_learning_coefficient(stack(ensemble), data, loss, settings, seeds=(5, 6))
    assert packed.loss_trace.shape == (3, 2, 10)
    lone = local_learning_coefficient(stack(ensemble.members(slice(1, 2))), TrainingData(inputs[None], labels[None]),
                                      loss, settings, seeds=(5, 6))
    torch.testing.assert_close(packed.loss_trace[1:2], lone.loss_trace, rtol=1e-10, atol=0)
    torch.testing.assert_close(packed.loss_init[1:2], lone.loss_init, rtol=1e-12, atol=0)


def test_a_point_that_is_not_a_minimum_drifts_down_and_is_not_reported():
    model, x, y = fitted_linear_regression(n=500, k=3)
    with torch.no_grad():
        model.bias.add_(1.0)  # far from the least-squares fit: SGLD walks downhill
    settings = SGLDSettings(epsilon=1e-4, nbeta=50.0, gamma=1.0, batch_size=100, burn_in=10, draws=100)
    est = local_learning_coefficient(stack(model), TrainingData(x[None], y[None]), squared_error, settings, seeds=(0, 1))
    assert bool(est.drifted_down.all()) and not bool(est.blew_up.any())
    assert torch.isnan(est.llc).all()
    assert (est.llc_per_chain < 0).all()  # the raw values stay available for diagnosis


def test_calibration_flags_blow_ups_and_never_reports_them():
    model, x, y = fitted_linear_regression(n=500, k=3)
    data = TrainingData(x[None], y[None])
    base = SGLDSettings(gamma=1.0, batch_size=100, burn_in=20, draws=80)
    # ε·nβ·h ≫ 2 makes the discretized dynamics unstable.
    calibration = calibrate_llc(stack(model), data, squared_error, epsilons=(1e-4, 0.1), nbetas=(50.0,), base=base)
    good, bad = calibration.estimates
    assert bool(good.accepted.all()) and 0 < good.llc.item() < 4
    assert bool(bad.blew_up.all()) and torch.isnan(bad.llc).all()
    assert calibration.accepted() == [good]
    rows = calibration.table()
    assert [(r["epsilon"], r["llc"] is None, r["blew_up"]) for r in rows] == [(1e-4, False, False), (0.1, True, True)]


def test_a_chain_that_leaves_the_basin_is_flagged_given_a_loss_margin():
    # Hot and barely localized: the chains random-walk away from w* while the estimate stays small.
    model, x, y = fitted_linear_regression(n=500, k=3)
    data = TrainingData(x[None], y[None])
    settings = SGLDSettings(epsilon=1e-2, nbeta=0.5, gamma=0.0, batch_size=100, burn_in=10, draws=100)
    loose = local_learning_coefficient(stack(model), data, squared_error, settings)
    assert bool(loose.accepted.all())  # the estimate alone cannot tell
    strict = local_learning_coefficient(stack(model), data, squared_error, settings, max_excess_loss=0.5)
    assert bool(strict.blew_up.all()) and torch.isnan(strict.llc).all()
    assert (strict.loss_trace[0, :, -25:].mean(-1) - strict.loss_init[0] > 0.5).all()


@pytest.mark.parametrize("field, value", [("epsilon", 0.0), ("nbeta", -1.0), ("gamma", -1.0), ("batch_size", 0),
                                          ("burn_in", -1), ("draws", 0)])
def test_bad_settings_name_their_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        SGLDSettings(**{field: value})


@pytest.mark.slow
def test_agrees_with_devinterp_estimator():
    # devinterp 1.3.2's SGLD (optim/sgld.py) with the same ε, nβ, γ, batch size, burn-in and draws, and our
    # L_n(w*) passed as its init_loss. Measured with many chains: ours 1.486 ± 0.023 (64 chains), devinterp
    # 1.435 ± 0.028 (24 chains); here ours 1.49 (16 chains), devinterp 1.60 (4 chains, seed 0). ~4 s, most of
    # it devinterp's chain-by-chain loop.
    devinterp_sampler = pytest.importorskip("devinterp.slt.sampler")
    from devinterp.optim.sgld import SGLD
    from devinterp.utils import evaluate_ce
    from torch.utils.data import DataLoader, TensorDataset

    model, x, y = small_classifier()
    settings = SGLDSettings(epsilon=1e-3, nbeta=100.0, gamma=100.0, batch_size=128, burn_in=50, draws=250)
    ours = local_learning_coefficient(stack(model), TrainingData(x[None], y[None]), cross_entropy, settings,
                                      seeds=tuple(range(16)))
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    with warnings.catch_warnings(), torch.random.fork_rng():  # devinterp seeds the global RNG and warns a lot
        warnings.simplefilter("ignore")
        theirs = devinterp_sampler.estimate_learning_coeff_with_summary(
            model, loader, evaluate=evaluate_ce, sampling_method=SGLD,
            optimizer_kwargs=dict(lr=1e-3, nbeta=100.0, localization=100.0), num_chains=4, num_draws=250,
            num_burnin_steps=50, init_loss=ours.loss_init.item(), seed=0, verbose=False)
    se = math.sqrt(ours.llc_std.item() ** 2 / 16 + theirs["llc/std"] ** 2 / 4)
    difference = abs(ours.llc.item() - theirs["llc/mean"])
    assert difference < 3 * se
    assert difference < 0.1 * theirs["llc/mean"]
