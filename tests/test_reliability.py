"""Reliability with real processes: kill -9, Ctrl-C and SIGTERM mid-run, a full disk, an unwritable
output directory, and bad input at the command line.

The interrupted runs are real processes that real signals reach: one fresh ``python -c`` interpreter
running ``gankit.cli.main`` (the ``gankit`` command), the others forked children of the test process
that call ``gankit.cli.main`` (a real PID, without paying Python's and torch's start-up again). Each
interrupted run is resumed in another process and its final checkpoint (G, D, EMA, optimisers, RNG
states) compared bit for bit with an uninterrupted run of the same command, also a child process,
all with one intra-op thread.

Two hooks, both only in the victim processes and neither touching a number: a few milliseconds of
sleep per latent draw, so that a run lasts long enough to be interrupted on any machine; and, for the
kill during a checkpoint write, a ``torch.save`` that writes half the file and then waits to be killed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gankit.cli import main
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.checkpoint import checkpoint_name, latest_checkpoint, load_checkpoint, temporary_path
from gankit.training.loop import train
from gankit.training.run_dir import LOCK_NAME, RunDir, hold_directory

STEPS = 120
CHECKPOINT_EVERY = 20
SETTINGS = {
    "model.g_hidden": 16,
    "model.d_hidden": 16,
    "model.g_layers": 2,
    "model.d_layers": 2,
    "data.batch_size": 32,
    "train.log_every": 10,  # log lines past the last checkpoint: a resume must drop them
    "train.checkpoint_every": CHECKPOINT_EVERY,
    "train.sample_every": STEPS,
    "train.eval_samples": 200,
}  # on top of the vector defaults: EMA 0.999, learning rates decayed linearly to 0
THROTTLE_S = 0.005  # per latent draw (two per step) in the victims: a run lasts >= 1.2 s however fast the machine
TIMEOUT_S = 120


def _argv(out: Path) -> list[str]:
    sets = [arg for key, value in SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    return ["train", "nsgan", "--data", "ring8", "--out", str(out), "--no-progress", "--steps", str(STEPS),
            "--seed", "3", "--device", "cpu", *sets]


def _resume_argv(run: Path) -> list[str]:
    return ["train", "--resume", str(run), "--no-progress"]


# --- child processes -------------------------------------------------------------------------------


def _throttle() -> None:
    """Sleep before each latent draw; the draw itself is the real one (same numbers, same RNG use)."""
    import gankit.training.loop as loop

    sample_latent = loop.sample_latent

    def slow_sample_latent(*args, **kwargs):
        time.sleep(THROTTLE_S)
        return sample_latent(*args, **kwargs)

    loop.sample_latent = slow_sample_latent


THROTTLED_CLI = f"""
import sys, time
import torch
torch.set_num_threads(1)
import gankit.training.loop as loop
sample_latent = loop.sample_latent
def slow_sample_latent(*args, **kwargs):
    time.sleep({THROTTLE_S})
    return sample_latent(*args, **kwargs)
loop.sample_latent = slow_sample_latent
from gankit.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Forked:
    """``gankit.cli.main(argv)`` in a forked child, with a Popen-like poll / wait / kill."""

    def __init__(self, argv: list[str], logs: Path, name: str, prepare=None):
        self.stdout_path, self.stderr_path = logs / f"{name}.out", logs / f"{name}.err"
        self.returncode: int | None = None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: runs the command and exits, never returning into pytest
            code = 70
            try:
                for fd, path in ((1, self.stdout_path), (2, self.stderr_path)):
                    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(handle, fd)
                    os.close(handle)
                sys.stdout = open(1, "w", buffering=1, closefd=False)
                sys.stderr = open(2, "w", buffering=1, closefd=False)
                signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                torch.set_num_threads(1)
                if prepare:
                    prepare()
                code = main(argv)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid = pid

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float = TIMEOUT_S) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"child {self.pid} still running after {timeout}s: {self.stderr()}")
            time.sleep(0.01)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)

    def stdout(self) -> str:
        return self.stdout_path.read_text() if self.stdout_path.is_file() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.is_file() else ""


def _wait_for(condition, process, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"training exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout}s")
        time.sleep(0.002)


def _run(argv: list[str], logs: Path, name: str) -> Forked:
    child = Forked(argv, logs, name)
    assert child.wait() == 0, child.stderr()
    return child


# --- comparing runs ----------------------------------------------------------------------------------


