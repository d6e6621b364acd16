"""TransformerLens both ways: a member of a nanda-arch run as a `HookedTransformer`, and a HookedTransformer (or its
state dict) as a grokscope run directory that `analyze`, `report` and `monitor` read.

grokscope's `nanda` arch is the model Nanda et al. 2023 built with TransformerLens: a HookedTransformer with
`normalization_type=None`, learned positions, causal attention scaled by 1/√d_head. Its parameters already carry
TransformerLens's names and shapes (`embed.W_E [d_vocab, d_model]`, `blocks.0.attn.W_Q [n_heads, d_model, d_head]`,
...), so a member's parameters, without the member axis, are a HookedTransformer state dict as they are. Only that
arch maps exactly: the `power` and `grokfast` archs put LayerNorm and positions where TransformerLens has no switch
for them, `mlp` has no attention, `mlp_stack` no tokens; they are refused with one line.

transformer-lens 3.9.0 is the last release with `HookedTransformer` (4.0 replaced it by `TransformerBridge`, which
wraps Hugging Face checkpoints and has no constructor for a model trained from scratch); the extra `grokscope[tl]`
pins it (docs/bridges.md). Nothing here unpickles: a model arrives live, as a state dict in memory, or as safetensors.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from ..checks import check_output_dir
from ..config import RunConfig
from ..dataset import RunData
from ..errors import ConfigError
from ..models import Ensemble
from ..models.spec import ModelSpec
from ..run import Run, load
from ..store.atomic import write_atomic, write_text_atomic
from ..store.checkpoints import save_weights
from ..store.metrics import MetricsStore
from ..store.run_dir import (
    RunLock,
    new_run_dir,
    write_config,
    write_status,
)
from ..tasks import vocab_size
from ..training.evaluate import Evaluator
from ..training.retrospective import record_retrospective

TL_VERSION = "3.9.0"  # the last transformer-lens with HookedTransformer
BUFFERS = ("mask", "IGNORE")  # HookedTransformer's attention buffers: rebuilt by the model, not parameters
TL_ACTIVATIONS = ("relu", "gelu")  # what both sides compute the same way (quadratic is grokscope's only)


def _transformer_lens():
    try:
        import transformer_lens
    except ImportError:
        raise ConfigError(f"transformer-lens: not installed; pip install 'grokscope[tl]' (transformer-lens "
                          f"{TL_VERSION}, the last release with HookedTransformer)") from None
    if not hasattr(transformer_lens, "HookedTransformer"):
        raise ConfigError(f"transformer-lens: version {transformer_lens.__version__} has no HookedTransformer (removed "
                          f"in 4.0); pip install 'transformer-lens=={TL_VERSION}' (docs/bridges.md)")
    return transformer_lens


def check_exportable(config: RunConfig) -> None:
    """Raise ConfigError (one line, naming the field) unless `config`'s model is a HookedTransformer exactly."""
    if config.arch != "nanda":
        raise ConfigError(f"arch: only the nanda arch is a HookedTransformer exactly (no LayerNorm, learned positions); "
                          f"got {config.arch!r}")
    for name, allowed in (("normalization", ("none",)), ("positional", ("learned",)), ("act_fn", TL_ACTIVATIONS)):
        if config.resolved(name) not in allowed:
            raise ConfigError(f"{name}: TransformerLens's HookedTransformer computes {' or '.join(allowed)} here, the "
                              f"run has {config.resolved(name)!r}")
    if config.attention_rate != 1.0:
        raise ConfigError(f"attention_rate: a HookedTransformer attends by its pattern only (rate 1), the run mixes in "
                          f"uniform attention at rate {config.attention_rate}")


def hooked_config(config: RunConfig) -> dict[str, Any]:
    """The HookedTransformerConfig arguments of a run's model: its ModelSpec's shapes, activation and dtype."""
    check_exportable(config)
    spec = ModelSpec.from_config(config)
    return {"n_layers": spec.n_layers, "d_model": spec.d_model, "n_heads": spec.n_heads, "d_head": spec.d_head,
            "d_mlp": spec.d_mlp, "act_fn": spec.act_fn, "normalization_type": None, "d_vocab": spec.d_vocab,
            "d_vocab_out": spec.d_vocab_out, "n_ctx": spec.n_ctx, "positional_embedding_type": "standard",
            "dtype": config.param_dtype}


