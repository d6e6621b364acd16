
import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.operations import OPERATIONS, get_operation, permutations
from grokscope.tasks import (
    build_digits_table,
    build_table,
    encode,
    inputs_and_targets,
    mirror_heldout_masks,
    split_masks,
)

FORMULAS = {
    "x+y": lambda x, y, p: (x + y) % p,
    "x-y": lambda x, y, p: (x - y) % p,
    "x/y": lambda x, y, p: next(c for c in range(p) if (c * y) % p == x),
    "x/y if y odd else x-y": lambda x, y, p: next(c for c in range(p) if (c * y) % p == x) if y % 2 else (x - y) % p,
    "x^2+y^2": lambda x, y, p: (x**2 + y**2) % p,
    "x^2+xy+y^2": lambda x, y, p: (x**2 + x * y + y**2) % p,
    "x^2+xy+y^2+x": lambda x, y, p: (x**2 + x * y + y**2 + x) % p,
    "x^3+xy": lambda x, y, p: (x**3 + x * y) % p,
    "x^3+xy^2+y": lambda x, y, p: (x**3 + x * y**2 + y) % p,
    "x*y": lambda x, y, p: (x * y) % p,
}


@pytest.mark.parametrize("name", list(FORMULAS))
@pytest.mark.parametrize("p", [5, 7, 11, 13])
def test_zp_table_matches_formula(name, p):
    table = build_table(name, p)
    expected_pairs = [(x, y) for x in range(p) for y in range(p) if not (name == "x/y" and y == 0)]
    assert list(zip(table.a.tolist(), table.b.tolist())) == expected_pairs
    assert table.c.tolist() == [FORMULAS[name](x, y, p) for x, y in expected_pairs]


def _compose(x, y):  # openai/grok: c = b[a]
    return tuple(y[i] for i in x)


def _inverse(x):
    return tuple(sorted(range(len(x)), key=lambda i: x[i]))


@pytest.mark.parametrize("n", [3, 4])
def test_permutation_tables(n):
    elements = permutations(n)
    rules = {"x∘y": _compose, "x∘y∘x⁻¹": lambda x, y: _compose(_compose(x, y), _inverse(x)),
             "x∘y∘x": lambda x, y: _compose(_compose(x, y), x)}
    for name, rule in rules.items():
        table = build_table(name, n)
        assert table.n_pairs == len(elements) ** 2
        for a, b, c in zip(table.a.tolist(), table.b.tolist(), table.c.tolist()):
            assert elements[c] == rule(elements[a], elements[b])
    # conjugation preserves cycle type: the identity conjugates to itself
    conj = build_table("x∘y∘x⁻¹", n)
    assert (conj.c[conj.b == 0] == 0).all()


def test_registry_covers_power_et_al():
    assert sum(op.group in ("Zp", "Sn") for op in OPERATIONS.values()) == 13  # and sparse parity beside them
    assert [op.name for op in OPERATIONS.values() if op.group == "parity"] == ["sparse_parity"]
    assert get_operation("add").name == "x+y"
    with pytest.raises(ConfigError, match="task"):
        get_operation("x**y")


@pytest.mark.parametrize("task,p,field", [("x/y", 12, "p"), ("x*y", 9, "p"), ("x∘y", 6, "p"), ("x+y", 2, "p")])
def test_bad_modulus(task, p, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        build_table(task, p)


def test_layouts():
    table = build_table("x-y", 7)
    assert encode(table, "a b =")[3].tolist() == [0, 3, 7]
    assert encode(table, "a op b =")[3].tolist() == [0, 8, 3, 7]
    inputs, targets, readout = inputs_and_targets(table, "eos a op b = c eos")
    assert inputs[3].tolist() == [9, 0, 8, 3, 7, 4]
    assert targets[3].tolist() == [4, 9] and readout == (4, 5)


@pytest.mark.parametrize("method", ["counter", "python_random"])
def test_splits_disjoint_complete_deterministic(method):
    table = build_table("x+y", 13)
    masks = split_masks(table, (0, 1, 2), (0.3, 0.3, 0.6), method=method)
    assert masks.shape == (3, 169)
    assert masks.sum(1).tolist() == [int(0.3 * 169), int(0.3 * 169), int(0.6 * 169)]
    assert not torch.equal(masks[0], masks[1])  # own split per seed
    again = split_masks(table, (1,), (0.3,), method=method)
    assert torch.equal(again[0], masks[1])  # a member's split depends on its own seed only


def test_python_random_split_is_nanda_code():
    import random

    pairs = [(i, j) for i in range(13) for j in range(13)]
    random.seed(7)
    random.shuffle(pairs)
    expected = set(pairs[: int(0.3 * len(pairs))])
    table = build_table("x+y", 13)
    mask = split_masks(table, (7,), (0.3,), method="python_random")[0]
    assert {(a, b) for a, b, m in zip(table.a.tolist(), table.b.tolist(), mask.tolist()) if m} == expected


def test_symmetric_split_keeps_mirrors_together():
    table = build_table("x+y", 11)
    mask = split_masks(table, (0, 3), (0.5, 0.3), symmetric=True)
    mirror = table.mirror_index()
    assert torch.equal(mask, mask[:, mirror])
    assert (mask.sum(1) >= torch.tensor([int(0.5 * 121), int(0.3 * 121)])).all()
    held = mirror_heldout_masks(table, mask)
    assert torch.equal(held, ~mask)  # every held-out pair's mirror is held out too


def test_mirror_heldout_excludes_mirrors_of_training_pairs():
    table = build_table("x+y", 11)
    mask = split_masks(table, (0,), (0.5,))
    held = mirror_heldout_masks(table, mask)[0]
    mirror = table.mirror_index()
    for row in range(table.n_pairs):
        assert held[row] == (not mask[0, row] and not mask[0, mirror[row]])
    assert 0 < held.sum() < (~mask[0]).sum()


@pytest.mark.parametrize("name", [name for name, op in OPERATIONS.items() if op.group not in ("parity", "images", "table")])
def test_pair_count_from_arithmetic_matches_the_table(name):
    """config validates split sizes without building a table (or importing torch): the counts must agree."""
    op = OPERATIONS[name]
    for p in ((3, 4) if op.group == "Sn" else (5, 7)):
        assert op.n_pairs(p) == build_table(name, p).n_pairs


def test_the_digits_count_without_scikit_learn_matches_its_table():
    assert OPERATIONS["digits"].n_pairs(64) == build_digits_table().n_pairs == 1797


@pytest.mark.parametrize("task,p", [("x+y", 11), ("x*y", 13), ("x-y", 7), ("x^2+y^2", 17)])
def test_symmetric_split_is_the_draw_order_walk_batched(task, p):
    """The batched symmetric split equals its definition: walk the member's draw order, a mirror group enters
    whole at its first draw, stop once the pair count reaches int(frac * N)."""
    from collections import Counter

    from grokscope.tasks import _mirror_group, _orders

    table = build_table(task, p)
    seeds, fracs = tuple(range(12)), tuple(0.05 + 0.08 * i for i in range(12))
    masks = split_masks(table, seeds, fracs, symmetric=True)
    group = _mirror_group(table).tolist()
    sizes = Counter(group)
    for e, order in enumerate(_orders(table, seeds, method="counter", symmetric=True).tolist()):
        taken, total = set(), 0
        for row in order:
            if group[row] not in taken:
                taken.add(group[row])
                total += sizes[group[row]]
                if total >= int(fracs[e] * table.n_pairs):
                    break
        assert masks[e].tolist() == [g in taken for g in group], (task, e)
