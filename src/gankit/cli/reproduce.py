"""``gankit reproduce``: a paper's table reproduced under its protocol (the work is gankit.reproductions')."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, parse_workers, print_catalogue


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("reproduce", help="reproduce a paper's table under its protocol, paper beside gankit")
    p.add_argument("name", nargs="?", help="reproduction name (see --list)")
    p.add_argument("--list", action="store_true", help="list the reproductions")
    p.add_argument("--trials", type=int, help="trials (seeds) per row (default: the reproduction's CPU default)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="training steps per row (default: the reproduction's CPU budget)")
    budget.add_argument("--budget", type=float,
                        help="a fraction of the paper's own schedule, in (0, 1]; 1.0 trains the paper's full schedule (a GPU's job)")
    p.add_argument("--workers", default="auto", help="worker processes training seeds side by side (auto: one per CPU core)")
    p.add_argument("--quick", action="store_true", help="a tiny run that checks the machinery (seconds; not a reproduction)")
    p.add_argument("--partial", action="store_true",
                   help="train nothing: tabulate what an unfinished run in --out has scored so far")
    p.add_argument("--out", default="runs/reproductions",
                   help="folder for NAME.json, NAME.md, NAME.png and the work in NAME/ (default runs/reproductions; "
                        "run again to continue a stopped run)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from gankit.reproductions import reproduction_names, reproduction_summary, run_reproduction

    if args.list:
        print_catalogue(reproduction_names(), reproduction_summary)
        return 0
    if not args.name:
        print("gankit reproduce: give a reproduction NAME or --list")
        return 2
    record = run_reproduction(args.name, Path(args.out), quick=args.quick, trials=args.trials, steps=args.steps,
                              budget=args.budget, workers=parse_workers(args.workers), progress=args.progress,
                              partial=args.partial)
    from gankit.reproductions import markdown_table

    print(markdown_table(record), end="")
    state = "complete" if record["complete"] else "INCOMPLETE (continue by running the same command again)"
    print(f"{args.name}: {state}; wrote {Path(args.out) / (args.name + '.json')}, .md and .png "
          f"({record['seconds']:.0f} s{', quick mode: not a reproduction' if args.quick else ''})")
    return 0
