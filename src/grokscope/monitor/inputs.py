"""What the monitor's measures read: the training set with the member axis first, and the refusal
raised when a measure is asked for without an input it needs.

The monitor never reads held-out data: every measure takes the training set only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError


class MissingInputError(ConfigError):
    """A measure was asked for without an input it needs; the message names the input."""


def require(measure: str, name: str, value: object, hint: str) -> None:
    """Raise MissingInputError(`measure: needs <name> (<hint>)`) when value is None."""
    if value is None:
        raise MissingInputError(f"{measure}: needs {name} ({hint})")


@dataclass(frozen=True)
class TrainingData:
    """One training set per member, member axis first.

    inputs: [E, N, ...] (tokens [E, N, pos] for a grokscope Ensemble); labels: [E, N, ...]. A set
    shared by all members is passed as `x.expand(E, *x.shape)` (a view, no copy). Every member has N
    examples: members of a run whose training sets differ in size are monitored in groups of equal N.
    """

    inputs: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.inputs.dim() < 2 or self.labels.dim() < 2:
            raise ConfigError(f"train_inputs, train_labels: need a member axis and an example axis [E, N, ...], "
                              f"got {list(self.inputs.shape)} and {list(self.labels.shape)}")
        if self.inputs.shape[:2] != self.labels.shape[:2]:
            raise ConfigError(f"train_labels: must match train_inputs on [E, N], got {list(self.labels.shape[:2])} "
                              f"and {list(self.inputs.shape[:2])}")
        if self.inputs.shape[1] == 0:
            raise ConfigError("train_inputs: the training set is empty")

    @property
    def n_members(self) -> int:
        return self.inputs.shape[0]

    @property
    def n(self) -> int:
        """Training examples per member."""
        return self.inputs.shape[1]

    def rows(self, members: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs [R, B, ...] and labels [R, B, ...] of row r's examples index[r] from member members[r]'s set.

        Args:
            members: [R] int64 member of each row. index: [R, B] int64 in 0..N-1.
        """
        return self.inputs[members[:, None], index], self.labels[members[:, None], index]

    def chunks(self, size: int):
        """(start, inputs [E, b, ...], labels [E, b, ...]) over the examples in chunks of `size`."""
        for start in range(0, self.n, size):
            yield start, self.inputs[:, start:start + size], self.labels[:, start:start + size]


def per_member(name: str, value: torch.Tensor, n_members: int, n: int) -> torch.Tensor:
    """[E, N] from a per-example tensor given as [N] (shared by all members) or [E, N]."""
    if value.dim() == 1 and value.shape[0] == n:
        return value.expand(n_members, n)
    if value.dim() == 2 and tuple(value.shape) == (n_members, n):
        return value
    raise ConfigError(f"{name}: must be [N] or [E, N] = [{n_members}, {n}], got {list(value.shape)}")
