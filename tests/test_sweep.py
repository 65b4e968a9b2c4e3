import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from safetensors.torch import load_file

from gankit.cli import main
from gankit.errors import GankitError, TrainingStopped
from gankit.nets.ensemble import EnsembleDiscriminator, EnsembleGenerator
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.penalties import gradient_penalty
from gankit.sweep import mean_and_standard_error, parse_seeds, resume_sweep, run_sweep, seed_groups
from gankit.training.workers import default_workers, run_jobs


def _members(n):
    torch.manual_seed(0)
    return [MLPGenerator(4, 2, 8, 2) for _ in range(n)], [MLPDiscriminator(2, 8, 2) for _ in range(n)]


def test_ensemble_gradients_equal_each_members_own_gradients():
    gens, critics = _members(3)
    ens_g, ens_d = EnsembleGenerator(gens), EnsembleDiscriminator(critics)
    z, real = torch.randn(3 * 5, 4), torch.randn(3 * 5, 2)
    fake = ens_g(z)
    loss = ens_d(fake).mean() - ens_d(real).mean() + gradient_penalty(ens_d, real, fake.detach())
    loss.backward()
    for s, (g, d) in enumerate(zip(gens, critics)):
        rows = slice(5 * s, 5 * (s + 1))
        member_fake = g(z[rows])
        assert torch.allclose(member_fake, fake[rows], atol=1e-6)
        member_loss = d(member_fake).mean() - d(real[rows]).mean()
        torch.manual_seed(1)
        member_loss.backward()
        assert torch.allclose(g.net[0].weight.grad, ens_g.net[0].weight.grad[s], atol=1e-5)
    # Penalty gradients separate too: compare one critic with its own penalty on its own rows.
    ens_d.zero_grad()
    torch.manual_seed(7)
    gradient_penalty(ens_d, real, fake.detach()).backward()
    torch.manual_seed(7)
    eps = torch.rand(15, 1)
    for s, d in enumerate(critics):
        d.zero_grad()
        rows = slice(5 * s, 5 * (s + 1))
        mixed = (eps[rows] * real[rows] + (1 - eps[rows]) * fake.detach()[rows]).requires_grad_(True)
        (grad,) = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
        (10 * ((grad.norm(dim=1) - 1) ** 2).mean()).backward()
        assert torch.allclose(d.net[0].weight.grad, ens_d.net[0].weight.grad[s], atol=1e-5)


def test_unstack_returns_the_members():
    gens, _ = _members(2)
    ens = EnsembleGenerator(gens)
    fresh = ens.unstack_into(_members(2)[0][::-1])
    z = torch.randn(4, 4)
    assert torch.allclose(fresh[1](z[2:]), ens(z)[2:], atol=1e-6)


def test_seed_parsing_and_summary():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    summary = mean_and_standard_error([1.0, 3.0])
    assert summary["mean"] == 2.0 and abs(summary["se"] - 1.0) < 1e-12


def test_sweep_writes_one_run_per_seed(tmp_path, tiny_overrides):
    result = run_sweep("wgan-gp", "ring8", [0, 1, 2], tmp_path / "sweep", tiny_overrides, progress=False)
    assert [row["seed"] for row in result.per_seed] == [0, 1, 2]
    assert set(result.summary) >= {"modes", "hq_fraction", "w1"}
    for seed in (0, 1, 2):
        assert (tmp_path / "sweep" / f"seed-{seed}" / "generator.safetensors").is_file()
    assert (tmp_path / "sweep" / "sweep.json").is_file()


