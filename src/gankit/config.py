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
    ortho_weight: float = 0.0  # β of BigGAN's orthogonal regulariser of G's weights, added to G's loss; 0 = off


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

# Value constraints beyond the type: key -> (predicate, what it must be).
_POSITIVE = (lambda v: v > 0, "> 0")
_NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
_CONSTRAINTS: dict[str, tuple[Any, str]] = {
    "data.batch_size": _POSITIVE,
    "data.image_size": _NON_NEGATIVE,
    "data.channels": (lambda v: v in (0, 1, 3), "0, 1 or 3"),
    "data.split": (lambda v: v in ("train", "test"), "'train' or 'test'"),
    "data.direction": (lambda v: v in ("AtoB", "BtoA"), "'AtoB' or 'BtoA'"),
    "model.norm": (lambda v: v in ("batch", "instance", "none"), "one of batch, instance, none"),
    "model.res_blocks": _NON_NEGATIVE,
    "model.pack": (lambda v: 1 <= v <= 64, "in [1, 64]"),
    "loss.l1_weight": _NON_NEGATIVE,
    "loss.cycle_weight": _NON_NEGATIVE,
    "loss.identity_weight": _NON_NEGATIVE,
    "loss.ortho_weight": _NON_NEGATIVE,
    "optim.decay_start": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.pool_size": _NON_NEGATIVE,
    "model.z_dim": _POSITIVE,
    "model.g_hidden": _POSITIVE,
    "model.g_layers": _POSITIVE,
    "model.d_hidden": _POSITIVE,
    "model.d_layers": _POSITIVE,
    "model.info_categorical": (lambda v: v == 0 or v >= 2, "0 (none) or >= 2"),
    "model.info_continuous": _NON_NEGATIVE,
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
    "train.seed": _NON_NEGATIVE,
    "train.device": (
        lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
        "auto, cpu, mps, cuda or cuda:N",
    ),
    "train.ema": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.log_every": _POSITIVE,
    "train.sample_every": _POSITIVE,
    "train.checkpoint_every": _POSITIVE,
    "train.eval_samples": _POSITIVE,
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


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (safe loading: no Python objects) as flat dotted keys."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise GankitError(f"cannot read config file {str(path)!r}: {error.strerror}") from None
    try:
        tree = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as error:
        raise GankitError(f"config file {str(path)!r} is not valid YAML/JSON: {str(error).splitlines()[0]}") from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise GankitError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return flatten(tree)


def config_from_dict(tree: dict[str, Any]) -> Config:
    """Rebuild a Config from its saved ``to_dict()`` form, validating every key."""
    return apply_overrides(Config(), flatten(tree))
