"""Image metrics: a run's generator, or one image data set, scored against real images.

- ``fid``: Fréchet distance of Gaussians fitted to real and fake features (key ``fid``);
- ``kid``: unbiased polynomial-kernel MMD^2, mean and std over random subsets (``kid``, ``kid_std``);
- ``pr``: improved precision and recall, k = 3, Kynkäänniemi et al. 2019 (``precision``, ``recall``);
- ``dc``: density and coverage, k = 5, Naeem et al. 2020 (``density``, ``coverage``);
- ``modes``: Stacked MNIST, each channel read as a digit by the MNIST classifier: modes hit of 1000 and
  KL(fake mode histogram || uniform), on 26,000 samples as VEEGAN / PacGAN (``modes``, ``num_modes``,
  ``reverse_kl``);
- ``classifier``: the data set's shipped classifier on the fakes: mean max-probability, classes covered,
  label accuracy (CGAN), code accuracy (InfoGAN);
- ``is``: Inception Score, mean ± std over 10 splits (Salimans et al. 2016; ``is``, ``is_std``), from the FID
  Inception's pool3 features of the fakes (shared with ``fid`` when both are asked for) and the full network's
  logit layer (:mod:`gankit.metrics.inception_score`).

Features come from a :mod:`gankit.metrics.features` net: by default the domain classifier's penultimate
layer for MNIST / Fashion-MNIST data (fast on a CPU) and the FID Inception otherwise. Real features of a
registered data set at its native size are cached (:mod:`gankit.metrics.stats_cache`); a run trained at
another size or channel count is compared with real images prepared the same way (uncached).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data import build_dataset, dataset_info, dataset_names
from gankit.errors import GankitError, unknown
from gankit.evaluation.vectors import TOY_METRICS
from gankit.metrics.features import FeatureNet, extract_features, feature_net_names, get_feature_net

__all__ = [
    "IMAGE_METRICS", "FEATURE_METRICS", "MODES_SAMPLES", "PR_K", "DC_K",
    "image_metrics", "default_image_metrics", "default_feature_net", "shipped_classifier", "check_feature_net",
    "build_split", "image_subset", "feature_scores", "feature_protocol", "stacked_mnist_modes", "evaluate_images",
    "inception_scores", "logit_weights_for",
]  # fmt: skip

IMAGE_METRICS = ("fid", "kid", "pr", "dc", "modes", "classifier", "is")
FEATURE_METRICS = ("fid", "kid", "pr", "dc")
PR_K = 3  # Kynkäänniemi et al., 2019
DC_K = 5  # Naeem et al., 2020
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
MODES_SAMPLES = 26_000  # VEEGAN / PacGAN's Stacked MNIST protocol
STACKED = "stacked-mnist"
DOMAINS = ("mnist", "fashion-mnist")  # data sets gankit ships (or can train) a classifier for
GENERATE_BATCH = 500


# --------------------------------------------------------------------------------------------- choices


def shipped_classifier(data_name: str) -> str | None:
    """The classifier of ``data_name``'s domain if its weights are installed, else None."""
    if data_name not in DOMAINS:
        return None
    from gankit.nets.classifier import weights_dir

    return data_name if (weights_dir() / f"{data_name}-classifier.safetensors").is_file() else None


def default_image_metrics(data_name: str) -> list[str]:
    """Affordable on a CPU: modes for Stacked MNIST; else fid, kid, pr, dc (+ classifier where one is shipped)."""
    if data_name == STACKED:
        return ["modes"]
    return [*FEATURE_METRICS, *(["classifier"] if shipped_classifier(data_name) else [])]


def default_feature_net(data_name: str) -> str:
    """The domain classifier's features for MNIST / Fashion-MNIST (when shipped), the FID Inception otherwise."""
    return shipped_classifier(data_name) or "inception"


def check_feature_net(name: str | None) -> None:
    if name is not None and name not in feature_net_names():
        raise unknown("feature net", name, feature_net_names())


