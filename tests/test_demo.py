"""The main job end to end at a tiny size: the toy comparison, the MNIST stage and the reports."""

import json

import pytest

from gankit.cli import main
from gankit.data.emoji import DEFAULT_FONT


def test_demo_trains_evaluates_and_reports_every_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    code = main(["demo", "--recipes", "nsgan,wgan-gp", "--steps", "30", "--image-steps", "4", "--out", str(out), "--no-progress",
                 "--no-colour"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "wgan-gp" in printed and "FID (mnist features)" in printed
    summary = json.loads((out / "summary.json").read_text())
    # Both runs keep an EMA (the vector defaults): one row for its EMA weights, one for its final weights.
    assert [(row["recipe"], row["weights"]) for row in summary] == [
        ("nsgan", "EMA"), ("nsgan", "final"), ("wgan-gp", "EMA"), ("wgan-gp", "final")]
    assert "final" in printed and "EMA" in printed
    assert all(0 <= row["modes"] <= 8 and 0.0 <= row["hq_fraction"] <= 1.0 for row in summary)
    assert (out / "samples.png").stat().st_size > 0
    for run in ("nsgan", "wgan-gp", "dcgan-mnist"):
        assert (out / run / "report.html").read_text().startswith("<!DOCTYPE html>")
    image_eval = json.loads((out / "dcgan-mnist" / "eval.json").read_text())
    # Four steps from scratch are far from digits: FID is large, and the protocol says how it was measured.
    assert image_eval["metrics"]["fid"] > 50
    assert image_eval["protocol"]["n_fake"] == 1000


@pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="needs Debian's fonts-noto-color-emoji (make test installs it)")
def test_colour_stage_trains_on_emoji_and_scores_inception_fid(tmp_path, monkeypatch):
    from gankit.data import emoji
    from gankit.demo import run_colour_demo

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(emoji, "emoji_sequences", lambda: [chr(c) for c in range(0x1F600, 0x1F630)])  # 48 faces
    emoji.emoji_images.cache_clear()
    try:
        row = run_colour_demo(tmp_path, steps=2, samples=5)
    finally:
        emoji.emoji_images.cache_clear()
    result = json.loads((row.run_dir / "eval.json").read_text())
    assert result["protocol"]["feature_net"] == "inception" and result["protocol"]["real"].startswith("5 distinct images of emoji test")
    assert result["metrics"]["fid"] > 10  # two steps from scratch are far from emoji
    assert json.loads((row.run_dir / "run.json").read_text())["data_shape"] == [3, 32, 32]
    assert (row.run_dir / "report.html").is_file()


def test_demo_help_states_the_real_defaults():
    # The parser spells the defaults out (importing gankit.demo would load torch for `gankit --help`).
    from gankit.cli import build_parser
    from gankit.demo import COLOUR_DEMO, DEFAULT_RECIPES, IMAGE_DEMO

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    helps = {action.dest: action.help for action in demo._actions}
    assert f"default {','.join(DEFAULT_RECIPES)}" in helps["recipes"]
    assert f"default {IMAGE_DEMO['overrides']['train.steps']}" in helps["image_steps"]
    assert f"default {COLOUR_DEMO['overrides']['train.steps']}" in helps["colour_steps"]


def test_demo_recipes_in_workers_match_the_recipes_one_after_another(tmp_path):
    from gankit.demo import run_demo

    settings = {"train.steps": 30, "train.log_every": 10, "train.eval_samples": 200, "train.device": "cpu"}
    alone = run_demo(tmp_path / "alone", recipes=("nsgan", "wgan-gp", "gan"), overrides=settings, progress=False, workers=1)
    side_by_side = run_demo(tmp_path / "workers", recipes=("nsgan", "wgan-gp", "gan"), overrides=settings, progress=False, workers=2)
    assert [row.recipe for row in side_by_side] == ["nsgan", "wgan-gp", "gan"]  # the order asked, whatever ran first
    # Each worker trains on one thread, as this test process does: the same runs, bit for bit.
    assert [row.metrics for row in side_by_side] == [row.metrics for row in alone]
    for row in side_by_side:
        assert row.run_dir == tmp_path / "workers" / row.recipe and (row.run_dir / "report.html").exists()
        assert row.seconds > 0


def test_a_stopped_demo_in_workers_says_how_to_continue_its_runs(tmp_path, monkeypatch):
    import gankit.demo
    from gankit.errors import TrainingStopped

    def stopped(*args, **kwargs):
        raise TrainingStopped("SIGTERM received: the worker processes stopped", "SIGTERM")

    monkeypatch.setattr(gankit.demo, "run_jobs", stopped)
    with pytest.raises(TrainingStopped, match=r"SIGTERM received: the demo stopped.*gankit train --resume .*/RECIPE") as caught:
        gankit.demo.run_demo(tmp_path / "demo", recipes=("nsgan", "gan"), progress=False, workers=2)
    assert caught.value.signal_name == "SIGTERM"
