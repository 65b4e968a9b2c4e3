"""The run harness under both loops: no non-finite state is ever saved, rollback reaches only finite
checkpoints, and translation runs get rollback, exact interval averages after a resume, TensorBoard
and torchrun from the same harness as the GAN loop."""

import copy
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import gankit.translation.step as translation_step
from gankit.cli import main
from gankit.config import Config, set_value
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.checkpoint import save_checkpoint
from gankit.training.finite import non_finite_entry
from gankit.training.harness import Harness
from gankit.training.loop import train
from gankit.translation.train import train_translation
from gankit.translation.config import resolve_translation_config

TINY_TRANSLATION = {
    "data.image_size": 16, "data.batch_size": 2, "model.g_hidden": 4, "model.d_hidden": 4, "model.d_layers": 2,
    "train.steps": 6, "train.log_every": 3, "train.sample_every": 6, "train.checkpoint_every": 2,
    "train.eval_samples": 4, "train.device": "cpu", "train.keep_checkpoints": 5,
}  # fmt: skip


def _records(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def _checkpoints(run):
    return sorted(p.name for p in (Path(run) / "checkpoints").glob("step-*.pt"))


def _all_checkpoints_finite(run):
    return all(non_finite_entry(torch.load(p, weights_only=True)) is None for p in (Path(run) / "checkpoints").glob("*.pt"))


def _pairs(root, n=10, size=12):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        left = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([left, 255 - left], axis=1)).save(root / f"{i:03d}.png")
    return f"pairs={root}"


# --- finiteness -------------------------------------------------------------------------------------


def test_non_finite_entry_names_the_first_bad_tensor_and_ignores_integers():
    state = {"G": {"w": torch.ones(3), "b": torch.tensor([1.0, math.inf])}, "rng": torch.zeros(4, dtype=torch.uint8)}
    assert non_finite_entry(state) == "G.b"
    assert non_finite_entry({"opt": [{"m": torch.tensor([math.nan])}]}) == "opt[0].m"
    assert non_finite_entry({"G": {"w": torch.ones(2)}, "step": 3, "rng": torch.zeros(2, dtype=torch.uint8)}) is None


def test_non_finite_weights_between_logging_steps_are_never_saved(tmp_path, tiny_overrides):
    """The reproduction of issue 21: huge learning rates, checkpoints every 2 steps, logging every 20."""
    overrides = {**tiny_overrides, "optim.lr_d": 1e6, "optim.lr_g": 1e6, "train.log_every": 20, "train.checkpoint_every": 2}
    with pytest.raises(GankitError, match=r"diverged at step \d+: non-finite (G|D|opt_g|opt_d)\."):
        train(resolve_config("nsgan", "ring8", "vector", overrides), tmp_path / "nan", progress=False)
    assert _all_checkpoints_finite(tmp_path / "nan")
    if (tmp_path / "nan" / "generator.safetensors").exists():
        assert non_finite_entry(load_file(tmp_path / "nan" / "generator.safetensors")) is None


def _nan_generator_loss_at(monkeypatch, module, calls_at):
    """Make the GAN loss's generator term NaN at the given calls: the weights turn NaN after that step."""
    real_get_loss, calls = module.get_loss, {"n": 0}

    def flaky_get_loss(*args, **kwargs):
        base = real_get_loss(*args, **kwargs)

        def generator(fake):
            calls["n"] += 1
            value = base.generator(fake)
            return value * float("nan") if calls["n"] in calls_at else value

        return type(base)(base.name, base.discriminator, generator, base.description)

    monkeypatch.setattr(module, "get_loss", flaky_get_loss)


def test_rollback_at_a_checkpoint_step_returns_to_the_last_finite_checkpoint(tmp_path, tiny_overrides, monkeypatch):
    import gankit.training.loop as loop

    _nan_generator_loss_at(monkeypatch, loop, {13})  # NaN weights after step 13; the next checkpoint step is 14
    overrides = {**tiny_overrides, "train.log_every": 20, "train.checkpoint_every": 2, "train.keep_checkpoints": 20,
                 "train.on_divergence": "rollback", "optim.lr_decay": "none"}
    train(resolve_config("nsgan", "ring8", "vector", overrides), tmp_path / "rb", progress=False)
    events = [r["event"] for r in _records(tmp_path / "rb") if "event" in r]
    assert len(events) == 1 and "diverged at step 14: non-finite" in events[0] and "rolled back to step-00000012.pt" in events[0]
    assert _records(tmp_path / "rb")[-1]["step"] == 20 and _all_checkpoints_finite(tmp_path / "rb")


