"""``gankit eval``: score a run's generator, or one image data set against another."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.cli._common import add_no_progress, print_table
from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("eval", help="score a run's generator (writes DIR/eval.json; a run with an EMA: its EMA and "
                                           "its final weights), or one image data set against another")
    p.add_argument("run_dir", nargs="?", help="run directory (or give --real and --fake instead)")
    p.add_argument("--metrics", help="comma-separated; toy: modes,hq_fraction,reverse_kl,w1; "
                   "images: fid,kid,pr,dc,modes (Stacked MNIST),classifier,is (Inception Score: needs the full "
                   "Inception's weights, $GANKIT_INCEPTION_WEIGHTS or downloaded)")
    p.add_argument("--n", type=int, help="number of generated samples (default train.eval_samples, 2000 for "
                   "--real/--fake, 26000 for modes; translation runs: held-out examples, default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples (default 0)")
    p.add_argument("--json", metavar="FILE", help="also write the result to this file")
    p.add_argument("--features", help="feature net of fid/kid/pr/dc: inception, inception-bf16, mnist, fashion-mnist "
                   "(default: the domain classifier for MNIST / Fashion-MNIST data, else inception)")
    p.add_argument("--real-split", help="split of the real images (default test where the data set has one)")
    p.add_argument("--real", metavar="NAME[:SPLIT]", help="compare data sets: the reference set, e.g. mnist:test")
    p.add_argument("--fake", metavar="NAME[:SPLIT]", help="compare data sets: the set scored, e.g. mnist:train")
    p.add_argument("--truncation-curve", metavar="PSI,...", help="instead: FID and precision/recall at each "
                   "truncation ψ and untruncated (writes DIR/truncation.json; --metrics from fid,kid,pr,dc)")
    p.add_argument("--figure", help="with --truncation-curve: also draw the curve to this PNG")
    p.add_argument("--device", help="auto (default: CUDA when available), cpu, cuda, cuda:N")
    add_no_progress(p, help="no progress bars")
    p.set_defaults(func=handle)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def handle(args: argparse.Namespace) -> None:
    from gankit.evaluation import evaluate_datasets, evaluate_run

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    options = {"metrics": metrics, "n": args.n, "seed": args.seed, "json_path": args.json, "features": args.features,
               "progress": args.progress, "device": args.device}
    if args.truncation_curve is not None:
        return _truncation_curve(args, metrics)
    if args.figure is not None:
        raise GankitError("--figure draws a truncation curve: give --truncation-curve PSI,... with it")
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
    final = result.get("final")
    if final is None:
        print_table(["metric", "value"], [[k, _format(v)] for k, v in result["metrics"].items()])
    else:  # a run with an EMA: both sets of weights, each named
        print_table(["metric", "EMA weights", "final weights"],
                    [[k, _format(v), _format(final["metrics"].get(k))] for k, v in result["metrics"].items()])
    protocol = result["protocol"]
    if "feature_net" in protocol:
        print(f"features: {protocol['feature_net']} ({protocol['feature_net_hash']}); "
              f"{protocol.get('n_fake')} fake vs {protocol.get('n_real')} real images")
    written = ([str(Path(args.run_dir) / "eval.json")] if args.run_dir else []) + ([args.json] if args.json else [])
    if written:
        print(f"wrote {', '.join(written)}")


def _truncation_curve(args: argparse.Namespace, metrics: list[str] | None) -> None:
    from gankit import plots
    from gankit.cli.generate import _numbers
    from gankit.evaluation.truncation import truncation_curve
    from gankit.progress import wants_progress
    from gankit.training.harness import resolve_device
    from gankit.training.run_dir import write_json

    if not args.run_dir or args.real is not None or args.fake is not None:
        raise GankitError("--truncation-curve scores a run: give a run directory DIR (not --real/--fake)")
    psis = _numbers(args.truncation_curve, "--truncation-curve", float)
    curve = truncation_curve(args.run_dir, psis, args.n, args.seed, metrics, args.features, args.real_split,
                             wants_progress(args.progress), resolve_device(args.device or "auto"))
    keys = [k for k in curve["points"][0] if k != "psi"]
    rows = [["none" if p["psi"] is None else f"{p['psi']:g}", *(_format(p[k]) for k in keys)] for p in curve["points"]]
    print_table(["psi", *keys], rows)
    written = [Path(args.run_dir) / "truncation.json", *([Path(args.json)] if args.json else [])]
    for path in written:
        write_json(path, curve)
    if args.figure:
        written.append(plots.truncation_figure(curve["points"], args.figure, f"truncation trick: {args.run_dir}"))
    print(f"wrote {', '.join(map(str, written))}")
