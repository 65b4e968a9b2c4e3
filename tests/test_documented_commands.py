"""Every command in the code blocks of README.md and docs/*.md still works, run as written but tiny.

What is run: each line of a ```bash / ```sh block that starts with ``gankit``, ``torchrun`` or ``make`` (``a && b``
is two commands; ``# ...`` comments are dropped), and each ```python block, in document order, in one fresh
folder per document, so that a command may use what an earlier one in its document wrote.

The one rule that makes them tiny: every option of :data:`TINY_OPTIONS` that the command accepts (as its
``--help`` lists it) is set to its tiny value, replacing the value the document gives (one exclusive with an
option the command gives is left out), and a command that accepts
``--set`` also gets :data:`TINY_CONFIG` after the document's own ``--set`` (so the tiny values win). A ``--resume``
continues the tiny run it names as it is (nothing added). ``torchrun ... -m gankit ARGS`` gets the same rule for
ARGS; ``make TARGET`` runs the ``gankit`` lines of that Makefile target by the same rule.

User files the examples name (:data:`FABRICATED`: a folder of faces, facades/, horses/, zebras/, digit.png) are
fabricated as a few small random images. A command is skipped, with the reason, only when it needs something
absent here: Fashion-MNIST (``make system-data``), CIFAR-10 or CelebA files or the Inception Score's weights (a
download; the user's), a CUDA device, or the output of a skipped command; ``make test``
is this suite itself. The package's shipped weights must be byte-identical after every document.

A new documented command is run by the same rule; if it needs a new user file, add it to FABRICATED.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

TINY_OPTIONS: dict[str, str | None] = {  # option -> tiny value (None: a flag, added)
    "--steps": "2",
    "--image-steps": "2",
    "--colour-steps": "2",
    "--n": "16",
    "--epochs": "1",
    "--max-examples": "128",
    "--test-examples": "64",
    "--workers": "1",
    "--quick": None,
    "--no-progress": None,
}
TINY_CONFIG = ["train.eval_samples=32", "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2",
               "data.batch_size=8"]


# ---------------------------------------------------------------- extraction

def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block."""
    return [(m.group(1).strip(), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


def commands(document: Path) -> list[tuple[str, list[str] | str]]:
    """The document's commands in order: ``("shell", argv)`` or ``("python", source)``."""
    found: list[tuple[str, list[str] | str]] = []
    for language, body in code_blocks(document.read_text()):
        if language == "python":
            found.append(("python", body))
        elif language in ("bash", "sh", "shell", "console"):
            for line in body.replace("\\\n", " ").splitlines():
                tokens = shlex.split(line, comments=True)
                while tokens:
                    cut = tokens.index("&&") if "&&" in tokens else len(tokens)
                    found.append(("shell", tokens[:cut]))
                    tokens = tokens[cut + 1:]
    return found


# ---------------------------------------------------------------- the tiny rule

def _subparser(argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser that parses ``argv``'s options: ``gankit classifier train ...`` -> the ``train`` parser."""
    from gankit.cli import build_parser

    parser = build_parser()
    for token in argv:
        commands_ = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not commands_ or token not in commands_[0].choices:
            break
        parser = commands_[0].choices[token]
    return parser


def tiny(argv: list[str]) -> list[str]:
    """``argv`` (gankit's arguments) with :data:`TINY_OPTIONS` and :data:`TINY_CONFIG` applied as the docstring says."""
    parser = _subparser(argv)
    accepted = {s for a in parser._actions for s in a.option_strings}
    if "--resume" in argv:
        return argv + ["--no-progress"] * ("--no-progress" in accepted)
    # An option exclusive with one the command gives (reproduce's --steps with --budget) is not added.
    excluded = {s for group in parser._mutually_exclusive_groups
                if any(s in argv for a in group._group_actions for s in a.option_strings)
                for a in group._group_actions for s in a.option_strings}
    argv = list(argv)
    for option, value in TINY_OPTIONS.items():
        if option not in accepted or (option in excluded and option not in argv):
            continue
        if option in argv:
            if value is not None:
                argv[argv.index(option) + 1] = value
        else:
            argv += [option] + ([value] if value is not None else [])
    if "--set" in accepted:
        for assignment in TINY_CONFIG:
            argv += ["--set", assignment]
    return argv


# ---------------------------------------------------------------- user files

def _images(folder: Path, count: int, size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bands = 3 if mode == "RGB" else 1
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
        Image.fromarray(pixels if bands == 3 else pixels[..., 0], mode).save(folder / f"{i:03d}.png")


FABRICATED = {  # documented user input -> how to make a tiny stand-in for it
    "path/to/faces": lambda p: _images(p, 8, (40, 48)),
    "facades": lambda p: _images(p, 10, (64, 32), seed=1),  # side-by-side A|B pairs
    "horses": lambda p: _images(p, 10, (40, 40), seed=2),
    "zebras": lambda p: _images(p, 10, (40, 40), seed=3),
    "digit.png": lambda p: Image.fromarray(np.random.default_rng(4).integers(0, 256, (28, 28), dtype=np.uint8), "L").save(p),
}


# ---------------------------------------------------------------- running

def _absent(argv: list[str], skipped_outputs: list[str]) -> str | None:
    """Why ``argv`` cannot run here, or None."""
    from gankit.data.fashion import DEFAULT_ROOT

    text = " ".join(argv)
    if "fashion" in text and not DEFAULT_ROOT.is_dir():
        return f"needs Fashion-MNIST ({DEFAULT_ROOT}: `make system-data` installs Debian's dataset-fashion-mnist)"
    if "cuda" in text:
        import torch

        if not torch.cuda.is_available():
            return "needs a CUDA device"
    data = argv[argv.index("--data") + 1] if "--data" in argv[:-1] else None
    if data in ("cifar10", "celeba"):  # downloaded (CIFAR-10) or the user's files (CelebA): never here offline
        from gankit.data.celeba import CELEBA
        from gankit.data.cifar import CIFAR10
        from gankit.data.download import cache_dir

        cached = cache_dir() / data / {"cifar10": CIFAR10, "celeba": CELEBA}[data].name
        if not cached.exists():
            return f"needs {cached} (or data.root), absent here and not downloaded offline"
    metrics = argv[argv.index("--metrics") + 1].split(",") if "--metrics" in argv[:-1] else []
    if "is" in metrics:  # the Inception Score's logit weights: a download or the user's file
        from gankit.data.download import cache_dir
        from gankit.metrics.inception_score import INCEPTION_FULL, WEIGHTS_ENV

        cached = cache_dir() / INCEPTION_FULL.dataset / INCEPTION_FULL.name
        if not os.environ.get(WEIGHTS_ENV) and not cached.exists():
            return f"needs the full Inception's weights ({cached} or ${WEIGHTS_ENV}), absent here"
    for out in skipped_outputs:
        if any(token.rstrip("/") == out or token.startswith(out + "/") for token in argv):
            return f"needs {out}, the output of a skipped command"
    return None


def _output(argv: list[str]) -> str | None:
    return argv[argv.index("--out") + 1].rstrip("/") if "--out" in argv else None


def _make_target(target: str) -> list[list[str]]:
    """The gankit argv of each ``gankit`` line in the Makefile's recipe for ``target``."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        tokens = shlex.split(line.strip())
        at = next((i for i, t in enumerate(tokens) if t.endswith("bin/gankit") or t == "gankit"), None)
        if at is not None:
            recipe.append(tokens[at + 1:])
    return recipe


def _run_gankit(argv: list[str], capsys) -> None:
    from gankit.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, f"`gankit {shlex.join(argv)}` exited {code}: {captured.err.strip()[-500:]}"


def _run_torchrun(tokens: list[str]) -> None:
    at = tokens.index("gankit")  # torchrun [options] -m gankit ARGS
    command = [str(Path(sys.executable).parent / "torchrun"), *tokens[1:at + 1], *tiny(tokens[at + 1:])]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"`{shlex.join(command)}` exited {done.returncode}: {done.stderr[-800:]}"


def _shipped_weights() -> dict[str, str]:
    from gankit.nets.classifier import weights_dir

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(weights_dir().iterdir())}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_runs(document, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, make in FABRICATED.items():
        make(tmp_path / name)
    shipped = _shipped_weights()
    skipped: list[str] = []
    reasons: list[str] = []
    for kind, command in commands(document):
        if kind == "python":
            exec(compile(command, f"{document.name} (python block)", "exec"), {"__name__": "__doc_example__"})
            continue
        program, args = command[0], command[1:]
        if program == ".":  # `. .venv/bin/activate`: the tests already run in that environment
            continue
        if program == "make":
            if args == ["test"]:
                continue  # this suite itself
            runs = [["gankit", *argv] for target in args for argv in _make_target(target)]
        elif program in ("gankit", "torchrun"):
            runs = [command]
        else:
            pytest.fail(f"{document.name}: `{shlex.join(command)}` is neither a gankit, torchrun nor make command: "
                        "teach tests/test_documented_commands.py how to run it")
        for run in runs:
            reason = _absent(run, skipped)
            if reason:
                reasons.append(f"`{shlex.join(run)}`: {reason}")
                if _output(run):
                    skipped.append(_output(run))
                continue
            if run[0] == "torchrun":
                _run_torchrun(run)
            else:
                _run_gankit(tiny(run[1:]), capsys)
    assert _shipped_weights() == shipped, f"a command in {document.name} changed the package's shipped weights"
    if reasons:
        pytest.skip(f"{len(reasons)} command(s) of {document.name} skipped: " + "; ".join(reasons))


def test_extraction_reads_commands_chains_and_comments(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("text\n```bash\ngankit train a --out runs/x && gankit eval runs/x   # note\n\n```\n"
                   "```\nnot a command\n```\n```python\nx = 1\n```\n")
    assert commands(doc) == [("shell", ["gankit", "train", "a", "--out", "runs/x"]), ("shell", ["gankit", "eval", "runs/x"]),
                             ("python", "x = 1\n")]


def test_tiny_rule_replaces_and_adds_only_what_the_command_accepts():
    assert tiny(["train", "wgan", "--set", "train.steps=2000", "--steps", "500"]) == [
        "train", "wgan", "--set", "train.steps=2000", "--steps", "2", "--no-progress",
        *[t for a in TINY_CONFIG for t in ("--set", a)]]
    assert tiny(["generate", "runs/x", "--n", "1000", "--out", "s.npz"]) == ["generate", "runs/x", "--n", "16", "--out", "s.npz"]
    assert tiny(["train", "--resume", "runs/x"]) == ["train", "--resume", "runs/x", "--no-progress"]
    assert tiny(["experiment", "--list"]) == ["experiment", "--list", "--quick"]
    assert "--steps" not in tiny(["reproduce", "pacgan-toy", "--budget", "0.5"])  # --steps and --budget exclude each other
