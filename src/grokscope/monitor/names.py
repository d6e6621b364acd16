"""Metric names the monitor's measures are logged under (to move into store/metric_names.py).

Scalars are rows (member, step, name, value), the member a column. `ROUTE_ABLATION` is a vector
metric (member, step, name, idx, value): idx is the feature group's position in `feature_groups`.
"""

# Local learning coefficient (Lau et al. 2023); its SGLD settings are logged beside every value,
# since values are comparable only at fixed settings (reference: "Hyperparameters dominate the values").
LLC = "monitor/llc"  # mean over chains; missing where a chain drifted down or blew up
LLC_STD = "monitor/llc_std"  # spread over chains (unbiased std; 0 with one chain)
LLC_LOSS_INIT = "monitor/llc_loss_init"  # L_n(w*), full training set
LLC_ACCEPTED = "monitor/llc_accepted"  # 1.0 where no chain was flagged
LLC_EPSILON = "monitor/llc_epsilon"
LLC_NBETA = "monitor/llc_nbeta"
LLC_GAMMA = "monitor/llc_gamma"
LLC_BATCH_SIZE = "monitor/llc_batch_size"
LLC_BURN_IN = "monitor/llc_burn_in"
LLC_DRAWS = "monitor/llc_draws"
LLC_CHAINS = "monitor/llc_chains"

# Prequential (online) code length of the training labels, in bits (Blier & Ollivier 2018; Voita & Titov 2020).
PREQUENTIAL_BITS = "monitor/prequential_bits"  # shuffled order
PREQUENTIAL_BITS_TIME = "monitor/prequential_bits_time"  # time order (needs time_order)
REGIME_SPECIFICITY_BITS = "monitor/regime_specificity_bits"  # time order minus shuffled order

WEIGHT_NORM = "monitor/weight_norm"  # ||w||_2 over every parameter
EFFECTIVE_LR = "monitor/effective_lr"  # ||w_t - w_prev|| / ||w_prev||
EFFECTIVE_RANK = "monitor/effective_rank"  # Roy & Vetterli 2007, of the chosen features

RISK_VARIANCE = "monitor/risk_variance"  # V-REx (Krueger et al. 2021)
IRMV1_PENALTY = "monitor/irmv1_penalty"  # IRMv1 (Arjovsky et al. 2019)

ROUTE_ABLATION = "monitor/route_ablation"  # vector: loss increase per feature group
