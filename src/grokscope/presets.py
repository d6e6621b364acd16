"""The named starting points of `grokscope train --preset` and `get_preset`: the papers' settings and small CPU sizes."""

from __future__ import annotations

from .config import RunConfig
from .errors import ConfigError, did_you_mean

PRESETS: dict[str, RunConfig] = {
    # Groks in well under a minute on a 2-core CPU after a plateau 6-29 times as long as memorization
    # (measured, seeds 0-7: training accuracy 99% at step 50, held-out accuracy 99% at steps
    # 300-1,450, all eight). x+y mod 59 as in the reference's measured run; symmetric split, so plain
    # held-out accuracy is honest for this commutative task.
    "quickstart": RunConfig(
        task="x+y", p=59, frac=0.6, symmetric_split=True, arch="nanda", d_model=64, n_heads=4, d_mlp=256,
        lr=1e-2, wd=1.0, max_steps=5_000, eval_every=25, patience=300, checkpoints=40, resume_every=250,
    ),
    # Sized for tests and CI: groks in seconds on a 2-core CPU (measured, seeds 0-7: memorized by step
    # 59-75; 6 of 8 reach 99% held-out accuracy by step 1,050, seed 7, the default, at step 500; seeds 0
    # and 6 stall near 97-99%). Symmetric split, so plain test accuracy is honest.
    "tiny": RunConfig(
        task="x+y", p=31, frac=0.8, symmetric_split=True, seeds=(7,), arch="nanda", d_model=32, n_heads=4, d_mlp=128,
        lr=1e-2, wd=1.0, max_steps=1_500, eval_every=25, patience=100, checkpoints=20, resume_every=250,
    ),
    # Sparse parity (Barak et al. 2022; Merrill et al. 2023's finite-data grokking setting): 20 bits, the parity of
    # a hidden 3 of them, a pool of 2,500 examples of which each member trains on 13%; an MLP on the bits, AdamW
    # with weight decay 1. Measured (2-core CPU, seeds 0-3, ~1 min): training accuracy 99% at steps 59-64 with
    # held-out accuracy 0.52-0.55; held-out accuracy half way up at steps 1,347-1,850, 0.94-1.00 at step 3,000.
    "sparse-parity": RunConfig(
        task="sparse_parity", p=20, parity_k=3, parity_examples=2_500, frac=0.13, arch="mlp", d_model=8, d_mlp=128,
        act_fn="relu", lr=3e-3, wd=1.0, warmup_steps=0, max_steps=3_000, eval_every=50, patience=500, checkpoints=20,
        resume_every=500,
    ),
    # Nanda et al. 2023, the paper's code: 50,000 full-batch epochs, 10-step warm-up from lr 0,
    # biases trained, float64 loss over all p+1 logits, split by Python's random with seed 0.
    "nanda2023": RunConfig(
        task="x+y", p=113, frac=0.3, split="python_random", seeds=(0,), arch="nanda", init="nanda2023",
        lr=1e-3, wd=1.0, warmup_steps=10, max_steps=50_000, eval_every=100, logits_over="vocab",
        loss_dtype="float64", patience=5_000,
    ),
    # The TransformerLens Grokking demo's variant: 25,000 epochs, no warm-up, biases frozen at zero,
    # loss over the p answer logits, TransformerLens initialization.
    "nanda2023-tl": RunConfig(
        task="x+y", p=113, frac=0.3, seeds=(999,), arch="nanda", init="transformer_lens", train_biases=False,
        lr=1e-3, wd=1.0, warmup_steps=0, max_steps=25_000, eval_every=100, logits_over="answers",
        loss_dtype="float64", patience=5_000,
    ),
    # Power et al. 2022 as the paper describes its figures (x/y mod 97, 50% data, weight decay 1, the
    # most data-efficient setting they report), with openai/grok's model and sequence. openai/grok's CLI
    # defaults (5% data, weight decay 0) are not the paper's figures.
    "power2022": RunConfig(
        task="x/y", p=97, frac=0.5, arch="power", lr=1e-3, wd=1.0, warmup_steps=10, batch_size=512,
        loss_dtype="float32", max_steps=100_000, eval_every=500, patience=5_000, logits_over="vocab",
    ),
    # Lee et al. 2024 (Grokfast), ironjr/grokfast main.py and its README's Grokfast-EMA command (`--filter ema
    # --alpha 0.98 --lamb 2.0 --weight_decay 0.005`): x*y mod 97, half the equations for training, its own 2-layer
    # pre-LN decoder (arch grokfast), torch.optim.Adam (coupled L2) lr 1e-3, betas (0.9, 0.98), 10-step warm-up,
    # batch 512, float32 cross-entropy over all p + 2 tokens at the last position. Its README times steps to 95%
    # validation accuracy (910 with the filter, 39,890 for Adam without decay or filter). grokscope's x*y keeps y = 0
    # (9,409 pairs); Grokfast's data has y in 1..96 (9,312): docs/levers.md lists this and the other differences.
    # lamb is left unset: it resolves to EMA's published 2 (and 5 where a sweep switches to ma).
    "grokfast2024": RunConfig(
        task="x*y", p=97, frac=0.5, arch="grokfast", optimizer="adam", lr=1e-3, beta1=0.9, beta2=0.98, wd=0.005,
        warmup_steps=10, batch_size=512, grokfast="ema", grokfast_alpha=0.98, loss_dtype="float32",
        logits_over="vocab", generalize_acc=0.95, max_steps=20_000, eval_every=50, patience=1_000,
    ),
    # Omnigrok's grokking beyond algorithmic data (Liu, Michaud, Tegmark 2023, §3.1, Fig. 2; their MNIST notebook
    # KindXiaoming/Omnigrok mnist/grokking/mnist-grokking.ipynb): a ReLU MLP, width 200, two hidden layers, on 1,000
    # of scikit-learn's 1,797 8x8 digits (no download; MNIST in the paper), MSE to one-hot targets, AdamW (torch's
    # betas, no warm-up), batches of 200, every initial parameter times α. α = 8 fits its training set long before
    # it generalizes; α = 1 generalizes at once. The notebook trains α = 8 with decay 0.01 for 100k steps; decay 0.1
    # shows the same in 10k steps (docs/digits.md, measured). Three seeds at α = 8 beside the same three at α = 1.
    "omnigrok-digits": RunConfig(
        task="digits", p=64, frac=0.5565, arch="mlp_stack", seeds=(0, 1, 2, 0, 1, 2),
        init_scale=(8.0, 8.0, 8.0, 1.0, 1.0, 1.0), lr=1e-3, wd=0.1, beta2=0.999, warmup_steps=0, batch_size=200,
        loss="mse", max_steps=10_000, eval_every=100, checkpoints=10, checkpoint_every=500, resume_every=500,
        generalize_acc=0.95, patience=10_000,  # the whole budget, as Omnigrok's fixed-length runs
    ),
    # The same in under a minute on a CPU: lr 2e-3 halves the wait, 3,000 steps, seeds 0 and 1 at each α. Measured
    # (1 thread, 24 s): α = 8 train 0.93/0.84, held-out 0.56/0.53 at step 1,500, held-out 0.90/0.90 at 3,000; α = 1
    # held out 0.98-0.99 from step 500.
    "omnigrok-digits-quick": RunConfig(
        task="digits", p=64, frac=0.5565, arch="mlp_stack", seeds=(0, 1, 0, 1), init_scale=(8.0, 8.0, 1.0, 1.0),
        lr=2e-3, wd=0.1, beta2=0.999, warmup_steps=0, batch_size=200, loss="mse", max_steps=3_000, eval_every=100,
        checkpoints=10, checkpoint_every=500, resume_every=500, generalize_acc=0.95, patience=3_000,
    ),
}

