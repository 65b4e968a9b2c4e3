"""One image data set scored against another, without a run: ``gankit eval --real mnist:test --fake mnist:train``.

The "fake" set takes the generator's place. Both sides are drawn as distinct images (a random subset of
an in-memory split; fresh draws of a sampled set such as Stacked MNIST): the real side with ``seed``,
the fake side with ``seed + 1``, so a split compared with itself at ``n`` below its size measures the
sampling noise floor of each metric, and at its full size gives FID 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.config import check_device, check_sample_count, check_seed
from gankit.errors import GankitError
from gankit.evaluation.images import (
    FEATURE_METRICS,
    logit_weights_for,
    MODES_SAMPLES,
    STACKED,
    build_split,
    check_feature_net,
    default_feature_net,
    feature_protocol,
    feature_scores,
    image_metrics,
    image_subset,
    inception_scores,
    parse_dataset_spec,
    shipped_classifier,
    stacked_mnist_modes,
)
from gankit.progress import wants_progress

__all__ = ["evaluate_datasets", "DEFAULT_SAMPLES"]

DEFAULT_SAMPLES = 2000  # as train.eval_samples


def evaluate_datasets(
    real: str = "mnist:test",
    fake: str = "mnist:train",
    metrics: list[str] | None = None,
    n: int | None = None,
    features: str | None = None,
    seed: int = 0,
    json_path: str | Path | None = None,
    progress: bool | None = None,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Score the images of ``fake`` against those of ``real`` (each ``NAME`` or ``NAME:SPLIT``).

    ``NAME`` alone means its "test" split where it has one. Metrics, feature nets and defaults are as for
    a run (:mod:`gankit.evaluation.images`, the defaults following the real set); ``n`` images per side
    (default 2000; 26,000 fakes for ``modes``). Returns ``{"metrics", "protocol"}`` and writes it to
    ``json_path`` when given.
    """
    from gankit import __version__
    from gankit.metrics.classifier_scores import class_histogram_scores, label_accuracy, mean_max_probability
    from gankit.metrics.features import get_feature_net
    from gankit.metrics.stats_cache import real_features
    from gankit.nets.classifier import load_classifier
    from gankit.training.harness import resolve_device
    from gankit.training.run_dir import write_json
    from gankit.training.safe_files import check_output_file

    if json_path:
        check_output_file(json_path, "JSON output")
    check_device(None if device is None else str(device))
    check_seed(seed)
    check_sample_count(n)
    real_name, real_split = parse_dataset_spec(real)
    fake_name, fake_split = parse_dataset_spec(fake)
    if n is not None and n <= 0:
        raise GankitError(f"the sample count n must be positive, got {n}")
    metrics = image_metrics(metrics, real_name)
    logit_weights = logit_weights_for(metrics)
    if "modes" in metrics and fake_name != STACKED:
        raise GankitError(f"metric 'modes' counts Stacked MNIST's digit triples; --fake {fake_name!r} is not {STACKED!r}")
    check_feature_net(features)
    progress = wants_progress(progress)
    device = resolve_device(str(device or "auto"))
    real_set, real_split = build_split(real_name, real_split)
    fake_set, fake_split = build_split(fake_name, fake_split)
    if tuple(real_set.shape) != tuple(fake_set.shape):
        shapes = (f"{name}:{split} is {'x'.join(map(str, data.shape))}"
                  for name, split, data in ((real_name, real_split, real_set), (fake_name, fake_split, fake_set)))
        raise GankitError(f"images of incompatible shape: {', '.join(shapes)}")
    n_images = n or DEFAULT_SAMPLES
    n_modes = n or MODES_SAMPLES
    fake_seed = seed + 1
    scores: dict[str, Any] = {}
    protocol: dict[str, Any] = {
        "kind": "datasets", "real": f"{real_name}:{real_split}", "fake": f"{fake_name}:{fake_split}", "metrics": metrics,
        "real_seed": seed, "fake_seed": fake_seed,
        "selection": "distinct images of an in-memory split (a seeded permutation), fresh draws of a sampled set",
    }  # fmt: skip
    net = fake_f = None
    if any(m in FEATURE_METRICS for m in metrics):
        net = get_feature_net(features or default_feature_net(real_name), device)
        real_f = real_features(real_name, real_split, n_images, net, seed=seed, progress=progress)
        fake_f = real_features(fake_name, fake_split, n_images, net, seed=fake_seed, progress=progress)
        scores.update(feature_scores(metrics, real_f, fake_f, seed))
        protocol.update(n_real=n_images, n_fake=n_images, **feature_protocol(metrics, net, n_images, n_images))
    if "is" in metrics:
        is_net = net if net is not None and net.name == "inception" else get_feature_net("inception", device)
        pool3 = fake_f if is_net is net else real_features(fake_name, fake_split, n_images, is_net, seed=fake_seed,
                                                             progress=progress)
        is_scores, is_protocol = inception_scores(None, pool3, is_net, logit_weights, device, progress)
        scores.update(is_scores)
        protocol.update(n_fake=n_images, **is_protocol)
    if "modes" in metrics:
        images, _ = image_subset(fake_set, n_modes, fake_seed)
        scores.update(stacked_mnist_modes(load_classifier("mnist", device), images.to(device)))
        protocol.update(n_modes_samples=n_modes, modes=f"VEEGAN/PacGAN: {n_modes} fake images, each channel classified "
                        "by the mnist classifier, a mode is hit by >= 1 image; reverse_kl = KL(q || uniform)")
    if "classifier" in metrics:
        name = shipped_classifier(real_name)
        classifier = load_classifier(name, device)
        images, labels = image_subset(fake_set, n_images, fake_seed)
        images = images.to(device)
        scores["mean_max_probability"] = mean_max_probability(classifier, images)
        scores.update(class_histogram_scores(classifier, images))
        if fake_name == name and labels is not None:
            scores["label_accuracy"] = label_accuracy(classifier, images, labels.to(device))
        protocol.update(classifier=f"gankit {name} classifier on {n_images} fake images")
    protocol.update(device=str(device), gankit_version=__version__)
    result = {"metrics": scores, "protocol": protocol}
    if json_path:
        write_json(Path(json_path), result)
    return result

