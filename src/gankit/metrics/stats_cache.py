"""Real-data features and statistics, computed once and cached on disk.

Embedding 10k real images in Inception takes minutes on a CPU, and every evaluation of every run
needs them, so :func:`real_features` stores the feature matrix (for KID and precision/recall) with
its mean and covariance (for FID) as safetensors under :func:`stats_cache_dir`.

An entry is keyed by everything that changes the numbers: data set, split, sample count, seed of
the subset, feature net name, weight hash and preprocessing, and this file's format version. The
key is stored inside the safetensors file (and in a JSON sidecar for people); an entry whose key
differs in any way is recomputed. Files are written to a temporary name and moved into place with
``os.replace``, so a crash or a concurrent run never leaves half a file under the real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from gankit.errors import GankitError
from gankit.metrics.features import FeatureNet, extract_features
from gankit.metrics.frechet import feature_statistics

__all__ = ["stats_cache_dir", "cache_key", "cache_path", "real_features", "real_statistics", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def stats_cache_dir() -> Path:
    """``$GANKIT_CACHE/stats``, else ``$XDG_CACHE_HOME/gankit/stats``, else ``~/.cache/gankit/stats``."""
    if os.environ.get("GANKIT_CACHE"):
        root = Path(os.environ["GANKIT_CACHE"]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gankit"
    return root / "stats"


def cache_key(dataset_name: str, split: str, n: int, net: FeatureNet, seed: int) -> dict[str, Any]:
    """Everything the cached features depend on."""
    return {
        "format": FORMAT_VERSION,
        "dataset": dataset_name,
        "split": split,
        "n": int(n),
        "seed": int(seed),
        "feature_net": net.name,
        "feature_net_hash": net.hash,
        "feature_dim": int(net.dim),
        "preprocessing": net.preprocessing,
    }


def _key_json(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def cache_path(key: dict[str, Any]) -> Path:
    """``<cache>/<dataset>-<split>-n<n>-<net>-<key digest>.safetensors`` (readable prefix, exact digest)."""
    digest = hashlib.sha256(_key_json(key).encode()).hexdigest()[:16]
    readable = f"{key['dataset']}-{key['split']}-n{key['n']}-{key['feature_net']}"
    return stats_cache_dir() / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', readable)}-{digest}.safetensors"


def _load(path: Path, key: dict[str, Any], names: tuple[str, ...]) -> dict[str, Tensor] | None:
    """The tensors ``names`` of the entry at ``path`` if it exists and was stored under exactly ``key``."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as file:
            if (file.metadata() or {}).get("key") != _key_json(key):
                return None
            tensors = {name: file.get_tensor(name) for name in names}
    except Exception:  # unreadable or truncated: recompute and overwrite
        return None
    if tensors.get("features") is not None and tensors["features"].shape != (key["n"], key["feature_dim"]):
        return None
    return tensors


def _write_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _store(path: Path, key: dict[str, Any], features: Tensor) -> dict[str, Tensor]:
    features = features.detach().float().cpu().contiguous()
    mu, sigma = feature_statistics(features)
    tensors = {"features": features, "mu": mu.contiguous(), "sigma": sigma.contiguous()}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata={"key": _key_json(key)}))
    sidecar = path.with_suffix(".json")
    _write_atomically(sidecar, lambda tmp: tmp.write_text(json.dumps(key, indent=2, sort_keys=True) + "\n"))
    return tensors


def _real_images_or_sampler(dataset_name: str, split: str, n: int, seed: int, device: torch.device):
    """``n`` distinct real images chosen by ``seed`` (or the data set itself, for streaming ones)."""
    from gankit.data import build_dataset, dataset_info

    if dataset_info(dataset_name).kind != "image":
        raise GankitError(f"real-data statistics are for image data sets; {dataset_name!r} is not one")
    dataset = build_dataset(dataset_name, device, split=split)
    images = getattr(dataset, "x", None)
    if not isinstance(images, Tensor):
        return dataset, torch.Generator(device=dataset.device).manual_seed(seed)
    if n > images.shape[0]:
        raise GankitError(f"n={n} real images asked for, but {dataset_name!r} split {split!r} has {images.shape[0]}")
    # without replacement: repeated images would have zero-distance neighbours and skew precision/recall
    chosen = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return images[chosen.to(images.device)], None


def _cached(dataset_name: str, split: str, n: int, net: FeatureNet, seed: int, progress: bool,
            names: tuple[str, ...]) -> dict[str, Tensor]:
    if n < 2:
        raise GankitError(f"real-data statistics need n >= 2 images, got {n}")
    key = cache_key(dataset_name, split, n, net, seed)
    path = cache_path(key)
    tensors = _load(path, key, names)
    if tensors is None:
        source, generator = _real_images_or_sampler(dataset_name, split, n, seed, net.device)
        features = extract_features(net, source, n, progress=progress, generator=generator)
        tensors = _store(path, key, features)
    return tensors


def real_features(dataset_name: str, split: str, n: int, net: FeatureNet, seed: int = 0,
                  device: torch.device | str | None = None, progress: bool = True) -> Tensor:
    """Features ``(n, net.dim)`` (float32, on ``device``, default the net's) of ``n`` real images.

    The images are ``n`` distinct ones of ``build_dataset(dataset_name, split=split)`` picked by a
    permutation seeded with ``seed``. Read from the cache when an entry with the same key exists,
    else computed with :func:`~gankit.metrics.features.extract_features` and stored.
    """
    features = _cached(dataset_name, split, n, net, seed, progress, ("features",))["features"]
    return features.to(device if device is not None else net.device)


def real_statistics(dataset_name: str, split: str, n: int, net: FeatureNet, seed: int = 0,
                    device: torch.device | str | None = None, progress: bool = True) -> tuple[Tensor, Tensor]:
    """Mean ``(dim,)`` and covariance ``(dim, dim)`` (float64) of the same features, for FID; same cache."""
    tensors = _cached(dataset_name, split, n, net, seed, progress, ("mu", "sigma"))
    device = device if device is not None else net.device
    return tensors["mu"].to(device), tensors["sigma"].to(device)
