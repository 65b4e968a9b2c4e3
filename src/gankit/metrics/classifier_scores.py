"""Scores of generated images by a trained classifier (:mod:`gankit.nets.classifier`).

- :func:`mean_max_probability`: ``E_x[max_k p(k|x)]``, how confidently samples read as *some* class
  (low for in-between digits). A collapsed G can score high (one confident blob), so read it with
  :func:`class_histogram_scores`: the spread of the predicted classes over the samples.
- :func:`label_accuracy`: fraction of a conditional G's samples for label y classified as y.
- :func:`categorical_code_accuracy`: how well an InfoGAN's categorical code matches the classes.
  The code's values are arbitrary names, so each code value is matched to one class by the
  assignment maximising agreement (Hungarian algorithm on the code x class count matrix,
  ``scipy.optimize.linear_sum_assignment``), then accuracy is measured under that matching, as
  in Chen et al. 2016, Sec. 7.1 (5% error on MNIST).

Images are ``(N, C, H, W)`` in [-1, 1]; colour is averaged to grey and other sizes are resized to
the classifier's 28x28 (:func:`gankit.nets.classifier.classifier_input`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.classifier import classifier_input as to_classifier_input  # the one definition, under this module's name

__all__ = [
    "to_classifier_input",
    "class_probabilities",
    "mean_max_probability",
    "class_histogram_scores",
    "label_accuracy",
    "code_class_counts",
    "CodeMatch",
    "match_codes_to_classes",
    "categorical_code_accuracy",
    "score_generator",
]

@torch.no_grad()
def class_probabilities(classifier: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """``softmax(classifier(x))`` for every image, ``(N, K)``, on the images' device."""
    device = next(classifier.parameters()).device
    chunks = [
        F.softmax(classifier(to_classifier_input(images[i : i + batch_size]).to(device)), dim=1).to(images.device)
        for i in range(0, images.shape[0], batch_size)
    ]
    return torch.cat(chunks)


def mean_max_probability(classifier: nn.Module, images: Tensor) -> float:
    """``(1/N) Σ_i max_k p(k|x_i)``."""
    return class_probabilities(classifier, images).max(dim=1).values.mean().item()


def class_histogram_scores(classifier: nn.Module, images: Tensor) -> dict[str, float]:
    """How the predicted classes spread: ``classes_covered`` (classes with >= 1% of the samples, of K)
    and ``class_kl_to_uniform`` = ``Σ_k q_k log(K q_k)`` for the predicted-class frequencies q (0 = balanced)."""
    probabilities = class_probabilities(classifier, images)
    k = probabilities.shape[1]
    q = torch.bincount(probabilities.argmax(dim=1), minlength=k).double() / probabilities.shape[0]
    kl = (q[q > 0] * torch.log(q[q > 0] * k)).sum().item()
    return {"classes_covered": int((q >= 0.01).sum()), "class_kl_to_uniform": kl}


def label_accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """``(1/N) Σ_i [argmax_k p(k|x_i) = y_i]``: how often a sample made for label y is classified as y."""
    labels = torch.as_tensor(labels, device=images.device).long()
    if labels.shape != (images.shape[0],):
        raise GankitError(f"need one label per image: {images.shape[0]} images, labels of shape {tuple(labels.shape)}")
    return (class_probabilities(classifier, images).argmax(dim=1) == labels).float().mean().item()


def code_class_counts(codes: Tensor | np.ndarray, classes: Tensor | np.ndarray, num_codes: int, num_classes: int) -> np.ndarray:
    """``M[c, k]`` = number of samples with code ``c`` classified as ``k``."""
    codes, classes = np.asarray(torch.as_tensor(codes).cpu()), np.asarray(torch.as_tensor(classes).cpu())
    counts = np.zeros((num_codes, num_classes), dtype=np.int64)
    np.add.at(counts, (codes, classes), 1)
    return counts


@dataclass
class CodeMatch:
    accuracy: float  # fraction of samples whose class is the one matched to their code
    mapping: dict[int, int]  # code value -> class
    counts: np.ndarray  # the code x class count matrix


def match_codes_to_classes(counts: np.ndarray) -> CodeMatch:
    """The one-to-one code -> class matching maximising ``Σ_c M[c, π(c)]`` (Hungarian algorithm)."""
    rows, cols = linear_sum_assignment(counts, maximize=True)
    total = counts.sum()
    accuracy = float(counts[rows, cols].sum() / total) if total else 0.0
    return CodeMatch(accuracy, {int(r): int(c) for r, c in zip(rows, cols)}, counts)


def categorical_code_accuracy(classifier: nn.Module, images: Tensor, codes: Tensor, num_codes: int) -> CodeMatch:
    """Accuracy of InfoGAN's categorical ``codes`` as class labels after the best matching (module docstring)."""
    probabilities = class_probabilities(classifier, images)
    counts = code_class_counts(codes, probabilities.argmax(dim=1), num_codes, probabilities.shape[1])
    return match_codes_to_classes(counts)


def score_generator(trained, classifier: nn.Module, n: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Classifier scores of a run's generator (``gankit.load(DIR)``): the ones that apply to it.

    Always ``mean_max_probability`` and :func:`class_histogram_scores`; ``label_accuracy`` for a conditional G (labels cycled 0..K-1);
    ``code_accuracy`` for an InfoGAN (categorical codes cycled 0..K-1).
    """
    generator = trained.generator
    codes = getattr(generator, "codes", None)
    scores: dict[str, float] = {}
    if generator.num_classes:
        labels = torch.arange(n) % generator.num_classes
        images = trained.generate(n, seed=seed, labels=labels)
        scores["label_accuracy"] = label_accuracy(classifier, images, labels.to(images.device))
    elif codes is not None and codes.categories:
        categorical = torch.arange(n) % codes.categories
        images = trained.generate(n, seed=seed, categorical=categorical)
        scores["code_accuracy"] = categorical_code_accuracy(classifier, images, categorical, codes.categories).accuracy
    else:
        images = trained.generate(n, seed=seed)
    scores["mean_max_probability"] = mean_max_probability(classifier, images)
    scores.update(class_histogram_scores(classifier, images))
    return scores
