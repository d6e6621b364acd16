"""A package face that loads its parts on first use (PEP 562): `import grokscope` and the command line's help stay
free of torch until something trains or reads a run."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_face(package: str, face: dict[str, str], namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`: a name of `face` (name -> the submodule defining it) is imported on first
    access and kept in the package's `namespace` (its globals()), so later lookups are plain attribute reads."""

    def __getattr__(name: str) -> Any:
        if name not in face:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{face[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *face])

    return __getattr__, __dir__
