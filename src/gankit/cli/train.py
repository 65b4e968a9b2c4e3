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
    p.add_argument("--config", help="YAML/JSON file of config keys")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint (with --steps N: "
                   "train on to step N; a linearly decaying learning rate then decays to 0 at N)")
    add_no_progress(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    import re

    from gankit.config import load_config_file, parse_assignments
    from gankit.data import is_image_folder, dataset_kind, dataset_names
    from gankit.data.paired import is_translation_data
    from gankit.data.translation_tasks import TASKS
    from gankit.recipes import get_recipe, resolve_config
    from gankit.training.distributed import launched_rank
    from gankit.training.loop import train
    from gankit.training.run_dir import RunDir, next_run_dir, resuming
    from gankit.training.translation import train_translation
    from gankit.training.translation_config import DEFAULT_TASKS, TRANSLATION_RECIPES, is_translation_recipe, resolve_translation_config

    if args.resume:
        run = RunDir(Path(args.resume))
        fixed = [flag for flag, value in (("RECIPE", args.recipe), ("--data", args.data), ("--seed", args.seed),
                                          ("--out", args.out), ("--config", args.config), ("--set", args.set)) if value]
        if fixed:
            raise GankitError(f"--resume continues {str(run.path)!r} with its own config: {', '.join(fixed)} cannot change it "
                              "(--steps extends the run, --device moves it)")
        changed = {key: value for key, value in (("train.steps", args.steps), ("train.device", args.device)) if value is not None}
        with resuming(run.path, changed) as config:  # checked and locked before config.json is rewritten
            trainer = train_translation if is_translation_recipe(config.recipe) else train
            result = trainer(config, run.path, resume=True, progress=args.progress)
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
    translation = is_translation_recipe(args.recipe)
    data = args.data or overrides.pop("data.name", DEFAULT_TASKS.get(args.recipe, "ring8"))
    overrides.pop("data.name", None)  # --data wins over a data.name in --config / --set
    # pix2pix / CycleGAN train on two-domain data, every other recipe on one data set: say so in one line.
    get_recipe(args.recipe)  # an unknown recipe is reported as such, whatever the data
    # edges2fashion, pairs=DIR, A=X,B=Y (which look like paths when they hold one) -- unless a folder has that name.
    translation_data = data not in dataset_names() and is_translation_data(data) and not Path(data).expanduser().is_dir()
    gan_data = not translation_data and (data in dataset_names() or is_image_folder(data))
    if translation and gan_data:
        raise GankitError(f"recipe {args.recipe!r} translates images between two domains, but data {data!r} is a single data set: "
                          f"use {', '.join(TASKS)}, pairs=DIR or A=X,B=Y (see `gankit datasets`)")
    if not translation and translation_data:
        raise GankitError(f"data {data!r} is image-translation data, but recipe {args.recipe!r} is not a translation recipe: "
                          f"use {' or '.join(TRANSLATION_RECIPES)}")
    if translation:
        config = resolve_translation_config(args.recipe, data, overrides)
        # A folder-friendly label: edges2fashion, pairs-facades, A-horses-B-zebras.
        names = (Path(v.strip().rstrip("/")).name for v in re.split(r"[,=]", data))
        label = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(n for n in names if n)) or "data"
    else:
        config = resolve_config(args.recipe, data, dataset_kind(data), overrides)
        label = Path(data).name
    out = Path(args.out) if args.out else next_run_dir("runs", f"{args.recipe}-{label}-s{config.train.seed}")
    require_fresh_dir(out, "run directory", " (use --resume to continue it)")
    result = (train_translation if translation else train)(config, out, progress=args.progress)
    last = result.last_record
    keys = ("loss_d", "loss_g", "modes", "hq_fraction", "heldout_l1", "heldout_cycle_l1_A", "heldout_cycle_l1_B")
    summary = ", ".join(f"{k} {last[k]:.4g}" for k in keys if k in last)
    if launched_rank() == 0:  # torchrun's other ranks train alongside and leave reporting to rank 0
        print(f"trained {result.run_dir} ({result.steps} steps, {result.seconds:.1f}s): {summary}")
