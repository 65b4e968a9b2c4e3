"""Run directories treated as untrusted input (issue 21), with real links, FIFOs, device nodes, processes and
flipped bits: nothing outside the run is read or written through it, a refused command changes nothing, and
every damaged or foreign file is one line naming it with exit code 2."""

import gzip
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.data.folders import build_image_folder
from gankit.data.mnist import decode_mnist_pickle
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.checkpoint import checkpoint_identity, load_checkpoint, save_checkpoint
from gankit.training.loop import train
from gankit.training.run_dir import LOCK_NAME
from gankit.training.safe_files import atomic_write_bytes, open_in_place, read_bytes

TINY = {"train.steps": 20, "train.log_every": 5, "train.sample_every": 10, "train.checkpoint_every": 10,
        "train.eval_samples": 100, "data.batch_size": 16, "model.g_hidden": 8, "model.d_hidden": 8,
        "model.g_layers": 1, "model.d_layers": 1, "train.device": "cpu"}
SECRET = "secret outside the run\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny nsgan run on ring8 (checkpoints at steps 10 and 20, snapshots, generator)."""
    path = tmp_path_factory.mktemp("hostile") / "run"
    train(resolve_config("nsgan", "ring8", "vector", TINY), path, progress=False)
    return path


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A copy of the finished run to damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file outside the run that nothing may touch or show."""
    path = tmp_path / "victim.txt"
    path.write_text(SECRET)
    return path


def state_of(folder: Path) -> dict[str, object]:
    """Every entry below ``folder`` as it is: bytes for files, targets for links, kinds for the rest."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        mode = os.lstat(path).st_mode
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            entries[key] = ("link", os.readlink(path))
        elif stat.S_ISREG(mode):
            entries[key] = path.read_bytes()
        else:
            entries[key] = stat.S_IFMT(mode)
    return entries


