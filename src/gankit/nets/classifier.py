"""Small CNN classifiers for MNIST and Fashion-MNIST, trained by gankit itself and shipped as weights.

They score generators (see :mod:`gankit.metrics.classifier_scores`): is a CGAN sample for label y
classified as y, do an InfoGAN's categories match the digit classes, how confident is the
classifier on unconditional samples. ``features(x)`` (the penultimate layer) serves as a
domain-specific feature space for Fréchet-style distances on 28x28 data.

    x (1x28x28, in [-1, 1]) -> [conv5x5·w, BN, ReLU, maxpool2] -> [conv5x5·2w, BN, ReLU, maxpool2]
      -> flatten (2w·7·7) -> Linear(128), ReLU = features -> dropout -> Linear(10) = logits

Training (:func:`train_classifier`) is reproducible: a fixed seed drives initialisation, batch
order and the augmentation (random shifts of up to 2 px, so off-centre generated digits are still
recognised); Adam with a one-cycle learning rate; a few minutes on 2 CPU cores. The weights go to
``gankit/weights/NAME-classifier.safetensors`` with a JSON card (test accuracy, seed, settings,
SHA-256 of the weights file), which :func:`load_classifier` checks before loading.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError, unknown

__all__ = [
    "INPUT_SIZE",
    "classifier_input",
    "ImageClassifier",
    "ClassifierSpec",
    "CLASSIFIERS",
    "weights_dir",
    "train_classifier",
    "evaluate_accuracy",
    "save_classifier",
    "load_classifier",
    "cli_train_classifier",
]


@dataclass(frozen=True)
class ClassifierSpec:
    """How the classifier for one data set is built and trained."""

    dataset: str
    width: int = 32  # channels of the first conv (the second has 2x)
    hidden: int = 128  # the feature layer
    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    dropout: float = 0.3
    max_shift: int = 2  # augmentation: random translation in pixels
    seed: int = 0


CLASSIFIERS: dict[str, ClassifierSpec] = {
    "mnist": ClassifierSpec("mnist", epochs=4),
    "fashion-mnist": ClassifierSpec("fashion-mnist", epochs=6, max_shift=1, dropout=0.4),
}


INPUT_SIZE = 28  # the classifiers read 1x28x28


def classifier_input(images: Tensor) -> Tensor:
    """Any image batch ``(N, C, H, W)`` in [-1, 1] with C = 1 or 3 -> the classifiers' ``(N, 1, 28, 28)``.

    RGB is averaged to grey, other sizes get an antialiased bilinear resize (it averages over the source
    footprint when shrinking), and values are clamped to [-1, 1] (a generator's overshoot must not read
    as ink the classifier never saw).
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        got = f"shape {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise GankitError(f"the classifiers need image batches (N, C, H, W), got {got}")
    if images.shape[1] not in (1, 3):
        raise GankitError(f"the classifiers take 1- or 3-channel images, got {images.shape[1]} channels")
    x = images.float().mean(dim=1, keepdim=True) if images.shape[1] == 3 else images.float()
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


def weights_dir() -> Path:
    """The package folder of shipped weights (``gankit/weights``)."""
    return Path(__file__).resolve().parent.parent / "weights"


def _spec(name: str) -> ClassifierSpec:
    if name not in CLASSIFIERS:
        raise unknown("classifier", name, CLASSIFIERS)
    return CLASSIFIERS[name]


