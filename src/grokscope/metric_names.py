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
# A stored table (task "table": the regime demos): its shift era, and how the shift moves the loss.
SHIFT_LOSS = "shift/loss"  # mean squared error on the shift era's rows
SHIFT_FAILURE = "shift/failure"  # shift/loss over test/loss (the in-era held-out rows)
SHIFT_RULE_FAILURE = "shift/rule_failure"  # the same ratio for the true rule's predictions (where the table has them)
SHIFT_EXCESS_FAILURE = "shift/excess_failure"  # shift/failure over shift/rule_failure: what the model adds
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
EMBED_PEAK_Z = "measure/embed_peak_z"  # W_E's peak ratio against shuffled residues (instruments/warning.shuffle_statistics)
EMBED_PEAK_EXCESS = "measure/embed_peak_excess"  # the same as an effect size (instruments/warning.shuffle_statistics)
# Sparse parity's ground-truth progress (instruments/parity.py; Barak et al. 2022)
WALSH_COEFFICIENT = "measure/walsh_coefficient"  # E_x[f(x) χ_S(x)] over the example pool
RELEVANT_WEIGHT_RATIO = "measure/relevant_weight_ratio"  # first-layer mass on the subset's bits over the others'
IDEAL_FORM_FVE_LIVE = "measure/ideal_form_fve_live"  # missing before memorization or with no live key set

# Retrospective (instruments/retro.py): every weights checkpoint measured, after training, with the
# final model's key frequencies (neuron clusters), as the paper's figures are.
RESTRICTED_LOSS = "measure/restricted_loss"
EXCLUDED_LOSS = "measure/excluded_loss"
IDEAL_FORM_FVE = "measure/ideal_form_fve"

# Vectors (member, step, name, idx, value): idx k-1 is frequency k.
EMBED_NORMS = "fourier/embed_norms"
NEURON_LOGIT_NORMS = "fourier/neuron_logit_norms"  # W_L = W_out W_U over the answer residues (1-layer models)
KEY_FREQUENCIES_LIVE = "fourier/key_frequencies_live"
KEY_FREQUENCIES = "fourier/key_frequencies"  # the final model's, written once at the last checkpoint


# Monitor (grokscope.monitor; docs/monitor.md): model-agnostic measures of a weights checkpoint, on each
# member's training pairs only, written at checkpoint steps by `grokscope monitor RUN` (monitor/run_monitor.py).
# Local learning coefficient (Lau et al. 2023); its SGLD settings are logged beside every value, since
# values are comparable only at fixed settings (reference: "Hyperparameters dominate the values").
LLC = "monitor/llc"  # mean over chains; missing (NULL) where a chain drifted down or blew up
LLC_STD = "monitor/llc_std"  # spread over chains (unbiased std; 0 with one chain)
LLC_LOSS_INIT = "monitor/llc_loss_init"  # L_n(w*), full training set
LLC_ACCEPTED = "monitor/llc_accepted"  # 1.0 where no chain was flagged, 0.0 where the value is missing
LLC_EPSILON = "monitor/llc_epsilon"
LLC_NBETA = "monitor/llc_nbeta"
LLC_GAMMA = "monitor/llc_gamma"
LLC_BATCH_SIZE = "monitor/llc_batch_size"
LLC_BURN_IN = "monitor/llc_burn_in"
LLC_DRAWS = "monitor/llc_draws"
LLC_CHAINS = "monitor/llc_chains"

# Prequential (online) code length of the training labels, in bits (Blier & Ollivier 2018; Voita & Titov 2020).
PREQUENTIAL_BITS = "monitor/prequential_bits"  # shuffled order
PREQUENTIAL_BITS_TIME = "monitor/prequential_bits_time"  # time order (needs time_order; never for a grokscope run)
REGIME_SPECIFICITY_BITS = "monitor/regime_specificity_bits"  # time order minus shuffled order

WEIGHT_NORM = "monitor/weight_norm"  # ||w||_2 over every parameter
EFFECTIVE_LR = "monitor/effective_lr"  # ||w_t - w_prev|| / ||w_prev||, w_prev the preceding weights checkpoint
EFFECTIVE_LR_PER_STEP = "monitor/effective_lr_per_step"  # the same divided by the steps between the two checkpoints
EFFECTIVE_RANK = "monitor/effective_rank"  # Roy & Vetterli 2007, of the chosen features

RISK_VARIANCE = "monitor/risk_variance"  # V-REx (Krueger et al. 2021)
IRMV1_PENALTY = "monitor/irmv1_penalty"  # IRMv1 (Arjovsky et al. 2019)

# Vector (member, step, name, idx, value): idx is the feature group's position (a grokscope run: 0 = a, 1 = b).
ROUTE_ABLATION = "monitor/route_ablation"  # loss increase per feature group
# A stored table's route ablation on its in-era held-out rows at every evaluation (idx: the group's position in
# the table's groups, listed in the run's meta `feature_groups`).
TEST_ROUTE_ABLATION = "test/route_ablation"
