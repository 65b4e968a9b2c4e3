"""``gankit recipes`` and ``gankit datasets``: what can be trained, on what."""

from __future__ import annotations

import argparse

from gankit.cli._common import print_table


def add_parser(subparsers) -> None:
    """Both listing commands, ``recipes`` then ``datasets``."""
    p = subparsers.add_parser("recipes", help="list the recipes and their papers' defaults")
    p.set_defaults(func=handle_recipes)
    p = subparsers.add_parser("datasets", help="list the built-in data sets")
    p.set_defaults(func=handle_datasets)


def handle_recipes(args: argparse.Namespace) -> None:
    from gankit.recipes import RECIPES

    print_table(["recipe", "what", "paper defaults"], [[r.name, r.summary, r.paper] for r in RECIPES.values()])


def handle_datasets(args: argparse.Namespace) -> None:
    from gankit.data import dataset_info, dataset_names
    from gankit.translation.tasks import TASKS

    rows = [[n, dataset_info(n).kind, dataset_info(n).description] for n in dataset_names()]
    # Two-domain data for pix2pix / CycleGAN (not in the GAN registry: no single data set to sample).
    rows += [[t.name, "paired" if t.paired else "unpaired", t.description] for t in TASKS.values()]
    rows += [["pairs=DIR", "paired", "side-by-side AB images in DIR (or DIR/A + DIR/B, or pairs=DIR_A,DIR_B matched by name)"],
             ["A=X,B=Y", "unpaired", "two image folders or gankit image data sets, e.g. A=horses/,B=zebras/"]]
    print_table(["dataset", "kind", "what"], rows)
