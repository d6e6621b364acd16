"""Power et al. (2022) operation tables: full (a, b) -> c tables, token layouts and splits (the registry: operations.py).

Elements are numbered 0..n_elements-1 (residues mod p, or the permutations of S_n in lexicographic
order). Special tokens follow the elements: `=` is n_elements, the operator n_elements + 1 and
`<eos>` n_elements + 2, so a layout's vocabulary is the elements plus the specials it uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import torch

from .counter_rng import inverse_permutations, random_keys, random_permutations
from .errors import ConfigError
from .operations import (
    DIGITS_CLASSES,
    SPLIT_METHODS,
    Operation,
    check_modulus,
    get_operation,
    permutations,
)

# Random streams of counter_rng; one per use so that they never correlate.
SPLIT_STREAM = 1
PARITY_POOL_STREAM = 4  # sparse parity's example pool (the task's, not a member's: drawn with key 0)
PARITY_SUBSET_STREAM = 5  # its hidden subset
PARITY_DISTINCT_BITS = 20  # up to 2^20 inputs the pool is drawn without replacement


@dataclass(frozen=True)
class TaskTable:
    """Every (a, b) -> c of one operation, in row-major order of (a, b) with excluded pairs removed.

    a, b, c: [N] int64 element indices. n_elements: residues or permutations (also the answer classes).
    """

    op: Operation
    p: int
    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    n_elements: int

    @property
    def n_pairs(self) -> int:
        return self.a.shape[0]

    @property
    def equals_token(self) -> int:
        return self.n_elements

    @property
    def op_token(self) -> int:
        return self.n_elements + 1

    @property
    def eos_token(self) -> int:
        return self.n_elements + 2

    def row_index(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The table rows holding the pairs (a, b) (int64 tensors of one shape); -1 where a pair is not in the table."""
        size = self.n_elements
        row_of = torch.full((size * size,), -1, dtype=torch.int64)
        row_of[self.a * size + self.b] = torch.arange(self.n_pairs)
        return row_of[a * size + b]

    def mirror_index(self) -> torch.Tensor:
        """[N] int64: the row holding (b, a) for each row (a, b); -1 where the mirror is not in the table."""
        return self.row_index(self.b, self.a)


def build_table(task: str, p: int) -> TaskTable:
    """The full operation table of `task` over Z_p (or S_p for permutation tasks).

    Raises:
        ConfigError: unknown task, or p unsuitable for it.
    """
    op = get_operation(task)
    check_modulus(op, p)
    if op.group == "Zp":
        grid_a, grid_b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        a, b = grid_a.reshape(-1), grid_b.reshape(-1)
        if op.excludes_zero_b:
            keep = b != 0
            a, b = a[keep], b[keep]
        assert op.rule is not None
        return TaskTable(op, p, a, b, op.rule(a, b, p), n_elements=p)
    elements = permutations(p)
    index_of = {perm: i for i, perm in enumerate(elements)}
    assert op.perm_rule is not None
    pairs = [(i, j, index_of[op.perm_rule(x, y)]) for i, x in enumerate(elements) for j, y in enumerate(elements)]
    a, b, c = torch.tensor(pairs, dtype=torch.int64).T
    return TaskTable(op, p, a, b, c, n_elements=len(elements))


@dataclass(frozen=True)
class BitsTable:
    """Sparse parity (Barak et al. 2022, "Hidden progress in deep learning"; Merrill et al. 2023, "A tale of two
    circuits"): a pool of N examples of n bits, each labelled with the parity of a hidden subset of k of them.

    bits: [N, n] int64 in {0, 1}; c: [N] int64 labels (1 where the subset holds an odd number of ones); subset:
    the hidden coordinates. The pool and the subset belong to the task, (n, k, N) alone decide them: every member
    sees the same examples and splits them with its own seed, as the operation tables are split.
    """

    op: Operation
    p: int  # n, the input bits
    k: int
    bits: torch.Tensor
    c: torch.Tensor
    subset: tuple[int, ...]
    n_elements: int = 2  # the answer classes

    @property
    def n_pairs(self) -> int:
        return self.bits.shape[0]

    def character(self) -> torch.Tensor:
        """[N] float64 χ_S(x) = (−1)^(Σ_{i∈S} x_i) = 1 − 2·label: the Walsh function of the hidden subset."""
        return 1.0 - 2.0 * self.c.double()


