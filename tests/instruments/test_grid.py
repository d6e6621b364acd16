import pytest
import torch
from conftest import tiny_config

from grokscope import metric_names as names
from grokscope import train
from grokscope.errors import ConfigError
from grokscope.instruments.grid import additive_grid, primitive_root_powers, skip_note
from grokscope.tasks import build_table


@pytest.mark.parametrize("p", (7, 11, 13))
@pytest.mark.parametrize("task", ("x+y", "x-y", "x*y", "x/y"))
def test_grid_is_an_additive_problem(task, p):
    table = build_table(task, p)
    grid = additive_grid(table)
    n = grid.n
    assert n == (p if task in ("x+y", "x-y") else p - 1)
    assert grid.order.shape == (n * n,) and grid.labels.shape == (n, n) and grid.classes.shape == (n,)
    assert len(set(grid.order.tolist())) == n * n
    assert len(set(grid.classes.tolist())) == n
    for i in range(n):  # the reference: one position at a time
        for j in range(n):
            row = int(grid.order[i * n + j])
            assert grid.labels[i, j] == (i + j) % n
            assert grid.classes[grid.labels[i, j]] == table.c[row], (i, j)


@pytest.mark.parametrize("p", (7, 11, 13))
@pytest.mark.parametrize("task", ("x*y", "x/y"))
def test_multiplicative_grid_leaves_out_zero(task, p):
    table = build_table(task, p)
    grid = additive_grid(table)
    assert (table.a[grid.order] != 0).all() and (table.b[grid.order] != 0).all()
    left_out = set(range(table.n_pairs)) - set(grid.order.tolist())
    assert all(table.a[r] == 0 or table.b[r] == 0 for r in left_out)  # exactly the pairs with a zero operand
    assert grid.classes[1] == {7: 3, 11: 2, 13: 2}[p]  # the smallest primitive root (OEIS A001918)

def test_additive_grids_are_the_plain_ones():
    p = 13
    i, j = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    torch.testing.assert_close(additive_grid(build_table("x+y", p)).order, (i * p + j).reshape(-1))
    torch.testing.assert_close(additive_grid(build_table("x-y", p)).order, (i * p + (-j) % p).reshape(-1))


def test_train_mask_on_the_grid_follows_the_rows():
    table = build_table("x/y", 11)
    grid = additive_grid(table)
    mask = torch.zeros(2, table.n_pairs, dtype=torch.bool)
    mask[1, torch.nonzero(table.a == 3).squeeze(1)] = True  # member 1 trains on every pair with a = 3
    train_grid = mask[:, grid.order].reshape(-1, grid.n, grid.n)  # [E, n, n] as live.py builds it
    log_3 = grid.classes.tolist().index(3)
    assert not train_grid[0].any()
    assert train_grid[1, log_3].all() and train_grid[1].sum() == grid.n


@pytest.mark.parametrize(("task", "p"), (("x^2+y^2", 13), ("x/y if y odd else x-y", 13), ("x∘y", 3), ("x∘y∘x", 4)))
def test_tasks_without_an_additive_view(task, p):
    table = build_table(task, p)
    assert additive_grid(table) is None
    assert "skipped" in skip_note(table) and repr(task) in skip_note(table)


def test_primitive_root_needs_a_prime():
    with pytest.raises(ConfigError, match="p:"):
        primitive_root_powers(9)


def test_multiplication_trains_with_fourier_measures(tmp_path):
    run = train(tiny_config(task="x*y", p=13), tmp_path)
    with run.metrics() as store:
        assert {names.GINI_EMBED, names.N_KEY_FREQUENCIES_LIVE, names.RESTRICTED_LOSS} <= set(store.names())
        _, norms = store.vector_series(names.EMBED_NORMS, 0)
        assert len(norms[0]) == 6  # n = 12: frequencies 1..6, the sixth the lone cos(πx)
        assert store.meta("instrument_note") is None
