"""The run configuration: one typed, validated tree, saved to every run directory.

A config is built in layers, each overriding the last:

    field defaults  <  defaults for the data kind (vector / image)  <  the recipe  <  the user's --set key=value

Keys are dotted paths (``optim.lr_d``, ``loss.gp_weight``). Every value is type-checked and
range-checked *before* anything is written, and a mistake gets a one-line :class:`GankitError`
naming the key, the value and, for a misspelt key, the closest valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError, did_you_mean


@dataclass
class DataConfig:
    name: str = "ring8"  # registry name or a folder of images
    batch_size: int = 256
    split: str = "train"
    image_size: int = 0  # 0 = the data set's native size
    channels: int = 0  # 0 = native; 1 = grayscale, 3 = RGB
    direction: str = "AtoB"  # translation (pix2pix/CycleGAN): AtoB | BtoA, which domain is the input


@dataclass
class ModelConfig:
    arch: str = "auto"  # auto = mlp for vectors, dcgan for images
    z_dim: int = 64
    g_hidden: int = 256  # MLP width / conv base channels
    g_layers: int = 3
    d_hidden: int = 256
    d_layers: int = 3
    g_batchnorm: bool = False
    d_batchnorm: bool = False
    spectral_norm: bool = False  # on every D layer (Miyato et al. 2018)
    pack: int = 1  # PacGAN packing: D scores packs of m samples (data.batch_size counts samples); 1 = off
    sync_batchnorm: bool = False  # multi-process (torchrun) on CUDA: batch-norm statistics over all ranks
    # Image nets (gankit.nets.dcgan / infogan / sagan):
    conditional: bool = False  # CGAN: G and D also get the data's labels (needs a labelled data set)
    projection: bool = False  # conditional D by projection <embed(y), φ(x)> (Miyato & Koyama 2018), not concatenation
    info_categorical: int = 10  # InfoGAN: categories of the categorical code (0 = none)
    info_continuous: int = 2  # InfoGAN: number of continuous codes ~ U(-1, 1)
    info_weight: float = 1.0  # InfoGAN: λ of the categorical mutual-information term
    info_continuous_weight: float = 0.1  # InfoGAN: λ of the continuous terms (smaller, as in Chen et al. 2016)
    info_body: str = "dcgan"  # InfoGAN nets: dcgan (all-convolutional) | fc (the paper's MNIST nets, with fully connected layers)
    info_q_trains_body: bool = True  # InfoGAN: L_I's gradient also trains D's shared body in D's update (the paper)
    # Translation nets (gankit.nets.unet / resnet_gen / patchgan):
    norm: str = "batch"  # batch (pix2pix) | instance (CycleGAN) | none
    res_blocks: int = 0  # ResNet generator blocks; 0 = auto (9 at >= 256 px, else 6; Zhu et al. 2017)


@dataclass
class LossConfig:
    name: str = "nsgan"
    lsgan_a: float = 0.0  # LSGAN target for fake in D's loss
    lsgan_b: float = 1.0  # ... for real in D's loss
    lsgan_c: float = 1.0  # ... G's target for fake
    gp_weight: float = 0.0  # λ of the gradient penalty; 0 = off
    gp_one_sided: bool = False
    clip: float = 0.0  # WGAN weight clipping c; 0 = off
    instance_noise: float = 0.0  # initial σ of Gaussian noise on D's inputs; 0 = off
    instance_noise_steps: int = 0  # σ annealed linearly to 0 over this many steps (0 = all of training)
    l1_weight: float = 100.0  # pix2pix: λ of the L1 term (Isola et al. 2017)
    cycle_weight: float = 10.0  # CycleGAN: λ of the cycle-consistency terms (Zhu et al. 2017)
    identity_weight: float = 0.5  # CycleGAN: identity loss weight as a fraction of cycle_weight; 0 = off


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | rmsprop | sgd
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    momentum: float = 0.9  # sgd only
    lr_decay: str = "none"  # none | linear (to 0 at the last step)
    decay_start: float = 0.0  # linear decay starts after this fraction of train.steps (CycleGAN/pix2pix: 0.5)


COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")  # train.compile: off, or a torch.compile mode
CHANNELS_LAST_MODES = ("auto", "on", "off")  # train.channels_last: auto = NHWC for conv nets on images on CPU


@dataclass
class TrainConfig:
    steps: int = 5000  # generator updates
    n_critic: int = 1  # discriminator updates per generator update (k in Goodfellow et al.)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    ema: float = 0.0  # decay of the generator's weight average; 0 = off
    log_every: int = 100
    sample_every: int = 1000
    checkpoint_every: int = 1000
    eval_samples: int = 2000
    keep_checkpoints: int = 3  # newest step checkpoints kept (plus best.pt when a quality metric is logged)
    on_divergence: str = "stop"  # stop | rollback (to the last checkpoint, learning rates scaled down)
    rollback_lr_factor: float = 0.5
    max_rollbacks: int = 3
    pool_size: int = 50  # translation: history of generated images D is shown (CycleGAN 50, pix2pix 0 = off)
    tensorboard: bool = False  # also write scalars and sample grids to DIR/tensorboard (needs the tensorboard package)
    precision: str = "fp32"  # fp32 | bf16 (autocast of G's and D's forward passes; weights and losses stay fp32)
    channels_last: str = "auto"  # auto | on | off: image nets and batches in NHWC (auto: conv nets on CPU)
    compile: str = "off"  # off | default | reduce-overhead | max-autotune: torch.compile of the step's forward passes


@dataclass
class Config:
    recipe: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


SECTIONS = ("data", "model", "loss", "optim", "train")

DEVICES = "auto, cpu, mps, cuda or cuda:N"


def is_device_name(name: str) -> bool:
    """Whether ``name`` is a device gankit can be asked for (:data:`DEVICES`)."""
    return isinstance(name, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,4})?", name) is not None


def check_device(name: str | None) -> None:
    """GankitError unless ``name`` is None or a device name (:func:`is_device_name`)."""
    if name is not None and not is_device_name(name):
        raise GankitError(f"unknown device {name!r} (valid: {DEVICES})")


MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes < 2**64; gankit adds offsets below 2**32 to a seed


def check_seed(seed: int, what: str = "seed") -> None:
    """GankitError unless ``0 <= seed <= MAX_SEED``."""
    if not 0 <= seed <= MAX_SEED:
        raise GankitError(f"{what} must be in [0, {MAX_SEED}], got {seed}")


MAX_EVAL_SAMPLES = 10**7  # an evaluation's sample count (FID's usual 50,000 is far below)


def check_sample_count(n: int | None) -> None:
    """GankitError unless ``n`` is None or at most :data:`MAX_EVAL_SAMPLES`."""
    if n is not None and n > MAX_EVAL_SAMPLES:
        raise GankitError(f"{n} samples are more than an evaluation takes (at most {MAX_EVAL_SAMPLES})")


# Value constraints beyond the type: key -> (predicate, what it must be).
_POSITIVE = (lambda v: v > 0, "> 0")
_NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
# Sizes of networks and batches: far above any run gankit can train, low enough that a typo is an error, not
# a request for terabytes (torch would fail allocating, with a traceback).
_WIDTH = (lambda v: 0 < v <= 2**16, "in [1, 65536]")
_DEPTH = (lambda v: 0 < v <= 1000, "in [1, 1000]")
MAX_INT = 2**63 - 1  # every integer key fits a 64-bit integer (torch's)
_CONSTRAINTS: dict[str, tuple[Any, str]] = {
    "data.batch_size": (lambda v: 0 < v <= 2**20, "in [1, 1048576]"),
    "data.image_size": (lambda v: 0 <= v <= 8192, "in [0, 8192]"),
    "data.channels": (lambda v: v in (0, 1, 3), "0, 1 or 3"),
    "data.split": (lambda v: v in ("train", "test"), "'train' or 'test'"),
    "data.direction": (lambda v: v in ("AtoB", "BtoA"), "'AtoB' or 'BtoA'"),
    "model.norm": (lambda v: v in ("batch", "instance", "none"), "one of batch, instance, none"),
    "model.res_blocks": (lambda v: 0 <= v <= 1000, "in [0, 1000]"),
    "model.pack": (lambda v: 1 <= v <= 64, "in [1, 64]"),
    "loss.l1_weight": _NON_NEGATIVE,
    "loss.cycle_weight": _NON_NEGATIVE,
    "loss.identity_weight": _NON_NEGATIVE,
    "optim.decay_start": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.pool_size": _NON_NEGATIVE,
    "model.z_dim": _WIDTH,
    "model.g_hidden": _WIDTH,
    "model.g_layers": _DEPTH,
    "model.d_hidden": _WIDTH,
    "model.d_layers": _DEPTH,
    "model.info_categorical": (lambda v: v == 0 or 2 <= v <= 2**16, "0 (none) or in [2, 65536]"),
    "model.info_continuous": (lambda v: 0 <= v <= 2**16, "in [0, 65536]"),
    "model.info_weight": _NON_NEGATIVE,
    "model.info_continuous_weight": _NON_NEGATIVE,
    "model.info_body": (lambda v: v in ("dcgan", "fc"), "'dcgan' or 'fc'"),
    "loss.gp_weight": _NON_NEGATIVE,
    "loss.clip": _NON_NEGATIVE,
    "loss.instance_noise": _NON_NEGATIVE,
    "loss.instance_noise_steps": _NON_NEGATIVE,
    "optim.name": (lambda v: v in ("adam", "rmsprop", "sgd"), "one of adam, rmsprop, sgd"),
    "optim.lr_g": _POSITIVE,
    "optim.lr_d": _POSITIVE,
    "optim.beta1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.lr_decay": (lambda v: v in ("none", "linear"), "'none' or 'linear'"),
    "train.steps": _POSITIVE,
    "train.n_critic": _POSITIVE,
    "train.seed": (lambda v: 0 <= v <= MAX_SEED, f"in [0, {MAX_SEED}]"),
    "train.device": (lambda v: is_device_name(v), DEVICES),
    "train.ema": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.log_every": _POSITIVE,
    "train.sample_every": _POSITIVE,
    "train.checkpoint_every": _POSITIVE,
    "train.eval_samples": (lambda v: 0 < v <= MAX_EVAL_SAMPLES, f"in [1, {MAX_EVAL_SAMPLES}]"),
    "train.keep_checkpoints": _POSITIVE,
    "train.on_divergence": (lambda v: v in ("stop", "rollback"), "'stop' or 'rollback'"),
    "train.rollback_lr_factor": (lambda v: 0 < v < 1, "in (0, 1)"),
    "train.max_rollbacks": _NON_NEGATIVE,
    "train.precision": (lambda v: v in ("fp32", "bf16"), "'fp32' or 'bf16'"),
    "train.compile": (lambda v: v in COMPILE_MODES, " | ".join(f"'{m}'" for m in COMPILE_MODES)),
    "train.channels_last": (lambda v: v in CHANNELS_LAST_MODES, " | ".join(f"'{m}'" for m in CHANNELS_LAST_MODES)),
}

# Other spellings of a value, taken before type conversion: YAML reads a bare `off` as false.
_ALIASES: dict[str, dict[Any, Any]] = {
    "train.compile": {False: "off", True: "default", "false": "off", "true": "default"},
    "train.channels_last": {False: "off", True: "on", "false": "off", "true": "on"},  # was a bool before "auto"
}


def valid_keys() -> list[str]:
    """Every dotted key a user may set."""
    defaults = Config()
    keys = ["recipe"]
    for section in SECTIONS:
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(getattr(defaults, section))]
    return keys


def _field_type(section_obj: Any, name: str) -> type:
    return type(getattr(section_obj, name))


def _coerce(key: str, value: Any, target: type) -> Any:
    """Convert ``value`` (a string from the command line, or a YAML/JSON scalar) to ``target``."""
    if isinstance(value, str):
        text = value.strip()
        if target is bool:
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise GankitError(f"config key {key!r}: expected true/false, got {value!r}")
        if target is int:
            try:
                return int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    raise GankitError(f"config key {key!r}: expected an integer, got {value!r}") from None
                if as_float.is_integer():  # "1e4" is a fine way to write 10000
                    return int(as_float)
                raise GankitError(f"config key {key!r}: expected an integer, got {value!r}") from None
        if target is float:
            try:
                return float(text)
            except ValueError:
                raise GankitError(f"config key {key!r}: expected a number, got {value!r}") from None
        return text
    # Typed values (from YAML/JSON or Python).
    if target is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if target is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if target is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, target) and not (target is not bool and isinstance(value, bool)):
        return value
    raise GankitError(f"config key {key!r}: expected {target.__name__}, got {value!r} ({type(value).__name__})")


def set_value(config: Config, key: str, value: Any) -> None:
    """Set one dotted key, converting and checking the value. Raises GankitError on any mistake."""
    if key == "recipe":
        config.recipe = str(value)
        return
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise GankitError(f"unknown config key {key!r}{did_you_mean(key, valid_keys())}")
    section_obj = getattr(config, section)
    if not hasattr(section_obj, name) or name.startswith("_"):
        raise GankitError(f"unknown config key {key!r}{did_you_mean(key, valid_keys())}")
    if isinstance(value, (str, bool)):
        value = _ALIASES.get(key, {}).get(value.strip().lower() if isinstance(value, str) else value, value)
    converted = _coerce(key, value, _field_type(section_obj, name))
    if isinstance(converted, float) and not math.isfinite(converted):
        raise GankitError(f"config key {key!r}: value {converted!r} must be a finite number")
    if isinstance(converted, int) and not isinstance(converted, bool) and abs(converted) > MAX_INT:
        raise GankitError(f"config key {key!r}: value {converted} does not fit a 64-bit integer")
    rule = _CONSTRAINTS.get(key)
    if rule is not None:
        check, must_be = rule
        if not check(converted):
            raise GankitError(f"config key {key!r}: value {converted!r} must be {must_be}")
    setattr(section_obj, name, converted)


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    for key, value in overrides.items():
        set_value(config, key, value)
    return config


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``["optim.lr_d=1e-4", "train.ema=0.999"]`` -> ``{"optim.lr_d": "1e-4", ...}``."""
    result: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GankitError(f"--set expects key=value, got {item!r}")
        result[key.strip()] = value
    return result


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr_d": 1e-4}}`` -> ``{"optim.lr_d": 1e-4}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


