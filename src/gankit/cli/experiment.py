"""``gankit experiment``: a theory-lab experiment (the work and its output are gankit.experiments')."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import print_catalogue


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="run a theory-lab experiment: figure, numbers and a verdict")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--out", help="folder for NAME.png and NAME.json (default: a new numbered runs/NNNNN-experiment-NAME)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run one experiment and print its verdict. Exit code 0 when it ran (whether or not its claim held: the
    verdict line says which), 2 when no name was given; unknown names raise GankitError."""
    from gankit.experiments import experiment_names, experiment_summary, run_experiment

    if args.list:
        print_catalogue(experiment_names(), experiment_summary)
        return 0
    if not args.name:
        print("gankit experiment: give an experiment NAME or --list")
        return 2
    from gankit.training.run_dir import next_run_dir

    name = args.name
    out = Path(args.out) if args.out else next_run_dir("runs", f"experiment-{name}")
    record = run_experiment(name, out, quick=args.quick)
    verdict = record["verdict"]
    failed = [k for k, ok in verdict["checks"].items() if not ok]
    print(f"{name}: claim {'HOLDS' if verdict['holds'] else 'DOES NOT HOLD'}: {verdict['claim']}")
    print(f"  {verdict['text']}")
    if failed:
        print(f"  failed checks: {', '.join(failed)}")
    print(f"  wrote {out / (name + '.png')} and {out / (name + '.json')} ({record['seconds']:.0f}s"
          f"{', quick mode' if args.quick else ''})")
    return 0
