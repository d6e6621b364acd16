"""The metric names runs write, in one place (documented in docs/metrics.md).

Scalars are rows (member, step, name, value); the member is a column, never part of a name.
"""

TRAIN_LOSS = "train/loss"
TRAIN_ACC = "train/acc"
TEST_LOSS = "test/loss"
TEST_ACC = "test/acc"
# Held-out pairs whose mirror (b, a) is held out too: the honest generalization signal of a
# commutative task (notes-on-issues); logged for commutative tasks only.
MIRROR_LOSS = "test_mirror/loss"
MIRROR_ACC = "test_mirror/acc"
# Label noise (config label_noise): the corrupted training pairs scored against their true labels;
# logged only when some member has label noise, missing (NULL) for a member without it.
TRAIN_CORRUPTED_ACC = "train_corrupted/acc"
LR = "train/lr"
DIVERGED = "train/diverged"  # 1.0 at the evaluation where a member's loss stopped being finite

# Softmax collapse (Prieto et al. 2025), every evaluation, training pairs (train/collapse.py).
COLLAPSE_ZERO_GRAD_FRAC = "collapse/zero_grad_frac"  # examples whose correct-logit gradient is exactly 0
COLLAPSE_ALL_ZERO_GRAD_FRAC = "collapse/all_zero_grad_frac"  # examples whose whole logit gradient is exactly 0
COLLAPSE_LOGIT_NORM = "collapse/logit_norm"  # mean L2 norm of an example's scored logits
COLLAPSE_GRAD_WEIGHT_COSINE = "collapse/grad_weight_cosine"  # cos(full-batch loss gradient, weights)


# Progress measures (Nanda et al. 2023), logged at every evaluation when the task has an additive
# Fourier view (instruments/grid.py). `_live` ones use the key frequencies admitted at that
# checkpoint (instruments/fourier.live_key_frequencies), not the final model's.
WEIGHT_NORM_SQ = "measure/weight_norm_sq"
GINI_EMBED = "measure/gini_embed"
GINI_NEURON_LOGIT = "measure/gini_neuron_logit"
N_KEY_FREQUENCIES_LIVE = "measure/n_key_frequencies_live"
RESTRICTED_LOSS_LIVE = "measure/restricted_loss_live"
EXCLUDED_LOSS_LIVE = "measure/excluded_loss_live"
IDEAL_FORM_FVE_LIVE = "measure/ideal_form_fve_live"  # missing before memorization or with no live key set

# Retrospective (instruments/retro.py): every weights checkpoint measured, after training, with the
# final model's key frequencies (neuron clusters), as the paper's figures are.
RESTRICTED_LOSS = "measure/restricted_loss"
EXCLUDED_LOSS = "measure/excluded_loss"
IDEAL_FORM_FVE = "measure/ideal_form_fve"

# Vectors (member, step, name, idx, value): idx k-1 is frequency k.
EMBED_NORMS = "fourier/embed_norms"
KEY_FREQUENCIES_LIVE = "fourier/key_frequencies_live"
KEY_FREQUENCIES = "fourier/key_frequencies"  # the final model's, written once at the last checkpoint

