"""Checkpoints in safetensors, written atomically.

Weights checkpoints (`checkpoints/step_XXXXXXXX.safetensors`) hold the parameters under their
TransformerLens paths, [E, ...]. The one resume checkpoint (`resume.safetensors`) also holds the
optimizer moments and the trainer's state, and is replaced as training goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .atomic import write_atomic

WEIGHTS_FORMAT = "grokscope-weights-1"
RESUME_FORMAT = "grokscope-resume-1"


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Tensors and string metadata to a safetensors file, atomically (the old file stays until the new is whole)."""
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    write_atomic(path, lambda tmp: save_file(cpu, str(tmp), metadata=metadata))


def load_tensors(path: Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file whose metadata names `expected_format` (CheckpointError otherwise)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({err})") from None
    if metadata.get("format") != expected_format:
        raise CheckpointError(f"{path}: format {metadata.get('format')!r}, expected {expected_format!r}")
    return tensors, metadata


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:08d}.safetensors"


def save_weights(run_dir: Path, step: int, params: dict[str, torch.Tensor]) -> Path:
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(exist_ok=True)
    save_tensors(path, params, {"format": WEIGHTS_FORMAT, "step": str(step)})
    return path


def _weights_step(path: Path, metadata: dict[str, str]) -> int:
    step = metadata.get("step", "")
    if not step.isdigit() or path.name != checkpoint_path(path.parent.parent, int(step)).name:
        raise CheckpointError(f"{path}: step {step!r} in its metadata does not match its name")
    return int(step)


def load_weights(path: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """(step, name -> [E, ...]) from a weights checkpoint."""
    tensors, metadata = load_tensors(path, WEIGHTS_FORMAT)
    return _weights_step(path, metadata), tensors


def check_weights(path: Path, shapes: dict[str, tuple[int, ...]], dtype: torch.dtype) -> None:
    """Raise CheckpointError unless the weights checkpoint's header names exactly these tensors with these shapes and
    dtype, and its step matches its name: read from the header alone (a resume checks every checkpoint it will read
    again, before training)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            slices = {name: handle.get_slice(name) for name in handle.keys()}
            found = {name: (tuple(piece.get_shape()), piece.get_dtype()) for name, piece in slices.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({err})") from None
    if metadata.get("format") != WEIGHTS_FORMAT:
        raise CheckpointError(f"{path}: format {metadata.get('format')!r}, expected {WEIGHTS_FORMAT!r}")
    _weights_step(path, metadata)
    wanted = {"float32": "F32", "float64": "F64"}[str(dtype).removeprefix("torch.")]
    for name in sorted(set(found) | set(shapes)):
        if name not in found or name not in shapes or found[name] != (tuple(shapes[name]), wanted):
            raise CheckpointError(f"{path}: tensor {name} {'missing' if name not in found else 'of another shape or dtype'} "
                                  "for this run's config")


def load_weight_of_member(path: Path, name: str, member: int) -> torch.Tensor:
    """One parameter of one member from a weights checkpoint, read without loading the others
    (a report walks every checkpoint of a 256-member run for one member's embedding)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            if (handle.metadata() or {}).get("format") != WEIGHTS_FORMAT:
                raise CheckpointError(f"{path}: not a grokscope weights checkpoint")
            return handle.get_slice(name)[member]
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({err})") from None


def check_all_weights(run_dir: Path, shapes: dict[str, tuple[int, ...]], dtype: torch.dtype) -> None:
    """check_weights on every weights checkpoint of a run: what a command that reads them all (a resume's
    retrospective pass, the monitor) checks before it starts."""
    for step in weight_steps(run_dir):
        check_weights(checkpoint_path(run_dir, step), shapes, dtype)


def weight_steps(run_dir: Path) -> list[int]:
    """Steps with a weights checkpoint, ascending (temporary files are ignored)."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("step_*.safetensors"))


def save_resume(run_dir: Path, tensors: dict[str, torch.Tensor], state: dict) -> None:
    save_tensors(run_dir / "resume.safetensors", tensors, {"format": RESUME_FORMAT, "state": json.dumps(state)})


def load_resume(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(tensors, trainer state) of the resume checkpoint, or None when the run never wrote one."""
    path = run_dir / "resume.safetensors"
    if not path.exists():
        return None
    tensors, metadata = load_tensors(path, RESUME_FORMAT)
    try:
        return tensors, json.loads(metadata["state"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: resume state missing or corrupt") from None
