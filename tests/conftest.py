"""Fixtures shared by several test files."""

import pytest
import torch


@pytest.fixture
def seeded():
    """A fixed torch seed for tests that draw random inputs."""
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def no_mha_fastpath():
    """PyTorch's inference fast path for nn.MultiheadAttention / Transformer layers returns zeros at
    padded positions; comparisons use its plain path, which computes every position."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(before)