def refused(argv: list[str], capsys, *culprits: str) -> str:
    """Run the CLI; assert exit code 2 and one line naming every culprit; return the line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("gankit: error: ") and err.count("\n") == 1, (code, err)
    for culprit in culprits:
        assert culprit in err, (culprit, err)
    return err


def resume(run: Path, steps: int = 30) -> list[str]:
    return ["train", "--resume", str(run), "--steps", str(steps), "--no-progress"]


# --- 1. nothing outside the run directory is written or read through it -----------------------------------


@pytest.mark.parametrize("planted, command", [
    (LOCK_NAME, "resume"),
    (".write-test", "resume"),
    ("samples/step-00000030.png", "resume"),
    ("checkpoints/.step-00000030.pt.tmp-1", "resume"),
    ("eval-history.jsonl", "eval"),
    ("metrics.jsonl", "report"),
    ("eval.json", "report"),
    ("samples/step-00000099.png", "report"),
], ids=lambda v: str(v))
def test_a_link_in_a_run_is_refused_and_its_target_untouched(run, victim, capsys, planted, command):
    (run / planted).unlink(missing_ok=True)
    os.symlink(victim, run / planted)
    before = state_of(run)
    argv = {"resume": resume(run), "eval": ["eval", str(run)], "report": ["report", str(run)]}[command]
    refused(argv, capsys, repr(str(run / planted)), "symbolic link")
    assert victim.read_text() == SECRET and state_of(run) == before


def test_report_neither_hangs_on_a_fifo_nor_reads_dev_zero(run, capsys):
    os.mkfifo(run / "samples" / "step-00000099.png")
    started = time.monotonic()
    refused(["report", str(run)], capsys, repr(str(run / "samples" / "step-00000099.png")), "FIFO")
    (run / "samples" / "step-00000099.png").unlink()
    os.symlink("/dev/zero", run / "samples" / "zero.png")
    refused(["report", str(run)], capsys, "zero.png", "symbolic link")
    assert time.monotonic() - started < 30 and not (run / "report.html").exists()


def test_eval_json_onto_a_fifo_or_device_is_refused_before_any_work(run, tmp_path, capsys):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    refused(["eval", str(run), "--json", str(fifo)], capsys, repr(str(fifo)), "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not (run / "eval.json").exists()
    if os.geteuid() == 0:  # only root can make a device node; root is who the replacement would hurt
        node = tmp_path / "null.json"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        refused(["eval", str(run), "--json", str(node)], capsys, repr(str(node)), "device")
        assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_the_safe_readers_and_writers_on_real_files(tmp_path, victim):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(GankitError, match="is a FIFO"):
        read_bytes(fifo)  # O_NONBLOCK: refused at once, no writer needed
    link = tmp_path / "link"
    os.symlink(victim, link)
    with pytest.raises(GankitError, match="is a symbolic link"):
        read_bytes(link)
    with pytest.raises(GankitError, match="is a symbolic link"):
        atomic_write_bytes(link, lambda handle: handle.write(b"x"))
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(GankitError, match="larger than gankit reads"):
        read_bytes(big, limit=100)
    os.link(victim, tmp_path / "hard")  # a second name for the victim: appending there would change it
    with pytest.raises(GankitError, match="2 names"):
        open_in_place(tmp_path / "hard", "a")
    assert victim.read_text() == SECRET and os.readlink(link) == str(victim)


# --- 3. a refused command changes nothing --------------------------------------------------------------------


def test_a_resume_while_the_run_trains_elsewhere_rewrites_nothing(run, capsys):
    """The issue's case: `--resume X --steps 1300` while X trains rewrote config.json before being refused."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from gankit.training.run_dir import hold_directory\n"
        "with hold_directory(Path(sys.argv[1]), 'run directory'):\n    print('held', flush=True); time.sleep(60)"),
        str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = {k: v for k, v in state_of(run).items() if k != LOCK_NAME}
        refused(resume(run, 1300), capsys, "in use by another gankit process", f"pid {holder.pid}")
        assert {k: v for k, v in state_of(run).items() if k != LOCK_NAME} == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("damage, culprits", [
    ("lower", ["to step 5", "step-00000020.pt", "at step 20 already"]),
    ("past-end", ["step-99999999.pt", "at step 99999999 already"]),
    ("misnamed", ["step-00000015.pt", "claims step 20"]),
])
def test_a_resume_that_cannot_go_ahead_is_refused_untouched(run, capsys, damage, culprits):
    checkpoints = run / "checkpoints"
    if damage == "misnamed":
        (checkpoints / "step-00000020.pt").rename(checkpoints / "step-00000015.pt")
    elif damage == "past-end":  # whole, hashed, of this run, and named for the step it claims
        state = load_checkpoint(checkpoints / "step-00000020.pt")
        config = resolve_config("nsgan", "ring8", "vector", TINY)
        save_checkpoint(checkpoints / "step-99999999.pt", {**state, "step": 99999999}, checkpoint_identity(config))
    before = state_of(run)
    refused(resume(run, 5 if damage == "lower" else 30), capsys, *culprits)
    assert state_of(run) == before


def test_setting_the_recipe_key_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    refused(["train", "nsgan", "--set", "recipe=wgan-gp", "--out", str(out), "--no-progress"], capsys,
            "config key 'recipe'", "'wgan-gp'", "'nsgan'")
    assert not out.exists()


# --- 4. damaged or foreign files: one line naming them ---------------------------------------------------------


def _header_claiming(size: int) -> bytes:
    return size.to_bytes(8, "little") + b"{"