class ImageClassifier(nn.Module):
    """The CNN above; ``forward`` gives logits, ``features`` the 128-d penultimate activations."""

    def __init__(self, channels: int = 1, width: int = 32, hidden: int = 128, num_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 5, padding=2, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, padding=2, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``(N, hidden)`` of 1x28x28 images in [-1, 1]."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.dropout(self.features(x)))


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image by integer offsets in ``[-max_shift, max_shift]`` px, filling with background (-1)."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=generator.device).to(x.device)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # affine_grid works in [-1, 1] coordinates: one pixel is 2/W; sampling at +d shows content moved by -d.
    theta[:, 0, 2] = -2.0 * shifts[:, 0].to(x.dtype) / w
    theta[:, 1, 2] = -2.0 * shifts[:, 1].to(x.dtype) / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Shift x+1 so that zero padding is the -1 background; nearest keeps integer shifts exact.
    return F.grid_sample(x + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` whose arg-max logit is ``y``."""
    was_training = model.training
    model.eval()
    try:
        correct = sum(int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()) for i in range(0, len(x), batch_size))
    finally:
        model.train(was_training)
    return correct / len(x)


@dataclass
class TrainedClassifier:
    name: str
    model: ImageClassifier
    test_accuracy: float
    seconds: float
    spec: ClassifierSpec
    train_examples: int
    test_examples: int


def train_classifier(
    name: str,
    device: str | torch.device = "cpu",
    epochs: int | None = None,
    seed: int | None = None,
    log=print,
    max_examples: int | None = None,
    test_examples: int | None = None,
) -> TrainedClassifier:
    """Train the classifier ``name`` ("mnist" or "fashion-mnist") on its training split; report test accuracy.

    Deterministic for a given seed, device and thread count: the one ``torch.Generator`` drives the
    batch order and augmentation, and ``torch.manual_seed`` the initialisation and dropout.
    ``max_examples`` / ``test_examples`` use only the first examples of each split (quick checks).
    """
    from gankit.data import build_dataset

    spec = _spec(name)
    if epochs is not None or seed is not None:
        spec = ClassifierSpec(**{**asdict(spec), **({"epochs": epochs} if epochs is not None else {}), **({"seed": seed} if seed is not None else {})})
    device = torch.device(device)
    train_set = build_dataset(spec.dataset, device, split="train")
    test_set = build_dataset(spec.dataset, device, split="test")
    train_x, train_y = train_set.x[:max_examples], train_set.y[:max_examples]
    test_x, test_y = test_set.x[:test_examples], test_set.y[:test_examples]
    torch.manual_seed(spec.seed)
    rng = torch.Generator(device=device).manual_seed(spec.seed)
    model = ImageClassifier(train_set.shape[0], spec.width, spec.hidden, train_set.num_classes, spec.dropout).to(device)
    steps_per_epoch = len(train_x) // spec.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=spec.lr, total_steps=spec.epochs * steps_per_epoch)
    started = time.perf_counter()
    model.train()
    for epoch in range(spec.epochs):
        order = torch.randperm(len(train_x), generator=rng, device=device)
        total = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            index = order[i * spec.batch_size : (i + 1) * spec.batch_size]
            x = random_shift(train_x[index], spec.max_shift, rng)
            loss = F.cross_entropy(model(x), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach()
        log(f"{name} classifier: epoch {epoch + 1}/{spec.epochs}, train loss {total.item() / steps_per_epoch:.4f}, "
            f"{time.perf_counter() - started:.0f}s")  # fmt: skip
    accuracy = evaluate_accuracy(model, test_x, test_y)
    model.eval()
    return TrainedClassifier(name, model, accuracy, time.perf_counter() - started, spec, len(train_x), len(test_x))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_classifier(trained: TrainedClassifier, out_dir: str | Path) -> Path:
    """Write ``NAME-classifier.safetensors`` and its JSON card into ``out_dir``; return the weights path."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{trained.name}-classifier.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in trained.model.state_dict().items()}, str(path))
    card = {
        "name": trained.name,
        "test_accuracy": trained.test_accuracy,
        "train_examples": trained.train_examples,
        "test_examples": trained.test_examples,
        "train_seconds": round(trained.seconds, 1),
        "sha256": _sha256(path),
        "torch_version": torch.__version__,
        "spec": asdict(trained.spec),
        "command": f"gankit classifier train {trained.name}",
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return path


def load_classifier(name: str, device: str | torch.device = "cpu", weights: str | Path | None = None) -> ImageClassifier:
    """The trained classifier ``name`` in eval mode without gradients, its weights checked against the card."""
    from safetensors.torch import load_file

    spec = _spec(name)
    path = Path(weights) if weights is not None else weights_dir() / f"{name}-classifier.safetensors"
    card_path = path.with_suffix(".json")
    retrain = f"retrain with `gankit classifier train {name}`"
    if not path.is_file() or not card_path.is_file():
        raise GankitError(f"no {name} classifier weights at {str(path)!r} (and its .json); {retrain}")
    card = json.loads(card_path.read_text())
    if _sha256(path) != card.get("sha256"):
        raise GankitError(f"classifier weights {str(path)!r} do not match the SHA-256 in their card; {retrain}")
    state = load_file(str(path))
    channels = state["body.0.weight"].shape[1]
    num_classes = state["out.weight"].shape[0]
    model = ImageClassifier(channels, spec.width, spec.hidden, num_classes, spec.dropout)
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False)


def cli_train_classifier(name: str, out: str | Path, device: str = "cpu", epochs: int | None = None,
                         seed: int | None = None, max_examples: int | None = None, test_examples: int | None = None) -> dict:
    """``gankit classifier train NAME --out DIR``: train, print the test accuracy, write weights + card into ``out``
    (:func:`weights_dir` replaces the shipped ones, which :func:`load_classifier` reads).
    ``max_examples`` / ``test_examples`` train and test on the first examples of each split only.
    """
    spec = _spec(name)
    if epochs is not None and epochs < 1:
        raise GankitError(f"--epochs must be at least 1, got {epochs}")
    if seed is not None and seed < 0:
        raise GankitError(f"--seed must be >= 0, got {seed}")
    if max_examples is not None and max_examples < spec.batch_size:
        raise GankitError(f"--max-examples must be at least the batch size {spec.batch_size}, got {max_examples}")
    if test_examples is not None and test_examples < 1:
        raise GankitError(f"--test-examples must be positive, got {test_examples}")
    trained = train_classifier(name, device=device, epochs=epochs, seed=seed, max_examples=max_examples,
                               test_examples=test_examples)
    path = save_classifier(trained, out)
    print(f"{name} classifier: test accuracy {100 * trained.test_accuracy:.2f}% on {trained.test_examples} test images "
          f"in {trained.seconds:.0f}s; wrote {path}")
    return json.loads(path.with_suffix(".json").read_text())