def build_parity_table(n: int, k: int, n_examples: int) -> BitsTable:
    """The sparse-parity pool: n_examples distinct inputs (n <= PARITY_DISTINCT_BITS: a draw without replacement
    from all 2^n) or uniform draws (larger n, where repeats are negligible), and a hidden subset of k coordinates.

    Raises:
        ConfigError: k or the pool size do not suit n.
    """
    op = get_operation("sparse_parity")
    check_modulus(op, n)
    if not 1 <= k <= n:
        raise ConfigError(f"parity_k: the hidden subset needs 1 <= k <= n = {n}, got {k}")
    if n <= PARITY_DISTINCT_BITS and n_examples > 2**n:
        raise ConfigError(f"parity_examples: at most 2^{n} = {2**n} distinct inputs of {n} bits, got {n_examples}")
    key = torch.zeros(1, dtype=torch.int64)
    positions = torch.arange(n, dtype=torch.int64)
    if n <= PARITY_DISTINCT_BITS:
        codes = random_permutations(key, PARITY_POOL_STREAM, 2**n)[0, :n_examples]  # [N] distinct inputs
        bits = (codes[:, None] >> positions) & 1
    else:
        bits = random_keys(key, PARITY_POOL_STREAM, n_examples * n)[0].reshape(n_examples, n) & 1
    subset = tuple(sorted(random_permutations(key, PARITY_SUBSET_STREAM, n)[0, :k].tolist()))
    labels = bits[:, list(subset)].sum(1) % 2
    return BitsTable(op, n, k, bits, labels, subset)


