"""A linear probe on a checkpoint's frozen features: the prequential learner `grokscope monitor` uses by default.

Voita & Titov 2020 code the labels with a probe on a fixed model's representations (their "MDL
probe"); here the representation is a checkpoint's, so the code length says how few examples a
linear reader of its features needs to predict the training labels. A representation that has
compressed the task (the clock's neurons vary with a + b only) is read from few examples; a lookup
table's is not. The checkpoint was trained on these very labels, so the code measures how readable
they are from its features, not whether the checkpoint predicts unseen pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from .features import Features
from .prequential import Fit, Predictor


@dataclass(frozen=True)
class ProbeSettings:
    """Multinomial logistic regression fit by full-batch Adam from zero weights.

    steps: Adam steps per fit. lr: Adam's step size. weight_decay: the L2 penalty (λ/2)‖W‖² added to
    the mean cross-entropy (the bias is not penalized). Defaults measured on the tiny preset
    (docs/monitor.md): weaker decay (1e-3) or per-feature standardization made the probe more overconfident
    on small prefixes (codes up to 2.7x the uniform code at initialization); the ten fits of a checkpoint
    cost ~1 s there for four members.
    """

    steps: int = 100
    lr: float = 0.05
    weight_decay: float = 1e-2

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"probe steps: must be a positive integer, got {self.steps!r}")
        if not self.lr > 0:
            raise ConfigError(f"probe lr: must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"probe weight_decay: must be >= 0, got {self.weight_decay}")


def _positions(features: torch.Tensor) -> torch.Tensor:
    """[E, N, P, d] from features [E, N, d] (one position) or [E, N, P, d]."""
    if features.dim() == 3:
        return features[:, :, None]
    if features.dim() == 4:
        return features
    raise ConfigError(f"features: must be [E, N, d] or [E, N, P, d], got {list(features.shape)}")


def linear_probe_fit(features: Features, n_classes: int, settings: ProbeSettings = ProbeSettings()) -> Fit:
    """fit(prefix_inputs [E, t, ...], prefix_labels [E, t] or [E, t, P]) -> predict(inputs) -> [E, m(, P), K] logits.

    One probe per member and scored position, all in one tensor program: W [E, P, d, K], b [E, P, K].
    Features are centred by the prefix's mean and divided by one scalar per member and position, the
    prefix's RMS (a per-feature scale blows up nearly constant features on the next block).

    Args:
        features: features(inputs [E, n, ...]) -> [E, n, d] or [E, n, P, d] (P scored positions).
        n_classes: K, the label alphabet.
        settings: ProbeSettings.
    """

    def fit(prefix_inputs: torch.Tensor, prefix_labels: torch.Tensor) -> Predictor:
        with torch.no_grad():
            f = _positions(features(prefix_inputs)).double()  # [E, t, P, d]
        labels = prefix_labels if prefix_labels.dim() == 3 else prefix_labels[..., None]  # [E, t, P]
        if labels.shape != f.shape[:3]:
            raise ConfigError(f"features: [E, t, P] = {list(f.shape[:3])} do not match labels {list(labels.shape)}")
        mean = f.mean(1, keepdim=True)  # [E, 1, P, d]
        scale = (f - mean).square().mean((1, 3), keepdim=True).sqrt()  # [E, 1, P, 1]
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # one example: centred features are 0
        z = (f - mean) / scale
        n_members, t, n_pos, d = z.shape
        weight = torch.zeros(n_members, n_pos, d, n_classes, dtype=torch.float64, device=z.device, requires_grad=True)
        bias = torch.zeros(n_members, n_pos, n_classes, dtype=torch.float64, device=z.device, requires_grad=True)
        optimizer = torch.optim.Adam([weight, bias], lr=settings.lr)  # elementwise: members stay independent
        for _ in range(settings.steps):
            optimizer.zero_grad()
            logits = torch.einsum("etpd,epdk->etpk", z, weight) + bias[:, None]  # [E, t, P, K]
            nll = -logits.log_softmax(-1).gather(-1, labels[..., None]).squeeze(-1)  # [E, t, P]
            penalty = 0.5 * settings.weight_decay * weight.square().sum((1, 2, 3))  # [E]
            (nll.mean((1, 2)) + penalty).sum().backward()  # the sum over members: each its own gradient
            optimizer.step()
        weight, bias = weight.detach(), bias.detach()

        def predict(inputs: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                z_new = (_positions(features(inputs)).double() - mean) / scale  # [E, m, P, d]
                logits = torch.einsum("empd,epdk->empk", z_new, weight) + bias[:, None]  # [E, m, P, K]
            return logits if prefix_labels.dim() == 3 else logits[:, :, 0]

        return predict

    return fit
