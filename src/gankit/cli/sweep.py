"""``gankit sweep``: one recipe trained over many seeds at once; mean ± s.e. of its metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, parse_workers, print_table, require_fresh_dir
from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a recipe over many seeds at once (batched); mean ± s.e. of the metrics")
    p.add_argument("recipe", nargs="?", help="recipe name (see `gankit recipes`); a toy-lab (MLP) recipe")
    p.add_argument("--data", help="a vector data set (default ring8)")
    p.add_argument("--seeds", help="e.g. 0-9 (the default) or 0,3,7")
    p.add_argument("--steps", type=int, help="training steps per seed (with --resume: extend the sweep to this many)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key for every seed (repeatable; "
                   "keys: `gankit config RECIPE`)")
    p.add_argument("--out", help="sweep directory (default: a new numbered runs/NNNNN-sweep-RECIPE-DATA)")
    p.add_argument("--workers",
                   help="worker processes, each training one group of consecutive seeds as one batched model "
                        "(auto, the default: one per CPU core, at least 2 seeds each; 1 on a GPU)")
    p.add_argument("--resume", metavar="DIR", help="continue the stopped or killed sweep in DIR (its seeds, groups "
                                                   "and config; each group from its last checkpoint)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.config import parse_assignments
    from gankit.sweep import parse_seeds, resume_sweep, run_sweep
    from gankit.training.run_dir import next_run_dir

    if args.steps is not None and args.steps < 1:
        raise GankitError(f"--steps must be a positive integer, got {args.steps}")
    if args.resume:
        fixed = [flag for flag, value in (("RECIPE", args.recipe), ("--data", args.data), ("--seeds", args.seeds),
                                          ("--set", args.set), ("--out", args.out), ("--workers", args.workers)) if value]
        if fixed:
            raise GankitError(f"--resume continues the sweep in {args.resume!r} as it was planned: {', '.join(fixed)} "
                              "cannot change it (--steps extends it)")
        out = Path(args.resume)
        result = resume_sweep(out, args.steps, progress=args.progress)
    else:
        if not args.recipe:
            raise GankitError("sweep needs a RECIPE (see `gankit recipes`) or --resume DIR")
        data = args.data or "ring8"
        seeds = parse_seeds(args.seeds or "0-9")
        workers = parse_workers(args.workers or "auto")
        overrides = parse_assignments(args.set or [])
        if args.steps:
            overrides["train.steps"] = args.steps
        out = Path(args.out) if args.out else next_run_dir("runs", f"sweep-{args.recipe}-{Path(data).name}")
        require_fresh_dir(out, "sweep directory", " (use --resume to continue it)")
        result = run_sweep(args.recipe, data, seeds, out, overrides, progress=args.progress, workers=workers)
    seeds = result.seeds
    rows = [[k, f"{v['mean']:.4g} ± {v['se']:.2g}", str(v["n"])] for k, v in result.summary.items()]
    print_table(["metric", f"mean ± s.e. over {len(seeds)} seeds", "n"], rows)
    where = "together" if result.workers == 1 else f"in {result.workers} worker processes"
    print(f"{len(seeds)} seeds trained and scored {where} in {result.seconds:.1f}s; per-seed runs and sweep.json in {out}")