def test_seed_groups_are_consecutive_and_balanced():
    assert seed_groups(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert seed_groups([4, 7], 1) == [[4, 7]]
    for bad in (0, 6):
        with pytest.raises(GankitError, match="workers: an ensemble"):
            seed_groups(list(range(10)), bad)


def test_default_workers_one_per_thread_on_cpu_and_one_on_a_gpu():
    threads = torch.get_num_threads()
    assert default_workers(torch.device("cpu"), 10) == min(threads, 10)
    assert default_workers(torch.device("cpu"), 1) == 1
    assert default_workers(torch.device("cuda"), 10) == 1


def test_worker_jobs_raise_their_errors_here():
    # int is a picklable builtin, so the spawned workers need nothing from this file. (That results come back
    # in the order of the arguments, the two-worker sweep below checks.)
    with pytest.raises(ValueError, match="invalid literal"):
        run_jobs(int, [("3",), ("x",)], 2, order=[1, 0])
    assert run_jobs(divmod, [(7, 2), (9, 4)], 1) == [(3, 1), (2, 1)]  # one worker: in this process
    with pytest.raises(ValueError, match="permutation"):
        run_jobs(int, [("3",), ("4",)], 2, order=[0, 0])


def test_run_jobs_polls_while_the_workers_run():
    calls = []
    assert run_jobs(time.sleep, [(3,), (3,)], 2, poll=lambda: calls.append(time.monotonic())) == [None, None]
    assert len(calls) >= 2  # about once a second, and once at the end


def test_a_signal_stops_the_jobs_under_way_and_drops_the_rest():
    # Four 30 s jobs in two workers would take a minute; SIGINT here after 4 s stops them: the two under way
    # get a KeyboardInterrupt from the SIGINT passed on, the two not yet begun never start.
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT))
    handler = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(TrainingStopped, match="SIGINT received: the worker processes stopped"):
            run_jobs(time.sleep, [(30,)] * 4, 2)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 20
    assert signal.getsignal(signal.SIGINT) is handler  # the handler it replaced is back


def test_sweep_in_two_workers_trains_each_group_as_its_own_sweep(tmp_path, tiny_overrides, capsys):
    # Two workers over seeds 0-3: seeds 0-1 train in one process, 2-3 in the other, each group on the data
    # stream of its first seed. So seed 2's generator is the one a sweep of seeds 2-3 alone trains.
    both = run_sweep("nsgan", "ring8", [0, 1, 2, 3], tmp_path / "both", tiny_overrides, progress=True, workers=2)
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()  # the parent's bar over both groups' steps
    assert any("nsgan on ring8, 2 groups" in line and "40/40" in line for line in bar), bar
    alone = run_sweep("nsgan", "ring8", [2, 3], tmp_path / "alone", tiny_overrides, progress=False, workers=1)
    assert both.workers == 2 and alone.workers == 1
    record = json.loads((tmp_path / "both" / "sweep.json").read_text())
    assert record["groups"] == [[0, 1], [2, 3]] and record["workers"] == 2
    assert [row["seed"] for row in both.per_seed] == [0, 1, 2, 3]
    assert (tmp_path / "both" / "ensemble-0-1").is_dir() and (tmp_path / "both" / "ensemble-2-3").is_dir()
    for seed in (2, 3):
        grouped = load_file(tmp_path / "both" / f"seed-{seed}" / "generator.safetensors")
        single = load_file(tmp_path / "alone" / f"seed-{seed}" / "generator.safetensors")
        assert grouped.keys() == single.keys()
        for name in grouped:  # one intra-op thread in the worker, two here: equal up to rounding
            assert torch.allclose(grouped[name], single[name], atol=1e-5), name
    # Seed 0 trained on another stream than seed 2 did, so their weights differ (the test can fail).
    seed0 = load_file(tmp_path / "both" / "seed-0" / "generator.safetensors")
    assert not all(torch.allclose(seed0[name], single[name]) for name in seed0)


def test_cli_sweep_rejects_bad_workers(tmp_path, capsys):
    assert main(["sweep", "nsgan", "--seeds", "0-3", "--workers", "two", "--out", str(tmp_path / "a")]) == 2
    assert "--workers expects a positive integer" in capsys.readouterr().err
    assert main(["sweep", "nsgan", "--seeds", "0-3", "--workers", "3", "--steps", "2", "--out", str(tmp_path / "b")]) == 2
    assert "4 seeds allow 1 to 2 workers, got 3" in capsys.readouterr().err


