import json
import math

import pytest
import torch

import gankit
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.loop import train


def _weights(run_dir):
    return gankit.load(run_dir, device="cpu").generator.state_dict()


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("recipe", ["gan", "nsgan", "lsgan", "hinge", "fgan-kl", "fgan-js", "wgan", "wgan-gp"])
def test_every_recipe_trains_and_writes_a_run_directory(recipe, tmp_path, tiny_overrides):
    config = resolve_config(recipe, "ring8", "vector", tiny_overrides)
    result = train(config, tmp_path / recipe, progress=False)
    run = result.run_dir
    for name in ("config.json", "run.json", "metrics.jsonl", "generator.safetensors", "generator.json"):
        assert (run / name).is_file(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert all(torch.isfinite(torch.tensor([r["loss_d"], r["loss_g"]])).all() for r in records)
    assert "modes" in records[1] and "modes" in records[3]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000010.png", "step-00000020.png"]
    assert len(list((run / "checkpoints").glob("step-*.pt"))) == 2
    assert json.loads((run / "config.json").read_text())["recipe"] == recipe


def test_same_seed_same_result_different_seed_different_result(tmp_path, tiny_overrides):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        runs[name] = train(resolve_config("wgan-gp", "ring8", "vector", {**tiny_overrides, "train.seed": seed}), tmp_path / name, progress=False)
    assert _equal(_weights(runs["a"].run_dir), _weights(runs["b"].run_dir))
    assert not _equal(_weights(runs["a"].run_dir), _weights(runs["c"].run_dir))


def test_resume_continues_exactly(tmp_path, tiny_overrides):
    import shutil

    config = resolve_config("wgan-gp", "ring8", "vector", tiny_overrides)
    train(config, tmp_path / "full", progress=False)
    # A run killed after its step-10 checkpoint: later checkpoints and outputs never happened.
    shutil.copytree(tmp_path / "full", tmp_path / "killed")
    (tmp_path / "killed" / "checkpoints" / "step-00000020.pt").unlink()
    (tmp_path / "killed" / "generator.safetensors").unlink()
    train(config, tmp_path / "killed", resume=True, progress=False)
    assert _equal(_weights(tmp_path / "full"), _weights(tmp_path / "killed"))
    full = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    resumed = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    strip = lambda r: {k: v for k, v in json.loads(r).items() if k not in ("steps_per_s", "time")}  # noqa: E731
    assert [strip(r) for r in full] == [strip(r) for r in resumed]


def test_weight_clipping_keeps_the_critic_in_the_box(tmp_path, tiny_overrides):
    from gankit.training.checkpoint import latest_checkpoint, load_checkpoint

    config = resolve_config("wgan", "ring8", "vector", {**tiny_overrides, "optim.lr_d": 0.05})
    train(config, tmp_path / "w", progress=False)
    state = load_checkpoint(latest_checkpoint(tmp_path / "w" / "checkpoints"))
    values = torch.cat([v.flatten() for v in state["D"].values()])
    assert values.abs().max() <= 0.01 + 1e-7
    assert (values.abs() > 0.0099).float().mean() > 0.2  # a large lr drives many weights to the bound


def test_generate_is_reproducible_and_needs_only_the_run_dir(tmp_path, tiny_overrides):
    import shutil

    train(resolve_config("nsgan", "ring8", "vector", tiny_overrides), tmp_path / "run", progress=False)
    copy = tmp_path / "copied"
    shutil.copytree(tmp_path / "run", copy)
    shutil.rmtree(copy / "checkpoints")
    a = gankit.load(copy, device="cpu").generate(100, seed=3)
    b = gankit.load(tmp_path / "run", device="cpu").generate(100, seed=3)
    assert a.shape == (100, 2) and torch.equal(a, b)
    assert not torch.equal(a, gankit.load(copy).generate(100, seed=4).cpu())


def test_resume_errors_name_the_problem(tmp_path, tiny_overrides):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="not a gankit run directory"):
        train(resolve_config("nsgan", "ring8", "vector"), tmp_path / "empty", resume=True)
    config = resolve_config("nsgan", "ring8", "vector", tiny_overrides)
    train(config, tmp_path / "run", progress=False)
    for checkpoint in (tmp_path / "run" / "checkpoints").glob("*.pt"):
        checkpoint.unlink()
    with pytest.raises(GankitError, match="no checkpoint"):
        train(config, tmp_path / "run", resume=True)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    (tmp_path / "run" / "run.json").write_text(json.dumps({**meta, "gankit_version": "0.0.1"}))
    with pytest.raises(GankitError, match="written by gankit 0.0.1"):
        train(config, tmp_path / "run", resume=True)


def test_divergence_is_caught_with_step_and_loss(tmp_path, tiny_overrides):
    config = resolve_config("gan", "ring8", "vector", {**tiny_overrides, "optim.lr_d": 1e30, "optim.lr_g": 1e30})
    with pytest.raises(GankitError, match=r"diverged at step 5: loss_"):
        train(config, tmp_path / "nan", progress=False)
    assert not list((tmp_path / "nan" / "checkpoints").glob("*.pt"))  # nothing poisoned was saved


