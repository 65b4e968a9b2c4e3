"""Nothing executes from data files: crafted checkpoints, pickles and YAML are refused before any code runs.

Each payload is checked to be live first (the unsafe loader *does* run it and create the marker
file), so a refusal means the safe loader stopped it, not that the payload was inert.
"""

import json
import pickle
import re

import pytest
import torch
import yaml

from gankit.cli import main
from gankit.config_file import load_config_file
from gankit.data.safe_pickle import safe_load
from gankit.errors import GankitError
from gankit.recipes import resolve_config
from gankit.training.checkpoint import load_checkpoint
from gankit.training.loop import train

TINY = {
    "train.steps": 10,
    "train.log_every": 5,
    "train.sample_every": 10,
    "train.checkpoint_every": 10,
    "train.eval_samples": 100,
    "data.batch_size": 16,
    "model.g_hidden": 8,
    "model.d_hidden": 8,
    "model.g_layers": 1,
    "model.d_layers": 1,
    "train.device": "cpu",
}


class CreatesMarker:
    """Unpickling this calls ``exec`` (a builtin, so no import of this module is needed) to create a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def _malicious_state(marker):
    """A checkpoint-shaped dict with the payload where G's weights belong."""
    return {"step": 10, "G": CreatesMarker(marker), "D": {"weight": torch.zeros(2)}}


def _assert_payload_is_live(tmp_path, load):
    """The unsafe way of loading the same kind of file runs the payload."""
    control = tmp_path / "control-marker"
    load(control)
    assert control.exists(), "the crafted payload is inert; the refusal tests would prove nothing"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run (checkpoint at step 10) to resume from."""
    path = tmp_path_factory.mktemp("safety") / "run"
    train(resolve_config("nsgan", "ring8", "vector", TINY), path, progress=False)
    return path


def _checkpoint(run):
    (checkpoint,) = (run / "checkpoints").glob("step-*.pt")
    return checkpoint


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"

    def write(target_marker, target_path):
        if writer == "torch.save":
            torch.save(_malicious_state(target_marker), target_path)
        else:
            with open(target_path, "wb") as handle:
                pickle.dump(_malicious_state(target_marker), handle)

    write(marker, path)
    control_path = tmp_path / "control.pt"

    def unsafe_load(control_marker):
        write(control_marker, control_path)
        if writer == "torch.save":
            torch.load(control_path, weights_only=False)
        else:
            with open(control_path, "rb") as handle:
                pickle.load(handle)

    _assert_payload_is_live(tmp_path, unsafe_load)

    with pytest.raises(GankitError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "refused" in message
    if writer == "torch.save":  # torch names the refused global here (a raw protocol-4 pickle gets no name)
        assert re.search(r"\bexec\b", message), message
    assert "\n" not in message and "\x1b" not in message  # one plain line
    assert not marker.exists()


def _resume(run, capsys) -> tuple[int, str]:
    code = main(["train", "--resume", str(run), "--no-progress"])
    return code, capsys.readouterr().err


def test_resume_from_a_malicious_checkpoint_exits_2_without_running_it(run_dir, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    metrics_before = (run / "metrics.jsonl").read_bytes()
    marker = tmp_path / "marker"
    torch.save(_malicious_state(marker), _checkpoint(run))
    code, err = _resume(run, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("gankit: error: ")
    assert str(_checkpoint(run)) in err and "refused" in err
    assert not marker.exists()
    assert (run / "metrics.jsonl").read_bytes() == metrics_before  # nothing half-written


@pytest.mark.parametrize("damage", ["zero-byte", "truncated", "garbage"])
def test_damaged_checkpoint_is_a_clear_error_naming_the_file(run_dir, tmp_path, capsys, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    checkpoint = _checkpoint(run)
    content = checkpoint.read_bytes()
    checkpoint.write_bytes({"zero-byte": b"", "truncated": content[: len(content) // 2],
                            "garbage": b"this is not a checkpoint\n" * 10}[damage])
    with pytest.raises(GankitError) as caught:
        load_checkpoint(checkpoint)
    message = str(caught.value)
    assert str(checkpoint) in message and "\n" not in message
    assert any(word in message for word in ("empty", "corrupt", "truncated")), message
    code, err = _resume(run, capsys)
    assert code == 2 and err.count("\n") == 1 and str(checkpoint) in err


YAML_PAYLOAD = "train:\n  steps: !!python/object/apply:builtins.exec [\"open({marker!r}, 'w').close()\"]\n"


@pytest.mark.parametrize("tag", ["!!python/object/apply:builtins.exec", "!!python/object:builtins.object",
                                 "!!python/name:os.system", "!!python/module:os"])
def test_yaml_config_with_python_tags_is_refused(tmp_path, tag):
    marker = tmp_path / "marker"
    config = tmp_path / "evil.yaml"
    if tag.endswith("exec"):
        config.write_text(YAML_PAYLOAD.format(marker=str(marker)))
        _assert_payload_is_live(tmp_path, lambda m: yaml.unsafe_load(YAML_PAYLOAD.format(marker=str(m))))
    else:
        config.write_text(f"train:\n  steps: {tag} {{}}\n" if "object:" in tag else f"train:\n  steps: {tag} ''\n")
    with pytest.raises(GankitError, match=r"is not valid YAML/JSON") as caught:
        load_config_file(config)
    assert str(config) in str(caught.value) and "\n" not in str(caught.value)
    assert not marker.exists()


def test_cli_refuses_a_yaml_config_with_python_tags(tmp_path, capsys):
    marker = tmp_path / "marker"
    config = tmp_path / "evil.yaml"
    config.write_text(YAML_PAYLOAD.format(marker=str(marker)))
    out = tmp_path / "out"
    code = main(["train", "nsgan", "--config", str(config), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(config) in err
    assert not marker.exists() and not out.exists()  # refused before anything was written


def test_data_pickle_with_a_payload_is_refused(tmp_path):
    """The MNIST pickle path: the restricted unpickler resolves numpy arrays only."""
    import io

    marker = tmp_path / "marker"
    data = pickle.dumps({"images": CreatesMarker(marker)})
    _assert_payload_is_live(tmp_path, lambda m: pickle.loads(pickle.dumps(CreatesMarker(m))))
    with pytest.raises(GankitError, match="builtins.exec"):
        safe_load(io.BytesIO(data))
    assert not marker.exists()


def test_run_metadata_is_plain_json(run_dir):
    """What a run directory holds besides checkpoints: JSON and safetensors, neither able to carry code."""
    for name in ("config.json", "run.json", "generator.json"):
        json.loads((run_dir / name).read_text())
    header_length = int.from_bytes((run_dir / "generator.safetensors").read_bytes()[:8], "little")
    header = json.loads((run_dir / "generator.safetensors").read_bytes()[8 : 8 + header_length])
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")