def member_state_dict(run: Run, member: int = 0, step: int | None = None) -> dict[str, torch.Tensor]:
    """Member `member`'s parameters at `step` (the last checkpoint by default) as a HookedTransformer state dict:
    TransformerLens names, no member axis, copies."""
    check_exportable(run.config)
    if not 0 <= member < run.config.n_members:
        raise ConfigError(f"member: must be in 0..{run.config.n_members - 1}, got {member}")
    return run.model(step).member(member)


def hooked_transformer(run: Run, member: int = 0, step: int | None = None):
    """A `transformer_lens.HookedTransformer` holding member `member`'s weights at `step`, in eval mode."""
    tl = _transformer_lens()
    kwargs = hooked_config(run.config)
    with warnings.catch_warnings():  # 3.9.0 warns that 4.0 removes the class: docs/bridges.md says what then
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        model = tl.HookedTransformer(tl.HookedTransformerConfig(**{**kwargs, "dtype": getattr(torch, kwargs["dtype"])},
                                                                device="cpu"))
    missing, unexpected = model.load_state_dict(member_state_dict(run, member, step), strict=False)
    missing = [name for name in missing if name.rsplit(".", 1)[-1] not in BUFFERS]
    if missing or unexpected:  # the shapes matched the config; a name that does not is a mapping error, not input
        raise RuntimeError(f"state dict does not fit the HookedTransformer: missing {missing}, unexpected {unexpected}")
    return model.eval()


def export(run: Run, out: Path, *, member: int = 0, step: int | None = None) -> tuple[Path, Path]:
    """Write member `member`'s state dict at `step` as safetensors at `out` and, beside it (`out` with suffix
    .json), the HookedTransformerConfig arguments and where the weights came from. Returns both paths."""
    if out.suffix != ".safetensors":
        raise ConfigError(f"out: must end in .safetensors, got {str(out)!r}")
    if out.parent.exists() and not out.parent.is_dir():
        raise ConfigError(f"out: {out.parent} is a file, not a directory")
    state = member_state_dict(run, member, step)
    chosen = run.checkpoint_steps()[-1] if step is None else step
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": "transformer-lens-state-dict", "grokscope_run": str(run.path), "member": str(member), "step": str(chosen)}
    write_atomic(out, lambda tmp: save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=meta))
    side = out.with_suffix(".json")
    write_text_atomic(side, json.dumps({"hooked_transformer_config": hooked_config(run.config), "transformer_lens": TL_VERSION,
                                        "source": {"run": str(run.path), "member": member, "step": chosen,
                                                   "grokscope_config": run.config.to_dict()}}, indent=2))
    return out, side


def _state_dict(model_or_state_dict: Any) -> tuple[dict[str, torch.Tensor], str | None]:
    """(state dict without buffers, the activation where the model says it) of a live model, a mapping or a
    safetensors path."""
    if isinstance(model_or_state_dict, (str, Path)):
        path = Path(model_or_state_dict)
        if path.suffix != ".safetensors" or not path.is_file():
            raise ConfigError(f"model: a path must be an existing .safetensors file (nothing is unpickled), got {str(path)!r}")
        from safetensors.torch import load_file

        state, act = load_file(str(path)), None
    elif isinstance(model_or_state_dict, Mapping):
        state, act = dict(model_or_state_dict), None
    elif hasattr(model_or_state_dict, "state_dict") and hasattr(model_or_state_dict, "cfg"):
        state, act = model_or_state_dict.state_dict(), getattr(model_or_state_dict.cfg, "act_fn", None)
    else:
        raise ConfigError(f"model: a HookedTransformer, a state dict or a .safetensors path, got {type(model_or_state_dict).__name__}")
    return {k: v.detach().cpu() for k, v in state.items() if k.rsplit(".", 1)[-1] not in BUFFERS}, act


