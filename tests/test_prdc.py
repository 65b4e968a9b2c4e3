"""Precision/recall and density/coverage: a hand-worked case, the papers' reference code, and exact expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import prdc as prdc_module
from gankit.metrics.prdc import density_coverage, kth_neighbour_distances, prdc, precision_recall


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Naeem et al.'s compute_prdc (github.com/clovaai/generative-evaluation-prdc), with numpy distances."""

    def distances(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def kth(x):
        return np.partition(distances(x, x), k, axis=-1)[:, : k + 1].max(-1)

    real_radii, fake_radii, d = kth(real), kth(fake), distances(real, fake)
    return {
        "precision": (d < real_radii[:, None]).any(0).mean(),
        "recall": (d < fake_radii[None, :]).any(1).mean(),
        "density": (1 / k) * (d < real_radii[:, None]).sum(0).mean(),
        "coverage": (d.min(1) < real_radii).mean(),
    }


def expected_coverage(n_real: int, n_fake: int, k: int) -> float:
    """E[coverage] for iid samples of one distribution (Naeem et al., 2020): 1 - prod_{i<=k} (N - i) / (N + M - i)."""
    return 1 - math.prod((n_real - i) / (n_real + n_fake - i) for i in range(1, k + 1))


def test_hand_worked_one_dimensional_case():
    # reals 0,1,2,10,11 all have 1-NN radius 1; fakes 0.5,2.2,5,6 have radii 1.7,1.7,1,1.
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0]])
    fake = torch.tensor([[0.5], [2.2], [5.0], [6.0]])
    scores = prdc(real, fake, k=1)
    assert scores["precision"] == pytest.approx(2 / 4)  # 0.5 and 2.2 lie in real balls
    assert scores["recall"] == pytest.approx(3 / 5)  # 0, 1, 2 lie in fake balls; 10 and 11 do not
    assert scores["density"] == pytest.approx(3 / 4)  # 0.5 is in 2 real balls, 2.2 in 1
    assert scores["coverage"] == pytest.approx(3 / 5)  # 10 and 11 have no fake within radius 1
    assert kth_neighbour_distances(fake, 1).tolist() == pytest.approx([1.7, 1.7, 1.0, 1.0])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_reference_implementation_across_chunks(monkeypatch, k):
    g = torch.Generator().manual_seed(k)
    real = torch.randn(150, 12, generator=g, dtype=torch.float64)
    fake = 0.8 * torch.randn(130, 12, generator=g, dtype=torch.float64) + 0.3
    expected = reference_prdc(real.numpy(), fake.numpy(), k)
    monkeypatch.setattr(prdc_module, "CHUNK_ELEMENTS", 7 * 150)  # several row chunks with a ragged last one
    assert prdc(real, fake, k) == pytest.approx(expected, abs=1e-12)


def test_float32_agrees_with_float64():
    g = torch.Generator().manual_seed(10)
    real, fake = torch.randn(300, 64, generator=g, dtype=torch.float64), torch.randn(300, 64, generator=g, dtype=torch.float64)
    exact, single = prdc(real, fake, 5), prdc(real.float() + 100, fake.float() + 100, 5)  # offset: centring keeps precision
    for name in exact:
        assert single[name] == pytest.approx(exact[name], abs=2 / 300), name


def test_same_distribution_hits_the_exact_expectations():
    # For two iid samples of one distribution, exchangeability gives E[density] = 1 and
    # E[coverage] = 1 - prod_{i<=k} (N - i) / (N + M - i) (Naeem et al., 2020); precision and recall are symmetric.
    n, k, seeds = 600, 5, 5
    runs = []
    for seed in range(seeds):
        g = torch.Generator().manual_seed(100 + seed)
        runs.append(prdc(torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g), k))
    mean = {name: np.mean([run[name] for run in runs]) for name in runs[0]}
    assert mean["density"] == pytest.approx(1.0, abs=0.05)
    assert mean["coverage"] == pytest.approx(expected_coverage(n, n, k), abs=0.012)
    assert mean["precision"] == pytest.approx(mean["recall"], abs=0.02)


def test_mode_dropping_lowers_recall_and_coverage_but_not_precision_or_density():
    g = torch.Generator().manual_seed(11)
    centres = torch.zeros(2, 8)
    centres[1, 0] = 20.0
    real = torch.randn(1000, 8, generator=g) + centres[torch.arange(1000) % 2]
    both_modes = prdc(real, torch.randn(500, 8, generator=g) + centres[torch.arange(500) % 2], k=5)
    one_mode = prdc(real, torch.randn(500, 8, generator=g) + centres[0], k=5)
    # fidelity is unchanged: every fake still looks real
    assert one_mode["precision"] == pytest.approx(both_modes["precision"], abs=0.05)
    assert one_mode["density"] == pytest.approx(both_modes["density"], abs=0.1)
    # diversity halves: the reals of the dropped mode are neither recalled nor covered
    assert one_mode["recall"] == pytest.approx(both_modes["recall"] / 2, abs=0.03)
    # coverage of a mode with 500 reals and M fakes is 1 - prod_{i<=5} (500 - i) / (500 + M - i) on average
    assert both_modes["coverage"] == pytest.approx(expected_coverage(500, 250, 5), abs=0.03)
    assert one_mode["coverage"] == pytest.approx(expected_coverage(500, 500, 5) / 2, abs=0.03)


def test_named_pairs_use_their_papers_k():
    g = torch.Generator().manual_seed(12)
    real, fake = torch.randn(200, 6, generator=g), torch.randn(200, 6, generator=g) * 1.5
    assert precision_recall(real, fake) == {key: prdc(real, fake, 3)[key] for key in ("precision", "recall")}
    assert density_coverage(real, fake) == {key: prdc(real, fake, 5)[key] for key in ("density", "coverage")}


def test_rejects_bad_inputs():
    with pytest.raises(GankitError, match="dims differ"):
        prdc(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(GankitError, match="k=5"):
        prdc(torch.randn(5, 3), torch.randn(10, 3), k=5)
    with pytest.raises(GankitError, match="fake features"):
        prdc(torch.randn(10, 3), torch.randn(10))


@pytest.mark.slow
def test_reproduces_naeem_et_al_reference_numbers():
    # README of clovaai/generative-evaluation-prdc: 10k vs 10k draws of N(0, I) in 1000-d, k=5 ->
    # precision 0.4772, recall 0.4705, density 1.0555, coverage 0.9735. Across 12 seeds gankit's runs
    # spread by about 0.01 (precision, recall), 0.06 (density) and 0.005 (coverage): tolerances match.
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(10_000, 1000, generator=g), torch.randn(10_000, 1000, generator=g)
    scores = prdc(real, fake, k=5)
    assert scores["precision"] == pytest.approx(0.4772, abs=0.02)
    assert scores["recall"] == pytest.approx(0.4705, abs=0.02)
    assert scores["density"] == pytest.approx(1.0555, abs=0.1)
    assert scores["coverage"] == pytest.approx(0.9735, abs=0.01)
