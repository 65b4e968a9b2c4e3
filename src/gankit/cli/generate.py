"""``gankit generate``: samples from a run's generator, as raw arrays (.npz) or a picture (.png)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("generate", help="sample from a run's generator (needs only the run directory)")
    p.add_argument("run_dir", help="a run directory written by `gankit train` (its generator.safetensors, config.json, run.json)")
    p.add_argument("--n", type=int, help="number of samples (default 64), or of strips with --interpolate (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0): same seed, same samples")
    p.add_argument("--out", required=True, help="FILE.npz (raw samples: images uint8 NxHxWxC, latents z, labels, codes) or FILE.png (grid / scatter)")
    p.add_argument("--labels", help="comma-separated class labels for conditional generators, cycled over the samples")
    p.add_argument("--codes", help="InfoGAN: comma-separated categorical code values, cycled over the samples")
    p.add_argument("--continuous", help="InfoGAN: the value of each continuous code, comma-separated, in [-1, 1]")
    p.add_argument("--truncation", type=float, help="truncation trick: noise drawn from N(0, 1) cut to [-PSI, PSI]")
    p.add_argument("--interpolate", type=int, metavar="STEPS", help="write --n strips of STEPS samples between two latents")
    p.add_argument("--interpolation", choices=("slerp", "lerp"), default="slerp", help="path of --interpolate (default slerp)")
    p.add_argument("--device", default=None, help="auto (default: CUDA when available), cpu, cuda, cuda:N")
    p.add_argument("--weights", choices=("ema", "final"),
                   help="which weights of a run with an EMA of G: ema (the default) or final (the raw G at the last step)")
    p.set_defaults(func=handle)


def _numbers(text: str | None, option: str, kind: type = int) -> list | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; a GankitError naming ``option`` for anything else."""
    if text is None:
        return None
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GankitError(f"{option} expects comma-separated {'integers' if kind is int else 'numbers'}, got {text!r}") from None


def handle(args: argparse.Namespace) -> None:
    import numpy as np

    from gankit.generation import load
    from gankit.grids import save_grid, to_uint8
    from gankit.training.safe_files import atomic_render, check_replaceable, os_error_reason

    out = Path(args.out)
    if out.suffix not in (".npz", ".png"):
        raise GankitError(f"--out must end in .npz or .png, got {str(out)!r}")
    check_replaceable(out)  # a folder or a device there is refused before sampling, and never replaced
    labels = _numbers(args.labels, "--labels")
    options = {
        "labels": labels,
        "categorical": _numbers(args.codes, "--codes"),
        "continuous": _numbers(args.continuous, "--continuous", float),
        "truncation": args.truncation,
    }
    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    trained = load(args.run_dir, device=args.device, weights=args.weights)
    if args.interpolate is not None:
        rows = args.n or 8
        samples = trained.interpolate(rows, args.interpolate, seed=args.seed, mode=args.interpolation, **options)
        columns = args.interpolate
    else:
        samples = trained.sample(args.n or 64, seed=args.seed, **options)
        # One column per label (or code) when a short list of them is given.
        listed = labels or options["categorical"]
        columns = len(listed) if listed and 1 < len(listed) <= 32 else None
    if out.suffix == ".npz":
        arrays = {"images": to_uint8(samples.images)} if trained.is_image else {"samples": samples.images.cpu().numpy()}
        arrays["z"] = samples.z.cpu().numpy()  # the latents, for `gankit arithmetic --samples`
        for name in ("labels", "categorical", "continuous"):
            value = getattr(samples, name)
            if value is not None:
                arrays[name] = value.cpu().numpy()
        write = lambda target: np.savez(target, **arrays)  # noqa: E731
    elif trained.is_image:
        write = lambda target: save_grid(samples.images, target, nrow=columns)  # noqa: E731
    else:
        from gankit import plots

        title = f"{samples.images.shape[0]} samples from {args.run_dir}"
        write = lambda target: plots.scatter_samples(samples.images.cpu(), path=target, title=title)  # noqa: E731
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_render(out, write)
    except OSError as error:
        raise GankitError(f"cannot write {str(out)!r}: {os_error_reason(error)}") from None
    print(f"wrote {samples.images.shape[0]} samples to {out}")
