"""Ensemble: E independent networks held as one set of [E, ...] parameter tensors."""

from __future__ import annotations

import torch

from ..config import RunConfig
from . import mlp_stack
from .fast import fast_last_logits, supports_fast_path
from .forward import Cache, Params, mlp_logits, transformer_logits
from .init import init_params, is_trainable, weight_shapes
from .spec import ModelSpec


class Ensemble:
    """E networks of one architecture; every parameter is [E, ...] under its TransformerLens path.

    `logits(tokens)` is the plain forward; `run_with_cache(tokens)` adds named activations;
    `member(e)` is member e's state dict (TransformerLens-shaped for the nanda arch).
    """

    def __init__(self, spec: ModelSpec, params: Params):
        self.spec = spec
        self.params = params
        for name, tensor in params.items():
            tensor.requires_grad_(is_trainable(spec, name))

    @classmethod
    def create(cls, config: RunConfig, *, device: torch.device | str = "cpu") -> "Ensemble":
        spec = ModelSpec.from_config(config)
        dtype = getattr(torch, config.param_dtype)
        params = init_params(spec, config.seeds, dtype)
        scales = config.per_member("init_scale")
        if any(scale != 1.0 for scale in scales):  # Omnigrok's α (Liu et al. 2023): every parameter times α
            alpha = torch.tensor(scales, dtype=dtype)
            scaled = set(params) if config.init_scale_biases else set(weight_shapes(spec))  # False: weights only
            params = {name: t * alpha.reshape(-1, *(1,) * (t.dim() - 1)) if name in scaled else t
                      for name, t in params.items()}
        return cls(spec, {name: t.to(device) for name, t in params.items()})

    def members(self, index: slice | torch.Tensor) -> "Ensemble":
        """The members at `index` (a slice, or a tensor of member indices) as an Ensemble of detached tensors
        (for evaluation and sampling; nothing trains)."""
        view = object.__new__(Ensemble)
        view.spec, view.params = self.spec, {name: t.detach()[index] for name, t in self.params.items()}
        return view

    @property
    def n_members(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def trainable(self) -> dict[str, torch.Tensor]:
        return {name: t for name, t in self.params.items() if t.requires_grad}

    def logits(self, tokens: torch.Tensor, cache: Cache | None = None) -> torch.Tensor:
        """[E, B, n_out, d_vocab_out] logits at the readout positions; tokens [N, pos] or [E, B, pos] (mlp_stack:
        features [N, F] or [E, B, F], n_out = 1)."""
        if self.spec.arch == "mlp_stack":
            return self._stack_logits(tokens, cache)
        if self.spec.arch == "mlp":
            return mlp_logits(self.params, self.spec, tokens, cache)
        if cache is None and supports_fast_path(self.spec):
            return fast_last_logits(self.params, self.spec, tokens[..., 0], tokens[..., 1], equals=self.spec.d_vocab - 1)
        return transformer_logits(self.params, self.spec, tokens, cache)

    def _stack_logits(self, features: torch.Tensor, cache: Cache | None) -> torch.Tensor:
        """[E, B, 1, classes] of the mlp_stack arch on features [N, F] (shared) or [E, B, F] (per member)."""
        w = self.params["layers.0.W"]
        x = features.to(w.dtype)
        if x.dim() == 2:
            x = x.expand(w.shape[0], *x.shape)  # [E, N, F]
        out = mlp_stack.forward(self.params, x, activation=self.spec.act_fn, cache=cache)[:, :, None]  # [E, B, 1, C]
        if cache is not None:
            cache["logits"] = out
        return out

    def run_with_cache(self, tokens: torch.Tensor) -> tuple[torch.Tensor, Cache]:
        """Logits and every named activation (TransformerLens hook names, member axis first)."""
        cache: Cache = {}
        logits = self.logits(tokens, cache)
        return logits, cache

    def stacked(self):
        """The ensemble as the monitor's stacked model (monitor/stacked.py): its member axis is the stack."""
        from .ensemble_stack import EnsembleStack

        return EnsembleStack(self)

    def member(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's parameters without the member axis (detached copies)."""
        return {name: t[e].detach().clone() for name, t in self.params.items()}
