"""`gankit classifier train|list`: the command the classifier cards name."""

import hashlib
import json

from gankit.cli import main
from gankit.nets.classifier import load_classifier, weights_dir


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_classifier_train_writes_weights_and_card_to_out_and_leaves_the_shipped_ones(tmp_path, capsys):
    shipped = weights_dir() / "mnist-classifier.safetensors"
    before = _digest(shipped), (weights_dir() / "mnist-classifier.json").read_text()
    code = main(["classifier", "train", "mnist", "--out", str(tmp_path), "--epochs", "1", "--seed", "3",
                 "--max-examples", "256", "--test-examples", "100"])
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    card = json.loads((tmp_path / "mnist-classifier.json").read_text())
    assert card["train_examples"] == 256 and card["test_examples"] == 100
    assert card["spec"]["epochs"] == 1 and card["spec"]["seed"] == 3
    assert 0 <= card["test_accuracy"] <= 1
    assert card["sha256"] == _digest(tmp_path / "mnist-classifier.safetensors")
    load_classifier("mnist", weights=tmp_path / "mnist-classifier.safetensors")  # the card checks out
    assert (_digest(shipped), (weights_dir() / "mnist-classifier.json").read_text()) == before


def test_classifier_train_refuses_unknown_names_and_bad_sizes_with_one_line(tmp_path, capsys):
    assert main(["classifier", "train", "cifar", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: unknown classifier 'cifar'") and "\n" not in err
    assert main(["classifier", "train", "mnist", "--out", str(tmp_path), "--max-examples", "10"]) == 2
    assert "--max-examples" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_classifier_list_prints_the_shipped_cards(capsys):
    assert main(["classifier", "list"]) == 0
    out = capsys.readouterr().out
    card = json.loads((weights_dir() / "mnist-classifier.json").read_text())
    assert f"{100 * card['test_accuracy']:.2f}%" in out and card["sha256"][:16] in out
    assert "fashion-mnist" in out