def image_metrics(metrics: list[str] | None, data_name: str) -> list[str]:
    """Checked, de-duplicated metric names (or the default set for ``data_name``)."""
    if not metrics:
        return default_image_metrics(data_name)
    chosen: list[str] = []
    for metric in metrics:
        if metric in IMAGE_METRICS:
            chosen += [metric] if metric not in chosen else []
        elif metric in TOY_METRICS:
            raise GankitError(f"metric {metric!r} is for vector (toy) runs; image metrics: {', '.join(IMAGE_METRICS)}")
        else:
            raise GankitError(f"unknown metric {metric!r} for images (valid: {', '.join(IMAGE_METRICS)})")
    if "modes" in chosen and data_name != STACKED:
        raise GankitError(f"metric 'modes' counts Stacked MNIST's 1000 digit triples; data {data_name!r} is not {STACKED!r}")
    if "classifier" in chosen and shipped_classifier(data_name) is None:
        why = "its weights are not installed" if data_name in DOMAINS else f"gankit has classifiers for {', '.join(DOMAINS)} only"
        raise GankitError(f"metric 'classifier' needs a shipped classifier for {data_name!r} data ({why})")
    return chosen


# --------------------------------------------------------------------------------------------- real images


def build_split(name: str, split: str | None, **options):
    """``(data set on the CPU, split)``; ``split`` None = "test" where the data set has one, else "train"."""
    if split is not None:
        return build_dataset(name, "cpu", split=split, **options), split
    try:
        return build_dataset(name, "cpu", split="test", **options), "test"
    except GankitError as error:
        if "split" not in str(error):
            raise
        return build_dataset(name, "cpu", split="train", **options), "train"


def _size(dataset) -> int | None:
    images = getattr(dataset, "x", None)
    return images.shape[0] if isinstance(images, Tensor) else None


def image_subset(dataset, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """``n`` distinct images (and labels) of an in-memory data set, chosen by ``seed``; ``n`` draws of a sampled one."""
    size = _size(dataset)
    if size is None:
        return dataset.sample(n, torch.Generator(device=dataset.device).manual_seed(seed))
    if n > size:
        raise GankitError(f"n={n} images asked for, but {dataset.name!r} has {size}")
    chosen = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n].to(dataset.x.device)
    labels = getattr(dataset, "y", None)
    return dataset.x[chosen], (labels[chosen.to(labels.device)] if isinstance(labels, Tensor) else None)


def _run_real_features(data, split: str | None, n: int, net: FeatureNet, seed: int,
                       progress: bool) -> tuple[Tensor, dict[str, Any]]:
    """Real features for a run trained on ``data`` (its config section) and what they are, for the protocol."""
    from gankit.data import build_from_config
    from gankit.metrics.stats_cache import real_features

    if data.name not in dataset_names():  # a folder of images: no held-out split, compare with the training images
        if split is not None:
            raise GankitError(f"data {data.name!r} is a folder of images: it has no splits (leave out --real-split)")
        dataset = build_from_config(data, "cpu")
        n_real = min(n, _size(dataset))
        images, _ = image_subset(dataset, n_real, seed)
        return extract_features(net, images, progress=progress), {
            "real_data": data.name, "real_split": "all (a folder has no held-out split)", "n_real": n_real,
            "real": f"{n_real} distinct images of the training folder (seed {seed})"}
    native = not data.image_size and not data.channels
    options = {} if native else {"image_size": data.image_size or None, "channels": data.channels or None}
    dataset, split = build_split(data.name, split, **options)
    size = _size(dataset)
    n_real = min(n, size) if size is not None else n
    chosen = f"{n_real} distinct images" if size is not None else f"{n_real} draws"
    if native:
        features = real_features(data.name, split, n_real, net, seed=seed, progress=progress)
        how = f"{chosen} of {data.name} {split} (seed {seed}; features cached by data set, split, n, net hash, seed)"
    else:
        images, _ = image_subset(dataset, n_real, seed)
        features = extract_features(net, images, progress=progress)
        how = f"{chosen} of {data.name} {split} at the run's {'x'.join(map(str, dataset.shape))} (seed {seed})"
    return features, {"real_data": data.name, "real_split": split, "n_real": n_real, "real": how}


# --------------------------------------------------------------------------------------------- scores


