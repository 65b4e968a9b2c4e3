"""The shipped MNIST / Fashion-MNIST classifiers and the scores they give generated images."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from gankit.data import build_dataset
from gankit.errors import GankitError
from gankit.metrics.classifier_scores import (
    categorical_code_accuracy,
    code_class_counts,
    label_accuracy,
    match_codes_to_classes,
    mean_max_probability,
    to_classifier_input,
)
from gankit.nets.classifier import ImageClassifier, load_classifier, random_shift, train_classifier, weights_dir


@pytest.mark.parametrize("name, card_minimum, subset_minimum", [("mnist", 0.99, 0.985), ("fashion-mnist", 0.90, 0.88)])
def test_shipped_classifier_matches_its_card_and_the_test_set(name, card_minimum, subset_minimum):
    card = json.loads((weights_dir() / f"{name}-classifier.json").read_text())
    assert card["test_accuracy"] >= card_minimum and card["spec"]["seed"] == 0
    model = load_classifier(name)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    test = build_dataset(name, "cpu", split="test")
    x, y = test.x[:2000], test.y[:2000]
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
        assert model.features(x[:5]).shape == (5, 128)
        assert torch.allclose(model(x[:5]), model.out(model.features(x[:5])))  # eval mode: dropout off
    assert accuracy >= subset_minimum


def test_tampered_or_missing_weights_are_refused(tmp_path):
    shutil.copy(weights_dir() / "mnist-classifier.safetensors", tmp_path / "mnist-classifier.safetensors")
    shutil.copy(weights_dir() / "mnist-classifier.json", tmp_path / "mnist-classifier.json")
    load_classifier("mnist", weights=tmp_path / "mnist-classifier.safetensors")  # an intact copy loads
    data = bytearray((tmp_path / "mnist-classifier.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "mnist-classifier.safetensors").write_bytes(bytes(data))
    with pytest.raises(GankitError, match="SHA-256"):
        load_classifier("mnist", weights=tmp_path / "mnist-classifier.safetensors")
    with pytest.raises(GankitError, match="gankit classifier train mnist"):
        load_classifier("mnist", weights=tmp_path / "nothing.safetensors")
    with pytest.raises(GankitError, match="unknown classifier"):
        load_classifier("cifar")


def test_training_is_reproducible_from_its_seed():
    def weights(seed):
        trained = train_classifier("mnist", epochs=1, seed=seed, log=lambda _: None, max_examples=384, test_examples=256)
        assert trained.train_examples == 384 and 0 <= trained.test_accuracy <= 1
        return torch.cat([v.flatten().float() for v in trained.model.state_dict().values()])

    a, b, c = weights(0), weights(0), weights(1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_random_shift_moves_whole_images_by_whole_pixels():
    g = torch.Generator().manual_seed(0)
    x = -torch.ones(200, 1, 12, 12)
    x[:, 0, 5, 6] = 1.0  # one bright pixel, far enough from the border to stay inside
    shifted = random_shift(x, 2, g)
    positions = (shifted[:, 0] == 1).flatten(1).float().argmax(1)
    rows, cols = positions // 12 - 5, positions % 12 - 6
    assert ((shifted == 1).sum(dim=(1, 2, 3)) == 1).all()  # nothing blurred or lost
    assert set(rows.tolist()) == set(cols.tolist()) == {-2, -1, 0, 1, 2}
    assert set(shifted.unique().tolist()) == {-1.0, 1.0}


class StubClassifier(nn.Module):
    """Class k for an image of constant value k/9·2−1; logits 5·one_hot(k)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        k = ((x.mean(dim=(1, 2, 3)) + 1) / 2 * 9).round().long()
        return 5.0 * torch.nn.functional.one_hot(k, 10).float() + self.anchor


def constant_images(values):
    return torch.tensor(values, dtype=torch.float32)[:, None, None, None].expand(-1, 1, 28, 28) / 9 * 2 - 1


def test_label_accuracy_and_confidence_on_known_logits():
    stub = StubClassifier()
    images = constant_images([0, 1, 2, 3])
    assert label_accuracy(stub, images, torch.tensor([0, 1, 9, 3])) == 0.75
    assert math.isclose(mean_max_probability(stub, images), math.exp(5) / (math.exp(5) + 9), rel_tol=1e-6)


def test_codes_are_matched_to_classes_by_the_best_assignment():
    # code 0 -> mostly class 2, code 1 -> class 0, code 2 -> class 1 (with a few mistakes)
    counts = np.array([[1, 0, 8], [9, 1, 0], [0, 7, 4]])
    match = match_codes_to_classes(counts)
    assert match.mapping == {0: 2, 1: 0, 2: 1}
    assert math.isclose(match.accuracy, (8 + 9 + 7) / counts.sum())
    codes = torch.tensor([0, 0, 1, 1, 2, 2])
    images = constant_images([5, 5, 3, 3, 5, 7])  # code 0 and code 2 both look like 5 half the time
    result = categorical_code_accuracy(StubClassifier(), images, codes, 3)
    assert result.counts.sum() == 6 and math.isclose(result.accuracy, 5 / 6)
    assert code_class_counts(codes, torch.tensor([5, 5, 3, 3, 5, 7]), 3, 10)[2, 7] == 1


def test_classifier_input_from_colour_and_other_sizes():
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert torch.allclose(to_classifier_input(x.expand(-1, 3, -1, -1)), x, atol=1e-6)  # grey stored as RGB is unchanged
    assert to_classifier_input(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 28, 28)
    with pytest.raises(GankitError, match="image batches"):
        to_classifier_input(torch.zeros(2, 10))


def test_the_classifier_architecture():
    model = ImageClassifier()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10) and model.features(torch.zeros(3, 1, 28, 28)).shape == (3, 128)
    assert sum(p.numel() for p in model.parameters()) < 500_000  # small enough to ship in the package


def test_class_histogram_exposes_a_collapsed_generator():
    from gankit.metrics.classifier_scores import class_histogram_scores

    balanced = class_histogram_scores(StubClassifier(), constant_images(list(range(10)) * 10))
    assert balanced["classes_covered"] == 10 and abs(balanced["class_kl_to_uniform"]) < 1e-12
    collapsed = class_histogram_scores(StubClassifier(), constant_images([3] * 100))
    assert collapsed["classes_covered"] == 1 and math.isclose(collapsed["class_kl_to_uniform"], math.log(10))
