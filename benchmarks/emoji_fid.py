"""FID of runs trained on the emoji set, set against two references: the set's own held-out split and
shuffled pixels.

Usage: ``python benchmarks/emoji_fid.py [RUN_DIR ...] [--n 235] [--grids docs/figures] [--json FILE] [--no-baselines]``

Protocol (one Inception forward pass for everything, features from ``get_feature_net("inception")``):

* reference: all of ``emoji:train`` (the images the runs trained on), features cached by gankit;
* ``emoji test split``: the ``n`` held-out ``emoji:test`` images: what a generator that drew new emoji from
  the same distribution would score at this ``n`` (FID's bias at small ``n`` included);
* ``blurred``: the same test images through gankit's Gaussian blur (the translation metric's) of std 1 and 2 px: still plainly emoji to the eye,
  with the fine detail gone; they calibrate what a recognisable but imperfect image scores;
* ``shuffled pixels``: the same test images with their pixel positions permuted (one seeded permutation per
  image, the three channels kept together): the colours are right, every shape is gone; a generator at or
  above this number draws colour blobs, not emoji;
* beside each FID, the mean RMS pixel distance of the scored images to their nearest training image: the held-out
  split's value is what new emoji score, a generator far below it copies its training set;
* each run: ``n`` samples of its generator (seed 0), from its EMA weights and its final weights when it kept
  an EMA, else from its final weights.

The same ``n`` on every scored side keeps the numbers comparable. With ``--grids`` each run's 8x8 sample
grid (seed 0, the sampling weights) is written as ``<grids>/emoji-<run folder name>.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import gankit
from gankit.data import build_dataset
from gankit.grids import save_grid
from gankit.metrics.features import extract_features, get_feature_net
from gankit.metrics.frechet import fid_from_features
from gankit.metrics.stats_cache import real_features
from gankit.translation.translate import gaussian_blur


def shuffle_pixels(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each image's pixel positions permuted (its own seeded permutation), channels kept together."""
    generator = torch.Generator().manual_seed(seed)
    n, c, h, w = images.shape
    flat = images.reshape(n, c, h * w)
    order = torch.stack([torch.randperm(h * w, generator=generator) for _ in range(n)])
    return flat.gather(2, order[:, None, :].expand(-1, c, -1)).reshape(n, c, h, w)


def nearest_train_rms(images: torch.Tensor, train: torch.Tensor) -> float:
    """Mean over ``images`` of the RMS pixel distance (in [-1, 1] units) to the nearest training image.

    The held-out split's value is what a generator drawing new emoji scores; far below it means copies."""
    distances = torch.cdist(images.flatten(1).double(), train.flatten(1).double())
    return float((distances.min(dim=1).values / images[0].numel() ** 0.5).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--n", type=int, default=235, help="images scored per row (default: all of emoji:test)")
    parser.add_argument("--grids", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-baselines", dest="baselines", action="store_false", help="score the runs only")
    args = parser.parse_args()

    started = time.perf_counter()
    net = get_feature_net("inception", "cpu")
    train = build_dataset("emoji", split="train")
    real = real_features("emoji", "train", len(train), net, seed=0, progress=False)
    test = build_dataset("emoji", split="test").x[: args.n]
    rows = {"emoji test split": test, "test split blurred, sigma 1 px": gaussian_blur(test, 1.0),
            "test split blurred, sigma 2 px": gaussian_blur(test, 2.0),
            "shuffled pixels (test split)": shuffle_pixels(test)} if args.baselines else {}
    results = []

    def score(row: dict, images: torch.Tensor) -> None:
        row.update(n=len(images), fid=fid_from_features(real, extract_features(net, images, progress=False)),
                   nearest_train_rms=nearest_train_rms(images, train.x))
        results.append(row)
        print(f"{row['scored']:40s} FID {row['fid']:.1f}  nearest-train RMS {row['nearest_train_rms']:.3f}", flush=True)

    for name, images in rows.items():
        score({"scored": name}, images)
        if args.grids and "blurred" in name:
            save_grid(images[:64], args.grids / f"emoji-test-blurred-{name.split()[-2]}px.png", nrow=8)
    for run in args.runs:
        info = json.loads((run / "generator.json").read_text()) if (run / "generator.json").is_file() else {}
        # A run that kept an EMA is scored with both weights: the average samples, the raw G is what trained.
        for weights in ("ema", "final") if info.get("ema") else ("final",):
            trained = gankit.load(run, "cpu", weights=weights)
            score({"scored": f"{trained.config.recipe} ({run.name}), step {info.get('step')}, {weights}",
                   "run": run.name, "step": info.get("step"), "weights": weights}, trained.generate(args.n, seed=0))
            if args.grids and weights == ("ema" if info.get("ema") else "final"):
                save_grid(trained.generate(64, seed=0), args.grids / f"emoji-{run.name}.png", nrow=8)
    summary = {"reference": f"emoji:train, all {len(train)} images", "feature_net": f"{net.name} ({net.hash})",
               "rows": results, "machine": platform.processor() or platform.machine(),
               "seconds": time.perf_counter() - started}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
