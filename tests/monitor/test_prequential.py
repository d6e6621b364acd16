"""Prequential description length: the uniform code's N·log2 K, block boundaries, a learner that compresses,
and regime specificity under a drift in time."""

import math

import pytest
import torch
from monitor_helpers import one_thread  # noqa: F401 (an autouse fixture)

from grokscope.errors import ConfigError
from grokscope.monitor import (
    TrainingData,
    online_code_length,
    prequential_description_length,
)
from grokscope.monitor.prequential import block_boundaries


def uniform_fit(n_classes):
    def fit(prefix_inputs, prefix_labels):
        return lambda inputs: torch.zeros(*inputs.shape[:2], n_classes)

    return fit


def table_fit(n_classes, n_keys):
    """A learner that memorizes key -> label from the prefix (counts with add-one smoothing)."""

    def fit(prefix_inputs, prefix_labels):  # [E, t], [E, t]
        counts = torch.ones(prefix_inputs.shape[0], n_keys, n_classes, dtype=torch.float64)
        counts.scatter_add_(1, prefix_inputs[..., None].expand(-1, -1, n_classes),
                            torch.nn.functional.one_hot(prefix_labels, n_classes).double())
        log_probs = (counts / counts.sum(-1, keepdim=True)).log()  # [E, n_keys, K]
        return lambda inputs: log_probs.gather(1, inputs[..., None].expand(-1, -1, n_classes))

    return fit


def test_voita_titov_boundaries():
    assert block_boundaries(10_000) == [10, 20, 40, 80, 160, 320, 625, 1250, 2500, 5000, 10_000]
    assert block_boundaries(50) == [1, 3, 6, 12, 25, 50]  # duplicates dropped, first block at least one example
    with pytest.raises(ConfigError, match="^fractions:"):
        block_boundaries(100, (0.5, 0.2))


@pytest.mark.parametrize("n, k", [(1000, 7), (37, 2)])
def test_uniform_predictor_costs_n_log2_k(n, k):
    g = torch.Generator().manual_seed(0)
    data = TrainingData(torch.randn(2, n, 3, generator=g), torch.randint(0, k, (2, n), generator=g))
    times = torch.randperm(n, generator=g)
    result = prequential_description_length(data, uniform_fit(k), n_classes=k, time_order=times)
    expected = torch.full((2,), n * math.log2(k), dtype=torch.float64)
    torch.testing.assert_close(result.shuffled.bits, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(result.time.bits, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(result.regime_specificity_bits, torch.zeros(2, dtype=torch.float64), rtol=0, atol=1e-9)
    assert result.shuffled.uniform_bits == pytest.approx(n * math.log2(k))
    assert result.shuffled.block_bits.shape == (2, len(result.shuffled.boundaries))


def test_each_block_is_coded_by_a_learner_that_never_saw_it():
    seen = []

    def fit(prefix_inputs, prefix_labels):
        seen.append(prefix_inputs.shape[1])
        return lambda inputs: torch.zeros(*inputs.shape[:2], 3)

    data = TrainingData(torch.zeros(1, 1000, 1), torch.zeros(1, 1000, dtype=torch.int64))
    code = online_code_length(data, fit, n_classes=3, order=torch.arange(1000)[None])
    assert seen == list(code.boundaries[:-1])


def test_a_learner_that_generalizes_compresses():
    g = torch.Generator().manual_seed(1)
    keys = torch.randint(0, 20, (1, 4000), generator=g)
    data = TrainingData(keys, keys % 5)  # the label is a function of the key
    bits = prequential_description_length(data, table_fit(5, 20), n_classes=5).shuffled.bits
    assert bits.item() < 0.1 * 4000 * math.log2(5)


def test_regime_specificity_sees_a_drift_in_time():
    # The key -> label rule changes halfway through time: coding in time order pays for the switch,
    # a shuffled order sees both rules from the start.
    g = torch.Generator().manual_seed(2)
    n = 4000
    keys = torch.randint(0, 20, (1, n), generator=g)
    time = torch.arange(n)
    labels = torch.where(time < n // 2, keys % 5, (keys + 1) % 5)
    result = prequential_description_length(TrainingData(keys, labels), table_fit(5, 20), n_classes=5,
                                            time_order=time)
    assert result.regime_specificity_bits.item() > 1000
    torch.testing.assert_close(result.regime_specificity_bits, result.time.bits - result.shuffled.bits)


def test_a_predictor_of_the_wrong_shape_is_refused():
    data = TrainingData(torch.zeros(1, 100, 2), torch.zeros(1, 100, dtype=torch.int64))
    with pytest.raises(ConfigError, match="^fit:"):
        prequential_description_length(data, uniform_fit(4), n_classes=3)
