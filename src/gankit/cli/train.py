"""``gankit train``: a recipe on a data set into a fresh run directory, or ``--resume DIR`` to continue one."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, require_fresh_dir
from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a recipe on a data set into a run directory")
    p.add_argument("recipe", nargs="?", help="recipe name (see `gankit recipes`)")
    p.add_argument("--data", help="data set name (see `gankit datasets`), pairs=DIR or A=X,B=Y for pix2pix/cyclegan; "
                                  "default ring8 (pix2pix: edges2fashion, cyclegan: mnist2fashion)")
    p.add_argument("--steps", type=int, help="generator steps (train.steps)")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--out", help="run directory (default runs/NNNNN-RECIPE-DATA-sSEED)")
    p.add_argument("--config", metavar="FILE", help="YAML/JSON file of config keys (listed by `gankit config`)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable; every key, its type, default "
                   "and meaning: `gankit config RECIPE --data NAME`)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint (with --steps N: "
                   "train on to step N; a linearly decaying learning rate then decays to 0 at N)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.config import parse_assignments
    from gankit.config_file import load_config_file
    from gankit.training.distributed import launched_rank
    from gankit.training.launch import resolve_run_config, run_label, train_run
    from gankit.training.run_dir import RunDir, next_run_dir, resuming
    from gankit.translation.config import is_translation_recipe

    if args.resume:
        run = RunDir(Path(args.resume))
        fixed = [flag for flag, value in (("RECIPE", args.recipe), ("--data", args.data), ("--seed", args.seed),
                                          ("--out", args.out), ("--config", args.config), ("--set", args.set)) if value]
        if fixed:
            raise GankitError(f"--resume continues {str(run.path)!r} with its own config: {', '.join(fixed)} cannot change it "
                              "(--steps extends the run, --device moves it)")
        changed = {key: value for key, value in (("train.steps", args.steps), ("train.device", args.device)) if value is not None}
        with resuming(run.path, changed) as config:  # checked and locked before config.json is rewritten
            result = train_run(config, run.path, resume=True, progress=args.progress)
        if launched_rank() == 0:  # torchrun's other ranks train alongside and leave reporting to rank 0
            print(f"resumed {result.run_dir} to step {result.steps} in {result.seconds:.1f}s")
        return
    if not args.recipe:
        raise GankitError("train needs a RECIPE (see `gankit recipes`) or --resume DIR")
    overrides = load_config_file(args.config) if args.config else {}
    overrides.update(parse_assignments(args.set or []))
    for key, value in (("train.steps", args.steps), ("train.seed", args.seed), ("train.device", args.device)):
        if value is not None:
            overrides[key] = value
    data = args.data or overrides.pop("data.name", None)
    overrides.pop("data.name", None)  # --data wins over a data.name in --config / --set
    config = resolve_run_config(args.recipe, data, overrides)
    out = Path(args.out) if args.out else next_run_dir("runs", run_label(config))
    require_fresh_dir(out, "run directory", " (use --resume to continue it)")
    if is_translation_recipe(config.recipe) and launched_rank() == 0:
        print(f"{args.recipe} on {config.data.name}: {translation_image_size(config)}")
    result = train_run(config, out, progress=args.progress)
    last = result.last_record
    keys = ("loss_d", "loss_g", "modes", "hq_fraction", "heldout_l1", "heldout_cycle_l1_A", "heldout_cycle_l1_B")
    summary = ", ".join(f"{k} {last[k]:.4g}" for k in keys if k in last)
    if launched_rank() == 0:  # torchrun's other ranks train alongside and leave reporting to rank 0
        print(f"trained {result.run_dir} ({result.steps} steps, {result.seconds:.1f}s): {summary}")


def translation_image_size(config) -> str:
    """The image side a translation run trains at, in words: ``data.image_size`` or its default for the data."""
    from gankit.translation.data import default_image_size

    size = config.data.image_size or default_image_size(config.data.name)
    if size is None:
        return "images at the data sets' native size (data.image_size=0)"
    how = "data.image_size" if config.data.image_size else "the default; the papers' 256 px: --set data.image_size=256"
    return f"images at {size}x{size} px ({how})"
