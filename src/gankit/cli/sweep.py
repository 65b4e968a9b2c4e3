"""``gankit sweep``: one recipe trained over many seeds at once; mean ± s.e. of its metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, print_table, require_fresh_dir


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a recipe over many seeds at once (batched); mean ± s.e. of the metrics")
    p.add_argument("recipe")
    p.add_argument("--data", default="ring8")
    p.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,7")
    p.add_argument("--steps", type=int)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--out")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.config import parse_assignments
    from gankit.sweep import parse_seeds, run_sweep

    seeds = parse_seeds(args.seeds)
    overrides = parse_assignments(args.set or [])
    if args.steps:
        overrides["train.steps"] = args.steps
    out = Path(args.out or f"runs/sweep-{args.recipe}-{args.data}")
    require_fresh_dir(out, "sweep directory")
    result = run_sweep(args.recipe, args.data, seeds, out, overrides, progress=args.progress)
    rows = [[k, f"{v['mean']:.4g} ± {v['se']:.2g}", str(v["n"])] for k, v in result.summary.items()]
    print_table(["metric", f"mean ± s.e. over {len(seeds)} seeds", "n"], rows)
    print(f"{len(seeds)} seeds trained together in {result.seconds:.1f}s; per-seed runs and sweep.json in {out}")
