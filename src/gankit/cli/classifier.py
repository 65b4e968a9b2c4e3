"""``gankit classifier train|list``: the domain classifiers (MNIST, Fashion-MNIST) that score generators."""

from __future__ import annotations

import argparse

from gankit.cli._common import print_table
from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("classifier", help="the domain classifiers (MNIST, Fashion-MNIST) that score generators")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("train", help="train a classifier; writes NAME-classifier.safetensors and its JSON card")
    q.add_argument("name", help="mnist or fashion-mnist")
    q.add_argument("--out", help="folder for the weights and card (default: a new numbered runs/NNNNN-classifier-NAME; "
                                 "the shipped weights, which every evaluation uses, change only with --replace-shipped)")
    q.add_argument("--replace-shipped", action="store_true", help="write over the weights shipped in the package "
                                                                  "(gankit/weights), which every evaluation then uses")
    q.add_argument("--epochs", type=int, help="training epochs (default: the classifier's spec)")
    q.add_argument("--seed", type=int, help="random seed (default: the spec's, 0)")
    q.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    q.add_argument("--max-examples", type=int, help="train on the first N training images only (quick checks)")
    q.add_argument("--test-examples", type=int, help="test on the first N test images only")
    q.set_defaults(func=handle)
    q = actions.add_parser("list", aliases=["info"], help="the shipped classifiers' cards: test accuracy, sha256, spec")
    q.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.nets.classifier import CLASSIFIERS, weights_dir
    from gankit.errors import unknown

    if args.action == "train":
        if args.name not in CLASSIFIERS:
            raise unknown("classifier", args.name, CLASSIFIERS)
        if args.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise GankitError(f"--device {args.device!r} requested but CUDA is not available")
        _train(args)
        return
    import json

    rows = []
    for name, spec in CLASSIFIERS.items():
        card_path = weights_dir() / f"{name}-classifier.json"
        if not card_path.is_file():
            rows.append([name, "not trained", "-", "-", f"run `gankit classifier train {name}`"])
            continue
        card = json.loads(card_path.read_text())
        trained = card.get("spec", {})
        settings = ", ".join(f"{k} {trained.get(k, getattr(spec, k))}" for k in ("epochs", "width", "hidden", "max_shift", "seed"))
        rows.append([name, f"{100 * card['test_accuracy']:.2f}% of {card.get('test_examples', '?')}",
                     str(card.get("train_examples", "?")), card.get("sha256", "?")[:16], settings])
    print_table(["classifier", "test accuracy", "train examples", "sha256", "spec"], rows)
    print(f"weights and cards in {weights_dir()}")


def _train(args: argparse.Namespace) -> None:
    """Train, print the test accuracy, write weights + card into ``--out`` (default a new runs/NNNNN-classifier-NAME;
    ``--replace-shipped``: the package's weights folder, what :func:`gankit.nets.classifier.load_classifier` reads)."""
    from gankit.nets.classifier import CLASSIFIERS, save_classifier, train_classifier, weights_dir

    if args.replace_shipped and args.out:
        raise GankitError("--replace-shipped writes into the package's weights folder: give it or --out, not both")
    from gankit.training.run_dir import next_run_dir

    out = weights_dir() if args.replace_shipped else args.out or next_run_dir("runs", f"classifier-{args.name}")
    batch_size = CLASSIFIERS[args.name].batch_size
    for flag, value, low, must in (("--epochs", args.epochs, 1, "at least 1"), ("--seed", args.seed, 0, ">= 0"),
                                   ("--max-examples", args.max_examples, batch_size, f"at least the batch size {batch_size}"),
                                   ("--test-examples", args.test_examples, 1, "positive")):
        if value is not None and value < low:
            raise GankitError(f"{flag} must be {must}, got {value}")
    trained = train_classifier(args.name, device=args.device, epochs=args.epochs, seed=args.seed,
                               max_examples=args.max_examples, test_examples=args.test_examples)
    path = save_classifier(trained, out)
    print(f"{args.name} classifier: test accuracy {100 * trained.test_accuracy:.2f}% on {trained.test_examples} test images "
          f"in {trained.seconds:.0f}s; wrote {path}")