def _differences(a, b, path: str = "") -> list[str]:
    """Where two nested states differ: tensors bit for bit (dtype, shape, values), the rest by ==."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
        return [] if same else [path]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path} (keys)"]
        return [d for key in a for d in _differences(a[key], b[key], f"{path}.{key}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path} (length)"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def _final_state(run: Path) -> dict:
    return load_checkpoint(run / "checkpoints" / checkpoint_name(STEPS))


def _metrics(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time")} for r in RunDir(run).read_metrics()]


def _assert_same_as_reference(run: Path, reference: Path) -> None:
    expected, got = _final_state(reference), _final_state(run)
    assert {"G", "D", "ema", "opt_g", "opt_d", "sched_g", "rng", "torch_rng"} <= expected.keys()
    different = _differences(expected, got)
    assert not different, f"resumed run differs from the uninterrupted one in {different[:6]}"
    assert not _differences(load_file(reference / "generator.safetensors"), load_file(run / "generator.safetensors"))
    assert _metrics(run) == _metrics(reference)  # records past the resumed checkpoint were dropped, then rewritten
    leftovers = [p.name for d in (run, run / "checkpoints") for p in d.iterdir()
                 if p.name.startswith(".") and p.name != LOCK_NAME]  # the lock file stays (free once its holder ends)
    assert not leftovers, f"temporary files left behind: {leftovers}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run, in a child process like the others."""
    root = tmp_path_factory.mktemp("reference")
    # Import here, once, what training imports lazily (torch._dynamo, POT, matplotlib): forked children inherit it.
    train(resolve_config("nsgan", "ring8", "vector", {**TINY, "train.steps": 1}), root / "warm-up", progress=False)
    _run(_argv(root / "run"), root, "reference")
    return root / "run"


# --- 1. kill -9 --------------------------------------------------------------------------------------


def test_sigkill_at_a_random_moment_then_resume_matches_an_uninterrupted_run(reference, tmp_path):
    """`gankit train` in a fresh interpreter, killed with SIGKILL a seeded random time after its first checkpoint."""
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(tmp_path / "victim.err", "wb") as err:
        victim = subprocess.Popen([sys.executable, "-c", THROTTLED_CLI, *_argv(run)], env=env, cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=err)
    try:
        first = run / "checkpoints" / checkpoint_name(CHECKPOINT_EVERY)
        _wait_for(first.is_file, victim, first.name)
        time.sleep(random.Random(8).uniform(0.0, 0.5))
        assert victim.poll() is None, "the run finished before it could be killed"
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(TIMEOUT_S) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()

    last = latest_checkpoint(run / "checkpoints")
    state = load_checkpoint(last)  # the newest checkpoint a killed run left is whole
    assert CHECKPOINT_EVERY <= state["step"] < STEPS
    assert _differences(state["G"], _final_state(reference)["G"])  # the comparison below does tell states apart
    resumed = _run(_resume_argv(run), tmp_path, "resume")
    assert f"resumed {run} to step {STEPS}" in resumed.stdout()
    _assert_same_as_reference(run, reference)


