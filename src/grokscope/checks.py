"""Validators for configuration fields: each raises a one-line ConfigError naming the field and what is allowed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, did_you_mean


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}; got {value!r}{did_you_mean(value, allowed)}")


def check_integer(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name}: must be {kind}, got {value!r}")


def check_boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: must be true or false, got {value!r}")


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                 open_low: bool = False, open_high: bool = False) -> None:
    """A finite real number in [low, high] (open at either end on request)."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and math.isfinite(value) and (value > low if open_low else value >= low)
          and (value < high if open_high else value <= high))
    if not ok:
        if (low, high) == (-math.inf, math.inf):
            raise ConfigError(f"{name}: must be a finite number, got {value!r}")
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise ConfigError(f"{name}: must be a finite number in {lo}{low}, {high}{hi}, got {value!r}")


def named(name: str, value: Any, table: dict[str, Any]) -> Any:
    """table[value] for a name (a preset, say); any other value is returned as it is (already the object)."""
    if isinstance(value, str):
        check_choice(name, value, tuple(table))
        return table[value]
    return value


MAX_SEED = 2**63 - 1  # seeds are int64 counters (counter_rng) and torch generator seeds


def check_seed(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{name}: must be an integer in 0..{MAX_SEED} (int64), got {value!r}")


def check_output_dir(out: Path, option: str = "out") -> None:
    """Raise ConfigError if `out` cannot hold files (it is a file, or under one)."""
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option}: {parent} is a file, not a directory")
            break


def check_output_file(option: str, path: Path | None) -> None:
    """Raise ConfigError if a file cannot be written at path (when given): it is a directory, or its folder is under
    a file. Checked before any work starts, so a long command does not fail at its last step."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"{option}: {path} is a directory; give a file path")
    check_output_dir(path.parent, option)


def check_output_suffix(option: str, path: Path | None, suffixes: tuple[str, ...]) -> None:
    """Raise ConfigError unless path (when given) ends in one of suffixes (case-insensitive) and can be written."""
    if path is not None and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option}: must end in {' or '.join(suffixes)}, got {str(path)!r}")
    check_output_file(option, path)


def check_dir_name(name: str, value: Any) -> None:
    """A name that becomes a directory: text of 1..100 printable characters, no path separator, NUL or control
    character, not starting with a dot, and encodable as UTF-8."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name}: must be a non-empty name usable as a directory, got {value!r}")
    if len(value) > MAX_NAME:
        raise ConfigError(f"{name}: at most {MAX_NAME} characters, got {len(value)}")
    if "/" in value or "\\" in value or value.startswith(".") or not value.isprintable():
        raise ConfigError(f"{name}: must be printable, without '/', '\\' or a leading '.', got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{name}: must be valid Unicode text, got {value!r}") from None


MAX_NAME = 100