def kid_subset_size(n_real: int, n_fake: int) -> int:
    """1000 (Bińkowski et al.), or half the smaller set when that is smaller, so the subsets differ and their std means something."""
    return min(KID_SUBSET_SIZE, max(2, min(n_real, n_fake) // 2))


def feature_scores(metrics: list[str], real: Tensor, fake: Tensor, seed: int) -> dict[str, float]:
    """fid / kid / pr / dc (those in ``metrics``) of fake features against real ones."""
    from gankit.metrics.frechet import fid_from_features, kid_from_features
    from gankit.metrics.prdc import density_coverage, precision_recall

    scores: dict[str, float] = {}
    if "fid" in metrics:
        scores["fid"] = fid_from_features(real, fake)
    if "kid" in metrics:
        size = kid_subset_size(real.shape[0], fake.shape[0])
        scores["kid"], scores["kid_std"] = kid_from_features(fake, real, KID_SUBSETS, size,
                                                             generator=torch.Generator().manual_seed(seed))
    if "pr" in metrics:
        scores.update(precision_recall(real, fake, k=PR_K))
    if "dc" in metrics:
        scores.update(density_coverage(real, fake, k=DC_K))
    return scores


def feature_protocol(metrics: list[str], net: FeatureNet, n_real: int, n_fake: int) -> dict[str, Any]:
    protocol: dict[str, Any] = {"feature_net": net.name, "feature_net_hash": net.hash, "feature_dim": net.dim,
                                "preprocessing": net.preprocessing}
    if "fid" in metrics:
        protocol["fid"] = "Fréchet distance of Gaussians fitted to real and fake features (Heusel et al. 2017)"
    if "kid" in metrics:
        size = kid_subset_size(n_real, n_fake)
        protocol["kid"] = f"unbiased MMD^2, kernel (x.y/d + 1)^3, mean ± std over {KID_SUBSETS} subsets of {size}"
    if "pr" in metrics:
        protocol["pr_k"] = PR_K
    if "dc" in metrics:
        protocol["dc_k"] = DC_K
    return protocol


def inception_scores(images: Tensor | None, features: Tensor | None, net: FeatureNet | None, logit_weights,
                     device: torch.device, progress: bool) -> tuple[dict[str, float], dict[str, Any]]:
    """``is`` / ``is_std`` of ``images`` and their protocol; ``features`` are reused when ``net`` is the FID Inception.

    ``logit_weights`` is :func:`~gankit.metrics.inception_score.inception_logit_weights`'s ``(matrix, source)``.
    """
    from gankit.metrics.inception_score import IS_SPLITS, inception_score_from_logits

    if net is None or net.name != "inception" or features is None:
        net = get_feature_net("inception", device)
        features = extract_features(net, images, progress=progress)
    weights, source = logit_weights
    mean, std = inception_score_from_logits(features.double() @ weights.to(features.device).double().T)
    return {"is": mean, "is_std": std}, {
        "is": f"Inception Score exp(E KL(p(y|x) || p(y))), mean ± std over {IS_SPLITS} splits of {features.shape[0]} "
              f"images (Salimans et al. 2016); p(y|x) = softmax of the FID Inception's pool3 ({net.hash}) times the "
              f"1008x2048 logit weights (no bias) of {source}"}


def stacked_mnist_modes(classifier, images: Tensor) -> dict[str, float]:
    """Modes of Stacked MNIST hit by ``images`` ``(N, 3, H, W)`` and ``KL(q || uniform)`` of their mode histogram q.

    Each channel is classified as a digit by the MNIST classifier; the triple ``(d0, d1, d2)`` is mode
    ``100 d0 + 10 d1 + d2``. A mode is hit by >= 1 sample (VEEGAN, PacGAN); the KL is ``Σ q log(1000 q)``.
    """
    from gankit.data.stacked import NUM_MODES, stacked_label
    from gankit.metrics.classifier_scores import class_probabilities

    if images.dim() != 4 or images.shape[1] != 3:
        raise GankitError(f"Stacked MNIST modes need 3-channel images, got shape {tuple(images.shape)}")
    digits = torch.stack([class_probabilities(classifier, images[:, c : c + 1]).argmax(1) for c in range(3)], 1)
    counts = torch.bincount(stacked_label(digits).cpu(), minlength=NUM_MODES).double()
    q = counts[counts > 0] / counts.sum()
    return {"modes": int((counts > 0).sum()), "num_modes": NUM_MODES,
            "reverse_kl": float((q * torch.log(q * NUM_MODES)).sum())}


def _generate(trained, n: int, seed: int, progress: bool, truncation: float | None = None) -> Tensor:
    """``trained.generate(n, seed, truncation=truncation)``, in batches under a progress bar."""
    from tqdm.auto import tqdm

    z, labels = trained.latents(n, seed, truncation=truncation)
    chunks = []
    with tqdm(total=n, desc="generating", unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, n, GENERATE_BATCH):
            stop = min(start + GENERATE_BATCH, n)
            chunks.append(trained.from_latents(z[start:stop], labels[start:stop] if labels is not None else None))
            bar.update(stop - start)
    return torch.cat(chunks)


def evaluate_images(run_dir, config, metrics: list[str] | None, n: int | None, seed: int, features: str | None,
                    real_split: str | None, progress: bool, device: torch.device,
                    generator_info: dict[str, Any], weights: str | None = None) -> dict[str, Any]:
    """Image metrics of the run in ``run_dir`` (see the module docstring); returns ``{"metrics", "protocol"}``."""
    from gankit import __version__
    from gankit.generation import load
    from gankit.metrics.classifier_scores import score_generator
    from gankit.nets.classifier import load_classifier

    data_name = config.data.name
    metrics = image_metrics(metrics, data_name)
    check_feature_net(features)
    n_fake = n or config.train.eval_samples
    n_modes = n or MODES_SAMPLES
    from gankit.evaluation.vectors import weights_label

    logit_weights = logit_weights_for(metrics)  # before any work: a missing file is refused at once
    trained = load(run_dir, device, weights=weights)
    ema = generator_info.get("ema", config.train.ema > 0)
    protocol: dict[str, Any] = {"kind": "image", "data": data_name, "train_split": config.data.split, "metrics": metrics}
    scores: dict[str, Any] = {}
    fakes = net = fake = None
    if any(m in FEATURE_METRICS for m in metrics):
        net = get_feature_net(features or default_feature_net(data_name), device)
        real, real_protocol = _run_real_features(config.data, real_split, n_fake, net, seed, progress)
        fakes = _generate(trained, max(n_fake, n_modes if "modes" in metrics else 0), seed, progress)
        fake = extract_features(net, fakes, n_fake, progress=progress)
        scores.update(feature_scores(metrics, real, fake, seed))
        protocol.update(n_fake=n_fake, fake=f"{n_fake} generator samples (seed {seed})", **real_protocol,
                        **feature_protocol(metrics, net, real_protocol["n_real"], n_fake))
    if "is" in metrics:
        fakes = fakes if fakes is not None else _generate(trained, n_fake, seed, progress)
        is_scores, is_protocol = inception_scores(fakes[:n_fake], fake, net, logit_weights, device, progress)
        scores.update(is_scores)
        protocol.update(n_fake=n_fake, fake=f"{n_fake} generator samples (seed {seed})", **is_protocol)
    if "modes" in metrics:
        images = fakes[:n_modes] if fakes is not None else _generate(trained, n_modes, seed, progress)
        scores.update(stacked_mnist_modes(load_classifier("mnist", device), images))
        protocol.update(n_modes_samples=n_modes, modes=f"VEEGAN/PacGAN: {n_modes} samples (seed {seed}), each channel "
                        "classified by the mnist classifier, a mode is hit by >= 1 sample; reverse_kl = KL(q || uniform)")
    if "classifier" in metrics:
        name = shipped_classifier(data_name)
        scores.update(score_generator(trained, load_classifier(name, device), n_fake, seed))
        protocol.update(classifier=f"gankit {name} classifier on {n_fake} samples (seed {seed}; labels / codes "
                        "cycled 0..K-1 for a conditional G / an InfoGAN)")
    protocol.update(seed=seed, generator=weights_label(ema, weights),
                    generator_step=generator_info.get("step"), device=str(device), gankit_version=__version__)
    return {"metrics": scores, "protocol": protocol}


def logit_weights_for(metrics: list[str]):
    """The Inception logit weights and their source when ``is`` is asked for (GankitError if unavailable), else None."""
    from gankit.metrics.inception_score import inception_logit_weights

    return inception_logit_weights() if "is" in metrics else None


# --------------------------------------------------------------------------------------------- data sets


def parse_dataset_spec(spec: str) -> tuple[str, str | None]:
    """``"mnist:test"`` -> ``("mnist", "test")``; ``"mnist"`` -> ``("mnist", None)``; the name must be an image data set."""
    name, colon, split = (part.strip() for part in str(spec).partition(":"))
    if not name or (colon and not split):
        raise GankitError(f"expected a data set as NAME or NAME:SPLIT (e.g. mnist:test), got {spec!r}")
    kind = dataset_info(name).kind
    if kind != "image":
        raise GankitError(f"data set {name!r} holds {kind}s; --real/--fake compare image data sets")
    return name, split or None
