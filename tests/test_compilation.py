"""train.compile: torch.compile of the step's forward passes; the same algorithm, reproducible and resumable."""

import shutil

import pytest
import torch
import torch._dynamo

from gankit.config import Config, apply_overrides
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.translation.config import resolve_translation_config

from test_image_training import OVERRIDES, TINY_IMAGES

# Raised inside torch's own compiler stack, not by gankit.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


def test_compile_modes_are_checked_and_yaml_booleans_read_as_off_and_default():
    with pytest.raises(GankitError, match=r"train.compile.*'fast'.*'off' \| 'default' \| 'reduce-overhead'"):
        apply_overrides(Config(), {"train.compile": "fast"})
    assert apply_overrides(Config(), {"train.compile": False}).train.compile == "off"  # YAML's bare `off`
    assert apply_overrides(Config(), {"train.compile": True}).train.compile == "default"
    assert apply_overrides(Config(), {"train.compile": "reduce-overhead"}).train.compile == "reduce-overhead"
    with pytest.raises(GankitError, match="'train.compile' is not supported"):
        resolve_translation_config("pix2pix", "edges2fashion", {"train.compile": "default"})


def _toy(steps, tiny_overrides):
    return resolve_config("wgan-gp", "ring8", "vector", {**tiny_overrides, "train.steps": steps, "train.checkpoint_every": 4,
                                                           "train.log_every": 4, "train.sample_every": 8})


def _images(steps, _):
    return resolve_config("dcgan", TINY_IMAGES, "image", {**OVERRIDES, "train.steps": steps, "train.checkpoint_every": 2})


@pytest.mark.parametrize("make_config, steps", [(_toy, 8), (_images, 4)], ids=["wgan-gp-mlp", "dcgan-batchnorm"])
def test_compiled_training_matches_eager_closely_and_resumes_exactly(make_config, steps, tmp_path, tiny_overrides):
    """The gradient penalty (wgan-gp) runs its double backward through the eager D; batch norm's running
    statistics (dcgan) are buffers the compiled graph updates in place; both must survive a resume."""
    eager = train(make_config(steps, tiny_overrides), tmp_path / "eager", progress=False).generator.state_dict()

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    config = make_config(steps, tiny_overrides)
    config.train.compile = "default"
    full = train(config, tmp_path / "full", progress=False)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # G and D really were compiled
    compiled = full.generator.state_dict()
    for key, value in eager.items():
        if value.is_floating_point():
            assert torch.allclose(compiled[key], value, rtol=1e-3, atol=1e-4), key  # other rounding, same updates

    # Killed after the half-way checkpoint, resumed: the same weights as the uninterrupted compiled run.
    shutil.copytree(tmp_path / "full", tmp_path / "killed")
    (tmp_path / "killed" / "checkpoints" / f"step-{steps:08d}.pt").unlink()
    resumed = train(config, tmp_path / "killed", resume=True, progress=False).generator.state_dict()
    for key, value in compiled.items():
        assert torch.equal(resumed[key], value), key