def test_rollback_skips_a_non_finite_checkpoint(tmp_path, tiny_overrides):
    """A NaN checkpoint (written before this guard existed) is never a rollback target."""
    overrides = {**tiny_overrides, "train.steps": 10, "train.log_every": 20, "train.checkpoint_every": 2,
                 "train.keep_checkpoints": 20, "train.on_divergence": "rollback"}
    config = resolve_config("nsgan", "ring8", "vector", overrides)
    train(config, tmp_path / "run", progress=False)
    poisoned = tmp_path / "run" / "checkpoints" / "step-00000010.pt"
    state = torch.load(poisoned, weights_only=True)
    state["G"] = {k: torch.full_like(v, math.nan) if v.is_floating_point() else v for k, v in state["G"].items()}
    save_checkpoint(poisoned, state)  # a whole file, hash and identity included: only its weights are NaN
    (tmp_path / "run" / "checkpoints" / "step-00000008.pt").unlink()
    set_value(config, "train.steps", 14)
    train(config, tmp_path / "run", resume=True, progress=False)  # resumes from the NaN step 10, diverges at 12
    events = [r["event"] for r in _records(tmp_path / "run") if "event" in r]
    assert len(events) == 1 and "step 12: non-finite" in events[0] and "rolled back to step-00000006.pt" in events[0]
    assert _records(tmp_path / "run")[-1]["step"] == 14


