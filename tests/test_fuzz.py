"""Hypothesis fuzzing of what a user or a shared run directory can hand gankit: config values and files, CLI
arguments, and damaged run-directory files. The property is the CLI's promise: a result, or a GankitError
(one line, exit code 2), never a traceback. Examples are few and derandomised, so the test is fast and stable."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit.cli import main
from gankit.config import Config, config_from_dict, set_value, valid_keys
from gankit.config_file import load_config_file
from gankit.errors import GankitError
from gankit.evaluation import evaluate_run
from gankit.recipes import resolve_config
from gankit.training.loop import train

TINY = {"train.steps": 20, "train.log_every": 5, "train.sample_every": 10, "train.checkpoint_every": 10,
        "train.eval_samples": 64, "data.batch_size": 16, "model.g_hidden": 8, "model.d_hidden": 8,
        "model.g_layers": 1, "model.d_layers": 1, "train.device": "cpu"}
FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Values of every kind a YAML file or a --set can carry, extremes included.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["1e400", "-0", "nan", "inf", "auto", "cuda:99999", "0x10", "1_000", " 5 ", "yes", "off"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=6)
keys = st.one_of(st.sampled_from(valid_keys()), st.text(max_size=15))


@FAST
@given(key=keys, value=values)
def test_any_config_value_is_taken_or_refused_in_one_line(key, value):
    config = Config()
    try:
        set_value(config, key, value)
    except GankitError as error:
        assert "\n" not in str(error)
        return
    assert config_from_dict(config.to_dict()) == config  # what was taken survives config.json


@FAST
@given(tree=st.dictionaries(keys, values, max_size=4), raw=st.binary(max_size=60), use_raw=st.booleans())
def test_any_config_file_is_taken_or_refused_in_one_line(tmp_path, tree, raw, use_raw):
    path = tmp_path / "config.yaml"
    if use_raw:
        path.write_bytes(raw)
    else:
        nested = {}
        for dotted, value in tree.items():
            section, _, name = str(dotted).partition(".")
            nested.setdefault(section, {})[name] = value if name else value
        path.write_text(yaml.safe_dump(nested, allow_unicode=True))
    try:
        resolve_config("nsgan", "ring8", "vector", load_config_file(path))
    except GankitError as error:
        assert "\n" not in str(error)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "run"
    train(resolve_config("nsgan", "ring8", "vector", TINY), path, progress=False)
    evaluate_run(path)  # eval.json too
    return path


def _no_traceback(argv: list[str], capsys) -> int:
    """Run the CLI: exit code 0 or 2 (argparse's own refusals exit 2 too), and one line when refused."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse: a value of the wrong type for its option
        code = stop.code
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, code, err)
    if code == 2 and err.startswith("gankit: error: "):
        assert err.count("\n") == 1, err
    return code


counts = st.one_of(st.integers(min_value=-3, max_value=200), st.integers(min_value=2**31, max_value=2**80))
texts = st.one_of(st.text(max_size=10), st.sampled_from(["0,1", "-1", "99999999999999999999", "1,nan", "inf", ""]))
devices = st.one_of(st.sampled_from(["cpu", "auto", "banana", "cuda:0", "mps", "cuda:x"]), st.text(max_size=6))


@settings(FAST, max_examples=30)
@given(n=counts, seed=st.integers(min_value=-5, max_value=2**70), labels=st.none() | texts, codes=st.none() | texts,
       continuous=st.none() | texts, truncation=st.none() | st.sampled_from(["0", "-1", "nan", "inf", "0.5", "x"]),
       interpolate=st.none() | counts, device=devices, suffix=st.sampled_from([".npz", ".png", ".txt", ""]))
def test_any_generate_arguments_give_samples_or_one_line(finished, tmp_path, capsys, n, seed, labels, codes,
                                                        continuous, truncation, interpolate, device, suffix):
    argv = ["generate", str(finished), "--out", str(tmp_path / f"out{suffix}"), "--n", str(n), "--seed", str(seed),
            "--device", device]
    for flag, value in (("--labels", labels), ("--codes", codes), ("--continuous", continuous),
                        ("--truncation", truncation), ("--interpolate", interpolate)):
        if value is not None:
            argv += [flag, str(value)]
    _no_traceback(argv, capsys)


@settings(FAST, max_examples=20)
@given(n=counts, seed=st.integers(min_value=-5, max_value=2**70), device=devices,
       metrics=st.none() | st.one_of(st.text(max_size=10), st.sampled_from(["modes,w1", "fid", "modes,,", "hq_fraction"])))
def test_any_eval_arguments_give_scores_or_one_line(finished, tmp_path, capsys, n, seed, device, metrics):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    argv = ["eval", str(run), "--n", str(n), "--seed", str(seed), "--device", device, "--no-progress"]
    _no_traceback(argv + (["--metrics", metrics] if metrics is not None else []), capsys)


RUN_FILES = ["config.json", "run.json", "generator.json", "metrics.jsonl", "eval.json", "generator.safetensors",
             "checkpoints/step-00000020.pt"]


def _damaged(original: bytes, how: str, position: int, data: bytes) -> bytes:
    cut = position % (len(original) + 1)
    if how == "truncate":
        return original[:cut]
    if how == "flip":
        return original[:cut] + bytes([original[cut] ^ 0x5A]) + original[cut + 1:] if cut < len(original) else data
    if how == "insert":
        return original[:cut] + data + original[cut:]
    return data  # replace with garbage, or with another JSON value


@settings(FAST, max_examples=30)
@given(name=st.sampled_from(RUN_FILES), how=st.sampled_from(["truncate", "flip", "insert", "replace", "json"]),
       position=st.integers(min_value=0, max_value=2**20), data=st.binary(max_size=40), value=values,
       command=st.sampled_from(["generate", "eval", "resume"]))
def test_any_damaged_run_file_gives_a_result_or_one_line(finished, tmp_path, capsys, name, how, position, data,
                                                          value, command):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    path = run / name
    replacement = json.dumps(value).encode() if how == "json" else data
    path.write_bytes(_damaged(path.read_bytes(), how, position, replacement))
    argv = {"generate": ["generate", str(run), "--n", "8", "--out", str(tmp_path / "x.npz")],
            "eval": ["eval", str(run), "--no-progress"],
            "resume": ["train", "--resume", str(run), "--steps", "21", "--no-progress"]}[command]
    _no_traceback(argv, capsys)


@settings(FAST, max_examples=4)
@given(name=st.sampled_from(["config.json", "metrics.jsonl", "eval.json", "run.json", "samples/step-00000010.png"]),
       how=st.sampled_from(["truncate", "flip", "replace", "json"]), position=st.integers(min_value=0, max_value=2**16),
       data=st.binary(max_size=40), value=values)
def test_any_damaged_run_file_still_reports_or_is_one_line(finished, tmp_path, capsys, name, how, position, data, value):
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    path = run / name
    path.write_bytes(_damaged(path.read_bytes(), how, position, json.dumps(value).encode() if how == "json" else data))
    _no_traceback(["report", str(run)], capsys)
