"""``gankit translate``: images through a pix2pix / CycleGAN run's generator."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("translate", help="translate images with a pix2pix / CycleGAN run (needs only the run directory)")
    p.add_argument("run_dir", help="a pix2pix or CycleGAN run directory written by `gankit train`")
    p.add_argument("inputs", help="an image file, or a folder (its images are translated, keeping their relative paths)")
    p.add_argument("--out", required=True, help="FILE.png for one input, else a folder: one PNG per input "
                                                 "under OUT/AtoB or OUT/BtoA (the direction translated)")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="default: the direction the run was trained for "
                                                                 "(CycleGAN runs translate both ways)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> None:
    from gankit.translation.translate import translate

    written = translate(args.run_dir, args.inputs, args.out, direction=args.direction, device=args.device)
    if len(written) == 1:
        print(f"wrote 1 translated image to {written[0]}")
    else:
        print(f"wrote {len(written)} translated images under {args.out}")
