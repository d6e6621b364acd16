"""The layers of docs/architecture.md, checked on the source: what each package may import, and where a loss is
backpropagated. Imports are read from the syntax tree (function-level imports included), not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "grokscope"

# The monitor fits an estimator of its own: the prequential code's linear probe (its SGLD chains take gradients
# with torch.autograd.grad, not a loss's backward).
MONITOR_ESTIMATORS = {"monitor/probe.py"}


def imported_modules(path: Path) -> set[str]:
    """Every grokscope module a file imports, absolute (`from ..store import x` -> grokscope.store, grokscope.store.x)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m == "grokscope" or m.startswith("grokscope.")}


def files(under: str) -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py")) if under else sorted(PACKAGE.rglob("*.py"))


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        bad = sorted(m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


def test_the_import_reader_sees_relative_and_function_level_imports(tmp_path):
    """The checks below are only as good as this reader: it must resolve both kinds of import."""
    probe = PACKAGE / "instruments" / "phases.py"
    assert "grokscope.instruments.warning.first_index" in imported_modules(probe)
    assert "grokscope.tasks.build_table" in imported_modules(PACKAGE / "config.py")  # inside RunConfig.table()


@pytest.mark.parametrize("layer, forbidden", [
    ("instruments", ("grokscope.store", "grokscope.training", "grokscope.run", "grokscope.analysis", "grokscope.monitor",
                     "grokscope.report", "grokscope.sweep", "grokscope.cli")),
    ("store", ("grokscope.training", "grokscope.instruments", "grokscope.models", "grokscope.run", "grokscope.analysis")),
    ("models", ("grokscope.store", "grokscope.training", "grokscope.instruments", "grokscope.run", "grokscope.analysis")),
    ("regime", ("grokscope.report", "grokscope.sweep", "grokscope.cli", "grokscope.training.trainer",
                "grokscope.training.optim", "grokscope.training.sampler")),  # trains through training.launch only
])
def test_a_lower_layer_imports_nothing_above_it(layer, forbidden):
    assert violations(files(layer), forbidden) == {}


def test_the_monitors_core_imports_no_grokscope_model():
    """Model-agnostic: a grokscope Ensemble reaches the monitor through its `stacked()` protocol; only the
    adapter for grokscope runs (run_monitor.py) knows the models, the store and the trainer's loss."""
    core = [p for p in files("monitor") if p.name != "run_monitor.py"]
    assert violations(core, ("grokscope.models", "grokscope.store", "grokscope.training", "grokscope.run")) == {}


def test_nothing_below_the_command_line_imports_it():
    below = [p for p in files("") if "cli" not in p.relative_to(PACKAGE).parts[:1] and p.name != "__main__.py"]
    assert violations(below, ("grokscope.cli",)) == {}


def test_losses_are_backpropagated_only_where_training_is_driven():
    backward = {str(p.relative_to(PACKAGE)) for p in files("") if ".backward()" in p.read_text(encoding="utf-8")}
    outside = {p for p in backward if not p.startswith("training/")}
    assert outside <= MONITOR_ESTIMATORS, outside
    assert any(p.startswith("training/") for p in backward)  # the reader found the trainer's own
