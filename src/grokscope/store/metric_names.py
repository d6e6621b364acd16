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
LR = "train/lr"
DIVERGED = "train/diverged"  # 1.0 at the evaluation where a member's loss stopped being finite

SCALARS = (TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC, MIRROR_LOSS, MIRROR_ACC, LR, DIVERGED)
