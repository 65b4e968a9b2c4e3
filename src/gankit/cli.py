"""The ``gankit`` command: argument parsing only; all work is done by the library.

A user mistake (GankitError) prints one line and exits with code 2; nothing is written before the
whole input has been checked.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gankit.errors import GankitError


def _require_fresh_dir(out: Path, what: str, hint: str = "") -> None:
    """Refuse an output path that is a file, or a folder that already holds something."""
    if out.exists() and not out.is_dir():
        raise GankitError(f"{what} {str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise GankitError(f"{what} {str(out)!r} already exists and is not empty{hint}")


def _train(args: argparse.Namespace) -> None:
    import re

    from gankit.config import apply_overrides, load_config_file, parse_assignments
    from gankit.data import _is_folder, dataset_kind, dataset_names
    from gankit.data.paired import is_translation_data
    from gankit.data.translation_tasks import TASKS
    from gankit.recipes import get_recipe, resolve_config
    from gankit.training.distributed import launched_rank
    from gankit.training.loop import train
    from gankit.training.run_dir import RunDir, next_run_dir
    from gankit.training.translation import train_translation
    from gankit.training.translation_config import DEFAULT_TASKS, TRANSLATION_RECIPES, is_translation_recipe, resolve_translation_config

    if args.resume:
        run = RunDir(Path(args.resume))
        fixed = [flag for flag, value in (("RECIPE", args.recipe), ("--data", args.data), ("--seed", args.seed),
                                          ("--out", args.out), ("--config", args.config), ("--set", args.set)) if value]
        if fixed:
            raise GankitError(f"--resume continues {str(run.path)!r} with its own config: {', '.join(fixed)} cannot change it "
                              "(--steps extends the run, --device moves it)")
        config = run.load_config()
        changed = {key: value for key, value in (("train.steps", args.steps), ("train.device", args.device)) if value is not None}
        if changed:
            apply_overrides(config, changed)
            run.save_config(config)
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
    gan_data = not translation_data and (data in dataset_names() or _is_folder(data))
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
    _require_fresh_dir(out, "run directory", " (use --resume to continue it)")
    result = (train_translation if translation else train)(config, out, progress=args.progress)
    last = result.last_record
    keys = ("loss_d", "loss_g", "modes", "hq_fraction", "heldout_l1", "heldout_cycle_l1_A", "heldout_cycle_l1_B")
    summary = ", ".join(f"{k} {last[k]:.4g}" for k in keys if k in last)
    if launched_rank() == 0:  # torchrun's other ranks train alongside and leave reporting to rank 0
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
    from gankit.evaluation import evaluate_datasets, evaluate_run

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    options = {"metrics": metrics, "n": args.n, "seed": args.seed, "json_path": args.json, "features": args.features,
               "progress": progress, "device": args.device}
    if args.real is not None or args.fake is not None:
        if args.run_dir:
            raise GankitError("give a run directory DIR or --real/--fake to compare two data sets, not both")
        if args.real is None or args.fake is None:
            raise GankitError("--real and --fake go together, e.g. gankit eval --real mnist:test --fake mnist:train")
        if args.real_split is not None:
            raise GankitError("--real-split is for run directories; give the split as --real NAME:SPLIT")
        result = evaluate_datasets(args.real, args.fake, **options)
    elif not args.run_dir:
        raise GankitError("eval needs a run directory DIR, or --real NAME[:SPLIT] --fake NAME[:SPLIT]")
    else:
        result = evaluate_run(args.run_dir, real_split=args.real_split, **options)
    _print_table(["metric", "value"], [[k, _format(v)] for k, v in result["metrics"].items()])
    protocol = result["protocol"]
    if "feature_net" in protocol:
        print(f"features: {protocol['feature_net']} ({protocol['feature_net_hash']}); "
              f"{protocol.get('n_fake')} fake vs {protocol.get('n_real')} real images")
    written = ([str(Path(args.run_dir) / "eval.json")] if args.run_dir else []) + ([args.json] if args.json else [])
    if written:
        print(f"wrote {', '.join(written)}")


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


def _translate(args: argparse.Namespace) -> None:
    from gankit.translate import translate

    written = translate(args.run_dir, args.inputs, args.out, direction=args.direction, device=args.device)
    if len(written) == 1:
        print(f"wrote 1 translated image to {written[0]}")
    else:
        print(f"wrote {len(written)} translated images under {args.out}")


def _recipes(args: argparse.Namespace) -> None:
    from gankit.recipes import RECIPES

    _print_table(["recipe", "what", "paper defaults"], [[r.name, r.summary, r.paper] for r in RECIPES.values()])


def _datasets(args: argparse.Namespace) -> None:
    from gankit.data import dataset_info, dataset_names
    from gankit.data.translation_tasks import TASKS

    rows = [[n, dataset_info(n).kind, dataset_info(n).description] for n in dataset_names()]
    # Two-domain data for pix2pix / CycleGAN (not in the GAN registry: no single data set to sample).
    rows += [[t.name, "paired" if t.paired else "unpaired", t.description] for t in TASKS.values()]
    rows += [["pairs=DIR", "paired", "side-by-side AB images in DIR (or DIR/A + DIR/B, or pairs=DIR_A,DIR_B matched by name)"],
             ["A=X,B=Y", "unpaired", "two image folders or gankit image data sets, e.g. A=horses/,B=zebras/"]]
    _print_table(["dataset", "kind", "what"], rows)


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
    print(f"sample scatter plots: {Path(args.out) / 'samples.png'} (and each run's samples/ and report.html)")
    if args.images:
        from gankit.demo import run_image_demo

        row = run_image_demo(Path(args.out), seed=args.seed, steps=args.image_steps, progress=args.progress)
        m = row.metrics
        print()
        _print_table(["image model", "data", "FID (mnist features)", "classifier confidence", "classes", "seconds"],
                     [[row.recipe, "mnist", f"{m['fid']:.1f}", f"{m['mean_max_probability']:.3f}",
                       f"{m['classes_covered']}/10", f"{row.seconds:.1f}"]])
        print(f"samples and report: {row.run_dir / 'samples'}, {row.run_dir / 'report.html'}")


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
    _require_fresh_dir(out, "sweep directory")
    result = run_sweep(args.recipe, args.data, seeds, out, overrides, progress=args.progress)
    rows = [[k, f"{v['mean']:.4g} ± {v['se']:.2g}", str(v["n"])] for k, v in result.summary.items()]
    _print_table(["metric", f"mean ± s.e. over {len(seeds)} seeds", "n"], rows)
    print(f"{len(seeds)} seeds trained together in {result.seconds:.1f}s; per-seed runs and sweep.json in {out}")


def _report(args: argparse.Namespace) -> None:
    from gankit.report import cli_report

    cli_report(args.run_dir)


def _classifier(args: argparse.Namespace) -> None:
    from gankit.nets.classifier import CLASSIFIERS, cli_train_classifier, weights_dir
    from gankit.errors import unknown

    if args.action == "train":
        if args.name not in CLASSIFIERS:
            raise unknown("classifier", args.name, CLASSIFIERS)
        if args.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise GankitError(f"--device {args.device!r} requested but CUDA is not available")
        cli_train_classifier(args.name, out=args.out, device=args.device, epochs=args.epochs, seed=args.seed,
                             max_examples=args.max_examples, test_examples=args.test_examples)
        return
    import json

    rows = []
    for name, spec in CLASSIFIERS.items():
        card_path = weights_dir() / f"{name}-classifier.json"
        if not card_path.is_file():
            rows.append([name, "not trained", "-", "-", f"run `gankit classifier train {name}`"])
            continue
        card = json.loads(card_path.read_text())
        trained = card.get("spec", {})
        settings = ", ".join(f"{k} {trained.get(k, getattr(spec, k))}" for k in ("epochs", "width", "hidden", "max_shift", "seed"))
        rows.append([name, f"{100 * card['test_accuracy']:.2f}% of {card.get('test_examples', '?')}",
                     str(card.get("train_examples", "?")), card.get("sha256", "?")[:16], settings])
    _print_table(["classifier", "test accuracy", "train examples", "sha256", "spec"], rows)
    print(f"weights and cards in {weights_dir()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, evaluate and understand GANs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a recipe on a data set into a run directory")
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
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="score a run's generator (writes DIR/eval.json), or one image data set against another")
    p.add_argument("run_dir", nargs="?", help="run directory (or give --real and --fake instead)")
    p.add_argument("--metrics", help="comma-separated; toy: modes,hq_fraction,reverse_kl,w1; "
                   "images: fid,kid,pr,dc,modes (Stacked MNIST),classifier")
    p.add_argument("--n", type=int, help="number of generated samples (default train.eval_samples, 2000 for "
                   "--real/--fake, 26000 for modes; translation runs: held-out examples, default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result to this file")
    p.add_argument("--features", help="feature net of fid/kid/pr/dc: inception, inception-bf16, mnist, fashion-mnist "
                   "(default: the domain classifier for MNIST / Fashion-MNIST data, else inception)")
    p.add_argument("--real-split", help="split of the real images (default test where the data set has one)")
    p.add_argument("--real", metavar="NAME[:SPLIT]", help="compare data sets: the reference set, e.g. mnist:test")
    p.add_argument("--fake", metavar="NAME[:SPLIT]", help="compare data sets: the set scored, e.g. mnist:train")
    p.add_argument("--device", help="auto (default: CUDA when available), cpu, cuda, cuda:N")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bars")
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

    p = sub.add_parser("translate", help="translate images with a pix2pix / CycleGAN run (needs only the run directory)")
    p.add_argument("run_dir")
    p.add_argument("inputs", help="an image file, or a folder (its images are translated, keeping their relative paths)")
    p.add_argument("--out", required=True, help="FILE.png for one input, else a folder (one PNG per input)")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="default: the direction the run was trained for "
                                                                 "(CycleGAN runs translate both ways)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.set_defaults(func=_translate)

    p = sub.add_parser("report", help="write DIR/report.html: config, curves, metrics, samples in one file")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)

    p = sub.add_parser("classifier", help="the domain classifiers (MNIST, Fashion-MNIST) that score generators")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("train", help="train a classifier; writes NAME-classifier.safetensors and its JSON card")
    q.add_argument("name", help="mnist or fashion-mnist")
    q.add_argument("--out", help="folder for the weights and card (default: the package's shipped weights, overwritten)")
    q.add_argument("--epochs", type=int, help="training epochs (default: the classifier's spec)")
    q.add_argument("--seed", type=int, help="random seed (default: the spec's, 0)")
    q.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    q.add_argument("--max-examples", type=int, help="train on the first N training images only (quick checks)")
    q.add_argument("--test-examples", type=int, help="test on the first N test images only")
    q.set_defaults(func=_classifier)
    q = actions.add_parser("list", aliases=["info"], help="the shipped classifiers' cards: test accuracy, sha256, spec")
    q.set_defaults(func=_classifier)

    p = sub.add_parser("recipes", help="list the recipes and their papers' defaults")
    p.set_defaults(func=_recipes)
    p = sub.add_parser("datasets", help="list the built-in data sets")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("demo", help="the main job: compare recipes on a toy data set, then a short DCGAN on MNIST")
    p.add_argument("--data", default="ring8")
    p.add_argument("--recipes", help=f"comma-separated (default {','.join(('gan', 'nsgan', 'wgan', 'wgan-gp'))})")
    p.add_argument("--steps", type=int, help="override train.steps for every recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--no-images", dest="images", action="store_false", help="skip the MNIST DCGAN stage")
    p.add_argument("--image-steps", type=int, help="steps of the MNIST DCGAN stage (default 1200)")
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
    except BrokenPipeError:  # `gankit eval DIR | head`: the reader left; stop quietly as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the interpreter's final flush cannot fail
        return 141
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