def test_training_stopped_crosses_process_boundaries():
    # A worker's TrainingStopped comes back pickled (a bare Exception subclass with two arguments would not).
    stopped = pickle.loads(pickle.dumps(TrainingStopped("SIGTERM received: stopped at step 7", "SIGTERM")))
    assert isinstance(stopped, TrainingStopped) and stopped.signal_name == "SIGTERM" and "step 7" in str(stopped)


def test_resume_keeps_a_finished_sweep_and_extends_one_to_more_steps(tmp_path, tiny_overrides, capsys):
    out = tmp_path / "sweep"
    first = run_sweep("nsgan", "ring8", [0, 1], out, tiny_overrides, progress=False, workers=1)
    assert json.loads((out / "sweep.json").read_text())["complete"]
    checkpoints = sorted(p.name for p in (out / "ensemble" / "checkpoints").iterdir())
    scored = (out / "seed-0" / "eval.json").stat().st_mtime_ns
    again = resume_sweep(out, progress=False)  # nothing left to do: read back, not trained or scored again
    assert again.per_seed == first.per_seed
    assert sorted(p.name for p in (out / "ensemble" / "checkpoints").iterdir()) == checkpoints
    assert (out / "seed-0" / "eval.json").stat().st_mtime_ns == scored

    with pytest.raises(GankitError, match="steps 10 is fewer than the 20 steps"):
        resume_sweep(out, steps=10)
    assert main(["sweep", "--resume", str(out), "--steps", "30", "--no-progress"]) == 0
    assert "2 seeds trained and scored together" in capsys.readouterr().out
    record = json.loads((out / "sweep.json").read_text())
    assert record["complete"] and record["config"]["train"]["steps"] == 30
    for seed in (0, 1):
        assert json.loads((out / f"seed-{seed}" / "generator.json").read_text())["step"] == 30
    assert (out / "ensemble" / "checkpoints" / "step-00000030.pt").is_file()
    assert json.loads((out / "ensemble" / "config.json").read_text())["train"]["steps"] == 30


def test_sweep_resume_refuses_what_it_cannot_continue(tmp_path, tiny_overrides, capsys):
    assert main(["sweep", "--resume", str(tmp_path), "--no-progress"]) == 2
    assert f"cannot resume {str(tmp_path)!r}: no sweep.json" in capsys.readouterr().err
    assert main(["sweep", "nsgan", "--resume", str(tmp_path), "--seeds", "0-3"]) == 2
    assert "RECIPE, --seeds cannot change it" in capsys.readouterr().err
    assert main(["sweep"]) == 2
    assert "sweep needs a RECIPE" in capsys.readouterr().err

    out = tmp_path / "sweep"
    run_sweep("nsgan", "ring8", [0, 1], out, tiny_overrides, progress=False, workers=1)
    record = json.loads((out / "sweep.json").read_text())
    (out / "sweep.json").write_text(json.dumps({**record, "gankit_version": "0.0.7"}))
    with pytest.raises(GankitError, match="was written by gankit 0.0.7"):
        resume_sweep(out)
    (out / "sweep.json").write_text(json.dumps(record))
    holder = subprocess.Popen(  # a sweep still running in another process holds its lock
        [sys.executable, "-c", "import sys, gankit.training.run_dir as r\n"
         f"with r.hold_directory(r.Path({str(out)!r}), 'sweep directory'):\n    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GankitError, match=rf"sweep directory '.*' is in use by another gankit process \(pid {holder.pid}\)"):
            resume_sweep(out)
    finally:
        holder.communicate("")
    assert resume_sweep(out).per_seed == record["per_seed"]  # free again
