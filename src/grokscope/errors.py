"""The one error family users see: each message is a single line naming the field, path or member at fault."""

from __future__ import annotations

import difflib
import errno
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


class DiskFullError(GrokscopeError):
    """The disk filled while a run was written (CLI exit code 1); every file written whole is kept, so the run
    resumes once there is space."""


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NO_SPACE_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded", "os error 28")


def is_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is the disk running out of space: an OSError with ENOSPC or
    EDQUOT, or the same said in words by SQLite ("database or disk is full") or safetensors ("os error 28")."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return True
        if any(words in str(error).lower() for words in NO_SPACE_WORDS):
            return True
        error = error.__cause__ or error.__context__
    return False


class RunNotFoundError(GrokscopeError):
    """A path given as a run directory holds no run (CLI exit code 1)."""