@dataclass(frozen=True)
class FeatureTable:
    """A fixed feature matrix and its classes: scikit-learn's 8×8 digits (Omnigrok's "grokking beyond algorithmic
    data", Liu, Michaud, Tegmark 2023, §3.1, on MNIST there).

    x: [N, p] float64 features; c: [N] int64 classes in 0..n_elements-1. Split per member by its seed and
    fraction, as the operation tables are.
    """

    op: Operation
    p: int  # features per example
    x: torch.Tensor
    c: torch.Tensor
    n_elements: int  # the classes

    @property
    def n_pairs(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class StoredTable:
    """Rows that come with a run rather than from a rule (task "table"): each member's own feature rows and a
    scalar target, in eras, written beside the run's config (store/table.py) by whoever made them: the regime
    demos' state, id and shortcut columns and returns (grokscope.regime.models), one sample per member seed.

    x: [E, N, F] float64 inputs (member e's own rows; members may share a sample); y: [E, N] float64 targets;
    train, test, shift: [E, N] bool, the training rows, the in-era held-out rows (every member the same number)
    and the shift era's rows (may be empty); groups: name -> input columns, route ablation's groups in order;
    permuted: [E, F] bool, the columns member e reads permuted across each step's examples (the regime demos'
    kinds: C permutes the regime's route, P the state), None where none is; unseen: [E, F] bool, columns
    member e never sees (zeroed in its inputs, its first layer's rows for them start at 0), None where all are
    seen; rule: [E, N] float64, the true rule's prediction of each row (None on real data).
    """

    op: Operation
    p: int  # input columns F
    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    test: torch.Tensor
    shift: torch.Tensor
    groups: dict[str, list[int]]
    permuted: torch.Tensor | None = None
    unseen: torch.Tensor | None = None
    rule: torch.Tensor | None = None

    n_elements = 1  # one scalar output

    @property
    def n_members(self) -> int:
        return self.x.shape[0]

    @property
    def n_pairs(self) -> int:
        return self.x.shape[1]

    def members(self, index: slice | list[int]) -> "StoredTable":
        """The rows of the members at `index`, in that order."""
        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[index]

        return StoredTable(self.op, self.p, self.x[index], self.y[index], self.train[index], self.test[index],
                           self.shift[index], self.groups, pick(self.permuted), pick(self.unseen), pick(self.rule))


@cache
def _digits_arrays():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    return digits.data, digits.target


def build_digits_table() -> FeatureTable:
    """scikit-learn's 1,797 digits in its order: pixels 0..16 divided by 16, so inputs lie in [0, 1] as Omnigrok's
    MNIST notebook feeds `ToTensor()` images (pixels / 255, no normalization); classes 0..9."""
    x, y = _digits_arrays()
    return FeatureTable(get_operation("digits"), x.shape[1], torch.tensor(x, dtype=torch.float64) / 16.0,
                        torch.tensor(y, dtype=torch.int64), n_elements=DIGITS_CLASSES)


def vocab_size(layout: str, n_elements: int) -> int:
    """Tokens a layout uses: the elements plus its special tokens (for pixels: the classes, outputs only)."""
    if layout == "bits":
        return 2  # the tokens 0 and 1
    if layout in ("pixels", "features"):
        return n_elements
    return n_elements + {"a b": 0, "a b =": 1, "a op b =": 2, "eos a op b = c eos": 3}[layout]


def layout_positions(layout: str, p: int) -> tuple[int, tuple[int, ...]]:
    """(n_ctx, readout) of a layout from arithmetic alone, as inputs_and_targets returns them (the inputs' second
    axis and the scored positions): what a shape estimate needs without building the table."""
    if layout == "bits":
        return p, (p - 1,)
    if layout in ("pixels", "features"):
        return p, (0,)
    if layout == "eos a op b = c eos":
        return 6, (4, 5)
    n_ctx = len(layout.split())
    return n_ctx, (n_ctx - 1,)


# Input positions of the operands a and b in each layout (attention panels read them).
OPERAND_POSITIONS = {"a b": (0, 1), "a b =": (0, 1), "a op b =": (0, 2), "eos a op b = c eos": (1, 3)}


def encode(table: TaskTable, layout: str) -> torch.Tensor:
    """[N, pos] int64 input tokens of every pair in a layout.

    "a b =" (Nanda et al. 2023), "a op b =" (Power et al. 2022's equation without the answer),
    "eos a op b = c eos" (openai/grok's full sequence: the model reads it shifted by one and predicts
    each next token), "a b" (an MLP on the two operands).
    """
    n = table.n_pairs
    eq, op, eos = (torch.full((n,), t, dtype=torch.int64) for t in (table.equals_token, table.op_token, table.eos_token))
    columns = {
        "a b": (table.a, table.b),
        "a b =": (table.a, table.b, eq),
        "a op b =": (table.a, op, table.b, eq),
        "eos a op b = c eos": (eos, table.a, op, table.b, eq, table.c, eos),
    }[layout]
    return torch.stack(columns, dim=1)


def inputs_and_targets(table: TaskTable | BitsTable | FeatureTable | StoredTable, layout: str) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """What a model reads and predicts for every pair (or, for sparse parity, every example: its bits as tokens,
    layout "bits").

    Returns:
        inputs: [N, pos] int64 tokens (a FeatureTable: [N, F] float64 features; a StoredTable: [E, N, F]); targets: [N, n_out] int64 tokens to predict ([E, N, 1] float64); readout: the n_out
        input positions whose outputs predict them. For "eos a op b = c eos" (openai/grok) the model
        reads the sequence without its last token and is scored on the right-hand side: `=` predicts
        c and c predicts `<eos>` (loss and accuracy over both, as in openai/grok's training step).
    """
    if isinstance(table, BitsTable):
        return table.bits, table.c[:, None], (table.p - 1,)
    if isinstance(table, FeatureTable):  # inputs [N, F] float features, one scored output
        return table.x, table.c[:, None], (0,)
    if isinstance(table, StoredTable):  # inputs [E, N, F] each member's own (unseen columns zeroed), targets [E, N, 1]
        x = table.x if table.unseen is None else table.x.masked_fill(table.unseen[:, None, :], 0.0)
        return x, table.y[..., None], (0,)
    tokens = encode(table, layout)
    if layout == "eos a op b = c eos":
        return tokens[:, :-1], tokens[:, 5:], (4, 5)
    return tokens, table.c[:, None], (tokens.shape[1] - 1,)


def split_masks(
    table: TaskTable,
    seeds: tuple[int, ...],
    fracs: tuple[float, ...],
    *,
    method: str = "counter",
    symmetric: bool = False,
) -> torch.Tensor:
    """[E, N] bool training masks, one row per member, from that member's (seed, fraction) only.

    Each member trains on int(frac * N) pairs (Nanda et al.'s `int(frac_train * len(pairs))`).
    method "counter": a counter-based permutation (vectorized, the default). "python_random": the
    Nanda et al. code's `random.seed(seed); random.shuffle(pairs)` over the row-major pair list,
    which the `nanda2023` preset uses to reproduce the paper's split exactly.
    symmetric: a pair and its mirror always fall on the same side (commutative tasks), so no held-out
    pair can be answered by memorizing its mirror; the count is then the smallest whole number of
    mirror groups reaching int(frac * N).
    """
    if len(seeds) != len(fracs):
        raise ConfigError(f"frac: needs one value or one per member ({len(seeds)}), got {len(fracs)}")
    n = table.n_pairs
    orders = _orders(table, seeds, method=method, symmetric=symmetric)  # [E, N] rows in draw order
    counts = torch.tensor([int(f * n) for f in fracs])
    if symmetric:
        return _symmetric_masks(_mirror_group(table), orders, counts)
    return inverse_permutations(orders) < counts[:, None]


def _symmetric_masks(group: torch.Tensor, orders: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """[E, N] masks of whole mirror groups: a group enters at its first member drawn (orders [E, N], rows in draw
    order), and each member takes the shortest prefix of its group order whose pair count reaches counts[e].
    group [N]: each row's group (its representative row). Batched over members and groups (a scatter of first
    positions, one sort): E = 10^5 members take seconds, not a Python loop over members and pairs."""
    n_members, n = orders.shape
    drawn = group[orders]  # [E, N] the group of each draw
    first = torch.full((n_members, n), n, dtype=torch.int64)  # [E, N] first draw of group g (n: not a group)
    first.scatter_reduce_(1, drawn, torch.arange(n).expand(n_members, n), reduce="amin")
    group_order = torch.argsort(first, dim=1)  # [E, N] groups by first draw; non-groups (size 0) last
    sizes = torch.bincount(group, minlength=n)[group_order]  # [E, N] pairs in each group, in that order
    taken = torch.searchsorted(torch.cumsum(sizes, 1), counts[:, None]) + 1  # [E, 1] groups taken
    place = inverse_permutations(group_order)  # [E, N] each group's place
    return torch.gather(place < taken, 1, group.expand(n_members, n))


def _orders(table: TaskTable, seeds: tuple[int, ...], *, method: str, symmetric: bool) -> torch.Tensor:
    n = table.n_pairs
    if method == "counter":
        return random_permutations(torch.tensor(seeds, dtype=torch.int64), SPLIT_STREAM, n)
    if method == "python_random":
        rows = []
        for seed in seeds:  # setup only: Python's Mersenne Twister has no batched form
            order = list(range(n))
            random.seed(seed)
            random.shuffle(order)
            rows.append(order)
        return torch.tensor(rows, dtype=torch.int64)
    raise ConfigError(f"split: must be one of {SPLIT_METHODS}, got {method!r}")


def _mirror_group(table: TaskTable) -> torch.Tensor:
    """[N] int64: for each row, the smaller of its own row index and its mirror's."""
    mirror = table.mirror_index()
    own = torch.arange(table.n_pairs)
    return torch.where(mirror >= 0, torch.minimum(own, mirror), own)


def mirror_heldout_masks(table: TaskTable, train_masks: torch.Tensor) -> torch.Tensor:
    """[E, N] bool: held-out pairs whose mirror (b, a) is held out too (or absent from the table).

    For commutative tasks this is the honest generalization set: a held-out pair whose mirror was
    trained on is answered by memorization plus symmetry (reference, "Pitfalls").
    """
    mirror = table.mirror_index()
    mirror_trained = torch.where(mirror >= 0, train_masks[:, mirror.clamp(min=0)], torch.zeros_like(train_masks))
    return ~train_masks & ~mirror_trained
