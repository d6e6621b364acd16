"""ModelSpec: the shapes and choices of one architecture, derived from a RunConfig and its task."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import RunConfig
from ..operations import get_operation
from ..tasks import layout_positions, vocab_size


@dataclass(frozen=True)
class ModelSpec:
    """Everything a forward pass and an initializer need to know.

    n_ctx: input positions; readout: the positions whose logits are scored (one for "a b =");
    d_vocab_out: output classes (all tokens under logits_over="vocab", the answers only under "answers").
    trainable_biases: bias names (`b_in`, `b_Q`, ...) that train; the others stay at zero.
    """

    arch: str
    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    d_vocab: int
    d_vocab_out: int
    n_ctx: int
    readout: tuple[int, ...]
    act_fn: str
    normalization: str
    positional: str
    init: str
    trainable_biases: tuple[str, ...]
    attention_rate: float = 1.0

    @classmethod
    def from_config(cls, config: RunConfig) -> "ModelSpec":
        """From the config's fields alone: no table is built, so a shape estimate allocates nothing."""
        layout = config.resolved("layout")
        n_ctx, readout = layout_positions(layout, config.p)
        n_elements = get_operation(config.task).n_elements(config.p)
        d_vocab = vocab_size(layout, n_elements)
        d_model, n_heads = config.d_model_resolved, config.n_heads_resolved
        init = config.resolved("init")
        if not config.resolved("use_biases") or not config.train_biases:
            trainable: tuple[str, ...] = ()
        elif init == "nanda2023":  # the paper's code has MLP biases only
            trainable = ("b_in", "b_out")
        else:
            trainable = ("b_Q", "b_K", "b_V", "b_O", "b_in", "b_out", "b_U")
        return cls(
            arch=config.arch,
            n_layers=config.resolved("n_layers"),
            d_model=d_model,
            n_heads=n_heads,
            d_head=d_model // n_heads,
            d_mlp=config.resolved("d_mlp"),
            d_vocab=d_vocab,
            d_vocab_out=d_vocab if config.logits_over == "vocab" else n_elements,
            n_ctx=n_ctx,
            readout=readout,
            act_fn=config.resolved("act_fn"),
            normalization=config.resolved("normalization"),
            positional=config.resolved("positional"),
            init=init,
            trainable_biases=trainable,
            attention_rate=config.attention_rate,
        )
