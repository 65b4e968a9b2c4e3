"""bf16 autocast and channels_last: the same algorithm, other numerics and memory layout."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from gankit.config import Config, apply_overrides
from gankit.errors import GankitError
from gankit.penalties import gradient_penalty
from gankit.recipes import resolve_config
from gankit.training.loop import train
from gankit.training.precision import AutocastForward, is_convolutional, to_channels_last, use_channels_last, with_precision

from test_image_training import OVERRIDES, TINY_IMAGES


def test_fp32_is_the_module_itself_and_bf16_computes_in_bf16_returning_fp32():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    assert with_precision(net, "fp32", torch.device("cpu")) is net
    inner = []
    net[0].register_forward_hook(lambda module, args, out: inner.append(out.dtype))
    wrapped = with_precision(net, "bf16", torch.device("cpu"))
    out = wrapped(torch.randn(5, 3))
    assert inner == [torch.bfloat16] and out.dtype == torch.float32
    assert net[0].weight.dtype == torch.float32  # weights stay fp32: autocast casts copies


def test_autocast_forward_passes_tuples_and_attributes_through():
    class TwoHeads(nn.Module):
        z_dim = 7

        def forward(self, x):
            return self.body(x), torch.arange(3)

        def __init__(self):
            super().__init__()
            self.body = nn.Linear(2, 2)

    wrapped = AutocastForward(TwoHeads(), torch.device("cpu"))
    scores, index = wrapped(torch.randn(4, 2))
    assert scores.dtype == torch.float32 and index.dtype == torch.int64 and wrapped.z_dim == 7


def test_gradient_penalty_under_bf16_is_close_to_fp32_and_trains_the_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(8, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    real, fake = torch.randn(256, 8), torch.randn(256, 8) + 1
    exact = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    mixed = gradient_penalty(with_precision(critic, "bf16", torch.device("cpu")), real, fake,
                             generator=torch.Generator().manual_seed(1))
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(exact.item(), rel=0.05)
    mixed.backward()
    weights = [critic[0].weight, critic[2].weight]  # (biases do not enter the input gradient of a piecewise-linear net)
    assert all(w.grad.dtype == torch.float32 and w.grad.abs().sum() > 0 for w in weights)


def test_channels_last_keeps_values():
    x = torch.randn(2, 3, 5, 5)
    y = to_channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y)
    v = torch.randn(4, 2)
    assert to_channels_last(v) is v


@pytest.mark.parametrize("recipe, extra", [
    ("wgan-gp", {"train.precision": "bf16", "train.channels_last": True}),
    ("dcgan", {"train.precision": "bf16", "train.channels_last": True}),
    ("infogan", {"train.precision": "bf16", "train.channels_last": True}),
    ("dcgan", {}),  # fp32 NHWC: the default for images on CPU (train.channels_last=auto)
], ids=["wgan-gp-bf16-nhwc", "dcgan-bf16-nhwc", "infogan-bf16-nhwc", "dcgan-default-nhwc"])
def test_bf16_channels_last_training_runs_and_resumes_exactly(recipe, extra, tmp_path):
    config = resolve_config(recipe, TINY_IMAGES, "image", {**OVERRIDES, **extra, "train.steps": 4, "train.checkpoint_every": 2})
    full = train(config, tmp_path / "full", progress=False)
    records = [json.loads(line) for line in (full.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in records)
    conv = next(m for m in full.discriminator.modules() if isinstance(m, nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.dtype == torch.float32 and conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()  # really NHWC, not a shape for which both layouts coincide
    assert json.loads((full.run_dir / "run.json").read_text())["layout"] == "NHWC"
    assert json.loads((full.run_dir / "config.json").read_text())["train"]["precision"] == extra.get("train.precision", "fp32")

    # Killed after step 2, resumed: the same weights as the uninterrupted run.
    half = resolve_config(recipe, TINY_IMAGES, "image", {**OVERRIDES, **extra, "train.steps": 2, "train.checkpoint_every": 2})
    train(half, tmp_path / "resumed", progress=False)
    (tmp_path / "resumed" / "config.json").write_text(json.dumps(config.to_dict()))
    resumed = train(config, tmp_path / "resumed", resume=True, progress=False)
    for a, b in zip(full.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)


def test_bf16_changes_numerics_but_not_the_algorithm(tmp_path):
    runs = {}
    for precision in ("fp32", "bf16"):
        config = resolve_config("wgan-gp", TINY_IMAGES, "image", {**OVERRIDES, "train.precision": precision})
        runs[precision] = train(config, tmp_path / precision, progress=False).generator.state_dict()
    differences = [(runs["fp32"][k] - runs["bf16"][k]).abs().max().item() for k in runs["fp32"] if runs["fp32"][k].is_floating_point()]
    assert max(differences) > 0  # bf16 products round differently...
    assert max(differences) < 0.05  # ...but three steps of the same updates stay close


def test_vector_runs_record_no_layout(tmp_path):
    config = resolve_config("wgan-gp", "ring8", "vector", {"train.steps": 2, "train.device": "cpu", "train.eval_samples": 64})
    train(config, tmp_path / "run", progress=False)
    assert "layout" not in json.loads((tmp_path / "run" / "run.json").read_text())


def test_bad_precision_and_channels_last_on_vectors_are_refused(tmp_path):
    with pytest.raises(GankitError, match="train.precision"):
        apply_overrides(Config(), {"train.precision": "fp16"})
    config = resolve_config("wgan-gp", "ring8", "vector", {"train.steps": 2, "train.channels_last": True, "train.device": "cpu"})
    with pytest.raises(GankitError, match=r"train.channels_last.*\(2,\)"):
        train(config, tmp_path / "run", progress=False)


def test_channels_last_auto_is_nhwc_for_images_on_cpu_only():
    cpu, cuda, image, vector = torch.device("cpu"), torch.device("cuda"), (1, 28, 28), (2,)
    assert use_channels_last("auto", image, cpu)
    assert not use_channels_last("auto", vector, cpu)  # the toy MLPs: no layout to change
    assert not use_channels_last("auto", image, cpu, convolutional=False)  # an MLP on images: only copies
    assert not use_channels_last("auto", image, cuda)  # unmeasured on GPUs: NCHW unless asked
    assert use_channels_last("on", image, cuda) and not use_channels_last("off", image, cpu)
    with pytest.raises(GankitError, match=r"train.channels_last.*\(2,\)"):
        use_channels_last("on", vector, cpu)


def test_is_convolutional_looks_for_2d_convolution_weights():
    assert is_convolutional(nn.Linear(2, 2), nn.Sequential(nn.ConvTranspose2d(3, 4, 4)))
    assert not is_convolutional(nn.Linear(2, 2), nn.Conv1d(2, 2, 3))


def test_channels_last_takes_its_old_booleans_and_names_its_values():
    assert Config().train.channels_last == "auto"
    for value, mode in [(True, "on"), (False, "off"), ("true", "on"), ("False", "off"), ("auto", "auto"), ("off", "off")]:
        assert apply_overrides(Config(), {"train.channels_last": value}).train.channels_last == mode
    with pytest.raises(GankitError, match=r"train.channels_last.*'auto' \| 'on' \| 'off'"):
        apply_overrides(Config(), {"train.channels_last": "nhwc"})


def test_channels_last_off_trains_in_nchw(tmp_path):
    config = resolve_config("dcgan", TINY_IMAGES, "image", {**OVERRIDES, "train.steps": 2, "train.channels_last": "off"})
    result = train(config, tmp_path / "run", progress=False)
    conv = next(m for m in result.discriminator.modules() if isinstance(m, nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert json.loads((result.run_dir / "run.json").read_text())["layout"] == "NCHW"