@pytest.mark.parametrize("name, content, culprit", [
    ("generator.safetensors", "truncated", "generator.safetensors"),
    ("generator.safetensors", b"garbage " * 100, "generator.safetensors"),
    ("generator.safetensors", _header_claiming(2**62), "generator.safetensors"),
    ("config.json", b"[]", "must hold a JSON object"),
    ("config.json", b"null", "must hold a JSON object"),
    ("config.json", b"\xff\xfe\x00binary", "not UTF-8"),
    ("config.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("config.json", "no-model", "has no 'model'"),
    ("config.json", "recipe-banana", "unknown recipe 'banana'"),
    ("run.json", b"[1]", "must hold a JSON object"),
    ("run.json", b"{}", "'data_shape'"),
    ("run.json", b'{"data_shape": [2], "num_classes": -1}', "'num_classes'"),
], ids=["st-truncated", "st-garbage", "st-huge-header", "config-list", "config-null", "config-binary", "config-deep",
        "config-missing-key", "config-unknown-recipe", "run-list", "run-no-shape", "run-bad-classes"])
def test_a_damaged_run_file_is_one_line_naming_it(run, tmp_path, capsys, name, content, culprit):
    path = run / name
    if content == "truncated":
        content = path.read_bytes()[:100]
    elif isinstance(content, str):
        config = json.loads(path.read_text())
        del config["model"]
        content = json.dumps(config if content == "no-model" else {**config, "model": {}, "recipe": "banana"}).encode()
    path.write_bytes(content)
    for argv in (["generate", str(run), "--out", str(tmp_path / "x.npz")], ["eval", str(run)]):
        if name == "generator.safetensors" and argv[0] == "eval":
            continue  # toy evaluation samples through the same loader; once is enough
        refused(argv, capsys, repr(str(path)), culprit)
    assert not (tmp_path / "x.npz").exists()


def test_a_flipped_bit_in_a_checkpoint_is_refused_naming_it(run, capsys):
    checkpoint = run / "checkpoints" / "step-00000020.pt"
    state = load_checkpoint(checkpoint)
    weight = next(iter(state["G"].values()))
    weight.view(-1).view(torch.int32)[0] ^= 1  # one bit of one weight, in a file torch still reads
    torch.save(state, checkpoint)
    with pytest.raises(GankitError, match="does not match its SHA-256"):
        load_checkpoint(checkpoint)
    before = state_of(run)
    refused(resume(run), capsys, repr(str(checkpoint)), "SHA-256")
    assert state_of(run) == before


def test_a_checkpoint_of_another_recipe_is_refused_naming_it(run, tmp_path, capsys):
    """The issue's case: an nsgan checkpoint resumed a wgan-gp run with nsgan's optimiser, in silence."""
    other = tmp_path / "wgan"
    train(resolve_config("wgan-gp", "ring8", "vector", {**TINY, "train.steps": 10}), other, progress=False)
    foreign = other / "checkpoints" / "step-00000020.pt"
    shutil.copy(run / "checkpoints" / "step-00000020.pt", foreign)
    refused(resume(other), capsys, repr(str(foreign)), "belongs to another run", "recipe is 'nsgan'", "'wgan-gp'")
    state = {"step": 3, "G": {"w": torch.ones(2)}}
    config = resolve_config("nsgan", "ring8", "vector", {})
    save_checkpoint(tmp_path / "step-00000003.pt", state, checkpoint_identity(config))
    assert load_checkpoint(tmp_path / "step-00000003.pt", identity=checkpoint_identity(config))["step"] == 3


def test_a_truncated_mnist_pickle_names_the_file(tmp_path):
    arrays = ((np.zeros((4, 784), np.float32), np.zeros(4, np.int64)),) * 3
    whole = gzip.compress(pickle.dumps(arrays))
    for name, data in (("cut-gzip.pkl.gz", whole[: len(whole) // 2]),
                       ("cut-pickle.pkl.gz", gzip.compress(pickle.dumps(arrays)[:200]))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(GankitError, match=f"cannot read MNIST pickle '.*{name}'"):
            decode_mnist_pickle(tmp_path / name)


@pytest.mark.parametrize("text, culprit", [
    (b"train: &a\n  steps: *a\n", "anchors and aliases"),
    (b"a: &a [*a]\n", "anchors and aliases"),
    (b"train:\n  steps: 5\n  steps: 6\n", "duplicate key 'steps' (line 3)"),
    (b"train:\n  steps: 5\n\xff\n", "not UTF-8"),
    (b"[" * 5_000, "nested too deeply"),
    (b"optim:\n  lr_d: .inf\n", "'optim.lr_d': value inf must be a finite number"),
], ids=["alias", "self-reference", "duplicate", "not-utf8", "deep", "inf"])
def test_a_bad_yaml_config_is_one_line(tmp_path, capsys, text, culprit):
    config = tmp_path / "config.yaml"
    config.write_bytes(text)
    out = tmp_path / "out"
    refused(["train", "nsgan", "--config", str(config), "--out", str(out), "--no-progress"], capsys, culprit)
    assert not out.exists()


HUGE = "99999999999999999999999"


@pytest.mark.parametrize("argv, culprit", [
    (["train", "nsgan", "--seed", HUGE], "'train.seed'"),
    (["train", "nsgan", "--set", f"train.steps={HUGE}"], "64-bit integer"),
    (["train", "nsgan", "--set", "model.z_dim=100000000000"], "'model.z_dim'"),
    (["train", "nsgan", "--set", "optim.lr_d=nan"], "finite"),
    (["train", "nsgan", "--device", "banana"], "'banana'"),
    (["generate", "{run}", "--seed", HUGE, "--out", "{out}"], "seed must be in"),
    (["generate", "{run}", "--n", "100000000000", "--out", "{out}"], "100000000000 samples"),
    (["generate", "{run}", "--device", "banana", "--out", "{out}"], "unknown device 'banana'"),
    (["generate", "{run}", "--out", "{tmp}/folder.png"], "is a folder"),
    (["eval", "{run}", "--seed", HUGE], "seed must be in"),
    (["eval", "{run}", "--n", "100000000000"], "100000000000 samples"),
    (["eval", "{run}", "--device", "banana"], "unknown device 'banana'"),
    (["eval", "{run}", "--json", "{tmp}/missing/eval.json"], "does not exist"),
], ids=["train-seed", "train-steps", "z-dim", "nan", "train-device", "gen-seed", "gen-n", "gen-device", "gen-out-dir",
        "eval-seed", "eval-n", "eval-device", "eval-json-folder"])
def test_impossible_numbers_devices_and_outputs_are_one_line(run, tmp_path, capsys, argv, culprit):
    out = tmp_path / "out.npz"
    (tmp_path / "folder.png").mkdir()
    fill = {"run": str(run), "out": str(out), "tmp": str(tmp_path)}
    before = state_of(run)
    extra = ["--out", str(tmp_path / "new"), "--no-progress"] if argv[0] == "train" else []
    refused([a.format(**fill) for a in argv] + extra, capsys, culprit)
    assert state_of(run) == before and not out.exists() and not (tmp_path / "new").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_generate_on_cuda_without_cuda_is_one_line(run, tmp_path, capsys):
    refused(["generate", str(run), "--device", "cuda", "--out", str(tmp_path / "x.npz")], capsys, "CUDA is not available")


# --- 5. no data dropped in silence ------------------------------------------------------------------------------


@pytest.fixture
def three_classes(tmp_path) -> Path:
    from PIL import Image

    root = tmp_path / "classes"
    for label in ("a", "b", "c"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (8, 8), 40 * i).save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize("damage", ["broken-link", "link-loop", "fifo"])
def test_an_unreadable_class_or_file_is_named_not_dropped(three_classes, damage):
    shutil.rmtree(three_classes / "c")
    culprit = three_classes / ("c" if damage != "fifo" else "a/fifo.png")
    if damage == "broken-link":
        os.symlink(three_classes / "gone", culprit)
    elif damage == "link-loop":
        os.symlink(culprit, culprit)
    else:
        os.mkfifo(culprit)
    with pytest.raises(GankitError, match=repr(str(culprit))):
        build_image_folder(three_classes, "cpu", image_size=8, channels=1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its permissions")
def test_a_class_folder_without_permission_is_named_not_dropped(three_classes):
    (three_classes / "c").chmod(0)
    try:
        with pytest.raises(GankitError, match="cannot read folder .*'c'.*Permission denied"):
            build_image_folder(three_classes, "cpu", image_size=8, channels=1)
    finally:
        (three_classes / "c").chmod(0o755)


def test_a_streamed_folder_with_a_corrupt_file_is_refused_before_the_run_is_written(three_classes, tmp_path, capsys):
    (three_classes / "b" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    for stream in (True, False):  # streamed: headers checked up front; preloaded: every image decoded up front
        with pytest.raises(GankitError, match=r"1 unreadable image file.*1\.png"):
            build_image_folder(three_classes, "cpu", image_size=8, channels=1, stream=stream)
    refused(["train", "dcgan", "--data", str(three_classes), "--out", str(out), "--no-progress", "--set",
             "data.image_size=8"], capsys, "1.png")
    assert not out.exists()
