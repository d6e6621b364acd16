"""Power et al. (2022)'s operations: the registry, what each needs of its modulus, and the layout and split names.

Importable without torch (the command line lists it in a fraction of a second): a rule is plain arithmetic
(+, *, %, **) on whatever integer arrays it is given, int64 tensors when `tasks.build_table` calls it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

from .errors import ConfigError, did_you_mean

# How a task's pairs are shown to a model and split (tasks.encode, tasks.split_masks), named here so that a
# config is validated without torch.
Layout = Literal["a b =", "a op b =", "eos a op b = c eos", "a b", "bits", "pixels", "features"]
LAYOUTS: tuple[str, ...] = ("a b =", "a op b =", "eos a op b = c eos", "a b", "bits", "pixels", "features")
PARITY_MAX_BITS = 62  # bits of one example held in an int64
DIGITS_IMAGES = 1797  # sklearn.datasets.load_digits: 8×8 images (tasks.build_digits_table)
DIGITS_PIXELS = 64
DIGITS_CLASSES = 10
SplitMethod = Literal["counter", "python_random"]
SPLIT_METHODS: tuple[str, ...] = ("counter", "python_random")


@dataclass(frozen=True)
class Operation:
    """One binary operation of the registry.

    `group` is "Zp" (residues mod p; `p` is the modulus), "Sn" (permutations; `p` is the degree n), "parity"
    (sparse parity, Barak et al. 2022: `p` is the number of input bits n; tasks.build_parity_table) or
    "images" (a feature matrix, not an operation: scikit-learn's digits, `p` is the 64 pixels;
    tasks.build_digits_table) or "table" (feature rows and a scalar target stored with the run, each member its
    own: the regime demos; `p` is the number of input columns; tasks.StoredTable, store/table.py).
    `rule` maps int64 tensors (a, b) and p to c, for Zp; Sn tasks use `perm_rule` on permutation tuples.
    """

    name: str
    slug: str
    group: Literal["Zp", "Sn", "parity", "images", "table"]
    needs_prime: bool
    commutative: bool
    description: str
    rule: Callable[[Any, Any, int], Any] | None = None
    perm_rule: Callable[[tuple[int, ...], tuple[int, ...]], tuple[int, ...]] | None = None
    excludes_zero_b: bool = False

    def n_pairs(self, p: int) -> int:
        """Rows of the operation's table (tasks.build_table) from arithmetic alone: p² (p² − p without y = 0), or
        (n!)² on S_n."""
        if self.group == "parity":
            raise ValueError("sparse parity's pool size is a config field (parity_examples), not a function of p")
        if self.group == "table":
            raise ValueError("a stored table's rows are in its run directory (store/table.py), not a function of p")
        if self.group == "images":
            return DIGITS_IMAGES
        if self.group == "Sn":
            return math.factorial(p) ** 2
        return p * p - (p if self.excludes_zero_b else 0)

    def n_elements(self, p: int) -> int:
        """Elements of the operation's set, which are also its answer classes: p residues, n! permutations, the two
        bits of a parity, the ten digits; a stored table's one scalar output."""
        if self.group == "images":
            return DIGITS_CLASSES
        if self.group == "table":
            return 1
        if self.group == "parity":
            return 2
        return math.factorial(p) if self.group == "Sn" else p


def _inverse_mod(b: Any, p: int) -> Any:
    """b^(p-2) mod p elementwise, the inverse of b in Z_p* by Fermat's little theorem (p prime; 0 maps to 0).
    Square-and-multiply on the array itself, so int64 stays exact for p < 3·10⁹."""
    result, base, exponent = b * 0 + 1, b % p, p - 2
    while exponent:
        if exponent & 1:
            result = result * base % p
        base, exponent = base * base % p, exponent >> 1
    return result


