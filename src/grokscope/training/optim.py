"""AdamW, Adam and SGD with per-member learning rate and weight decay.

MemberAdamW is AdamW (Loshchilov & Hutter 2019, decoupled decay) or, with `coupled_decay`, Adam with
L2 decay added to the gradient (torch.optim.Adam(weight_decay=...), what Grokfast's benchmark used);
MemberSGD is torch.optim.SGD (coupled L2 decay, optional momentum). The AdamW update is torch.optim.AdamW's, written once for [E, ...] tensors with lr and wd as [E] vectors,
so member e follows the trajectory torch's AdamW gives a lone model: to 1e-12 in float64 (tested);
in float32 the two differ by rounding (~1e-7 after 50 steps), as lr enters as a tensor, not a scalar.
"""

from __future__ import annotations

import torch


def _per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[E] -> [E, 1, ..., 1] broadcastable against `like`."""
    return values.reshape(-1, *(1,) * (like.dim() - 1))


class MemberAdamW:
    """AdamW over a dict of [E, ...] parameters.

    Args:
        params: name -> [E, ...] leaf tensors requiring grad.
        lr, wd: [E] per-member base learning rate and weight decay.
        betas, eps: shared, as torch's AdamW.
        coupled_decay: torch.optim.Adam's L2 decay (wd * param added to the gradient) instead of AdamW's.
    """

    def __init__(self, params: dict[str, torch.Tensor], *, lr: torch.Tensor, wd: torch.Tensor,
                 betas: tuple[float, float] = (0.9, 0.98), eps: float = 1e-8, coupled_decay: bool = False):
        self.params = params
        self.coupled_decay = coupled_decay
        self.lr, self.wd = lr, wd
        self.beta1, self.beta2 = betas
        self.eps = eps
        # A device tensor, not a Python int, so that a captured CUDA graph advances it on replay.
        self.step_t = torch.zeros((), dtype=torch.float64, device=lr.device)
        self.exp_avg = {name: torch.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in params.items()}

    @property
    def step_count(self) -> int:
        return int(self.step_t.item())

    @torch.no_grad()
    def step(self, lr_scale: float | torch.Tensor, active: torch.Tensor | None = None) -> None:
        """One update with learning rate lr * lr_scale; members where `active` [E] is False stay frozen.

        Every quantity that changes from step to step is a device tensor (lr_scale may be a 0-dim
        one), so the update can be captured in a CUDA graph and replayed.
        """
        self.step_t += 1
        lr = self.lr * lr_scale  # [E]
        bias_correction1 = 1 - torch.pow(self.beta1, self.step_t)  # 0-dim: keeps the parameters' dtype
        bias_correction2_sqrt = (1 - torch.pow(self.beta2, self.step_t)).sqrt()
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            lr_e = _per_member(lr, param)
            if active is not None:
                old = (param.clone(), m.clone(), v.clone())
            if self.coupled_decay:
                grad = grad + _per_member(self.wd, param) * param
            else:
                param.mul_(1 - lr_e * _per_member(self.wd, param))
            m.lerp_(grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.sub_(m / denom * (lr_e / bias_correction1))
            if active is not None:
                keep = _per_member(active, param)
                for tensor, before in zip((param, m, v), old):
                    tensor.copy_(torch.where(keep, tensor, before))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {**{f"exp_avg/{n}": t for n, t in self.exp_avg.items()},
                **{f"exp_avg_sq/{n}": t for n, t in self.exp_avg_sq.items()}}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], step_count: int) -> None:
        for name in self.params:
            self.exp_avg[name].copy_(tensors[f"exp_avg/{name}"])
            self.exp_avg_sq[name].copy_(tensors[f"exp_avg_sq/{name}"])
        self.step_t.fill_(step_count)


class MemberSGD:
    """torch.optim.SGD over a dict of [E, ...] parameters: g + wd * param, optional momentum (no dampening).

    Args:
        params: name -> [E, ...] leaf tensors requiring grad.
        lr, wd: [E] per-member base learning rate and (coupled, L2) weight decay.
        momentum: shared; 0 is plain gradient descent.
    """

    def __init__(self, params: dict[str, torch.Tensor], *, lr: torch.Tensor, wd: torch.Tensor, momentum: float = 0.0):
        self.params = params
        self.lr, self.wd = lr, wd
        self.momentum = momentum
        self.step_t = torch.zeros((), dtype=torch.float64, device=lr.device)
        # torch starts the buffer at the first gradient; from zeros, momentum * 0 + g is that gradient exactly.
        self.buffer = {name: torch.zeros_like(p) for name, p in params.items()} if momentum else {}

    @property
    def step_count(self) -> int:
        return int(self.step_t.item())

    @torch.no_grad()
    def step(self, lr_scale: float | torch.Tensor, active: torch.Tensor | None = None) -> None:
        """One update with learning rate lr * lr_scale; members where `active` [E] is False stay frozen."""
        self.step_t += 1
        lr = self.lr * lr_scale  # [E]
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            if active is not None:
                old = [param.clone()] + ([self.buffer[name].clone()] if self.momentum else [])
            direction = grad + _per_member(self.wd, param) * param
            if self.momentum:
                direction = self.buffer[name].mul_(self.momentum).add_(direction)
            param.sub_(_per_member(lr, param) * direction)
            if active is not None:
                keep = _per_member(active, param)
                for tensor, before in zip([param] + ([self.buffer[name]] if self.momentum else []), old):
                    tensor.copy_(torch.where(keep, tensor, before))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"momentum_buffer/{n}": t for n, t in self.buffer.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], step_count: int) -> None:
        for name, buffer in self.buffer.items():
            buffer.copy_(tensors[f"momentum_buffer/{name}"])
        self.step_t.fill_(step_count)


def build_optimizer(config, params: dict[str, torch.Tensor], device: torch.device) -> MemberAdamW | MemberSGD:
    """The config's optimizer (`optimizer`, `lr`, `wd`, betas, eps, momentum) over params [E, ...]."""
    as_tensor = lambda values: torch.tensor(values, dtype=getattr(torch, config.param_dtype), device=device)
    lr, wd = as_tensor(config.per_member("lr")), as_tensor(config.per_member("wd"))
    if config.optimizer == "sgd":
        return MemberSGD(params, lr=lr, wd=wd, momentum=config.momentum)
    return MemberAdamW(params, lr=lr, wd=wd, betas=(config.beta1, config.beta2), eps=config.eps,
                       coupled_decay=config.optimizer == "adam")


def warmup_scale(step: int, warmup_steps: int) -> float:
    """min(step / warmup_steps, 1): Nanda et al.'s and openai/grok's LambdaLR; the first step runs at lr 0."""
    return 1.0 if warmup_steps == 0 else min(step / warmup_steps, 1.0)


def lr_scale(step: int, config) -> float:
    """The learning rate's multiplier at `step`: the warm-up's, times the cool-down's, which falls linearly from 1
    to 0 over the last `cooldown_frac` of max_steps (so that training ends near a minimum of the training loss:
    the regime demos' LLC samples around the endpoint, and a noisy Adam endpoint lets SGLD chains drift below it)."""
    cooldown = config.cooldown_frac * config.max_steps
    cool = 1.0 if cooldown == 0 else min(1.0, (config.max_steps - step) / cooldown)
    return warmup_scale(step, config.warmup_steps) * cool
