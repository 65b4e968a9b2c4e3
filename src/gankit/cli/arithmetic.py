"""``gankit arithmetic``: DCGAN's vector arithmetic, ``A − B + C`` of concept latents, decoded as a grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("arithmetic", help="decode A - B + C of averaged latents (DCGAN's vector arithmetic) as a grid")
    p.add_argument("run_dir", help="a run directory written by `gankit train` (an image GAN's generator)")
    for name in ("a", "b", "c"):
        p.add_argument(f"--{name}", required=True, metavar="SPEC",
                       help=f"concept {name.upper()}: comma-separated sample indices of --samples, or class:K (conditional runs)")
    p.add_argument("--samples", help="FILE.npz written by `gankit generate DIR --out FILE.npz` (holds each sample's z and label)")
    p.add_argument("--columns", type=int, default=8, help="samples per row (default 8)")
    p.add_argument("--noise", type=float, default=0.25, help="uniform noise in [-NOISE, NOISE] added per column to concept latents (default 0.25, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-column noise (default 0)")
    p.add_argument("--out", required=True, help="FILE.png: rows A, B, C and A - B + C")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.set_defaults(func=handle)


def _concept(spec: str, option: str, trained, samples):
    import torch

    from gankit.latent_arithmetic import class_concept, samples_concept

    spec = spec.strip()
    if spec.startswith("class:"):
        try:
            return class_concept(trained.generator, int(spec[6:]))
        except ValueError:
            raise GankitError(f"{option} expects class:K with an integer K, got {spec!r}") from None
    if samples is None:
        raise GankitError(f"{option} {spec!r} names sample indices: give --samples FILE.npz from `gankit generate`")
    try:
        indices = [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise GankitError(f"{option} expects comma-separated sample indices or class:K, got {spec!r}") from None
    z, labels = samples
    bad = [i for i in indices if not 0 <= i < z.shape[0]]
    if not indices or bad:
        raise GankitError(f"{option}: sample index {bad[0] if bad else spec!r} is not in 0..{z.shape[0] - 1} of --samples")
    chosen = torch.tensor(indices)
    return samples_concept(trained.generator, z[chosen].to(trained.device), labels[chosen] if labels is not None else None)


def _load_samples(path: str, trained):
    """``(z, labels)`` of a `gankit generate` npz, checked against the run's generator."""
    import numpy as np
    import torch

    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files if k in ("z", "labels")}
    except (OSError, ValueError) as error:
        raise GankitError(f"cannot read --samples {path!r}: {error}") from None
    if "z" not in arrays:
        raise GankitError(f"--samples {path!r} holds no latents 'z' (write it with `gankit generate DIR --out FILE.npz`)")
    z = torch.as_tensor(arrays["z"], dtype=torch.float32)
    if z.dim() != 2 or z.shape[1] != trained.generator.z_dim:
        raise GankitError(f"--samples {path!r}: latents of shape {tuple(z.shape)} do not fit this generator's z_dim {trained.generator.z_dim}")
    labels = torch.as_tensor(arrays["labels"], dtype=torch.long) if "labels" in arrays else None
    return z, labels


def handle(args: argparse.Namespace) -> None:
    from gankit import plots
    from gankit.generation import load
    from gankit.latent_arithmetic import combine, decode_concepts

    out = Path(args.out)
    if out.suffix != ".png":
        raise GankitError(f"--out must end in .png, got {str(out)!r}")
    trained = load(args.run_dir, device=args.device)
    if not trained.is_image:
        raise GankitError(f"{args.run_dir!r} is a vector (toy) run: arithmetic grids are for image generators")
    samples = _load_samples(args.samples, trained) if args.samples else None
    a, b, c = (_concept(spec, f"--{name}", trained, samples) for name, spec in (("a", args.a), ("b", args.b), ("c", args.c)))
    images = decode_concepts(trained.generator, [a, b, c, combine(a, b, c)], args.columns, args.seed, args.noise)
    names = [f"A = {args.a}", f"B = {args.b}", f"C = {args.c}", "A - B + C"]
    plots.image_rows(images, names, out, title=f"vector arithmetic on {args.run_dir}")
    print(f"wrote {out}")
