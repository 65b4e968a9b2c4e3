"""Two CPU processes under torchrun (gloo): DDP keeps the replicas identical, and the run resumes exactly."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")
OVERRIDES = ["train.steps=20", "train.checkpoint_every=10", "train.log_every=5", "train.sample_every=10",
             "train.eval_samples=100", "data.batch_size=32", "model.g_hidden=16", "model.d_hidden=16", "train.device=cpu"]


def _torchrun(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER), *args]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]


def _equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_processes_stay_identical_and_resume_exactly(tmp_path):
    run = tmp_path / "run"
    _torchrun(str(run), "train", *OVERRIDES)
    rank0, rank1 = (torch.load(run / f"rank{r}-train.pt", weights_only=True) for r in (0, 1))
    assert _equal(rank0["G"], rank1["G"]) and _equal(rank0["D"], rank1["D"])
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*.pt")) == ["step-00000010.pt", "step-00000020.pt"]
    state = torch.load(run / "checkpoints" / "step-00000020.pt", weights_only=True)
    assert len(state["rng_per_rank"]) == 2 and not torch.equal(*state["rng_per_rank"])  # each rank its own batches

    # Kill after the step-10 checkpoint, resume with two processes: the same final weights.
    killed = tmp_path / "killed"
    shutil.copytree(run, killed)
    (killed / "checkpoints" / "step-00000020.pt").unlink()
    _torchrun(str(killed), "resume")
    resumed = torch.load(killed / "rank0-resume.pt", weights_only=True)
    assert _equal(resumed["G"], rank0["G"]) and _equal(resumed["D"], rank0["D"])
