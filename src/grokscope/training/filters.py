"""Gradient filters applied after backward and before the optimizer step: Grokfast-EMA, Grokfast-MA, ⊥Grad.

Each works in place on the gradients of [E, ...] parameters with per-member settings as [E] tensors;
a member whose lamb is 0 (or whose ⊥Grad flag is off) keeps its gradient exactly, so one ensemble holds
control and treatment. The trainer applies the Grokfast filter first, then ⊥Grad, then the optimizer
(the order of ironjr/grokfast's `gradfilter_*` before `optimizer.step()`, with Prieto et al.'s OrthoGrad
wrapping the optimizer). Every quantity that changes between steps lives in a device tensor or is set on
the first (eager) step, so a CUDA graph can replay the filtered step.
"""

from __future__ import annotations

import torch

from .optim import _per_member

ORTHO_EPS = 1e-30  # Prieto et al.'s code: added to |w|^2 and to |g_orth|


class GrokfastEMA:
    """Grokfast-EMA (Lee et al. 2024, Algorithm 2; ironjr/grokfast `gradfilter_ema`).

    h <- alpha * h + (1 - alpha) * g;  g <- g + lamb * h. The slow average h starts at the first
    gradient (so after the first step h = g), with no bias correction, as the reference code.

    Args:
        params: name -> [E, ...] parameters whose .grad is filtered.
        alpha, lamb: [E] per member; lamb 0 leaves that member's gradient untouched.
    """

    def __init__(self, params: dict[str, torch.Tensor], *, alpha: torch.Tensor, lamb: torch.Tensor):
        self.params, self.alpha, self.lamb = params, alpha, lamb
        self.ema = {name: torch.zeros_like(p) for name, p in params.items()}
        self.started = False  # Python state: the first call is eager (the CUDA graph captures later steps)

    @torch.no_grad()
    def __call__(self) -> None:
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            h = self.ema[name]
            if not self.started:
                h.copy_(grad)
            alpha = _per_member(self.alpha, grad)
            h.mul_(alpha).add_(grad * (1 - alpha))
            grad.add_(_per_member(self.lamb, grad) * h)
        self.started = True

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"grokfast_ema/{n}": t for n, t in self.ema.items()}  # zeros until started: the same keys always

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], step_count: int) -> None:
        if step_count == 0:
            return
        for name, h in self.ema.items():
            h.copy_(tensors[f"grokfast_ema/{name}"])
        self.started = True


class GrokfastMA:
    """Grokfast-MA (Lee et al. 2024, Algorithm 1; ironjr/grokfast `gradfilter_ma`, filter "mean", warm-up on).

    Keeps the last `window` gradients; once `window` of them are held, g <- g + lamb * mean(last window,
    current included); before that nothing is added. Memory: `window` copies of every gradient, i.e.
    window x E x parameters x bytes per element (config.py refuses more than `grokfast_max_gib`).

    Args:
        params: name -> [E, ...] parameters whose .grad is filtered.
        window: shared by all members.
        lamb: [E] per member; lamb 0 leaves that member's gradient untouched.
    """

    def __init__(self, params: dict[str, torch.Tensor], *, window: int, lamb: torch.Tensor):
        self.params, self.window, self.lamb = params, window, lamb
        self.history = {name: torch.zeros(window, *p.shape, dtype=p.dtype, device=p.device)
                        for name, p in params.items()}  # [window, E, ...], a ring
        device = lamb.device
        self.count = torch.zeros((), dtype=torch.long, device=device)  # gradients seen so far
        self.on = lamb != 0  # [E]

    @torch.no_grad()
    def __call__(self) -> None:
        slot = (self.count % self.window).reshape(1)
        self.count += 1
        full = self.count >= self.window  # 0-dim
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            history = self.history[name]
            history.index_copy_(0, slot, grad[None])
            mean = history.sum(0) / self.window
            use = full & _per_member(self.on, grad)
            grad.copy_(torch.where(use, grad + _per_member(self.lamb, grad) * mean, grad))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"grokfast_ma_count": self.count.clone(), **{f"grokfast_ma/{n}": t for n, t in self.history.items()}}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], step_count: int) -> None:
        self.count.copy_(tensors["grokfast_ma_count"])
        for name, history in self.history.items():
            history.copy_(tensors[f"grokfast_ma/{name}"])


@torch.no_grad()
def orthogonalize_(params: dict[str, torch.Tensor], on: torch.Tensor) -> None:
    """⊥Grad in place (Prieto et al. 2025, §6; their code's OrthoGrad), per parameter tensor and member.

    g_orth = g - (w.g / (w.w + 1e-30)) w, then g <- g_orth * |g| / (|g_orth| + 1e-30), where w and g
    are member e's tensor flattened. Members where `on` [E] is False keep g exactly.

    Args:
        params: name -> [E, ...] parameters with .grad.
        on: [E] bool.
    """
    for param in params.values():
        grad = param.grad
        if grad is None:
            continue
        w, g = param.reshape(param.shape[0], -1), grad.reshape(grad.shape[0], -1)  # [E, n]
        proj = (w * g).sum(1, keepdim=True) / ((w * w).sum(1, keepdim=True) + ORTHO_EPS)  # [E, 1]
        g_orth = g - proj * w
        scaled = g_orth * (g.norm(dim=1, keepdim=True) / (g_orth.norm(dim=1, keepdim=True) + ORTHO_EPS))
        grad.copy_(torch.where(on[:, None], scaled, g).reshape(grad.shape))


def build_filter(config, params: dict[str, torch.Tensor], device: torch.device) -> GrokfastEMA | GrokfastMA | None:
    """The config's Grokfast filter over params [E, ...], or None (grokfast "none")."""
    as_tensor = lambda values: torch.tensor(values, dtype=getattr(torch, config.param_dtype), device=device)
    if config.grokfast == "ema":
        return GrokfastEMA(params, alpha=as_tensor(config.per_member("grokfast_alpha")), lamb=as_tensor(config.per_member("grokfast_lamb")))
    if config.grokfast == "ma":
        return GrokfastMA(params, window=config.grokfast_window, lamb=as_tensor(config.per_member("grokfast_lamb")))
    return None
