import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # The digits MLP's small batched matmuls ran ~20x slower with two threads on a shared 2-core CPU
    # (the quick-preset test: 345 s with 2 threads while another process trained, ~20 s with 1).
    torch.set_num_threads(1)
