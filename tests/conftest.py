import os
from types import MappingProxyType

import pytest

# Tests use tiny models: one intra-op thread avoids OpenMP spin-waits that slow small ops down by
# an order of magnitude when anything else runs on the machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


# Config overrides for a toy run that takes about a second (read-only: each test gets its own copy).
TINY_OVERRIDES = MappingProxyType({
    "train.steps": 20,
    "train.log_every": 5,
    "train.sample_every": 10,
    "train.checkpoint_every": 10,
    "train.eval_samples": 200,
    "data.batch_size": 32,
    "model.g_hidden": 16,
    "model.d_hidden": 16,
    "model.g_layers": 2,
    "model.d_layers": 2,
    "train.device": "cpu",
})


@pytest.fixture(scope="session")
def tiny_settings():
    """TINY_OVERRIDES, for module-scoped fixtures (which cannot use the function-scoped ``tiny_overrides``)."""
    return TINY_OVERRIDES


@pytest.fixture
def tiny_overrides():
    """Config overrides for a toy run that takes about a second (a fresh dict: tests may change it)."""
    return dict(TINY_OVERRIDES)
