"""The one error family users see: each message is a single line naming the field, path or member at fault."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """' (did you mean 'wd'?)' for the closest of `choices` to a mistyped `value` (difflib's ratio ≥ 0.6), else ''."""
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class GrokscopeError(Exception):
    """Base of every error grokscope raises on purpose; the CLI prints it as one line."""

    exit_code = 1


class ConfigError(GrokscopeError, ValueError):
    """Invalid input, detected before any work starts (CLI exit code 2)."""

    exit_code = 2


class CheckpointError(GrokscopeError):
    """A checkpoint is missing, corrupt, or of another format version (CLI exit code 1)."""


class RunLockedError(GrokscopeError):
    """Another process holds the run directory's writer lock (CLI exit code 1)."""


class RunNotFoundError(GrokscopeError):
    """A path given as a run directory holds no run (CLI exit code 1)."""
