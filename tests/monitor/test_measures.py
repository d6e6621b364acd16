"""Weight norm, effective learning rate, effective rank, V-REx, IRMv1 and route ablation against closed forms;
the Monitor's refusals, metric names and costs."""

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config
from monitor_helpers import cross_entropy, one_thread, squared_error  # noqa: F401 (an autouse fixture)
from torch import nn

from grokscope import metric_names as names
from grokscope.errors import ConfigError
from grokscope.models import Ensemble
from grokscope.monitor import (
    MEASURES,
    MissingInputError,
    Monitor,
    MonitorSettings,
    SGLDSettings,
    effective_learning_rate,
    effective_rank,
    ensemble_features,
    irmv1_penalty,
    module_features,
    vrex_penalty,
    weight_norm,
)
from grokscope.training.loss import per_example_loss


class ReadsFirstColumns(nn.Module):
    """A regression on columns 0 and 1 only: columns 2 and 3 are never read."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1, dtype=torch.float64)

    def forward(self, x):
        return self.linear(x[..., :2])


def regression_data(n=200):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = x[:, :1] - 2 * x[:, 1:2] + 0.1 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    return x, y


def fitted_reader():
    x, y = regression_data()
    model = ReadsFirstColumns()
    solution = torch.linalg.lstsq(torch.cat((x[:, :2], torch.ones(len(x), 1, dtype=torch.float64)), 1), y).solution
    with torch.no_grad():
        model.linear.weight.copy_(solution[:2].T)
        model.linear.bias.copy_(solution[2])
    return model, x, y


def test_weight_norm_and_effective_learning_rate():
    before = {"a": torch.tensor([[3.0, 0.0], [1.0, 0.0]]), "b": torch.tensor([[4.0], [0.0]])}  # E = 2
    after = {"a": torch.tensor([[3.0, 1.0], [1.0, 0.0]]), "b": torch.tensor([[4.0], [2.0]])}
    torch.testing.assert_close(weight_norm(before), torch.tensor([5.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(effective_learning_rate(before, after), torch.tensor([0.2, 2.0], dtype=torch.float64))


def test_effective_rank_closed_forms():
    eye = torch.eye(6, dtype=torch.float64)
    rank_one = torch.outer(torch.arange(1.0, 7.0), torch.arange(1.0, 5.0)).double()  # [6, 4]
    two_equal = torch.zeros(6, 4, dtype=torch.float64)
    two_equal[0, 0] = two_equal[1, 1] = 3.0
    torch.testing.assert_close(effective_rank(eye[None]), torch.tensor([6.0], dtype=torch.float64))
    values = effective_rank(torch.stack((rank_one, two_equal)))  # E = 2
    torch.testing.assert_close(values, torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_vrex_is_the_variance_of_environment_risks():
    losses = torch.tensor([[1.0, 1.0, 3.0, 5.0], [2.0, 2.0, 2.0, 2.0]])
    envs = torch.tensor([[0, 0, 1, 1], [0, 1, 0, 1]])
    # member 0: risks 1 and 4 -> variance 2.25; member 1: equal risks -> 0
    torch.testing.assert_close(vrex_penalty(losses, envs), torch.tensor([2.25, 0.0], dtype=torch.float64))


def test_irmv1_matches_a_scalar_dummy_classifier_per_environment():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 30, 4, generator=g, dtype=torch.float64)  # E = 2
    labels = torch.randint(0, 4, (2, 30), generator=g)
    envs = torch.randint(0, 3, (2, 30), generator=g)
    expected = torch.zeros(2, dtype=torch.float64)
    for e in range(2):  # reference: the paper's penalty, one dummy w per environment
        for env in range(3):
            w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
            rows = envs[e] == env
            risk = F.cross_entropy(logits[e, rows] * w, labels[e, rows])
            expected[e] += torch.autograd.grad(risk, w)[0] ** 2
    torch.testing.assert_close(irmv1_penalty(logits, labels, envs, cross_entropy), expected)


def test_irmv1_is_zero_where_the_scale_is_optimal_in_every_environment():
    # MSE with outputs exactly the labels: d/dw (w·y − y)² = 0 at w = 1 in every environment.
    y = torch.randn(1, 20, 1, dtype=torch.float64)
    envs = torch.arange(20)[None] % 2
    assert irmv1_penalty(y.clone(), y, envs, squared_error).item() == 0.0


def test_route_ablation_of_an_unused_group_is_exactly_zero_and_of_a_used_one_positive():
    model, x, y = fitted_reader()
    monitor = Monitor(model, squared_error, x, y, feature_groups={"used": [0, 1], "unused": [2, 3], "half": [1]})
    increases = monitor.route_ablation()  # [1, 3]
    assert monitor.group_names == ["used", "unused", "half"]
    assert increases[0, 1].item() == 0.0
    assert increases[0, 0].item() > 1.0 and increases[0, 2].item() > 1.0


def test_route_ablation_accepts_a_permute_callable():
    model, x, y = fitted_reader()

    def shuffle_second(inputs, perm):
        out = inputs.clone()
        out[..., 1] = inputs[:, perm, 1]
        return out

    by_callable = Monitor(model, squared_error, x, y, feature_groups={"b": shuffle_second}).route_ablation()
    by_columns = Monitor(model, squared_error, x, y, feature_groups={"b": [1]}).route_ablation()
    torch.testing.assert_close(by_callable, by_columns, rtol=0, atol=0)


def test_route_ablation_on_an_ensemble_over_token_positions():
    ensemble = Ensemble.create(tiny_config(seeds=(0, 1)))
    a, b = torch.meshgrid(torch.arange(13), torch.arange(13), indexing="ij")
    tokens = torch.stack((a.flatten(), b.flatten(), torch.full((169,), 13)), dim=1)  # [N, 3]
    labels = (tokens[:, :1] + tokens[:, 1:2]) % 13
    loss = lambda out, lab: per_example_loss(out, lab, loss_dtype=torch.float64)  # noqa: E731
    monitor = Monitor(ensemble, loss, tokens.expand(2, -1, -1), labels.expand(2, -1, -1),
                      feature_groups={"a": [0], "b": [1], "=": [2]})
    increases = monitor.route_ablation()
    assert increases.shape == (2, 3)
    assert (increases[:, 2] == 0).all()  # `=` is the same token in every example: shuffling it changes nothing
    assert (increases[:, :2] != 0).all()


def test_effective_rank_of_ensemble_and_module_features():
    ensemble = Ensemble.create(tiny_config(seeds=(0, 1)))
    tokens = torch.stack((torch.arange(13), torch.arange(13).flip(0), torch.full((13,), 13)), 1)
    monitor = Monitor(ensemble, lambda o, l: o.sum((-1, -2)), tokens.expand(2, -1, -1), torch.zeros(2, 13, 1),
                      features=ensemble_features(ensemble, "blocks.0.mlp.hook_post"))
    ranks = monitor.effective_rank()
    assert ranks.shape == (2,) and bool(((ranks >= 1) & (ranks <= 13)).all())
    model, x, y = fitted_reader()
    module_rank = Monitor(model, squared_error, x, y, features=module_features(model, "linear")).effective_rank()
    torch.testing.assert_close(module_rank, torch.ones(1, dtype=torch.float64))  # one output column


REFUSALS = {
    "prequential": "fit",
    "effective_lr": "previous",
    "effective_rank": "features",
    "vrex": "environments",
    "irmv1": "environments",
    "route_ablation": "feature_groups",
}


@pytest.mark.parametrize("measure, missing", sorted(REFUSALS.items()))
def test_each_refusal_names_the_missing_input(measure, missing):
    model, x, y = fitted_reader()
    monitor = Monitor(model, squared_error, x, y)
    assert missing in MEASURES[measure].needs
    with pytest.raises(MissingInputError, match=f"^{measure}: needs {missing} ") as raised:
        monitor.measure([measure], checkpoint_step=0)
    assert "\n" not in str(raised.value)
    method = getattr(monitor, measure)
    with pytest.raises(MissingInputError, match=f"needs {missing} "):
        method(None) if measure == "effective_lr" else method()


def test_prequential_refuses_without_the_alphabet_size():
    model, x, y = fitted_reader()
    monitor = Monitor(model, squared_error, x, y, fit=lambda xs, ys: (lambda inputs: inputs))
    with pytest.raises(MissingInputError, match="needs n_classes "):
        monitor.prequential()


def test_measure_returns_named_metrics_and_costs():
    model, x, y = fitted_reader()
    envs = torch.arange(len(x)) % 3
    settings = MonitorSettings(llc=SGLDSettings(epsilon=1e-4, nbeta=20.0, gamma=10.0, batch_size=50, burn_in=5, draws=20))
    monitor = Monitor(model, squared_error, x, y, environments=envs, feature_groups={"x0": [0]}, settings=settings)
    previous = {name: p.detach()[None] * 0.9 for name, p in model.named_parameters()}
    result = monitor.measure(["llc", "weight_norm", "effective_lr", "vrex", "irmv1", "route_ablation"], 400,
                             previous=previous)
    assert result.step == 400
    assert set(result.seconds) == {"llc", "weight_norm", "effective_lr", "vrex", "irmv1", "route_ablation"}
    for name in (names.LLC, names.LLC_STD, names.LLC_LOSS_INIT, names.LLC_ACCEPTED, names.LLC_EPSILON,
                 names.LLC_NBETA, names.LLC_GAMMA, names.LLC_BATCH_SIZE, names.LLC_BURN_IN, names.LLC_DRAWS,
                 names.LLC_CHAINS, names.WEIGHT_NORM, names.EFFECTIVE_LR, names.RISK_VARIANCE, names.IRMV1_PENALTY):
        assert result.values[name].shape == (1,), name
    assert result.values[names.ROUTE_ABLATION].shape == (1, 1)
    assert result.values[names.LLC_EPSILON].item() == 1e-4 and result.values[names.LLC_BATCH_SIZE].item() == 50
    torch.testing.assert_close(result.values[names.EFFECTIVE_LR], torch.tensor([1 / 9], dtype=torch.float64))
    assert result.llc is not None and result.llc.loss_trace.shape == (1, 2, 25)
    assert all(name.startswith("monitor/") for name in result.values)


def test_unknown_measures_and_bad_shapes_are_refused_by_name():
    model, x, y = fitted_reader()
    monitor = Monitor(model, squared_error, x, y)
    with pytest.raises(ConfigError, match="^measures: unknown"):
        monitor.measure(["nope"], 0)
    with pytest.raises(ConfigError, match="^environments:"):
        Monitor(model, squared_error, x, y, environments=torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ConfigError, match="^train_inputs:"):
        Monitor(Ensemble.create(tiny_config(seeds=(0, 1))), squared_error, torch.zeros(1, 5, 3), torch.zeros(1, 5, 1))
