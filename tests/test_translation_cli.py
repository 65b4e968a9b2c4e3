"""`gankit train pix2pix|cyclegan`, `gankit translate` and the translation rows of `gankit datasets`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main

# Tiny nets and a few steps: each run takes well under a second once its data is loaded.
TINY = [
    "--set", "data.image_size=16", "--set", "data.batch_size=2", "--set", "model.g_hidden=4", "--set", "model.d_hidden=4",
    "--set", "model.d_layers=2", "--set", "model.res_blocks=1", "--set", "train.eval_samples=4",
    "--set", "train.log_every=2", "--set", "train.sample_every=2", "--set", "train.checkpoint_every=2",
    "--device", "cpu", "--no-progress",
]  # fmt: skip


def _write_folder(root, n, size=12, offset=0, side_by_side=False):
    rng = np.random.default_rng(offset)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        left = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        image = np.concatenate([left, 255 - left], axis=1) if side_by_side else left
        Image.fromarray(image).save(root / f"{i:03d}.png")


def test_train_pix2pix_on_edges2fashion_then_translate_from_a_copied_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", "edges2fashion", "--steps", "3", "--out", str(run), *TINY]) == 0
    size_line, trained = capsys.readouterr().out.splitlines()
    assert size_line == "pix2pix on edges2fashion: images at 16x16 px (data.image_size)"  # TINY sets the size
    assert trained.startswith(f"trained {run} (3 steps") and "heldout_l1" in trained
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == "pix2pix" and config["data"]["name"] == "edges2fashion"
    assert config["train"]["steps"] == 3 and config["model"]["g_hidden"] == 4

    # The copy alone is enough: no data set is read to translate.
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, moved)
    shutil.rmtree(run)
    Image.new("L", (40, 30), 0).save(tmp_path / "in.png")
    assert main(["translate", str(moved), str(tmp_path / "in.png"), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 1 translated image to {tmp_path / 'out' / 'AtoB' / 'in.png'}"
    with Image.open(tmp_path / "out" / "AtoB" / "in.png") as image:
        assert image.size == (16, 16) and image.mode == "L"

    # pix2pix learns one direction only.
    assert main(["translate", str(moved), str(tmp_path / "in.png"), "--out", str(tmp_path / "x.png"), "--direction", "BtoA"]) == 2
    assert "translates AtoB only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "dcgan", "--data", "edges2fashion"], "'edges2fashion' is image-translation data, but recipe 'dcgan'"),
        (["train", "wgan", "--data", "A=mnist,B=fashion-mnist"], "recipe 'wgan' is not a translation recipe"),
        (["train", "dcgan", "--data", "pairs=facades/"], "'pairs=facades/' is image-translation data"),
        (["train", "pix2pix", "--data", "mnist"], "recipe 'pix2pix' translates images between two domains, but data 'mnist'"),
        (["train", "cyclegan", "--data", "ring8"], "data 'ring8' is a single data set"),
        (["train", "cyclegan", "--data", "edge2fashion"], "did you mean 'edges2fashion'"),
        (["train", "pix2pixx", "--data", "edges2fashion"], "unknown recipe"),
    ],
)
def test_recipe_and_data_mismatches_are_one_line_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cyclegan_on_two_folders_translates_both_ways_and_resumes(tmp_path, capsys):
    _write_folder(tmp_path / "horses", 10, offset=1)
    _write_folder(tmp_path / "zebras", 10, offset=2)
    run = tmp_path / "run"
    data = f"A={tmp_path / 'horses'},B={tmp_path / 'zebras'}"
    assert main(["train", "cyclegan", "--data", data, "--steps", "4", "--out", str(run), *TINY]) == 0
    assert "heldout_cycle_l1_A" in capsys.readouterr().out
    (run / "checkpoints" / "step-00000004.pt").unlink()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"resumed {run} to step 4")
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4]
    assert main(["translate", str(run), str(tmp_path / "zebras"), "--out", str(tmp_path / "out"), "--direction", "BtoA"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 10 translated images under {tmp_path / 'out'}"
    assert sorted(p.name for p in (tmp_path / "out" / "BtoA").iterdir()) == [f"{i:03d}.png" for i in range(10)]
    # The other direction into the same --out lands beside it, not over it.
    before = (tmp_path / "out" / "BtoA" / "000.png").read_bytes()
    assert main(["translate", str(run), str(tmp_path / "zebras" / "000.png"), "--out", str(tmp_path / "out"), "--direction", "AtoB"]) == 0
    assert (tmp_path / "out" / "AtoB" / "000.png").is_file()
    assert (tmp_path / "out" / "BtoA" / "000.png").read_bytes() == before


def test_default_run_folder_names_the_translation_data(tmp_path, capsys, monkeypatch):
    _write_folder(tmp_path / "facades", 10, side_by_side=True)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "pix2pix", "--data", "pairs=facades/", "--steps", "2", "--seed", "3", *TINY]) == 0
    assert (tmp_path / "runs" / "00000-pix2pix-pairs-facades-s3" / "generator.safetensors").is_file()


def test_datasets_lists_the_translation_tasks(capsys):
    assert main(["datasets"]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["edges2fashion"] == rows["gray2color"] == rows["pairs=DIR"] == "paired"
    assert rows["mnist2fashion"] == rows["A=X,B=Y"] == "unpaired"
    assert rows["mnist"] == "image" and rows["ring8"] == "vector"
