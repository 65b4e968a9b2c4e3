"""``gankit filters``: a run's discriminator, random init beside trained: first-layer filters and strongest maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("filters", help="D's filters and its most responsive feature maps for an image, random init vs trained")
    p.add_argument("run_dir", help="a run directory written by `gankit train` (its checkpoints hold D)")
    p.add_argument("--index", type=int, default=0, help="the image: this example of the run's data set (default 0)")
    p.add_argument("--split", default="test", help="split of the data set --index reads (default test)")
    p.add_argument("--layer", type=int, default=1, help="which conv layer of D, from 1 (default 1, the first)")
    p.add_argument("--maps", type=int, default=8, help="number of feature maps shown (default 8)")
    p.add_argument("--out", required=True, help="FILE.png")
    p.set_defaults(func=handle)


def _example(config, index: int, split: str):
    """``(image, label)`` number ``index`` of the run's data set, prepared as the run saw it."""
    import dataclasses

    from gankit.data import build_from_config

    data = config.data
    dataset = build_from_config(dataclasses.replace(data, split=split), "cpu")
    images = getattr(dataset, "x", None)
    if images is None:
        raise GankitError(f"data {data.name!r} is not held in memory: --index cannot pick an example from it")
    if not 0 <= index < images.shape[0]:
        raise GankitError(f"--index {index} is not in 0..{images.shape[0] - 1} of {data.name!r} {split}")
    labels = getattr(dataset, "y", None)
    return images[index].float(), (int(labels[index]) if labels is not None and dataset.num_classes else None)


def handle(args: argparse.Namespace) -> None:
    from gankit import plots
    from gankit.discriminator_view import discriminator_views
    from gankit.training.run_dir import RunDir

    out = Path(args.out)
    if out.suffix != ".png":
        raise GankitError(f"--out must end in .png, got {str(out)!r}")
    config = RunDir(Path(args.run_dir)).load_config()
    image, label = _example(config, args.index, args.split)
    views = discriminator_views(args.run_dir, image, label if config.model.conditional else None, args.layer, args.maps)
    plots.discriminator_figure(views, image, out, f"{args.run_dir}: D's conv layer {args.layer} on {config.data.name} "
                               f"{args.split} example {args.index}")
    print(f"wrote {out}")