MAX_CONFIG_FILE_BYTES = 2**20


class _StrictLoader(yaml.SafeLoader):
    """Safe loading (no Python objects), and stricter: a mapping may not repeat a key (not "the last one
    wins"), and anchors / aliases are refused (a config needs none; they allow self-reference and
    exponentially large documents)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise yaml.YAMLError(f"anchors and aliases (&name, *name) are not allowed (line {self.peek_event().start_mark.line + 1})")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                raise yaml.YAMLError(f"a key must be a plain value, not {type(key).__name__} (line {key_node.start_mark.line + 1})") from None
            if repeated:
                raise yaml.YAMLError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (UTF-8, at most 1 MiB; see :class:`_StrictLoader`) as flat dotted keys."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:  # a FIFO is fine here: `--config <(...)` is the user's own stream
            data = handle.read(MAX_CONFIG_FILE_BYTES + 1)
    except OSError as error:
        raise GankitError(f"cannot read config file {str(path)!r}: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_FILE_BYTES:
        raise GankitError(f"config file {str(path)!r} is larger than {MAX_CONFIG_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GankitError(f"config file {str(path)!r} is not UTF-8 text (byte {error.start})") from None
    try:
        tree = yaml.load(text, Loader=_StrictLoader)  # JSON is YAML too
        flat = flatten(tree) if isinstance(tree, dict) else tree
    except yaml.YAMLError as error:
        raise GankitError(f"config file {str(path)!r} is not valid YAML/JSON: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise GankitError(f"config file {str(path)!r} is nested too deeply") from None
    if flat is None:
        return {}
    if not isinstance(flat, dict):
        raise GankitError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return flat


def config_from_dict(tree: dict[str, Any]) -> Config:
    """Rebuild a Config from its saved ``to_dict()`` form, validating every key."""
    return apply_overrides(Config(), flatten(tree))
