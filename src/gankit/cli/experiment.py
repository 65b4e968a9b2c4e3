"""``gankit experiment``: a theory-lab experiment (the work and its output are gankit.experiments')."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="run a theory-lab experiment: figure, numbers and a verdict")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--out", help="folder for NAME.png and NAME.json (default: a new numbered runs/NNNNN-experiment-NAME)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from gankit.experiments import cli_entry
    from gankit.training.run_dir import next_run_dir

    out = Path(args.out) if args.out else next_run_dir("runs", f"experiment-{args.name}") if args.name and not args.list else None
    return cli_entry(args.name, out, args.quick, args.list)