def test_divergence_rollback_continues_with_lower_learning_rates(tmp_path, tiny_overrides, monkeypatch):
    import gankit.training.loop as loop

    real_get_loss = loop.get_loss
    calls = {"n": 0}

    def flaky_get_loss(*args, **kwargs):
        base = real_get_loss(*args, **kwargs)

        def generator(fake):  # one NaN loss at the 13th generator step: a transient blow-up
            calls["n"] += 1
            value = base.generator(fake)
            return value * float("nan") if calls["n"] == 13 else value

        return type(base)(base.name, base.discriminator, generator, base.description)

    monkeypatch.setattr(loop, "get_loss", flaky_get_loss)
    config = resolve_config("nsgan", "ring8", "vector", {**tiny_overrides, "train.on_divergence": "rollback", "optim.lr_decay": "none"})
    train(config, tmp_path / "rb", progress=False)
    records = [json.loads(line) for line in (tmp_path / "rb" / "metrics.jsonl").read_text().splitlines()]
    assert any("rolled back to step-00000010.pt" in r.get("event", "") for r in records)
    last = records[-1]
    assert last["step"] == 20 and math.isfinite(last["loss_g"])
    assert last["lr_g"] == pytest.approx(config.optim.lr_g * 0.5)


def test_cli_resume_with_steps_extends_a_finished_run_and_refuses_other_changes(tmp_path, tiny_overrides, capsys):
    from gankit.cli import main

    overrides = {**tiny_overrides, "optim.lr_decay": "none"}  # constant learning rates: 20 + 20 steps == 40 steps
    sets = [arg for key, value in overrides.items() if key != "train.steps" for arg in ("--set", f"{key}={value}")]
    base = ["train", "nsgan", "--data", "ring8", "--seed", "1", "--no-progress", *sets]
    assert main([*base, "--steps", "40", "--out", str(tmp_path / "long")]) == 0
    assert main([*base, "--steps", "20", "--out", str(tmp_path / "short")]) == 0
    assert main(["train", "--resume", str(tmp_path / "short"), "--no-progress"]) == 0  # finished: nothing to do
    assert main(["train", "--resume", str(tmp_path / "short"), "--steps", "40", "--no-progress"]) == 0
    assert "to step 40" in capsys.readouterr().out
    assert json.loads((tmp_path / "short" / "config.json").read_text())["train"]["steps"] == 40
    assert _equal(_weights(tmp_path / "short"), _weights(tmp_path / "long"))

    assert main(["train", "--resume", str(tmp_path / "short"), "--seed", "2", "--set", "optim.lr_g=1", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "--seed, --set cannot change it" in error and "short" in error


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, tiny_overrides, capsys):
    config = resolve_config("nsgan", "ring8", "vector", tiny_overrides)
    train(config, tmp_path / "quiet", progress=None)  # pytest's captured stderr is no terminal
    assert "nsgan on ring8" not in capsys.readouterr().err
    train(config, tmp_path / "shown", progress=True)
    bar = capsys.readouterr().err
    assert "nsgan on ring8" in bar and "20/20" in bar


def test_decay_steps_keeps_one_learning_rate_schedule_over_a_run_trained_in_stages(tmp_path, tiny_overrides):
    """optim.decay_steps: a run trained to 10 then resumed to 20 decays as one 20-step run does (not twice)."""
    schedule = {**tiny_overrides, "optim.lr_decay": "linear", "optim.decay_start": 0.5, "train.log_every": 1}

    def lr_log(run):
        return [json.loads(line)["lr_g"] for line in (run / "metrics.jsonl").read_text().splitlines()]

    train(resolve_config("nsgan", "ring8", "vector", schedule), tmp_path / "whole", progress=False)
    staged = resolve_config("nsgan", "ring8", "vector", {**schedule, "optim.decay_steps": 20, "train.steps": 10})
    train(staged, tmp_path / "staged", progress=False)
    assert lr_log(tmp_path / "staged") == pytest.approx(lr_log(tmp_path / "whole")[:10])  # no decay before step 10
    staged.train.steps = 20
    train(staged, tmp_path / "staged", resume=True, progress=False)
    assert lr_log(tmp_path / "staged") == pytest.approx(lr_log(tmp_path / "whole"))
    lr = staged.optim.lr_g
    assert lr_log(tmp_path / "whole")[14] == pytest.approx(lr * 0.5) and lr_log(tmp_path / "whole")[-1] == 0.0


def test_g_steps_updates_the_generator_that_many_times_per_step(tmp_path, tiny_overrides):
    """train.g_steps = 2 (DCGAN-tensorflow): per step one D update, then two G updates (Adam's step count says so)."""
    result = train(resolve_config("nsgan", "ring8", "vector", {**tiny_overrides, "train.g_steps": 2}), tmp_path / "g2",
                   progress=False)
    checkpoint = torch.load(sorted((tmp_path / "g2" / "checkpoints").glob("step-*.pt"))[-1], weights_only=False)
    adam_steps = {name: {int(s["step"]) for s in checkpoint[name]["state"].values()} for name in ("opt_g", "opt_d")}
    assert adam_steps == {"opt_g": {2 * result.steps}, "opt_d": {result.steps}}
    with pytest.raises(GankitError, match="train.g_steps"):
        resolve_config("nsgan", "ring8", "vector", {"train.g_steps": 0})
