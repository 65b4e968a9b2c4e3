"""``gankit demo``: recipes compared on a toy data set, then short DCGANs on MNIST and on colour emoji."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, parse_workers, print_table


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="the main job: compare recipes on a toy data set, then a short DCGAN on MNIST")
    p.add_argument("--data", default="ring8", help="the toy data set the recipes are compared on (default ring8; see `gankit datasets`)")
    p.add_argument("--recipes", help="comma-separated (default gan,nsgan,wgan,wgan-gp)")  # checked against gankit.demo by a test
    p.add_argument("--steps", type=int, help="override train.steps for every recipe")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument("--out", help="folder of the demo's runs (default: a new numbered runs/NNNNN-demo)")
    p.add_argument("--no-images", dest="images", action="store_false", help="skip the MNIST DCGAN stage")
    p.add_argument("--image-steps", type=int, help="steps of the MNIST DCGAN stage (default 1200)")
    p.add_argument("--no-colour", dest="colour", action="store_false", help="skip the colour emoji DCGAN stage")
    p.add_argument("--colour-steps", type=int, help="steps of the colour emoji DCGAN stage (default 600)")
    p.add_argument("--workers", help="worker processes training the recipes side by side, one thread each "
                                     "(auto, the default: one per CPU core; 1 on a GPU)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.demo import DEFAULT_RECIPES, run_demo
    from gankit.training.run_dir import next_run_dir

    out = Path(args.out) if args.out else next_run_dir("runs", "demo")

    recipes = tuple(r.strip() for r in args.recipes.split(",")) if args.recipes else DEFAULT_RECIPES
    overrides = {"train.steps": args.steps} if args.steps else {}
    rows = run_demo(out, data=args.data, recipes=recipes, seed=args.seed, overrides=overrides, progress=args.progress,
                    workers=parse_workers(args.workers or "auto"))
    table = []
    for row in rows:
        for weights, m in row.by_weights():
            modes = f"{m['modes']}/{m['num_modes']}" if "modes" in m else "-"
            hq = f"{100 * m['hq_fraction']:.1f}" if "hq_fraction" in m else "-"
            table.append([row.recipe, weights, modes, hq, f"{m['w1']:.4f}", f"{row.seconds:.1f}"])
    print_table(["model", "weights", "modes", "% high quality", "W1", "seconds"], table)
    print(f"sample scatter plots: {out / 'samples.png'} (and each run's samples/ and report.html)")
    if args.images:
        from gankit.demo import run_image_demo

        row = run_image_demo(out, seed=args.seed, steps=args.image_steps, progress=args.progress)
        m = row.metrics
        print()
        print_table(["image model", "data", "FID (mnist features)", "classifier confidence", "classes", "seconds"],
                    [[row.recipe, "mnist", f"{m['fid']:.1f}", f"{m['mean_max_probability']:.3f}",
                      f"{m['classes_covered']}/10", f"{row.seconds:.1f}"]])
        print(f"samples and report: {row.run_dir / 'samples'}, {row.run_dir / 'report.html'}")
    if args.colour:
        _colour_stage(args, out)


def _colour_stage(args: argparse.Namespace, out: Path) -> None:
    from gankit.demo import COLOUR_DEMO_SAMPLES, run_colour_demo
    from gankit.errors import GankitError

    try:
        row = run_colour_demo(out, seed=args.seed, steps=args.colour_steps, progress=args.progress)
    except GankitError as error:
        if "fonts-noto-color-emoji" not in str(error):
            raise
        print(f"\ncolour stage skipped: {error}")  # the rest of the demo stands without it
        return
    print()
    print_table(["colour model", "data", f"FID (inception, {COLOUR_DEMO_SAMPLES} samples vs emoji test)", "seconds"],
                [[row.recipe, "emoji 32 px", f"{row.metrics['fid']:.1f}", f"{row.seconds:.1f}"]])
    print(f"samples and report: {row.run_dir / 'samples'}, {row.run_dir / 'report.html'}")
