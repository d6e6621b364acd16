"""The instruments on the even-order grid of x*y and x/y (Z_(p−1)): the parity frequency n/2 is a candidate
for every rule, distance irrelevance is deterministic, and a dense key set is not called an algorithm."""

import math

import torch

from grokscope.instruments.clock_pizza import algorithm_verdict, distance_irrelevance
from grokscope.instruments.fourier import (
    energy_key_frequencies,
    frequency_norms,
    key_frequencies_from_neurons,
    key_frequencies_from_norms,
    live_key_frequencies,
    live_key_set,
    neuron_frequency_fve,
)
from grokscope.instruments.measures import restricted_loss
from grokscope.instruments.mechanism import fourier_verdict, null_restricted_loss

N = 30  # x*y and x/y mod 31


def _sums(n):
    a = torch.arange(n)
    return (a[:, None] + a[None, :]) % n


def _clock_logits(n, frequencies, scale=8.0):
    """[1, n, n, n] logits Σ_k scale·cos(w_k(a+b−c)): the ideal form on the given frequencies (n/2 included)."""
    a = torch.arange(n, dtype=torch.float64)
    s = (a[:, None] + a[None, :])[..., None] - a  # [n, n, n]: a + b − c
    return sum(scale * torch.cos(2 * math.pi * k * s / n) for k in frequencies)[None]


def test_planted_parity_frequency_is_found_by_every_rule():
    g = torch.Generator().manual_seed(0)
    a = torch.arange(N, dtype=torch.float64)
    parity, wave = torch.cos(math.pi * a), lambda k: torch.cos(2 * math.pi * k * a / N)
    # W_E [1, n, d]: frequency 4 and the parity frequency 15 planted, a little noise
    w_e = (torch.stack([wave(4), torch.sin(2 * math.pi * 4 * a / N), parity], 1) @ torch.randn(3, 16, generator=g, dtype=torch.float64)
           + 0.01 * torch.randn(N, 16, generator=g, dtype=torch.float64))[None]
    norms = frequency_norms(w_e)
    assert norms.shape == (1, 15)
    expected = [4, 15]
    assert (key_frequencies_from_norms(norms)[0].nonzero().flatten() + 1).tolist() == expected
    assert (live_key_frequencies(norms)[0].nonzero().flatten() + 1).tolist() == expected
    # neurons: one on the parity of a+b, one on frequency 4: the neuron rule (with and without FVE threshold) finds both
    grid = lambda k: torch.cos(2 * math.pi * k * (a[:, None] + a[None, :]) / N)
    activations = torch.stack([grid(15), grid(4)], dim=-1)[None]  # [1, n, n, 2]
    best, fve = neuron_frequency_fve(activations)
    assert best.tolist() == [[15, 4]] and (fve > 0.999).all()
    for threshold in (None, 0.85):
        assert (key_frequencies_from_neurons(best, fve, N, threshold=threshold)[0].nonzero().flatten() + 1).tolist() == expected
    # the restricted loss needs the parity frequency: logits on {4, 15} keep the loss low only with 15 kept
    logits = _clock_logits(N, [4, 15], scale=40.0)
    with_parity = torch.zeros(1, 15, dtype=torch.bool)
    with_parity[0, [3, 14]] = True
    without = with_parity.clone()
    without[0, 14] = False
    labels = _sums(N)
    assert restricted_loss(logits, labels, with_parity).item() < 0.1
    assert restricted_loss(logits, labels, without).item() > 0.5


def test_odd_grids_keep_the_paper_codes_range():
    n = 13
    a = torch.arange(n, dtype=torch.float64)
    last = torch.cos(2 * math.pi * 6 * (a[:, None] + a[None, :]) / n)[None, ..., None]  # the last frequency (n−1)/2
    assert neuron_frequency_fve(last)[0].item() != 6  # range(1, p//2) never tests it
    assert neuron_frequency_fve(last, last_frequency=True)[0].item() == 6


def test_distance_irrelevance_is_deterministic_and_finite_on_an_even_grid():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, N, N, N, generator=g, dtype=torch.float64)
    labels = _sums(N)
    first, second = distance_irrelevance(logits, labels), distance_irrelevance(logits, labels)
    assert torch.equal(first, second) and torch.isfinite(first).all()
    assert ((first > 0) & (first <= 1.0 + 1e-12)).all()
    # a correct logit that depends on a − b only has no spread within a difference; one on a + b only has all of it
    a = torch.arange(N, dtype=torch.float64)
    on_difference = torch.zeros(1, N, N, N, dtype=torch.float64).scatter(-1, labels[None, ..., None],
                                                                          torch.cos(2 * math.pi * (a[:, None] - a[None, :]) / N)[None, ..., None])
    on_sum = _clock_logits(N, [3])
    assert distance_irrelevance(on_difference, labels).item() < 1e-9
    assert distance_irrelevance(on_sum + 0.1 * torch.randn(1, N, N, N, generator=g, dtype=torch.float64), labels).item() > 0.9


def test_distance_irrelevance_on_an_odd_grid_is_the_papers_table():
    n = 13
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, n, n, n, generator=g, dtype=torch.float64)
    labels = _sums(n)
    correct = logits.gather(-1, labels.expand(2, n, n)[..., None])[..., 0]
    table = torch.zeros(2, n, n, dtype=torch.float64)  # [sum, difference], a bijection for odd n
    i = torch.arange(n)
    table[:, (i[:, None] + i[None, :]) % n, (i[:, None] - i[None, :]) % n] = correct
    expected = table.std(dim=1, unbiased=False).mean(1) / table.flatten(1).std(dim=1, unbiased=False)
    torch.testing.assert_close(distance_irrelevance(logits, labels), expected)


