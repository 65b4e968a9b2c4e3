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

from gankit.errors import GankitError, did_you_mean


def setting(default: Any, meaning: str) -> Any:
    """A config field with its one-line meaning, which ``gankit config`` prints next to the key."""
    return field(default=default, metadata={"meaning": meaning})


@dataclass
class DataConfig:
    name: str = setting("ring8", "data set name (`gankit datasets`), a folder of images, or pix2pix/CycleGAN data (pairs=DIR, A=X,B=Y)")
    batch_size: int = setting(256, "examples per batch (per process under torchrun)")
    split: str = setting("train", "the split trained on")
    image_size: int = setting(0, "side of the square images in pixels; 0 = the data set's native size (translation folders: 64)")
    channels: int = setting(0, "image channels: 0 = native, 1 = grayscale, 3 = RGB")
    root: str = setting("", "where a data set's files are (CIFAR-10's tarball, CelebA's folder or zip, the emoji font); '' = its default")
    direction: str = setting("AtoB", "translation (pix2pix/CycleGAN): which domain is the input, AtoB or BtoA")


@dataclass
class ModelConfig:
    arch: str = setting("auto", "network family: auto = mlp for vectors, dcgan for images; unet/resnet for translation")
    z_dim: int = setting(64, "size of the latent vector z")
    g_hidden: int = setting(256, "G's width: MLP units per layer, or base channels of a conv net")
    g_layers: int = setting(3, "G's hidden layers (MLP)")
    d_hidden: int = setting(256, "D's width: MLP units per layer, or base channels of a conv net")
    d_layers: int = setting(3, "D's hidden layers (MLP), or a PatchGAN's downsampling layers (3 = 70x70 patches)")
    g_batchnorm: bool = setting(False, "batch norm in G")
    d_batchnorm: bool = setting(False, "batch norm in D (not with a gradient penalty)")
    spectral_norm: bool = setting(False, "spectral normalisation of every D layer (Miyato et al. 2018)")
    pack: int = setting(1, "PacGAN packing: D scores packs of m samples (data.batch_size counts samples); 1 = off")
    sync_batchnorm: bool = setting(False, "torchrun on CUDA only: batch-norm statistics over all ranks")
    conditional: bool = setting(False, "CGAN: G and D also get the data's labels (needs a labelled data set)")
    projection: bool = setting(False, "conditional D by projection <embed(y), φ(x)> (Miyato & Koyama 2018), not concatenation")
    info_categorical: int = setting(10, "InfoGAN: categories of the categorical code (0 = none)")
    info_continuous: int = setting(2, "InfoGAN: number of continuous codes ~ U(-1, 1)")
    info_weight: float = setting(1.0, "InfoGAN: λ of the categorical mutual-information term")
    info_continuous_weight: float = setting(0.1, "InfoGAN: λ of the continuous terms (smaller, as in Chen et al. 2016)")
    info_body: str = setting("dcgan", "InfoGAN nets: dcgan (all-convolutional) or fc (the paper's MNIST nets, fully connected layers)")
    info_q_trains_body: bool = setting(True, "InfoGAN: L_I's gradient also trains D's shared body in D's update (the paper)")
    norm: str = setting("batch", "translation nets' normalisation: batch (pix2pix), instance (CycleGAN) or none")
    res_blocks: int = setting(0, "ResNet generator blocks; 0 = auto (9 at >= 256 px, else 6; Zhu et al. 2017)")


@dataclass
class LossConfig:
    name: str = setting("nsgan", "the adversarial loss (minimax, non-saturating, least squares, hinge, Wasserstein, f-GAN)")
    lsgan_a: float = setting(0.0, "LSGAN: D's target for fakes")
    lsgan_b: float = setting(1.0, "LSGAN: D's target for reals")
    lsgan_c: float = setting(1.0, "LSGAN: G's target for its fakes")
    gp_weight: float = setting(0.0, "λ of the gradient penalty (Gulrajani et al. 2017); 0 = off")
    gp_one_sided: bool = setting(False, "penalise only gradient norms above 1")
    clip: float = setting(0.0, "WGAN weight clipping to [-c, c]; 0 = off")
    instance_noise: float = setting(0.0, "initial σ of Gaussian noise on D's inputs; 0 = off")
    instance_noise_steps: int = setting(0, "steps over which σ anneals linearly to 0 (0 = all of training)")
    l1_weight: float = setting(100.0, "pix2pix: λ of the L1 term (Isola et al. 2017)")
    cycle_weight: float = setting(10.0, "CycleGAN: λ of the cycle-consistency terms (Zhu et al. 2017)")
    identity_weight: float = setting(0.5, "CycleGAN: identity loss weight as a fraction of cycle_weight; 0 = off")
    ortho_weight: float = setting(0.0, "β of BigGAN's orthogonal regulariser of G's weights, added to G's loss; 0 = off")