def config_from_state_dict(state: Mapping[str, torch.Tensor], *, task: str, p: int, act_fn: str = "relu",
                           **fields: Any) -> RunConfig:
    """The RunConfig of the nanda-arch model whose HookedTransformer state dict is `state` (shapes read from it), for
    `task` mod `p` and any other RunConfig fields (frac, seeds, split, ...)."""
    if any(".ln" in k or k.startswith("ln_final") for k in state):
        raise ConfigError("model: the state dict has LayerNorm weights; grokscope's nanda arch (the model of Nanda et "
                          "al. 2023) has none")
    required = ("embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_Q", "blocks.0.mlp.W_in", "unembed.W_U")
    absent = [k for k in required if k not in state]
    if absent:
        raise ConfigError(f"model: not a HookedTransformer state dict with attention and MLP (missing {', '.join(absent)})")
    d_vocab, d_model = state["embed.W_E"].shape
    n_heads = state["blocks.0.attn.W_Q"].shape[0]
    n_layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    d_vocab_out = state["unembed.W_U"].shape[1]
    n_ctx = state["pos_embed.W_pos"].shape[0]
    biases = [t for k, t in state.items() if k.rsplit(".", 1)[-1].startswith("b_")]
    base = RunConfig(task=task, p=p, arch="nanda", **{"init": "transformer_lens", **fields})
    n_elements = base.table().n_elements
    layouts = {len(layout.split()): layout for layout in ("a b", "a b =", "a op b =")}
    layout = layouts.get(int(n_ctx))
    if layout is None or vocab_size(layout, n_elements) != d_vocab:
        raise ConfigError(f"model: d_vocab {d_vocab} and n_ctx {n_ctx} are not a token layout of {task} over {n_elements} "
                          f"elements (the TransformerLens grokking demo: d_vocab p + 1, n_ctx 3)")
    if d_vocab_out not in (d_vocab, n_elements):
        raise ConfigError(f"model: d_vocab_out {d_vocab_out} is neither d_vocab {d_vocab} nor the {n_elements} answers")
    return base.replace(layout=layout, n_layers=n_layers, d_model=int(d_model), n_heads=int(n_heads),
                        d_mlp=int(state["blocks.0.mlp.W_in"].shape[1]), act_fn=act_fn,
                        logits_over="vocab" if d_vocab_out == d_vocab else "answers",
                        param_dtype=str(state["embed.W_E"].dtype).removeprefix("torch."),
                        train_biases=fields.get("train_biases", any(bool(t.abs().max() > 0) for t in biases)))


def from_transformer_lens(model_or_state_dict: Any, *, task: str = "x+y", p: int = 113, step: int = 0,
                          out: str | Path = "runs", act_fn: str | None = None, **fields: Any) -> Run:
    """A grokscope run directory holding a TransformerLens model trained elsewhere, as one member's checkpoint at
    `step`, evaluated and measured like a trained run's (metrics, the live instruments, key frequencies).

    Args:
        model_or_state_dict: a live HookedTransformer, its state dict, or a .safetensors file of it.
        task: the operation it was trained on.
        p: its modulus.
        step: the training step the weights are from (the checkpoint's step).
        out: parent directory of the new run directory.
        act_fn: the MLP activation (default: the live model's, else relu as in the TL demo).
        **fields: any other RunConfig fields, e.g. frac=0.3, seeds=(999,), split="python_random", for the training
            split the model saw (the TL Grokking demo: frac 0.3, seed 598 over torch's randperm, which no grokscope
            split reproduces: held-out metrics then mix seen pairs in).
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ConfigError(f"step: must be an integer >= 0, got {step!r}")
    state, live_act = _state_dict(model_or_state_dict)
    config = config_from_state_dict(state, task=task, p=p, act_fn=act_fn or live_act or "relu",
                                    **{"max_steps": max(step, 1), **fields})
    if config.n_members != 1:
        raise ConfigError(f"seeds: one model is one member; give one seed, got {list(config.seeds)}")
    out = Path(out)
    check_output_dir(out)
    device = torch.device("cpu")
    model = Ensemble.create(config)
    with torch.no_grad():
        for name, tensor in model.params.items():
            source = state.get(name)
            if source is None or tuple(source.shape) != tuple(tensor.shape[1:]):
                raise ConfigError(f"model: parameter {name} missing or of shape {None if source is None else list(source.shape)}, "
                                  f"expected {list(tensor.shape[1:])}")
            tensor.copy_(source[None])
    run_dir = new_run_dir(out, config)
    with RunLock(run_dir):
        write_config(run_dir, config, device, imported_from="transformer_lens")
        data = RunData.build(config, device)
        save_weights(run_dir, step, model.params)
        with MetricsStore(run_dir / "metrics.sqlite") as metrics:
            evaluator = Evaluator(config, data, device)
            values, vectors = evaluator(model)
            metrics.write_evaluation(step, values, vectors)
            if evaluator.note is not None:
                metrics.set_meta("instrument_note", evaluator.note)
            if config.instruments:
                record_retrospective(run_dir, model, data, metrics)
        write_status(run_dir, state="finished", step=step, stop_reason="imported")
    return load(run_dir)
