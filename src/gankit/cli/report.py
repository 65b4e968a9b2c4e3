"""``gankit report``: a run directory's report.html (written by gankit.report)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="write DIR/report.html: config, curves, metrics, samples in one file")
    p.add_argument("run_dir", help="a run directory written by `gankit train`")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.report import write_report

    print(f"wrote {write_report(args.run_dir)}")