def _compose(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[int, ...]:
    """openai/grok's S_n product: c = y[x], i.e. c[i] = y[x[i]] (notes-on-issues: follow its order)."""
    return tuple(y[i] for i in x)


def _invert(x: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(x)
    for position, value in enumerate(x):
        inverse[value] = position
    return tuple(inverse)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("x+y", "add", "Zp", False, True, "x + y mod p", rule=lambda a, b, p: (a + b) % p),
        Operation("x-y", "sub", "Zp", False, False, "x - y mod p", rule=lambda a, b, p: (a - b) % p),
        Operation(
            "x/y", "div", "Zp", True, False, "x * y^-1 mod p, y != 0",
            rule=lambda a, b, p: (a * _inverse_mod(b, p)) % p, excludes_zero_b=True,
        ),
        Operation(
            "x/y if y odd else x-y", "div_odd_sub", "Zp", True, False,
            "x * y^-1 mod p when y is odd, else x - y mod p (y = 0 is even)",
            rule=lambda a, b, p: (b % 2) * ((a * _inverse_mod(b, p)) % p) + (1 - b % 2) * ((a - b) % p),
        ),
        Operation("x^2+y^2", "sq_sum", "Zp", False, True, "x^2 + y^2 mod p", rule=lambda a, b, p: (a * a + b * b) % p),
        Operation(
            "x^2+xy+y^2", "quad", "Zp", False, True, "x^2 + xy + y^2 mod p",
            rule=lambda a, b, p: (a * a + a * b + b * b) % p,
        ),
        Operation(
            "x^2+xy+y^2+x", "quad_x", "Zp", False, False, "x^2 + xy + y^2 + x mod p",
            rule=lambda a, b, p: (a * a + a * b + b * b + a) % p,
        ),
        Operation("x^3+xy", "cube_xy", "Zp", False, False, "x^3 + xy mod p", rule=lambda a, b, p: (a**3 + a * b) % p),
        Operation(
            "x^3+xy^2+y", "cube_xy2_y", "Zp", False, False, "x^3 + xy^2 + y mod p",
            rule=lambda a, b, p: (a**3 + a * b * b + b) % p,
        ),
        Operation("x*y", "mul", "Zp", True, True, "x * y mod p", rule=lambda a, b, p: (a * b) % p),
        Operation("x∘y", "perm_xy", "Sn", False, False, "composition in S_n, c = y[x] (openai/grok)", perm_rule=_compose),
        Operation(
            "x∘y∘x⁻¹", "perm_xyx_inv", "Sn", False, False, "conjugation in S_n: (x∘y)∘x⁻¹",
            perm_rule=lambda x, y: _compose(_compose(x, y), _invert(x)),
        ),
        Operation(
            "x∘y∘x", "perm_xyx", "Sn", False, False, "x∘y∘x in S_n",
            perm_rule=lambda x, y: _compose(_compose(x, y), x),
        ),
        Operation("sparse_parity", "parity", "parity", False, False,
                  "parity of a hidden subset of k of n input bits (Barak et al. 2022); p is n"),
        Operation("digits", "digits", "images", False, False,
                  "class of scikit-learn's 8x8 digit images (Omnigrok, Liu et al. 2023); p is the 64 pixels"),
        Operation("table", "table", "table", False, False,
                  "a scalar target from feature rows stored with the run, each member its own (the regime demos); "
                  "p is the number of input columns"),
    )
}
_BY_SLUG = {op.slug: op for op in OPERATIONS.values()}
SN_DEGREES = (3, 4, 5)


def get_operation(name: str) -> Operation:
    """The registry entry for a name (`x+y`) or its slug (`add`).

    Raises:
        ConfigError: the name is in neither.
    """
    if name in OPERATIONS:
        return OPERATIONS[name]
    if name in _BY_SLUG:
        return _BY_SLUG[name]
    allowed = ", ".join(f"{op.name} ({op.slug})" for op in OPERATIONS.values())
    hint = did_you_mean(name, [*OPERATIONS, *_BY_SLUG])
    raise ConfigError(f"task: unknown operation {name!r}{hint}; allowed: {allowed}")


def task_title(task: str, p: int) -> str:
    """How a run's task reads in titles: "x+y mod 113", "xy on S_5", "sparse parity of 20 bits", "digits (8x8 pixels)"."""
    op = get_operation(task)
    if op.group == "images":
        return f"{op.name} (8x8 pixels)"
    if op.group == "table":
        return f"stored table of {p} columns"
    if op.group == "parity":
        return f"sparse parity of {p} bits"
    if op.group == "Sn":
        return f"{op.name} on S_{p}"
    return f"{op.name} mod {p}"


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, math.isqrt(n) + 1))


def check_modulus(op: Operation, p: int) -> None:
    """Raise ConfigError when p does not suit op (prime where a field is needed, degree 3..5 for S_n)."""
    if op.group == "images":
        if p != DIGITS_PIXELS:
            raise ConfigError(f"p: task {op.name!r} reads 8x8 = {DIGITS_PIXELS} pixels; set p={DIGITS_PIXELS}, got {p}")
    elif op.group == "table":
        pass  # any number of columns >= 2 (checked by RunConfig's p >= 2); the stored table must match it
    elif op.group == "parity":
        if not 2 <= p <= PARITY_MAX_BITS:
            raise ConfigError(f"p: the number of input bits n of {op.name!r} must be in 2..{PARITY_MAX_BITS}, got {p}")
    elif op.group == "Sn":
        if p not in SN_DEGREES:
            raise ConfigError(f"p: the degree n of S_n for task {op.name!r} must be one of {SN_DEGREES}, got {p}")
    elif p < 3:
        raise ConfigError(f"p: must be at least 3, got {p}")
    elif op.needs_prime and not is_prime(p):
        raise ConfigError(f"p: task {op.name!r} needs a prime modulus, got {p}")


def permutations(n: int) -> list[tuple[int, ...]]:
    """The elements of S_n in lexicographic order; element i is permutations(n)[i]."""
    return list(itertools.permutations(range(n)))