# One line each for `grokscope presets` (the comments above say where every number comes from).
DESCRIPTIONS = {
    "quickstart": "x+y mod 59, Nanda's 1-layer transformer at d_model 64: groks in under a minute on a laptop CPU",
    "tiny": "x+y mod 31, d_model 32: groks in seconds; the tests' preset",
    "sparse-parity": "the parity of a hidden 3 of 20 bits (Barak et al. 2022), an MLP with weight decay",
    "nanda2023": "Nanda et al. 2023's code exactly: x+y mod 113, 30% of the pairs, full batch, 50,000 steps",
    "nanda2023-tl": "the TransformerLens Grokking demo's variant: 25,000 steps, biases frozen, logits over the answers",
    "power2022": "Power et al. 2022: x/y mod 97, openai/grok's 2-layer model, 50% of the pairs, 10^5 steps",
    "grokfast2024": "Grokfast's benchmark (Lee et al. 2024): x*y mod 97, Adam, Grokfast-EMA, steps to 95%",
    "omnigrok-digits": "Omnigrok (Liu et al. 2023) on scikit-learn digits: MLP, init x8 against x1, MSE, 10k steps",
    "omnigrok-digits-quick": "the same in 3,000 steps at twice the learning rate, two seeds per init scale",
}

DIGITS_PRESETS = ("omnigrok-digits", "omnigrok-digits-quick")  # what `grokscope digits --preset` takes


def get_preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"preset: must be one of {', '.join(PRESETS)}; got {name!r}{did_you_mean(name, PRESETS)}")
    return PRESETS[name]