def test_a_nan_diagnostic_is_undetermined_not_clock():
    assert algorithm_verdict(float("nan"), 0.5) == "undetermined"
    assert algorithm_verdict(0.3, float("nan")) == "undetermined"
    assert algorithm_verdict(0.33, 0.85) == "clock"


def test_a_dense_key_set_is_not_an_algorithm():
    # a lookup table of the answers: its restricted loss with 13 of 15 frequencies is low, but so is a random 13
    labels = _sums(N)
    table = 20.0 * torch.nn.functional.one_hot(labels, N).double()[None]  # [1, n, n, n]
    dense = torch.ones(1, 15, dtype=torch.bool)
    dense[0, :2] = False
    restricted = restricted_loss(table, labels, dense).item()
    null = null_restricted_loss(table, labels, 13)
    carries, reason = fourier_verdict(13, restricted=restricted, null=null, removed=5.0, chance=math.log(N), fve=0.9)
    assert not carries and "dense" in reason
    assert restricted < 0.1 and null < 0.1  # the table's 13 frequencies pass the loss test, as any 13 would
    # a real clock on 2 frequencies beats every random pair
    clock = _clock_logits(N, [4, 11], scale=30.0)
    keys = torch.zeros(1, 15, dtype=torch.bool)
    keys[0, [3, 10]] = True
    restricted = restricted_loss(clock, labels, keys).item()
    assert restricted < 0.1 and restricted < null_restricted_loss(clock, labels, 2)
    assert fourier_verdict(2, restricted=restricted, null=null_restricted_loss(clock, labels, 2), removed=5.0,
                           chance=math.log(N), fve=0.9) == (True, "")


def test_the_live_set_holds_after_cleanup():
    # five key frequencies far above the rest; weight decay has shrunk most others, so eight stand 10x the median
    squared = torch.full((1, 56), 1e-4, dtype=torch.float64)
    squared[0, [13, 24, 34, 41, 51]] = 100.0
    squared[0, [1, 3, 5, 7, 9, 11, 15, 17]] = 1e-2
    keys = live_key_frequencies(squared.sqrt())
    assert (keys[0].nonzero().flatten() + 1).tolist() == [14, 25, 35, 42, 52]
    assert live_key_frequencies(squared.sqrt(), gap=None).sum() == 0  # the median test alone empties the set
    # a dense spectrum (no outlier, no gap) still admits nothing
    g = torch.Generator().manual_seed(0)
    assert live_key_frequencies(torch.randn(4, 56, 64, generator=g, dtype=torch.float64).norm(dim=-1)).sum() == 0


def test_after_cleanup_w_l_keeps_the_live_set_where_w_e_carries_seven_frequencies():
    """nanda2023 seed 2's last evaluation, in shape: W_E has seven frequencies hundreds of times its median (five of
    the algorithm's and two that its neurons do not use) before a 50-fold drop, so W_E's rule reads it as dense;
    W_L holds 99.6% of its energy on the five, and the live set is theirs."""
    embed = torch.ones(1, 56, dtype=torch.float64)
    embed[0, [37, 6, 26, 5, 14, 29, 11]] = torch.tensor([1155.0, 1147.0, 1108.0, 842.0, 842.0, 269.0, 226.0], dtype=torch.float64)
    embed[0, :20:4] = torch.maximum(embed[0, :20:4], torch.tensor(4.5, dtype=torch.float64))
    logit = torch.full((1, 56), 8e-5, dtype=torch.float64)  # the other 51 share 0.4% of the energy
    logit[0, [5, 14, 6, 37, 26]] = torch.tensor([0.215, 0.21, 0.20, 0.195, 0.176], dtype=torch.float64)
    assert live_key_frequencies(embed.sqrt()).sum() == 0  # W_E's rule alone empties the set
    live = live_key_set(embed.sqrt(), logit.sqrt())
    assert (live[0].nonzero().flatten() + 1).tolist() == [6, 7, 15, 27, 38]
    assert torch.equal(energy_key_frequencies(logit.sqrt()), live)
    assert torch.equal(live_key_set(embed.sqrt(), None), live_key_frequencies(embed.sqrt()))  # no W_L: W_E's rule


def test_w_l_s_energy_rule_admits_nothing_dense_and_never_overrides_w_e():
    g = torch.Generator().manual_seed(1)
    dense = torch.randn(4, 56, 64, generator=g, dtype=torch.float64).norm(dim=-1)  # energy spread over 56 frequencies
    assert energy_key_frequencies(dense).sum() == 0 and energy_key_frequencies(torch.zeros(1, 56)).sum() == 0
    embed = torch.ones(1, 15, dtype=torch.float64)
    embed[0, 3] = 20.0  # W_E admits frequency 4 (20 > 10 x the median)
    logit = torch.full((1, 15), 1e-3, dtype=torch.float64)
    logit[0, 9] = 1.0  # W_L's energy on frequency 10
    assert (live_key_set(embed.sqrt(), logit.sqrt())[0].nonzero().flatten() + 1).tolist() == [4]
    assert (energy_key_frequencies(logit.sqrt())[0].nonzero().flatten() + 1).tolist() == [10]
