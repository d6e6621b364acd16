# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Grokking, seen from inside: a tour with grokscope
#
# The TransformerLens Grokking demo (Nanda et al. 2023) trains a one-layer transformer on `a + b mod p`, watches it
# memorize and then generalize, finds the key frequencies of its Fourier "clock", ablates everything else, and reads
# the algorithm off the weights. This notebook retells it with grokscope: every step is one call, the ensemble trains
# several seeds at once, and the instruments that show the hidden progress are logged while it trains.
#
# It trains the `quickstart` preset (x+y mod 59, about 20 s on a laptop CPU). The test suite executes it with
# `GROKSCOPE_TOUR_PRESET=tiny` (x+y mod 31, seconds). Open it with Jupyter through jupytext (`jupytext --to
# notebook notebooks/grokking_tour.py`), or run it as a script.

# %%
import os

import grokscope

PRESET = os.environ.get("GROKSCOPE_TOUR_PRESET", "quickstart")
run = grokscope.train(grokscope.get_preset(PRESET), "runs")
run  # a member table: steps to memorize and to generalize

# %% [markdown]
# ## Memorization, then grokking
# Training accuracy reaches 100% early; held-out accuracy stays at chance for a while, then jumps. On the log step
# axis both phases are visible.

# %%
run.figure("curves")

# %% [markdown]
# ## The early warning
# grokscope's warning reads only training-side quantities (the embedding's Fourier spectrum after memorization) and
# fires before held-out accuracy rises (docs/instruments.md says what it promises and what it does not).

# %%
summary = run.summary()
for member in summary["members"]:
    print(f"member {member['member']}: memorized at {member['steps_to_memorize']}, warning at "
          f"{member['early_warning_step']}, generalized at {member['steps_to_generalize']}")

# %% [markdown]
# ## Key frequencies and the clock
# The grokked embedding is sparse in the Fourier basis: a few key frequencies carry its norm. On each key
# frequency's (cos, sin) plane the residues sit on a circle, ordered by k·a: the clock.

# %%
report = run.analyze()
print("key frequencies:", report.key_frequencies, "| algorithm:", report.algorithm)
run.figure("spectrum")

# %%
run.figure("clock")

# %% [markdown]
# ## Ablations: the restricted and excluded loss
# Keep only the key frequencies' components of the logits (restricted loss) and the model still answers; remove
# them (excluded loss) and it cannot. Logged at every checkpoint, they show the circuit forming long before the
# held-out loss falls.

# %%
run.figure("progress")

# %% [markdown]
# ## The same model in TransformerLens
# A member of a `nanda`-arch run is a HookedTransformer with the same weights: patch and probe it as usual
# (`pip install 'grokscope[tl]'`).

# %%
import torch  # noqa: E402

model = run.hooked_transformer(member=0)
tokens = run.member_data(0).inputs
with torch.no_grad():
    gap = (model(tokens)[:, -1] - run.model().logits(tokens)[0, :, 0]).abs().max().item()
# grokscope's fused evaluation path orders float32 sums differently: a few ulps on logits of size ~40
print("TransformerLens logits equal grokscope's:", gap < 1e-4, f"(largest difference {gap:.1e})")
