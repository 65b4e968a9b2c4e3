"""The ``gankit`` command: argument parsing only; all work is done by the library.

A user mistake (GankitError) prints one line and exits with code 2; nothing is written before the
whole input has been checked.

Each command's module defines its options (``add_parser``) next to the handler that reads them;
``build_parser`` lists the commands in the order ``gankit --help`` shows them.
"""

from __future__ import annotations

import argparse
import os
import sys

from gankit.cli import (
    arithmetic, classifier, config, demo, evaluate, experiment, filters, generate, listing, report, reproduce, sweep,
    train, translate,
)
from gankit.errors import GankitError, TrainingStopped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, evaluate and understand GANs.", epilog=KEYS_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (train, evaluate, generate, arithmetic, filters, experiment, reproduce, sweep, translate, report,
                    classifier, listing, config, demo):
        command.add_parser(sub)
    _add_epilog(parser)
    return parser


KEYS_EPILOG = ("Config keys (for --set KEY=VALUE and --config FILE), with their types, defaults, allowed values and "
               "meanings: gankit config [RECIPE] [--data NAME].")


def _add_epilog(parser: argparse.ArgumentParser) -> None:
    """Every command's --help ends by saying where the config keys are listed."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.epilog = command.epilog or KEYS_EPILOG
                _add_epilog(command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except TrainingStopped as stopped:
        import signal

        print(f"gankit: {stopped}", file=sys.stderr)
        return 128 + int(getattr(signal, stopped.signal_name))
    except GankitError as error:
        print(f"gankit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gankit eval DIR | head`: the reader left; stop quietly as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the interpreter's final flush cannot fail
        return 141
    return code if isinstance(code, int) else 0
