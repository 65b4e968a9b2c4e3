"""What a newcomer meets first: `gankit config`, help texts for every argument, default output folders that never
collide, and settings this machine cannot run refused before anything starts."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib

import pytest

from gankit.cli import KEYS_EPILOG, build_parser, main
from gankit.config import SECTIONS, Config, describe_keys, valid_keys


def _rows(out: str) -> dict[str, list[str]]:
    """``gankit config``'s table: key -> its columns (split on runs of 2+ spaces)."""
    import re

    lines = out.splitlines()
    return {re.split(r"\s{2,}", line.strip())[0]: re.split(r"\s{2,}", line.strip()) for line in lines[2:] if "." in line.split()[0]}


def test_every_config_field_has_a_one_line_meaning():
    for section in SECTIONS:
        for field in dataclasses.fields(getattr(Config(), section)):
            meaning = field.metadata.get("meaning", "")
            assert meaning and "\n" not in meaning, f"{section}.{field.name} has no one-line meaning"
    assert [k.key for k in describe_keys(Config())] == valid_keys()[1:]  # every key but `recipe`


def test_config_lists_every_key_with_the_recipe_and_data_defaults(capsys):
    assert main(["config", "dcgan", "--data", "mnist"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == set(valid_keys()[1:])
    assert rows["model.arch"][1:3] == ["str", "dcgan"] and "sagan" in rows["model.arch"][3]
    assert rows["data.batch_size"][1:4] == ["int", "32", "in [1, 1048576]"]  # the recipe's batch (image kind: 64), and its constraint
    assert rows["optim.lr_d"][2] == "0.0002" and rows["optim.beta1"][2] == "0.5"
    assert rows["train.precision"][3] == "'fp32' or 'bf16'"
    assert rows["loss.gp_weight"][4].startswith("λ of the gradient penalty")


def test_config_follows_the_data_and_the_overrides(capsys):
    assert main(["config", "wgan-gp", "--set", "loss.gp_weight=3"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["data.name"][2] == "ring8" and rows["loss.gp_weight"][2] == "3.0" and rows["model.z_dim"][2] == "8"
    assert main(["config", "cyclegan", "--data", "A=horses/,B=zebras/"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["model.norm"][2] == "instance" and rows["data.name"][2] == "A=horses/,B=zebras/"


@pytest.mark.parametrize("argv, message", [
    (["config", "dcgann"], "unknown recipe 'dcgann'"),
    (["config", "--data", "mnist"], "--data needs a RECIPE"),
    (["config", "dcgan", "--data", "edges2fashion"], "is image-translation data"),
    (["config", "dcgan", "--set", "optim.lr=1"], "unknown config key 'optim.lr'"),
])
def test_config_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _parsers(parser: argparse.ArgumentParser, name: str = "gankit"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {command}")


def test_every_argument_of_every_command_has_help_and_every_help_names_gankit_config():
    for name, parser in _parsers(build_parser()):
        assert "gankit config" in parser.format_help(), f"`{name} --help` does not say where the config keys are listed"
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"`{name}`: argument {action.option_strings or action.dest} has no help text"
    assert "gankit config" in KEYS_EPILOG


def test_sync_batchnorm_on_cpu_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "dcgan", "--data", "mnist", "--device", "cpu", "--set", "model.sync_batchnorm=true", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'model.sync_batchnorm'" in err and "CUDA" in err and err.count("\n") == 1
    assert not out.exists()


def test_default_outputs_are_new_numbered_folders_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = ["sweep", "nsgan", "--seeds", "0-1", "--steps", "2", "--workers", "1", "--no-progress",
             "--set", "train.eval_samples=32", "--set", "train.log_every=1"]
    (tmp_path / "runs" / "00000-sweep-nsgan-ring8").mkdir(parents=True)  # a first run's folder
    (tmp_path / "runs" / "00000-sweep-nsgan-ring8" / "sweep.json").write_text("{}")
    assert main(sweep) == 0  # the second run does not trip over the first
    assert (tmp_path / "runs" / "00001-sweep-nsgan-ring8" / "sweep.json").is_file()
    assert (tmp_path / "runs" / "00000-sweep-nsgan-ring8" / "sweep.json").read_text() == "{}"


def test_classifier_train_never_writes_the_shipped_weights_unless_asked(tmp_path, monkeypatch, capsys):
    from gankit.nets.classifier import weights_dir

    def digests():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in weights_dir().iterdir()}

    before = digests()
    monkeypatch.chdir(tmp_path)
    tiny = ["--epochs", "1", "--max-examples", "128", "--test-examples", "64"]
    assert main(["classifier", "train", "mnist", *tiny]) == 0
    assert (tmp_path / "runs" / "00000-classifier-mnist" / "mnist-classifier.safetensors").is_file()
    assert digests() == before
    assert main(["classifier", "train", "mnist", "--replace-shipped", "--out", "x", *tiny]) == 2
    assert "not both" in capsys.readouterr().err


def test_translation_folders_default_to_64_px_and_say_so():
    from gankit.translation.folders import FOLDER_IMAGE_SIZE
    from gankit.cli.train import translation_image_size
    from gankit.training.launch import resolve_run_config

    assert FOLDER_IMAGE_SIZE == 64
    config = resolve_run_config("cyclegan", "A=horses/,B=zebras/")
    assert translation_image_size(config) == "images at 64x64 px (the default; the papers' 256 px: --set data.image_size=256)"
    config = resolve_run_config("cyclegan", "A=horses/,B=zebras/", {"data.image_size": 256})
    assert translation_image_size(config) == "images at 256x256 px (data.image_size)"
