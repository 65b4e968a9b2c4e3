"""Evaluate a run: sample from its generator and score the samples, recording how.

Every result is ``{"metrics": {...}, "protocol": {...}}``: the protocol says what was measured
(sample counts, seed, reference data, feature net, generator weights, gankit version) so a number
can be reproduced. :func:`evaluate_run` dispatches on the run:

- vector (toy) data: :mod:`gankit.evaluation.vectors` (modes, % high quality, reverse KL, W1);
- images: :mod:`gankit.evaluation.images` (fid, kid, pr, dc, modes on Stacked MNIST, classifier scores);
- pix2pix / CycleGAN: :func:`gankit.translation.translate.evaluate_translation` (held-out L1, cycle errors,
  domain-classifier acceptance).

:func:`evaluate_datasets` scores one image data set against another, without a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gankit.config import check_device, check_sample_count, check_seed
from gankit.errors import GankitError
from gankit.evaluation.datasets import evaluate_datasets
from gankit.evaluation.images import IMAGE_METRICS
from gankit.evaluation.vectors import MODE_METRICS, TOY_METRICS, evaluate_vectors, vector_metrics
from gankit.progress import wants_progress
from gankit.training.run_dir import EVAL_HISTORY_NAME, RunDir, read_json, write_json
from gankit.training.safe_files import check_output_file, check_replaceable, open_in_place, os_error_reason

__all__ = ["evaluate_run", "evaluate_datasets", "evaluate_vectors", "TOY_METRICS", "MODE_METRICS", "IMAGE_METRICS",
           "EVAL_HISTORY_NAME"]



def evaluate_run(
    run_dir: str | Path,
    metrics: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    json_path: str | Path | None = None,
    features: str | None = None,
    real_split: str | None = None,
    progress: bool | None = None,
    device: str | None = None,
    score_final: bool = True,
) -> dict[str, Any]:
    """Score a run directory; write ``DIR/eval.json`` (and ``json_path`` if given).

    ``n``: generated samples (default ``train.eval_samples``; 26,000 for Stacked MNIST ``modes``; for a
    translation run, the number of held-out examples, default all). ``features``: the feature net of
    fid/kid/pr/dc (default: the domain classifier for MNIST / Fashion-MNIST, else ``inception``).
    ``real_split``: the real images' split (default "test" where the data set has one). ``progress``:
    progress bars (default: when stderr is a terminal). ``device``: auto (CUDA when available), cpu, cuda.

    A run trained with an EMA of G is scored twice: ``metrics``/``protocol`` for the EMA weights (what
    ``generate`` samples by default) and ``final: {"metrics", "protocol"}`` for the final (raw) weights;
    each protocol's ``generator`` says which (``score_final=False``: the EMA weights only). Image and
    translation results are also appended, with the generator's step, to ``DIR/eval-history.jsonl`` (the
    history ``gankit report`` charts).
    """
    run = RunDir(Path(run_dir))
    config = run.load_config()
    for target in (run.path / "eval.json", run.path / EVAL_HISTORY_NAME):
        check_replaceable(target)  # before minutes of sampling, not after
    if json_path:
        check_output_file(json_path, "JSON output")
    check_device(device)
    check_seed(seed)
    check_sample_count(n)
    if n is not None and n < 0:
        raise GankitError(f"the sample count n must be positive, got {n}")
    progress = wants_progress(progress)
    generator_info = _generator_info(run)
    from gankit.translation.config import is_translation_recipe

    if is_translation_recipe(config.recipe):
        result = _evaluate_translation(run, metrics, n, features, device, generator_info, real_split)
    else:
        meta = run.load_meta(required=("data_shape",))
        if len(meta["data_shape"]) == 1:
            if features is not None or real_split is not None:
                option = "features" if features is not None else "real_split"
                raise GankitError(f"{option} is for image runs; {config.data.name!r} is vector data")
            n = n or config.train.eval_samples
            if n <= 0:
                raise GankitError(f"the sample count n must be positive, got {n}")
            metrics = vector_metrics(metrics, config.data)
            result = evaluate_vectors(run.path, metrics, n, seed)
            if score_final and run.has_final_generator():
                result["final"] = evaluate_vectors(run.path, metrics, n, seed, weights="final")
            write_json(run.path / "eval.json", result)
            if json_path:
                write_json(Path(json_path), result)
            return result
        from gankit.evaluation.images import evaluate_images
        from gankit.training.harness import resolve_device

        arguments = (run.path, config, metrics, n or None, seed, features, real_split, progress,
                     resolve_device(device or "auto"), generator_info)
        result = evaluate_images(*arguments)
        if score_final and run.has_final_generator():
            result["final"] = evaluate_images(*arguments, weights="final")
    write_json(run.path / "eval.json", result)
    _append_history(run.path, generator_info.get("step"), result)
    if json_path:
        write_json(Path(json_path), result)
    return result


def _generator_info(run: RunDir) -> dict[str, Any]:
    path = run.path / "generator.json"
    info = read_json(path) if path.is_file() else {}
    return info if isinstance(info, dict) else {}


def _append_history(run_dir: Path, step: int | None, result: dict[str, Any]) -> None:
    """One line ``{"step", "metrics", "protocol"}`` appended to ``DIR/eval-history.jsonl``."""
    from gankit.training.run_dir import finite_or_none

    line = json.dumps(finite_or_none({"step": step, **result}), allow_nan=False)
    path = run_dir / EVAL_HISTORY_NAME
    try:
        with open_in_place(path, "a") as handle:
            handle.write(line + "\n")
    except OSError as error:
        raise GankitError(f"cannot write {str(path)!r}: {os_error_reason(error)}") from None


def _evaluate_translation(run: RunDir, metrics, n, features, device, generator_info, real_split) -> dict[str, Any]:
    """:func:`gankit.translation.translate.evaluate_translation` as ``{"metrics", "protocol", "details"}``."""
    from gankit import __version__
    from gankit.translation.translate import evaluate_translation

    if metrics or features:
        raise GankitError("translation runs (pix2pix, CycleGAN) have fixed scores: leave out --metrics and --features")
    raw = evaluate_translation(run.path, split=real_split or "test", limit=n or None, device=device or "auto")
    scores: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("split", "examples", "direction", "confidence_threshold"):
            continue
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, item in items:
            name = key if sub is None else f"{key}_{sub}"
            is_number = isinstance(item, (int, float)) and not isinstance(item, bool)
            (scores if is_number else details)[name] = item
    protocol = {
        "kind": "translation", "data": run.load_config().data.name, "real_split": raw["split"],
        "n_real": raw["examples"], "n_fake": raw["examples"], "direction": raw["direction"],
        "generator": "final weights", "generator_step": generator_info.get("step"), "gankit_version": __version__,
    }  # fmt: skip
    if "confidence_threshold" in raw:
        protocol["confidence_threshold"] = raw["confidence_threshold"]
    result = {"metrics": scores, "protocol": protocol}
    if details:
        result["details"] = details
    return result
