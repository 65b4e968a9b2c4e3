"""Run under torchrun by test_distributed.py and test_harness.py: train (or resume) and save this rank's final weights."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.training.run_dir import RunDir

torch.set_num_threads(1)
out, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "pix2pix":  # argv[3]: the paired data
    from gankit.translation.train import train_translation
    from gankit.translation.config import resolve_translation_config

    tiny = {"data.image_size": 16, "data.batch_size": 2, "model.g_hidden": 4, "model.d_hidden": 4, "model.d_layers": 2,
            "train.steps": 4, "train.log_every": 2, "train.sample_every": 4, "train.checkpoint_every": 4,
            "train.eval_samples": 4, "train.device": "cpu"}
    trained = train_translation(resolve_translation_config("pix2pix", sys.argv[3], tiny), out, progress=False)
    nets = {**trained.generators.state_dict(), **{f"D.{k}": v for k, v in trained.discriminators.state_dict().items()}}
    torch.save(nets, out / f"rank{dist.get_rank()}-{mode}.pt")
    dist.destroy_process_group()
    sys.exit(0)
if mode == "resume":
    result = train(RunDir(out).load_config(), out, resume=True, progress=False)
else:
    overrides = dict(arg.split("=", 1) for arg in sys.argv[3:])
    result = train(resolve_config("wgan-gp", "ring8", "vector", overrides), out, progress=False)
rank = dist.get_rank()
torch.save({"G": result.generator.state_dict(), "D": result.discriminator.state_dict()}, out / f"rank{rank}-{mode}.pt")
dist.destroy_process_group()
