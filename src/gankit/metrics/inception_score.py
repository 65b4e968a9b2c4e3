"""Inception Score (Salimans et al. 2016), from the same Inception forward pass as FID.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed on each of ``splits`` (10) equal, consecutive parts of the samples and reported as the mean
and the (population) standard deviation over the parts, as the authors' ``inception_score.py`` does.

``p(y|x)`` is the softmax of the 1008 logits of the FID Inception (``inception-2015-12-05``): the pool3
features FID uses (:mod:`gankit.metrics.inception`), times the graph's ``softmax/logits`` weights, without
the bias, as the authors' code (``matmul(pool3, w)``) and torch-fidelity's ``logits_unbiased`` do. The
TorchScript gankit ships stops at pool3, so that ``(1008, 2048)`` matrix is read from the full network's
weights: the file ``$GANKIT_INCEPTION_WEIGHTS`` names, else torch-fidelity's port in gankit's cache,
downloaded there (checked against the SHA-256 prefix its name carries) when missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.data.download import Archive, find_or_download
from gankit.errors import GankitError

__all__ = ["IS_SPLITS", "LOGITS", "INCEPTION_FULL", "WEIGHTS_ENV", "inception_score_from_probabilities",
           "inception_score_from_logits", "load_logit_weights", "inception_logit_weights"]

IS_SPLITS = 10
LOGITS = 1008  # the 2015-12-05 graph's softmax width (1000 ImageNet classes + 8 unused)
POOL3 = 2048
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
INCEPTION_FULL = Archive(
    dataset="inception",
    name="weights-inception-2015-12-05-6726825d.pth",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    sha256="6726825d",  # torch.hub's convention: the file name carries the start of its SHA-256
)
_WEIGHT_KEYS = ("fc.weight", "softmax/logits/weights", "logits.weight")


def inception_score_from_probabilities(probabilities: Tensor, splits: int = IS_SPLITS) -> tuple[float, float]:
    """``(mean, std)`` of ``exp(E KL(p(y|x) || p(y)))`` over ``splits`` parts of ``probabilities`` ``(N, K)``."""
    p = probabilities.detach().double().cpu()
    if p.dim() != 2 or p.shape[0] < splits or splits < 1:
        raise GankitError(f"Inception Score needs at least {splits} samples of class probabilities (N, K), "
                          f"got shape {tuple(p.shape)}")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(dim=0, keepdim=True)
        # p log(p / p_y), with 0 log 0 = 0
        kl = torch.where(part > 0, part * (part.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log()), 0.0)
        scores.append(float(kl.sum(dim=1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score_from_logits(logits: Tensor, splits: int = IS_SPLITS) -> tuple[float, float]:
    """:func:`inception_score_from_probabilities` of ``softmax(logits)``."""
    return inception_score_from_probabilities(torch.softmax(logits.double(), dim=1), splits)


def load_logit_weights(path: str | Path) -> Tensor:
    """The ``(1008, 2048)`` pool3 -> logits matrix in a weights file (a torch state dict or safetensors)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GankitError(f"Inception weights file {path} not found (from ${WEIGHTS_ENV} or gankit's cache)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only, never code
    except Exception as error:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise GankitError(f"cannot read Inception weights {path}: {str(error).splitlines()[0][:200]}") from None
    weight = next((state[key] for key in _WEIGHT_KEYS if isinstance(state, dict) and key in state), None)
    if weight is None:
        raise GankitError(f"Inception weights {path} hold no logit layer ({' / '.join(_WEIGHT_KEYS)})")
    if tuple(weight.shape) == (POOL3, LOGITS):  # TF's layout, (in, out)
        weight = weight.T
    if tuple(weight.shape) != (LOGITS, POOL3):
        raise GankitError(f"Inception weights {path}: logit layer of shape {tuple(weight.shape)}, expected "
                          f"({LOGITS}, {POOL3}) (the FID Inception's 2048 -> 1008)")
    return weight.float().contiguous()


def inception_logit_weights() -> tuple[Tensor, str]:
    """The logit matrix and where it came from: ``$GANKIT_INCEPTION_WEIGHTS``, else the cached (or downloaded) file."""
    given = os.environ.get(WEIGHTS_ENV)
    if given:
        return load_logit_weights(given), given
    try:
        path = find_or_download(INCEPTION_FULL, None)
    except GankitError as error:
        raise GankitError(f"Inception Score needs the full Inception's logit layer: {error} "
                          f"(or set ${WEIGHTS_ENV} to the file)") from None
    return load_logit_weights(path), str(path)
