"""``gankit experiment``: a theory-lab experiment (the work and its output are gankit.experiments')."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="run a theory-lab experiment: figure, numbers and a verdict")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--out", default="experiments", help="folder for NAME.png and NAME.json")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from gankit.experiments import cli_entry

    return cli_entry(args.name, Path(args.out), args.quick, args.list)