def test_non_finite_config_values_are_refused(tmp_path, capsys):
    for value in ("inf", "-inf", "nan", "1e999"):
        with pytest.raises(GankitError, match=r"'optim.lr_d': value .* must be a finite number"):
            set_value(Config(), "optim.lr_d", value)
    with pytest.raises(GankitError, match="finite"):
        set_value(Config(), "train.ema", float("nan"))
    assert main(["train", "nsgan", "--set", "optim.lr_d=inf", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "optim.lr_d" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_sampling_a_non_finite_generator_is_an_error(tmp_path, tiny_overrides, capsys):
    train(resolve_config("nsgan", "ring8", "vector", tiny_overrides), tmp_path / "run", progress=False)
    weights = tmp_path / "run" / "generator.safetensors"
    state = load_file(weights)
    first = next(iter(state))
    state[first] = torch.full_like(state[first], math.nan)
    save_file(state, weights)
    assert main(["generate", str(tmp_path / "run"), "--out", str(tmp_path / "s.npz"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "non-finite weights" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "s.npz").exists()


# --- translation runs through the harness ------------------------------------------------------------


def test_translation_rolls_back_on_divergence(tmp_path, monkeypatch):
    real, calls = translation_step.pix2pix_generator_loss, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        terms = real(*args, **kwargs)
        return {k: v * float("nan") for k, v in terms.items()} if calls["n"] == 5 else terms

    monkeypatch.setattr(translation_step, "pix2pix_generator_loss", flaky)
    data = _pairs(tmp_path / "ab")
    config = resolve_translation_config("pix2pix", data, {**TINY_TRANSLATION, "train.on_divergence": "rollback", "optim.lr_decay": "none"})
    result = train_translation(config, tmp_path / "run", progress=False)
    events = [r["event"] for r in _records(tmp_path / "run") if "event" in r]
    assert len(events) == 1 and "diverged at step 6" in events[0] and "rolled back to step-00000004.pt" in events[0]
    assert result.last_record["step"] == 6 and math.isfinite(result.last_record["loss_g"])
    assert result.last_record["lr_g"] == pytest.approx(config.optim.lr_g * 0.5) and _all_checkpoints_finite(tmp_path / "run")


def test_translation_resume_mid_interval_logs_the_uninterrupted_averages(tmp_path):
    """Checkpoint at 4, logging at 3 and 6: the resumed run's step-6 record averages steps 4-6 as the full run's does."""
    config = resolve_translation_config("pix2pix", _pairs(tmp_path / "ab"), TINY_TRANSLATION)
    full = train_translation(config, tmp_path / "full", progress=False)
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    (tmp_path / "resumed" / "checkpoints" / "step-00000006.pt").unlink()
    resumed = train_translation(config, tmp_path / "resumed", resume=True, progress=False)
    for key in ("loss_d", "loss_g", "g_adv", "l1", "heldout_l1"):
        assert resumed.last_record[key] == full.last_record[key], key
    for key, value in full.generators.state_dict().items():
        assert torch.equal(value, resumed.generators.state_dict()[key]), key


# A CLI whose optimiser steps each take 50 ms longer, so that a kill lands mid-run (sleeping changes no number).
THROTTLED_CLI = """
import sys, time, torch
torch.set_num_threads(1)
adam_step = torch.optim.Adam.step
def slow_step(self, *args, **kwargs):
    time.sleep(0.05)
    return adam_step(self, *args, **kwargs)
torch.optim.Adam.step = slow_step
from gankit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_translation_killed_with_sigkill_resumes_to_the_uninterrupted_weights(tmp_path):
    """pix2pix in a fresh interpreter, SIGKILLed after its first checkpoint, resumed: every weight and every logged
    number equals those of the same run uninterrupted."""
    import random
    import signal
    import time

    data, env = _pairs(tmp_path / "ab"), {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [f"--set={k}={v}" for k, v in {**TINY_TRANSLATION, "train.steps": 16}.items()]

    def cli(*args):
        return subprocess.Popen([sys.executable, "-c", THROTTLED_CLI, *args], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def train_argv(out):
        return ["train", "pix2pix", "--data", data, "--out", str(out), "--no-progress", *sets]

    assert cli(*train_argv(tmp_path / "full")).wait(240) == 0
    victim = cli(*train_argv(tmp_path / "run"))
    first = tmp_path / "run" / "checkpoints" / "step-00000002.pt"
    deadline = time.monotonic() + 240
    while not first.is_file() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(3).uniform(0.0, 0.3))
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(60) == -signal.SIGKILL
    assert not (tmp_path / "run" / "checkpoints" / "step-00000016.pt").exists()
    resumed = cli("train", "--resume", str(tmp_path / "run"), "--no-progress")
    assert resumed.wait(240) == 0, resumed.stderr.read()[-2000:]
    full, run = load_file(tmp_path / "full" / "generator.safetensors"), load_file(tmp_path / "run" / "generator.safetensors")
    assert full.keys() == run.keys() and all(torch.equal(full[k], run[k]) for k in full)
    drop = ("steps_per_s", "time")
    assert [{k: v for k, v in r.items() if k not in drop} for r in _records(tmp_path / "run")] == \
           [{k: v for k, v in r.items() if k not in drop} for r in _records(tmp_path / "full")]


def test_translation_writes_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = resolve_translation_config("pix2pix", _pairs(tmp_path / "ab"), {**TINY_TRANSLATION, "train.tensorboard": True})
    train_translation(config, tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("heldout_l1")] == [6]
    assert [e.step for e in events.Scalars("loss_d")] == [3, 6] and [e.step for e in events.Images("samples")] == [6]


def test_two_process_torchrun_trains_pix2pix_with_identical_replicas(tmp_path):
    data = _pairs(tmp_path / "ab")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    worker = Path(__file__).with_name("distributed_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker),
               str(tmp_path / "run"), "pix2pix", data]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / "run" / f"rank{r}-pix2pix.pt", weights_only=True) for r in (0, 1))
    # The weights agree; batch-norm running statistics are each rank's own (DDP sends rank 0's at each forward).
    weights = [k for k in rank0 if "running_" not in k and "num_batches" not in k]
    assert len(weights) > 10 and all(torch.equal(rank0[k], rank1[k]) for k in weights)
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-00000004.pt", weights_only=True)
    assert len(state["rng_per_rank"]) == 2 and not torch.equal(*state["rng_per_rank"])  # each rank its own batches
    assert json.loads((tmp_path / "run" / "run.json").read_text())["world_size"] == 2


def test_harness_state_dict_round_trips_every_tracked_part(tmp_path):
    config = resolve_config("nsgan", "ring8", "vector", {"train.device": "cpu"})
    with Harness(config, tmp_path / "run") as harness:
        net = torch.nn.Linear(2, 2)
        harness.optimizers(net.parameters(), net.parameters())
        harness.track(G=net)
        harness.add_totals("loss_d")["loss_d"] += 3.0
        state = copy.deepcopy(harness.state_dict(7))  # as a checkpoint file holds it
        torch.rand(3, generator=harness.rng)
        with torch.no_grad():
            net.weight.zero_()
        harness.totals["loss_d"].zero_()
        assert harness.load_state_dict(state) == 7
        assert torch.equal(net.weight, state["G"]["weight"]) and harness.totals["loss_d"].item() == 3.0
        assert torch.equal(harness.rng.get_state(), state["rng"])


def test_experiment_cli_lists_and_needs_a_name(capsys):
    from gankit.experiments import experiment_names

    assert main(["experiment", "--list"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == experiment_names()
    assert main(["experiment"]) == 2 and "give an experiment NAME or --list" in capsys.readouterr().out
