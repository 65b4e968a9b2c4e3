"""Run under torchrun by test_distributed.py: train (or resume) and save this rank's final weights."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.training.run_dir import RunDir

torch.set_num_threads(1)
out, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "resume":
    result = train(RunDir(out).load_config(), out, resume=True, progress=False)
else:
    overrides = dict(arg.split("=", 1) for arg in sys.argv[3:])
    result = train(resolve_config("wgan-gp", "ring8", "vector", overrides), out, progress=False)
rank = dist.get_rank()
torch.save({"G": result.generator.state_dict(), "D": result.discriminator.state_dict()}, out / f"rank{rank}-{mode}.pt")
dist.destroy_process_group()
