"""Shared by the regime tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Small batched matmuls: two threads on a shared 2-core CPU crawl (measured ~40x slower under load)."""
    torch.set_num_threads(1)
