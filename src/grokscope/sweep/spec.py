"""Sweep specs: a base preset, overrides, a grid over config fields, and the cells they expand to.

A spec is a TOML file (or a shipped name, see `specs/`):

    name = "power2022-fraction"        # the sweep directory's name
    preset = "power2022"               # the RunConfig every cell starts from
    max_pack = 256                     # optional: most members per ensemble
    [base]                             # optional: fields set for every cell
    max_steps = 100000
    [grid]                             # the product of these axes; `seed` gives one member per seed
    frac = [0.3, 0.5, 0.7]
    seed = [0, 1, 2]
    [[cases]]                          # optional: each case's fields, crossed with the grid
    task = "x+y"
    [[cases]]
    task = "x∘y"
    p = 5

Cells = cases x grid, in that order (the last grid axis varies fastest). A cell is one member: one
RunConfig with one seed. Every cell is validated before anything is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib

from ..checks import check_dir_name
from ..config import RunConfig
from ..errors import ConfigError
from ..presets import PRESETS, get_preset

SPEC_KEYS = ("name", "description", "preset", "max_pack", "base", "grid", "cases")
SEED_AXIS = "seed"
DEFAULT_MAX_PACK = 256
_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
# `seeds` is the pack's list; a cell has one seed, asked for on the `seed` axis.
GRID_FIELDS = tuple(sorted({*_CONFIG_FIELDS, SEED_AXIS} - {"seeds"}))


@dataclass(frozen=True)
class Cell:
    """One grid point and seed: one member of some pack.

    index: position in the spec's expansion; coords: the fields the spec varies (cases and grid
    axes, `seed` included), as written; config: the validated single-member RunConfig.
    """

    index: int
    coords: dict[str, Any]
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec; `to_dict()` is what sweep.json stores and resume compares."""

    name: str
    preset: str
    description: str = ""
    max_pack: int = DEFAULT_MAX_PACK
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def axes(self) -> list[str]:
        """The fields the spec varies, cases' first, in the order written."""
        names = [k for case in self.cases for k in case] + list(self.grid)
        return list(dict.fromkeys(names))

    def cells(self) -> list[Cell]:
        """Every cell of the sweep, validated (ConfigError names the field and the cell). Each setting (a cell less
        its seed) is validated once and its seeds checked alone (RunConfig.with_seed): 10^6 cells in seconds. The
        spec is frozen, so the list is expanded once and kept (parse_spec's validation, the plan and the run share
        it); do not modify it."""
        if "_cells" not in self.__dict__:
            object.__setattr__(self, "_cells", self._expand())
        return self.__dict__["_cells"]

    def _expand(self) -> list[Cell]:
        base = get_preset(self.preset).replace(**_config_fields(self.base))
        cells = []
        validated: dict[str, RunConfig] = {}  # setting (coords less the seed) -> its validated config
        for case in self.cases or [{}]:
            for point in itertools.product(*self.grid.values()):
                coords = {**case, **dict(zip(self.grid, point))}
                setting = repr([(k, v) for k, v in coords.items() if k != SEED_AXIS])
                try:
                    if setting not in validated:
                        validated[setting] = base.replace(**_config_fields(coords))
                    config = validated[setting]
                    if SEED_AXIS in coords:
                        config = config.with_seed(coords[SEED_AXIS])
                except ConfigError as error:
                    where = ", ".join(f"{k}={v}" for k, v in coords.items())
                    raise ConfigError(f"{error} (cell {where})") from None
                cells.append(Cell(len(cells), coords, config))
        return cells


def _config_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Spec fields as RunConfig fields: `seed = s` becomes `seeds = (s,)`."""
    out = {k: v for k, v in values.items() if k != SEED_AXIS}
    if SEED_AXIS in values:
        out["seeds"] = (values[SEED_AXIS],)
    return out


def _check_fields(where: str, values: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in values:
        if key not in allowed:
            hint = " (a cell has one seed: use 'seed')" if key == "seeds" else ""
            raise ConfigError(f"{where}.{key}: unknown field{hint}; allowed: {', '.join(allowed)}")


def _check_table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table of field = value, got {value!r}")
    return value


def parse_spec(data: dict[str, Any]) -> SweepSpec:
    """Validate a spec's top-level structure and every cell; returns the spec.

    Raises:
        ConfigError: one line naming the offending key (`grid.frac: ...`) and what is allowed.
    """
    unknown = [k for k in data if k not in SPEC_KEYS]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown sweep spec key; allowed: {', '.join(SPEC_KEYS)}")
    name = data.get("name")
    check_dir_name("name", name)
    preset = data.get("preset")
    if preset not in PRESETS:
        raise ConfigError(f"preset: must be one of {', '.join(PRESETS)}; got {preset!r}")
    max_pack = data.get("max_pack", DEFAULT_MAX_PACK)
    if isinstance(max_pack, bool) or not isinstance(max_pack, int) or max_pack < 1:
        raise ConfigError(f"max_pack: must be a positive integer, got {max_pack!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description: must be text, got {description!r}")
    base = _check_table("base", data.get("base", {}))
    _check_fields("base", base, tuple(f for f in _CONFIG_FIELDS if f != "seeds") + (SEED_AXIS,))
    grid = _check_table("grid", data.get("grid", {}))
    _check_fields("grid", grid, GRID_FIELDS)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{key}: must be a non-empty list of values, got {values!r}")
        if len({json.dumps(v) for v in values}) != len(values):
            raise ConfigError(f"grid.{key}: values must be distinct, got {values!r}")
    cases = data.get("cases", [])
    if not isinstance(cases, list) or not all(isinstance(c, dict) and c for c in cases):
        raise ConfigError("cases: must be a list of non-empty tables ([[cases]] in TOML)")
    for i, case in enumerate(cases):
        _check_fields(f"cases[{i}]", case, GRID_FIELDS)
        overlap = sorted(set(case) & set(grid))
        if overlap:
            raise ConfigError(f"cases[{i}].{overlap[0]}: also a grid axis; set a field in one place")
    spec = SweepSpec(name=name, preset=preset, description=description, max_pack=max_pack,
                     base=dict(base), grid={k: list(v) for k, v in grid.items()}, cases=[dict(c) for c in cases])
    spec.cells()  # validates every cell
    return spec


def shipped_specs() -> list[str]:
    """Names of the specs that ship with grokscope (`grokscope sweep NAME`)."""
    folder = resources.files("grokscope.sweep") / "specs"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(source: str | Path) -> SweepSpec:
    """A spec from a TOML path or a shipped spec's name.

    Raises:
        ConfigError: no such file or shipped spec, TOML that does not parse, or an invalid spec.
    """
    path = Path(source)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"spec: {source} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
                              f"{error.start})") from None
    elif str(source) in shipped_specs():
        text = (resources.files("grokscope.sweep") / "specs" / f"{source}.toml").read_text(encoding="utf-8")
    else:
        raise ConfigError(f"spec: {source} is neither a TOML file nor a shipped spec; shipped: {', '.join(shipped_specs())}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"spec: {source} is not valid TOML ({error})") from None
    return parse_spec(data)
