"""``gankit sweep``: one recipe trained over many seeds at once; mean ± s.e. of its metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, print_table, require_fresh_dir
from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a recipe over many seeds at once (batched); mean ± s.e. of the metrics")
    p.add_argument("recipe")
    p.add_argument("--data", default="ring8")
    p.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,7")
    p.add_argument("--steps", type=int)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--out")
    p.add_argument("--workers", default="auto",
                   help="worker processes, each training one group of consecutive seeds as one batched model "
                        "(auto: one per CPU core, at least 2 seeds each; 1 on a GPU)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.config import parse_assignments
    from gankit.sweep import parse_seeds, run_sweep

    seeds = parse_seeds(args.seeds)
    workers = _parse_workers(args.workers)
    overrides = parse_assignments(args.set or [])
    if args.steps:
        overrides["train.steps"] = args.steps
    out = Path(args.out or f"runs/sweep-{args.recipe}-{args.data}")
    require_fresh_dir(out, "sweep directory")
    result = run_sweep(args.recipe, args.data, seeds, out, overrides, progress=args.progress, workers=workers)
    rows = [[k, f"{v['mean']:.4g} ± {v['se']:.2g}", str(v["n"])] for k, v in result.summary.items()]
    print_table(["metric", f"mean ± s.e. over {len(seeds)} seeds", "n"], rows)
    where = "together" if result.workers == 1 else f"in {result.workers} worker processes"
    print(f"{len(seeds)} seeds trained and scored {where} in {result.seconds:.1f}s; per-seed runs and sweep.json in {out}")


def _parse_workers(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise GankitError(f"--workers expects a positive integer or 'auto', got {text!r}")
    return workers
