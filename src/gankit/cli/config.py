"""``gankit config``: every config key with its type, its default for a recipe and data set, its allowed values
and its meaning (the meanings live next to the fields in :mod:`gankit.config`)."""

from __future__ import annotations

import argparse

from gankit.cli._common import print_table


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("config", help="list every config key: type, default for a recipe and data, allowed values, meaning")
    p.add_argument("recipe", nargs="?", help="show the defaults this recipe uses (see `gankit recipes`); "
                                             "without one, the bare field defaults")
    p.add_argument("--data", help="the data the defaults are for (see `gankit datasets`; default: the recipe's, "
                                  "ring8 or the translation recipes' task)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="show the config with this override applied (repeatable)")
    p.set_defaults(func=handle)


def _text(value) -> str:
    return "''" if value == "" else str(value)


def handle(args: argparse.Namespace) -> None:
    from gankit.config import Config, apply_overrides, describe_keys, parse_assignments
    from gankit.errors import GankitError
    from gankit.training.launch import resolve_run_config

    overrides = parse_assignments(args.set or [])
    if args.recipe:
        config = resolve_run_config(args.recipe, args.data, overrides)
        where = f"recipe {args.recipe} on {config.data.name}"
    elif args.data:
        raise GankitError("--data needs a RECIPE: the defaults depend on both (e.g. gankit config dcgan --data mnist)")
    else:
        config = apply_overrides(Config(), overrides)
        where = "no recipe (the field defaults; give a RECIPE and --data for a run's)"
    rows = [[k.key, k.type, _text(k.value), k.allowed, k.meaning] for k in describe_keys(config)]
    print_table(["key", "type", "default", "allowed", "meaning"], rows)
    print(f"defaults for {where}; change any with `gankit train ... --set KEY=VALUE` or --config FILE.yaml")
