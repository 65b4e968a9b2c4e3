"""The ``gankit`` command: argument parsing only; all work is done by the library.

A user mistake (GankitError) prints one line and exits with code 2; nothing is written before the
whole input has been checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gankit.errors import GankitError


def _train(args: argparse.Namespace) -> None:
    from gankit.config import load_config_file, parse_assignments
    from gankit.data import dataset_kind
    from gankit.recipes import resolve_config
    from gankit.training.loop import train
    from gankit.training.run_dir import RunDir, next_run_dir

    if args.resume:
        run = RunDir(Path(args.resume))
        config = run.load_config()
        result = train(config, run.path, resume=True, progress=args.progress)
        print(f"resumed {result.run_dir} to step {result.steps} in {result.seconds:.1f}s")
        return
    if not args.recipe:
        raise GankitError("train needs a RECIPE (see `gankit recipes`) or --resume DIR")
    overrides = load_config_file(args.config) if args.config else {}
    overrides.update(parse_assignments(args.set or []))
    for key, value in (("train.steps", args.steps), ("train.seed", args.seed), ("train.device", args.device)):
        if value is not None:
            overrides[key] = value
    data = args.data or overrides.pop("data.name", "ring8")
    config = resolve_config(args.recipe, data, dataset_kind(data), overrides)
    out = Path(args.out) if args.out else next_run_dir("runs", f"{args.recipe}-{Path(data).name}-s{config.train.seed}")
    if out.exists() and any(out.iterdir()):
        raise GankitError(f"run directory {str(out)!r} already exists and is not empty (use --resume to continue it)")
    result = train(config, out, progress=args.progress)
    last = result.last_record
    summary = ", ".join(f"{k} {last[k]:.4g}" for k in ("loss_d", "loss_g", "modes", "hq_fraction") if k in last)
    print(f"trained {result.run_dir} ({result.steps} steps, {result.seconds:.1f}s): {summary}")


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _eval(args: argparse.Namespace) -> None:
    from gankit.evaluation import evaluate_run

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    result = evaluate_run(args.run_dir, metrics=metrics, n=args.n, seed=args.seed, json_path=args.json)
    _print_table(["metric", "value"], [[k, _format(v)] for k, v in result["metrics"].items()])
    print(f"wrote {Path(args.run_dir) / 'eval.json'}")


def _generate(args: argparse.Namespace) -> None:
    import numpy as np

    from gankit.generation import load
    from gankit.grids import save_grid, to_uint8

    out = Path(args.out)
    if out.suffix not in (".npz", ".png"):
        raise GankitError(f"--out must end in .npz or .png, got {str(out)!r}")
    labels = [int(v) for v in args.labels.split(",")] if args.labels else None
    trained = load(args.run_dir, device=args.device)
    samples = trained.generate(args.n, seed=args.seed, labels=labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        if trained.is_image:
            np.savez(out, images=to_uint8(samples))
        else:
            np.savez(out, samples=samples.cpu().numpy())
    elif trained.is_image:
        save_grid(samples, out)
    else:
        from gankit import plots

        plots.scatter_samples(samples.cpu(), path=out, title=f"{args.n} samples from {args.run_dir}")
    print(f"wrote {args.n} samples to {out}")


def _recipes(args: argparse.Namespace) -> None:
    from gankit.recipes import RECIPES

    _print_table(["recipe", "what", "paper defaults"], [[r.name, r.summary, r.paper] for r in RECIPES.values()])


def _datasets(args: argparse.Namespace) -> None:
    from gankit.data import dataset_info, dataset_names

    _print_table(["dataset", "kind", "what"], [[n, dataset_info(n).kind, dataset_info(n).description] for n in dataset_names()])


def _demo(args: argparse.Namespace) -> None:
    from gankit.demo import DEFAULT_RECIPES, run_demo

    recipes = tuple(r.strip() for r in args.recipes.split(",")) if args.recipes else DEFAULT_RECIPES
    overrides = {"train.steps": args.steps} if args.steps else {}
    rows = run_demo(Path(args.out), data=args.data, recipes=recipes, seed=args.seed, overrides=overrides, progress=args.progress)
    table = []
    for row in rows:
        m = row.metrics
        modes = f"{m['modes']}/{m['num_modes']}" if "modes" in m else "-"
        hq = f"{100 * m['hq_fraction']:.1f}" if "hq_fraction" in m else "-"
        table.append([row.recipe, modes, hq, f"{m['w1']:.4f}", f"{row.seconds:.1f}"])
    _print_table(["model", "modes", "% high quality", "W1", "seconds"], table)
    print(f"sample scatter plots: {Path(args.out) / 'samples.png'} (and each run's samples/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, evaluate and understand GANs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a recipe on a data set into a run directory")
    p.add_argument("recipe", nargs="?", help="recipe name (see `gankit recipes`)")
    p.add_argument("--data", help="data set name (see `gankit datasets`); default ring8")
    p.add_argument("--steps", type=int, help="generator steps (train.steps)")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--out", help="run directory (default runs/NNNNN-RECIPE-DATA-sSEED)")
    p.add_argument("--config", help="YAML/JSON file of config keys")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="score a run's generator; writes DIR/eval.json")
    p.add_argument("run_dir")
    p.add_argument("--metrics", help="comma-separated (toy: modes,hq_fraction,reverse_kl,w1)")
    p.add_argument("--n", type=int, help="number of generated samples (default train.eval_samples)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result to this file")
    p.set_defaults(func=_eval)

    p = sub.add_parser("generate", help="sample from a run's generator (needs only the run directory)")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="FILE.npz (raw samples) or FILE.png (grid / scatter)")
    p.add_argument("--labels", help="comma-separated class labels for conditional generators")
    p.add_argument("--device", default=None)
    p.set_defaults(func=_generate)

    p = sub.add_parser("recipes", help="list the recipes and their papers' defaults")
    p.set_defaults(func=_recipes)
    p = sub.add_parser("datasets", help="list the built-in data sets")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("demo", help="the main job: compare recipes on a toy data set")
    p.add_argument("--data", default="ring8")
    p.add_argument("--recipes", help=f"comma-separated (default {','.join(('gan', 'nsgan', 'wgan', 'wgan-gp'))})")
    p.add_argument("--steps", type=int, help="override train.steps for every recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(func=_demo)

    for name, subparser in sub.choices.items():
        if name in ("train", "demo"):
            subparser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                                   help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from gankit.training.loop import TrainingStopped

    try:
        args.func(args)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
