"""The main job end to end at a tiny size: the toy comparison, the MNIST stage and the reports."""

import json

from gankit.cli import main


def test_demo_trains_evaluates_and_reports_every_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    code = main(["demo", "--recipes", "nsgan,wgan-gp", "--steps", "30", "--image-steps", "4", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "wgan-gp" in printed and "FID (mnist features)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [row["recipe"] for row in summary] == ["nsgan", "wgan-gp"]
    assert all(0 <= row["modes"] <= 8 and 0.0 <= row["hq_fraction"] <= 1.0 for row in summary)
    assert (out / "samples.png").stat().st_size > 0
    for run in ("nsgan", "wgan-gp", "dcgan-mnist"):
        assert (out / run / "report.html").read_text().startswith("<!DOCTYPE html>")
    image_eval = json.loads((out / "dcgan-mnist" / "eval.json").read_text())
    # Four steps from scratch are far from digits: FID is large, and the protocol says how it was measured.
    assert image_eval["metrics"]["fid"] > 50
    assert image_eval["protocol"]["n_fake"] == 1000


def test_demo_help_states_the_real_defaults():
    # The parser spells the defaults out (importing gankit.demo would load torch for `gankit --help`).
    from gankit.cli import build_parser
    from gankit.demo import DEFAULT_RECIPES, IMAGE_DEMO

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    helps = {action.dest: action.help for action in demo._actions}
    assert f"default {','.join(DEFAULT_RECIPES)}" in helps["recipes"]
    assert f"default {IMAGE_DEMO['overrides']['train.steps']}" in helps["image_steps"]