def _stall_in_checkpoint_write(number: int, marker: Path):
    """A ``torch.save`` that, at its ``number``-th call, writes half the bytes, then waits to be killed."""

    def prepare() -> None:
        real_save = torch.save
        calls = {"n": 0}

        def stalling_save(obj, handle, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] < number:
                return real_save(obj, handle, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            handle.write(data[: len(data) // 2])
            handle.flush()
            os.fsync(handle.fileno())
            marker.write_text(handle.name)
            time.sleep(TIMEOUT_S)

        torch.save = stalling_save  # in the child only

    return prepare


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_checkpoint(reference, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "writing"
    victim = Forked(_argv(run), tmp_path, "victim", prepare=_stall_in_checkpoint_write(3, marker))
    try:
        _wait_for(lambda: marker.is_file() and marker.read_text(), victim, "the third checkpoint write")
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
    finally:
        victim.kill()

    half = Path(marker.read_text())
    checkpoints = run / "checkpoints"
    assert half.parent == checkpoints and half.name.startswith(f".{checkpoint_name(3 * CHECKPOINT_EVERY)}.tmp-")
    assert half.stat().st_size > 0
    with pytest.raises(GankitError, match="corrupt or truncated"):  # the killed write really was half a file
        load_checkpoint(half)
    assert not (checkpoints / checkpoint_name(3 * CHECKPOINT_EVERY)).exists()  # never renamed into place
    last = latest_checkpoint(checkpoints)
    assert last.name == checkpoint_name(2 * CHECKPOINT_EVERY) and load_checkpoint(last)["step"] == 2 * CHECKPOINT_EVERY

    _run(_resume_argv(run), tmp_path, "resume")
    assert not half.exists()  # the resume removed what the killed process was writing
    _assert_same_as_reference(run, reference)


# --- 2. SIGINT / SIGTERM --------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_with_a_checkpoint_and_resume_matches(reference, tmp_path, signum):
    run = tmp_path / "run"
    victim = Forked(_argv(run), tmp_path, "victim", prepare=_throttle)
    try:
        _wait_for((run / "checkpoints" / checkpoint_name(CHECKPOINT_EVERY)).is_file, victim, "the first checkpoint")
        os.kill(victim.pid, signum)
        code = victim.wait()
    finally:
        victim.kill()
    err = victim.stderr()
    assert code == 128 + signum, err
    name = signal.Signals(signum).name
    found = re.fullmatch(rf"gankit: {name} received: stopped at step (\d+) with a checkpoint; "
                         rf"continue with `gankit train --resume {re.escape(str(run))}`\n", err)
    assert found, err
    step = int(found.group(1))
    assert CHECKPOINT_EVERY <= step < STEPS
    assert latest_checkpoint(run / "checkpoints") == run / "checkpoints" / checkpoint_name(step)
    assert load_checkpoint(run / "checkpoints" / checkpoint_name(step))["step"] == step  # the current step, saved

    _run(_resume_argv(run), tmp_path, "resume")
    _assert_same_as_reference(run, reference)


# --- 3. unwritable output, full disk ----------------------------------------------------------------------

TINY = {**SETTINGS, "train.steps": 20, "train.checkpoint_every": 10, "train.sample_every": 1000, "train.log_every": 5,
        "train.device": "cpu"}


def _one_line_error(err: str) -> str:
    assert err.startswith("gankit: error: ") and err.count("\n") == 1, err
    return err


def test_run_directory_under_a_regular_file_is_refused_before_training(tmp_path, capsys):
    """A real OS refusal (ENOTDIR) even for root, which chmod would not stop."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file\n")
    out = blocker / "run"
    code = main(["train", "nsgan", "--out", str(out), "--no-progress", "--steps", "5", "--device", "cpu"])
    captured = capsys.readouterr()
    err = _one_line_error(captured.err)
    assert code == 2 and captured.out == ""
    assert f"cannot write to run directory {str(out)!r}: Not a directory" in err
    assert blocker.read_text() == "a file\n"


def test_run_directory_on_a_filesystem_root_cannot_write_is_refused(tmp_path, capsys):
    """sysfs refuses mkdir even to root (EPERM): a real read-only location."""
    probe = Path("/sys/gankit-reliability-probe")
    try:
        probe.mkdir()
    except OSError:
        pass
    else:
        probe.rmdir()
        pytest.skip("this machine lets us create folders in /sys")
    out = probe / "run"
    code = main(["train", "nsgan", "--out", str(out), "--no-progress", "--steps", "5", "--device", "cpu"])
    err = _one_line_error(capsys.readouterr().err)
    assert code == 2 and f"cannot write to run directory {str(out)!r}" in err and not out.exists()


def test_resume_probes_the_checkpoint_folder_before_loading(reference, tmp_path, capsys, monkeypatch):
    """A run directory that has become read-only (simulated: root ignores permissions) fails at once, untouched."""
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    from gankit.training import run_dir as run_dir_module

    real_create = run_dir_module.create_fresh

    def read_only(path):
        if path.name == ".write-test":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_create(path)

    monkeypatch.setattr(run_dir_module, "create_fresh", read_only)
    monkeypatch.setattr("gankit.training.harness.load_checkpoint", lambda *a, **k: pytest.fail("loaded before probing"))
    code = main(_resume_argv(run))
    err = _one_line_error(capsys.readouterr().err)
    assert code == 2 and f"cannot write to run directory {str(run / 'checkpoints')!r}: Read-only file system" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def _assert_disk_full_error(message: str, run: Path) -> None:
    checkpoints = run / "checkpoints"
    assert "\n" not in message
    assert f"cannot write {str(checkpoints / checkpoint_name(20))!r} (step 20): No space left on device" in message
    assert f"the last good checkpoint {str(checkpoints / checkpoint_name(10))!r} is intact" in message
    assert sorted(p.name for p in checkpoints.iterdir()) == [checkpoint_name(10)]  # nothing half-written left
    assert load_checkpoint(checkpoints / checkpoint_name(10))["step"] == 10
    assert load_file(run / "generator.safetensors")  # the step-10 sampling weights, whole


def test_a_link_at_a_checkpoints_temporary_path_is_refused_not_written_through(tmp_path):
    """The step-20 checkpoint's temporary file planted as a link to /dev/full: refused before training (no
    longer a way to simulate a full disk: gankit writes through no link in a run directory)."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    planted = temporary_path(run / "checkpoints" / checkpoint_name(20))
    os.symlink("/dev/full", planted)
    with pytest.raises(GankitError) as caught:
        train(resolve_config("nsgan", "ring8", "vector", TINY), run, progress=False)
    assert str(caught.value).startswith(f"{str(planted)!r} is a symbolic link") and "\n" not in str(caught.value)
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints"] and os.readlink(planted) == "/dev/full"


def test_disk_full_mid_write_at_the_cli_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """ENOSPC raised part-way through the second checkpoint (simulated, as ``OSError(errno.ENOSPC)``: no strerror)."""
    real_save = torch.save
    calls = {"n": 0}

    def filling_save(obj, handle, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] < 2:
            return real_save(obj, handle, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        handle.write(buffer.getvalue()[:1000])
        handle.flush()
        raise OSError(errno.ENOSPC)

    monkeypatch.setattr(torch, "save", filling_save)
    run = tmp_path / "run"
    sets = [arg for key, value in TINY.items() if key not in ("train.steps", "train.device")
            for arg in ("--set", f"{key}={value}")]
    code = main(["train", "nsgan", "--out", str(run), "--no-progress", "--steps", "20", "--device", "cpu", *sets])
    err = _one_line_error(capsys.readouterr().err)
    assert code == 2 and calls["n"] == 2
    _assert_disk_full_error(err.rstrip("\n"), run)


def test_failing_generator_export_is_a_clear_error(tmp_path):
    """safetensors' I/O errors are not OSErrors: its temporary path is made a folder so that its rename fails."""
    run = tmp_path / "run"
    run.mkdir()
    temporary_path(run / "generator.safetensors").mkdir()
    with pytest.raises(GankitError) as caught:
        train(resolve_config("nsgan", "ring8", "vector", {**TINY, "train.steps": 10}), run, progress=False)
    assert str(caught.value) == (f"cannot write {str(run / 'generator.safetensors')!r} (step 10): Is a directory; "
                                 f"the last good checkpoint {str(run / 'checkpoints' / checkpoint_name(10))!r} is intact")


def test_a_failing_log_write_is_a_clear_error(tmp_path):
    """A real OS refusal (EISDIR: the log's name is taken by a folder); a link there is refused up front instead."""
    run = tmp_path / "run"
    (run / "metrics.jsonl").mkdir(parents=True)
    with pytest.raises(GankitError) as caught:
        train(resolve_config("nsgan", "ring8", "vector", TINY), run, progress=False)
    assert str(caught.value) == f"cannot write {str(run / 'metrics.jsonl')!r}: Is a directory"


# --- 4. bad input at the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def loose_images(tmp_path_factory) -> Path:
    """Five images straight in a folder: a finite, unlabelled data set."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images") / "loose"
    folder.mkdir()
    for i in range(5):
        Image.new("RGB", (16, 16), (50 * i, 0, 0)).save(folder / f"{i}.png")
    return folder


SMALL_IMAGES = ["--set", "data.image_size=16", "--set", "model.g_hidden=4", "--set", "model.d_hidden=4"]


@pytest.mark.parametrize("args, culprits", [
    (["dcgan", "--data", "{images}", "--set", "data.batch_size=64", *SMALL_IMAGES],
     ["'data.batch_size'", "64", "'{images}'", "5 examples"]),
    (["nsgan", "--steps", "0"], ["'train.steps'", "0"]),
    (["nsgan", "--steps", "-5"], ["'train.steps'", "-5"]),
    (["nsgan", "--set", "optim.lr_d=0"], ["'optim.lr_d'", "0.0"]),
    (["nsgan", "--set", "optim.lr_g=-1e-4"], ["'optim.lr_g'", "-0.0001"]),
    (["nsgan", "--set", "data.batch_size=0"], ["'data.batch_size'", "0"]),
    (["cgan", "--data", "{images}", "--set", "data.batch_size=4", *SMALL_IMAGES],
     ["'model.conditional'", "'cgan'", "'{images}'", "no labels", "class subfolders"]),
    (["nsgan", "--set", "optim.lr_dd=1e-3"], ["unknown config key 'optim.lr_dd'", "did you mean 'optim.lr_d'"]),
    (["nsgan", "--config", "{config}"], ["unknown config key 'train.stpes'", "did you mean 'train.steps'"]),
], ids=["batch>data", "steps=0", "steps<0", "lr=0", "lr<0", "batch=0", "cgan-unlabelled", "misspelt-set", "misspelt-config"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, culprits, loose_images, tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("train:\n  stpes: 10\n")
    fill = {"images": str(loose_images), "config": str(config)}
    out = tmp_path / "out"
    code = main(["train", *(a.format(**fill) for a in args), "--out", str(out), "--no-progress", "--device", "cpu"])
    captured = capsys.readouterr()
    err = _one_line_error(captured.err)
    assert code == 2 and captured.out == ""
    for culprit in culprits:
        assert culprit.format(**fill) in err, (culprit, err)
    assert not out.exists()


def test_a_run_in_use_by_another_process_is_not_resumed(reference, tmp_path, capsys):
    """A resume started while the run still trains elsewhere (here: its lock held) is refused, the run untouched."""
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != LOCK_NAME}
    def hold_it():
        with hold_directory(run, "run directory"):
            time.sleep(60)

    holder = Forked(["--help"], tmp_path, "holder", prepare=hold_it)
    try:
        _wait_for(lambda: (run / LOCK_NAME).is_file() and (run / LOCK_NAME).read_text().strip() == str(holder.pid),
                  holder, "the lock")
        code = main(_resume_argv(run))
        err = _one_line_error(capsys.readouterr().err)
        assert code == 2 and f"run directory {str(run)!r} is in use by another gankit process (pid {holder.pid})" in err
    finally:
        holder.kill()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != LOCK_NAME} == before
    _run(_resume_argv(run), tmp_path, "resume")  # its holder gone, the lock is free: the resume goes ahead


def test_resume_of_a_run_from_another_gankit_version_is_refused_untouched(reference, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "gankit_version": "0.0.7"}))
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code = main(_resume_argv(run))
    err = _one_line_error(capsys.readouterr().err)
    assert code == 2 and f"run directory {str(run)!r} was written by gankit 0.0.7" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_output_path_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    from gankit.cli import main

    target = tmp_path / "taken"
    target.write_text("not a run")
    assert main(["train", "nsgan", "--data", "ring8", "--steps", "2", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder" in err[0] and str(target) in err[0]
    assert target.read_text() == "not a run"


# --- 5. sweeps: worker processes stopped, killed and resumed ----------------------------------------------

SWEEP_STEPS = 200
# In every interpreter started with GANKIT_TEST_THROTTLE (the victim and, through the environment, its
# spawned workers): the same latent-draw throttle as above.
THROTTLE_SITECUSTOMIZE = f"""
import os
if os.environ.get("GANKIT_TEST_THROTTLE"):
    import time
    import gankit.training.loop as loop
    sample_latent = loop.sample_latent
    def slow_sample_latent(*args, **kwargs):
        time.sleep({THROTTLE_S})
        return sample_latent(*args, **kwargs)
    loop.sample_latent = slow_sample_latent
"""
CLI = "import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))"


def _sweep_argv(out: Path) -> list[str]:
    sets = [arg for key, value in {**SETTINGS, "train.sample_every": SWEEP_STEPS}.items() for arg in ("--set", f"{key}={value}")]
    return ["sweep", "nsgan", "--seeds", "0-3", "--workers", "2", "--steps", str(SWEEP_STEPS), "--out", str(out),
            "--no-progress", "--set", "train.device=cpu", *sets]


def _gankit(argv: list[str], logs: Path, name: str, throttle: bool) -> subprocess.Popen:
    """``gankit ARGV`` in a fresh interpreter, in a session of its own (as a shell's job is its own group)."""
    hooks = logs / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(THROTTLE_SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}
    env.pop("GANKIT_TEST_THROTTLE", None)
    if throttle:
        env["GANKIT_TEST_THROTTLE"] = "1"
    with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
        return subprocess.Popen([sys.executable, "-c", CLI, *argv], env=env, cwd=logs, stdout=out, stderr=err,
                                start_new_session=True)


def _finish(process: subprocess.Popen, logs: Path, name: str) -> int:
    try:
        return process.wait(TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert "Traceback" not in (logs / f"{name}.err").read_text(), (logs / f"{name}.err").read_text()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for a reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _wait_until_checkpointed(sweep: Path, step: int, process: subprocess.Popen) -> None:
    """Until both groups have a checkpoint at ``step`` or later."""
    def beyond() -> bool:
        lasts = [latest_checkpoint(sweep / name / "checkpoints") for name in ("ensemble-0-1", "ensemble-2-3")]
        return all(last is not None and load_checkpoint(last)["step"] >= step for last in lasts)

    _wait_for(beyond, process, f"checkpoints at step {step} in both groups")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the worker processes")
def test_sweep_in_workers_stopped_then_killed_resumes_to_the_uninterrupted_result(tmp_path):
    """A 2-worker `gankit sweep` gets SIGINT (its workers checkpoint and stop), its resume is killed with
    SIGKILL (its orphaned workers checkpoint and exit on their own), and a second resume finishes: every
    group's final state, every seed's generator and the scores equal those of an uninterrupted sweep."""
    reference, sweep = tmp_path / "reference", tmp_path / "sweep"
    assert _finish(_gankit(_sweep_argv(reference), tmp_path, "reference", throttle=False), tmp_path, "reference") == 0

    victim = _gankit(_sweep_argv(sweep), tmp_path, "victim", throttle=True)
    _wait_until_checkpointed(sweep, CHECKPOINT_EVERY, victim)
    os.kill(victim.pid, signal.SIGINT)  # to the parent only: it passes the signal on
    assert _finish(victim, tmp_path, "victim") == 128 + signal.SIGINT
    assert (tmp_path / "victim.err").read_text() == (
        f"gankit: SIGINT received: the sweep stopped; continue with `gankit sweep --resume {sweep}` "
        "(each group from its last checkpoint)\n")
    stopped = [load_checkpoint(latest_checkpoint(sweep / n / "checkpoints"))["step"] for n in ("ensemble-0-1", "ensemble-2-3")]
    assert all(CHECKPOINT_EVERY <= step < SWEEP_STEPS for step in stopped)
    assert not json.loads((sweep / "sweep.json").read_text())["complete"]
    created = {n: (sweep / n / "run.json").stat().st_mtime_ns for n in ("ensemble-0-1", "ensemble-2-3")}

    resumed = _gankit(["sweep", "--resume", str(sweep), "--no-progress"], tmp_path, "resume", throttle=True)
    _wait_until_checkpointed(sweep, max(stopped) + CHECKPOINT_EVERY, resumed)
    workers = _children(resumed.pid)
    os.kill(resumed.pid, signal.SIGKILL)
    assert resumed.wait(TIMEOUT_S) == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "orphaned workers still running after 30 s"
    killed = [load_checkpoint(latest_checkpoint(sweep / n / "checkpoints"))["step"] for n in ("ensemble-0-1", "ensemble-2-3")]
    assert all(step < SWEEP_STEPS for step in killed) and killed != stopped

    finished = _gankit(["sweep", "--resume", str(sweep), "--no-progress"], tmp_path, "finish", throttle=False)
    assert _finish(finished, tmp_path, "finish") == 0
    for name in ("ensemble-0-1", "ensemble-2-3"):
        # Continued, not trained again from scratch (that would also match the reference, and rewrite run.json).
        assert (sweep / name / "run.json").stat().st_mtime_ns == created[name], name
        expected = load_checkpoint(reference / name / "checkpoints" / checkpoint_name(SWEEP_STEPS))
        got = load_checkpoint(sweep / name / "checkpoints" / checkpoint_name(SWEEP_STEPS))
        different = _differences(expected, got)
        assert not different, f"{name}: resumed sweep differs from the uninterrupted one in {different[:6]}"
    for seed in range(4):
        assert not _differences(load_file(reference / f"seed-{seed}" / "generator.safetensors"),
                                load_file(sweep / f"seed-{seed}" / "generator.safetensors")), seed
    record, expected = (json.loads((d / "sweep.json").read_text()) for d in (sweep, reference))
    assert record["complete"] and record["per_seed"] == expected["per_seed"] and record["summary"] == expected["summary"]
