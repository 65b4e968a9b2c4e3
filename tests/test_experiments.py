"""The theory lab's experiments in quick mode: each writes its figure and JSON, and its claim holds.

One test per experiment (batchnorm-ablation has its own file). Each runs ``quick=True`` on the CPU into
``tmp_path`` and checks the numbers the issue names, with bounds an untrained network or a wrong formula
would miss.
"""

import json
import math

import numpy as np
import pytest

from gankit.experiments import QUICK_CAVEAT, run_experiment

LOG2 = math.log(2.0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(name: str, tmp_path) -> dict:
    record = run_experiment(name, tmp_path, quick=True, seed=0, device="cpu")
    figure = tmp_path / f"{name}.png"
    assert figure.is_file() and figure.read_bytes()[:8] == PNG_SIGNATURE
    assert json.loads((tmp_path / f"{name}.json").read_text()) == record
    assert record["experiment"] == name and record["quick"] is True
    verdict = record["verdict"]
    assert set(verdict) == {"claim", "holds", "checks", "text"}
    assert verdict["checks"] and all(isinstance(v, bool) for v in verdict["checks"].values())
    assert verdict["holds"] == all(verdict["checks"].values())
    assert verdict["text"].endswith(QUICK_CAVEAT)  # a quick run never reads as deciding its claim
    return record


def _assert_holds(record: dict) -> None:
    verdict = record["verdict"]
    failed = [k for k, ok in verdict["checks"].items() if not ok]
    assert verdict["holds"], f"{record['experiment']}: failed checks {failed}; {verdict['text']}"


def test_js_vs_wasserstein(tmp_path):
    r = _run("js-vs-wasserstein", tmp_path)
    assert {"theta", "js", "w1", "js_estimate", "w1_estimate"} <= set(r)
    theta, js, w1 = (np.asarray(r[k], dtype=float) for k in ("theta", "js", "w1"))
    assert len(theta) == len(js) == len(w1) > 100
    off = theta != 0
    assert (~off).sum() == 1  # θ = 0 is on the grid
    assert np.abs(js[off] - LOG2).max() < 1e-6  # JS = log 2 for every θ ≠ 0 ...
    assert abs(js[~off][0]) < 1e-6  # ... and 0 at θ = 0
    assert np.abs(w1 - np.abs(theta)).max() < 1e-6  # W1 = |θ|
    assert all(v == "inf" for v in np.asarray(r["kl"], dtype=object)[off])  # KL = +∞, spelt out in strict JSON

    est_theta = np.asarray(r["estimate_theta"], dtype=float)
    js_est = np.asarray(r["js_estimate"], dtype=float)
    pot, critic = (np.asarray(r["w1_estimate"][k], dtype=float) for k in ("pot", "critic"))
    assert len(est_theta) == len(js_est) == len(pot) == len(critic) >= 5 and 0.0 in est_theta
    far, zero = np.abs(est_theta) >= 0.5, est_theta == 0
    assert np.all(np.abs(js_est[far] - LOG2) < 0.05)  # a trained D sees two disjoint supports: JS ≈ log 2
    assert np.all(np.abs(js_est[zero]) < 0.05)  # and identical ones at θ = 0: JS ≈ 0
    assert np.all(np.abs(pot - np.abs(est_theta)) < 0.05)  # exact OT on 1000 samples
    assert np.all(np.abs(critic - np.abs(est_theta)) < 0.1)  # Kantorovich-Rubinstein with a WGAN-GP critic
    _assert_holds(r)


def test_optimal_discriminator(tmp_path):
    r = _run("optimal-discriminator", tmp_path)
    # An untrained D (≈ 0.5 everywhere) is off by ~0.5 where D* ≈ 0 or 1; quick mode's trained D by ~0.03.
    assert r["d_star_max_error"] < 0.05
    assert max(r["sweep"]["d_star_max_error"]) < 0.1
    assert abs(r["value"] - r["value_theory"]) < 1e-6  # V(D*, G) = −log 4 + 2·JS
    assert r["value_max_abs_difference"] < 1e-6
    assert -math.log(4.0) < r["value"] < 0
    sweep = r["sweep"]
    for value, trained in zip(sweep["value"], sweep["value_trained"]):
        assert -1e-4 < value - trained < 0.02  # the trained D is near the optimum and never above it
    _assert_holds(r)


def test_vanishing_gradients(tmp_path):
    r = _run("vanishing-gradients", tmp_path)
    iterations = r["iterations"]
    assert iterations == sorted(iterations) and iterations[0] == 1
    assert set(r["grad_norm_minimax"]) == set(r["grad_norm_nonsaturating"]) and len(r["grad_norm_minimax"]) >= 2
    for label, minimax in r["grad_norm_minimax"].items():
        minimax = np.asarray(minimax, dtype=float)
        nonsaturating = np.asarray(r["grad_norm_nonsaturating"][label], dtype=float)
        assert len(minimax) == len(nonsaturating) == len(iterations)
        assert np.isfinite(minimax).all() and np.isfinite(nonsaturating).all()
        assert minimax.max() / minimax[-1] >= 100, label  # the minimax gradient vanishes as D trains
        assert nonsaturating.max() / nonsaturating[-1] < 10, label  # the -log D one does not ...
        assert nonsaturating[-1] > 100 * minimax[-1], label  # ... and ends orders of magnitude above it
    _assert_holds(r)


def test_weight_clipping(tmp_path):
    r = _run("weight-clipping", tmp_path)
    clips = {"0.1", "0.01", "0.001"}
    assert set(r["grad_norms"]) == clips | {"gp"}
    assert set(r["fraction_at_clip"]) == clips
    layers = {len(v) for v in r["grad_norms"].values()}
    assert layers == {13}  # 12 hidden layers: 13 Linear layers, each with its input's gradient norm
    assert all(v > 0 and math.isfinite(v) for norms in r["grad_norms"].values() for v in norms)
    assert r["fraction_at_clip"]["0.01"] >= 0.5  # weights pile up at ±c
    for c in clips:  # first/last layer: explodes or vanishes by orders of magnitude under clipping
        norms = r["grad_norms"][c]
        assert abs(math.log10(norms[0] / norms[-1])) >= 2, (c, norms[0], norms[-1])
    gp = r["grad_norms"]["gp"]
    assert abs(math.log10(gp[0] / gp[-1])) < 1  # ... but not with the gradient penalty
    assert max(gp) / min(gp) < 10
    assert r["gp_fraction_at_max_abs_weight"] < 0.01
    _assert_holds(r)


def test_critic_tracks_quality(tmp_path):
    r = _run("critic-tracks-quality", tmp_path)
    assert set(r["spearman"]) == {"wgan-gp", "nsgan"}
    for model, rho in r["spearman"].items():
        m = r["models"][model]
        assert len(m["runs"]) == len(m["spearman_per_seed"]) == r["settings"]["seeds"] >= 1
        for run in m["runs"]:
            assert len(run["steps"]) == len(run["estimate"]) == len(run["w1"]) >= 10
        assert -1 <= rho <= 1 and rho == pytest.approx(float(np.median(m["spearman_per_seed"])))
    # spearman = ρ(distance estimate, W1 to data), median over seeds: > 0 means the critic's estimate falls
    # as the samples improve
    assert r["spearman"]["wgan-gp"] >= 0.8
    assert r["spearman"]["wgan-gp"] > r["spearman"]["nsgan"]
    for run in r["models"]["wgan-gp"]["runs"]:  # the samples do improve, so there is a trend to track
        assert run["w1"][-1] < run["w1"][0]
    _assert_holds(r)


def test_instance_noise(tmp_path):
    r = _run("instance-noise", tmp_path)
    assert set(r["w1_final"]) == {"minimax", "minimax+noise", "nonsaturating"}
    seeds = r["seeds"]
    assert all(len(v) == len(seeds) >= 2 for v in r["w1_final"].values())
    without, with_noise = np.asarray(r["w1_final"]["minimax"]), np.asarray(r["w1_final"]["minimax+noise"])
    assert with_noise.mean() < without.mean()
    assert np.all(with_noise < without)  # on every seed
    assert without.mean() > 0.5  # no noise: θ stalls near θ₀ = 1
    assert with_noise.mean() < 0.1  # noise: θ is pulled to 0
    for setting, values in r["w1_final"].items():  # |θ| agrees with POT on samples
        assert np.allclose(values, r["w1_final_pot"][setting], atol=0.05)
    _assert_holds(r)


@pytest.mark.parametrize("data", ["ring8"])
def test_mode_collapse(tmp_path, data):
    r = _run("mode-collapse", tmp_path)
    models = ["gan", "nsgan", "lsgan", "wgan", "wgan-gp"]
    assert list(r["datasets"]) == [data]
    seeds = r["settings"]["seeds"]
    k = {"ring8": 8, "grid25": 25}[data]
    for model in models:
        m = r["datasets"][data][model]
        assert m["seeds"] == seeds
        # over training, one curve per seed
        assert len(m["modes"]) == len(m["hq_fraction"]) == len(seeds)
        assert m["steps"] == sorted(m["steps"]) and m["steps"][-1] == r["settings"]["steps"][model]
        for modes, hq in zip(m["modes"], m["hq_fraction"]):
            assert len(modes) == len(hq) == len(m["steps"])
            assert all(isinstance(v, int) and 0 <= v <= k for v in modes)
            assert all(0.0 <= v <= 1.0 for v in hq)
        final = m["final"]
        assert len(final["modes"]) == len(final["hq_fraction"]) == len(seeds)
        assert [c[-1] for c in m["modes"]] == final["modes"]  # the last logged point is the final generator
        for key in ("modes", "hq_fraction", "reverse_kl", "w1"):  # mean ± s.e. over the seeds' finite values
            values = [v for v in final[key] if isinstance(v, (int, float)) and math.isfinite(v)]  # reverse KL: "inf" at 0 modes
            summary = r["summary"][data][model][key]
            assert summary["n"] == len(values) and (not values or summary["mean"] == pytest.approx(np.mean(values)))
        assert summary["n"] == len(seeds)  # W1 is always finite
    assert r["mean_final_modes"][data] == {model: pytest.approx(np.mean(r["datasets"][data][model]["final"]["modes"]))
                                           for model in models}
    assert r["jobs_cpu_seconds"] > 0 and set(r["job_cpu_seconds"]) == {f"{m}/{data}" for m in models}
    assert set(r["verdict"]["checks"]) == {f"{data}_wgan_gp_among_most_modes", f"{data}_wgan_gp_beats_minimax_gan"}
    # 100 steps already separate them with the toy-lab settings (measured: WGAN-GP 7/8 modes, every other recipe 0)
    _assert_holds(r)
