"""The batchnorm-ablation experiment in quick mode: its figure, its numbers and its verdict."""

import json
import math

from gankit.experiments import experiment_names, run_experiment

SETTINGS = {"nsgan-no-bn", "wgan-gp-no-bn", "nsgan-bn"}


def test_batchnorm_ablation_is_registered_after_instance_noise():
    names = experiment_names()
    assert names.index("batchnorm-ablation") == names.index("instance-noise") + 1


def test_batchnorm_ablation_quick_writes_finite_fid_curves_a_figure_and_a_verdict(tmp_path):
    record = run_experiment("batchnorm-ablation", tmp_path, quick=True, seed=0, device="cpu")
    assert (tmp_path / "batchnorm-ablation.png").is_file()
    assert json.loads((tmp_path / "batchnorm-ablation.json").read_text()) == record
    steps = record["steps"]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] == record["settings"]["steps"]
    assert set(record["fid"]) == set(record["fid_final"]) == SETTINGS
    for setting in SETTINGS:
        curve = record["fid"][setting]
        assert len(curve) == len(steps) and all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in curve)
        assert record["fid_final"][setting] == curve[-1]
    # the two BN-free runs start from the same weights and see the same latents
    assert record["fid"]["nsgan-no-bn"][0] == record["fid"]["wgan-gp-no-bn"][0]
    assert record["runs"]["wgan-gp-no-bn"]["settings"]["n_critic"] == 5
    assert record["runs"]["nsgan-no-bn"]["settings"]["g_batchnorm"] is False
    assert record["runs"]["nsgan-bn"]["settings"]["d_batchnorm"] is True
    verdict = record["verdict"]
    assert set(verdict) == {"claim", "holds", "checks", "text"}
    assert set(verdict["checks"]) == {"wgan_gp_no_bn_trains", "wgan_gp_no_bn_beats_nsgan_no_bn", "nsgan_no_bn_worse_than_with_bn"}
