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


def _numbers(text: str | None, option: str, kind: type = int) -> list | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; a GankitError naming ``option`` for anything else."""
    if text is None:
        return None
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GankitError(f"{option} expects comma-separated {'integers' if kind is int else 'numbers'}, got {text!r}") from None


def _generate(args: argparse.Namespace) -> None:
    import numpy as np

    from gankit.generation import load
    from gankit.grids import save_grid, to_uint8

    out = Path(args.out)
    if out.suffix not in (".npz", ".png"):
        raise GankitError(f"--out must end in .npz or .png, got {str(out)!r}")
    labels = _numbers(args.labels, "--labels")
    options = {
        "labels": labels,
        "categorical": _numbers(args.codes, "--codes"),
        "continuous": _numbers(args.continuous, "--continuous", float),
        "truncation": args.truncation,
    }
    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    trained = load(args.run_dir, device=args.device)
    if args.interpolate is not None:
        rows = args.n or 8
        samples = trained.interpolate(rows, args.interpolate, seed=args.seed, mode=args.interpolation, **options)
        columns = args.interpolate
    else:
        samples = trained.sample(args.n or 64, seed=args.seed, **options)
        # One column per label (or code) when a short list of them is given.
        listed = labels or options["categorical"]
        columns = len(listed) if listed and 1 < len(listed) <= 32 else None
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"images": to_uint8(samples.images)} if trained.is_image else {"samples": samples.images.cpu().numpy()}
        for name in ("labels", "categorical", "continuous"):
            value = getattr(samples, name)
            if value is not None:
                arrays[name] = value.cpu().numpy()
        np.savez(out, **arrays)
    elif trained.is_image:
        save_grid(samples.images, out, nrow=columns)
    else:
        from gankit import plots

        plots.scatter_samples(samples.images.cpu(), path=out, title=f"{samples.images.shape[0]} samples from {args.run_dir}")
    print(f"wrote {samples.images.shape[0]} samples to {out}")


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


def _experiment(args: argparse.Namespace) -> int:
    from gankit.experiments import cli_entry

    return cli_entry(args.name, Path(args.out), args.quick, args.list)


def _sweep(args: argparse.Namespace) -> None:
    from gankit.config import parse_assignments
    from gankit.sweep import parse_seeds, run_sweep

    seeds = parse_seeds(args.seeds)
    overrides = parse_assignments(args.set or [])
    if args.steps:
        overrides["train.steps"] = args.steps
    out = Path(args.out or f"runs/sweep-{args.recipe}-{args.data}")
    if out.exists() and any(out.iterdir()):
        raise GankitError(f"sweep directory {str(out)!r} already exists and is not empty")
    result = run_sweep(args.recipe, args.data, seeds, out, overrides, progress=args.progress)
    rows = [[k, f"{v['mean']:.4g} ± {v['se']:.2g}", str(v["n"])] for k, v in result.summary.items()]
    _print_table(["metric", f"mean ± s.e. over {len(seeds)} seeds", "n"], rows)
    print(f"{len(seeds)} seeds trained together in {result.seconds:.1f}s; per-seed runs and sweep.json in {out}")


def _report(args: argparse.Namespace) -> None:
    from gankit.report import cli_report

    cli_report(args.run_dir)


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
    p.add_argument("--n", type=int, help="number of samples (default 64), or of strips with --interpolate (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="FILE.npz (raw samples: images uint8 NxHxWxC, labels, codes) or FILE.png (grid / scatter)")
    p.add_argument("--labels", help="comma-separated class labels for conditional generators, cycled over the samples")
    p.add_argument("--codes", help="InfoGAN: comma-separated categorical code values, cycled over the samples")
    p.add_argument("--continuous", help="InfoGAN: the value of each continuous code, comma-separated, in [-1, 1]")
    p.add_argument("--truncation", type=float, help="truncation trick: noise drawn from N(0, 1) cut to [-PSI, PSI]")
    p.add_argument("--interpolate", type=int, metavar="STEPS", help="write --n strips of STEPS samples between two latents")
    p.add_argument("--interpolation", choices=("slerp", "lerp"), default="slerp", help="path of --interpolate (default slerp)")
    p.add_argument("--device", default=None)
    p.set_defaults(func=_generate)

    p = sub.add_parser("experiment", help="run a theory-lab experiment: figure, numbers and a verdict")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--out", default="experiments", help="folder for NAME.png and NAME.json")
    p.set_defaults(func=_experiment)

    p = sub.add_parser("sweep", help="train a recipe over many seeds at once (batched); mean ± s.e. of the metrics")
    p.add_argument("recipe")
    p.add_argument("--data", default="ring8")
    p.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,7")
    p.add_argument("--steps", type=int)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--out")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("report", help="write DIR/report.html: config, curves, metrics, samples in one file")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)

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
        if name in ("train", "demo", "sweep"):
            subparser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                                   help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from gankit.training.loop import TrainingStopped

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
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