@dataclass
class OptimConfig:
    name: str = setting("adam", "optimiser of G and D")
    lr_g: float = setting(2e-4, "G's learning rate")
    lr_d: float = setting(2e-4, "D's learning rate")
    beta1: float = setting(0.5, "Adam's β1")
    beta2: float = setting(0.999, "Adam's β2 (RMSprop's smoothing constant)")
    momentum: float = setting(0.9, "SGD's momentum")
    lr_decay: str = setting("none", "learning-rate schedule: none, or linear (to 0 at the last step)")
    decay_start: float = setting(0.0, "fraction of the schedule after which the linear decay starts (CycleGAN/pix2pix: 0.5)")
    decay_steps: int = setting(0, "length of the learning-rate schedule, where the decay reaches 0; 0 = train.steps "
                                  "(set it to train one schedule in stages)")


COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")  # train.compile: off, or a torch.compile mode
CHANNELS_LAST_MODES = ("auto", "on", "off")  # train.channels_last: auto = NHWC for conv nets on images on CPU


@dataclass
class TrainConfig:
    steps: int = setting(5000, "training steps, each n_critic discriminator updates then g_steps generator updates")
    n_critic: int = setting(1, "discriminator updates per step, before G's (k in Goodfellow et al. 2014)")
    g_steps: int = setting(1, "generator updates per step, after the discriminator's (DCGAN-tensorflow: 2)")
    seed: int = setting(0, "random seed of weights, data order and noise")
    device: str = setting("auto", "where to train: auto (CUDA when available), cpu, cuda or cuda:N")
    ema: float = setting(0.0, "decay of the average of G's weights used for sampling and evaluation; 0 = off")
    log_every: int = setting(100, "steps between lines of metrics.jsonl")
    sample_every: int = setting(1000, "steps between sample snapshots (samples/)")
    checkpoint_every: int = setting(1000, "steps between checkpoints")
    eval_samples: int = setting(2000, "generated samples scored during training and by default in `gankit eval`")
    keep_checkpoints: int = setting(3, "newest step checkpoints kept (plus best.pt when a quality metric is logged)")
    on_divergence: str = setting("stop", "on a NaN/Inf loss: stop, or rollback to the last checkpoint with lower learning rates")
    rollback_lr_factor: float = setting(0.5, "learning rates are multiplied by this at each rollback")
    max_rollbacks: int = setting(3, "rollbacks allowed before the run stops")
    pool_size: int = setting(50, "translation: history of generated images D is shown (CycleGAN 50; 0 = off)")
    tensorboard: bool = setting(False, "also write scalars and sample grids to DIR/tensorboard (needs the tensorboard package)")
    precision: str = setting("fp32", "fp32, or bf16 autocast of G's and D's forward passes (weights and losses stay fp32)")
    channels_last: str = setting("auto", "image nets and batches in NHWC: auto (conv nets on CPU), on or off")
    compile: str = setting("off", "torch.compile of the step's forward passes: off or a torch.compile mode")


@dataclass
class Config:
    recipe: str = setting("", "the recipe the run started from (`gankit recipes`)")
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
    "loss.ortho_weight": _NON_NEGATIVE,
    "optim.decay_start": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.decay_steps": (lambda v: v >= 0, ">= 0"),
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
    "train.g_steps": _POSITIVE,
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


# Keys whose allowed values are the names a registry holds: key -> (module, function listing the names).
_NAMED_CHOICES = {"loss.name": ("gankit.losses", "loss_names"), "model.arch": ("gankit.nets", "arch_names")}


@dataclass(frozen=True)
class KeyInfo:
    """One row of ``gankit config``: a key, its type, its value in a config, what it may be and what it means."""

    key: str
    type: str
    value: Any
    allowed: str
    meaning: str


def _allowed(key: str, kind: type) -> str:
    if key in _NAMED_CHOICES:
        import importlib

        module, function = _NAMED_CHOICES[key]
        extra = ", auto" if key == "model.arch" else ""
        return ", ".join(getattr(importlib.import_module(module), function)()) + extra
    if key in _CONSTRAINTS:
        return _CONSTRAINTS[key][1]
    return "true or false" if kind is bool else "any"


def describe_keys(config: Config) -> list[KeyInfo]:
    """Every settable key of ``config`` with its type, current value, allowed values and meaning."""
    rows = []
    for section in SECTIONS:
        section_obj = getattr(config, section)
        for f in dataclasses.fields(section_obj):
            key, kind = f"{section}.{f.name}", _field_type(section_obj, f.name)
            rows.append(KeyInfo(key, kind.__name__, getattr(section_obj, f.name), _allowed(key, kind), f.metadata["meaning"]))
    return rows


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
            raise GankitError(f"a config override must be KEY=VALUE, got {item!r}")
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


def config_from_dict(tree: dict[str, Any]) -> Config:
    """Rebuild a Config from its saved ``to_dict()`` form, validating every key."""
    return apply_overrides(Config(), flatten(tree))
