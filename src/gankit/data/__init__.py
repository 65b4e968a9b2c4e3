"""Data set registry: every data set gankit knows by name, built on a device.

``build_dataset("ring8", device)`` returns a :class:`~gankit.data.base.Dataset`. Modules register
their data sets with :func:`register`; the registry imports them on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit.data.base import Dataset, TensorData
from gankit.registry import Registry

__all__ = ["Dataset", "TensorData", "register", "build_dataset", "dataset_info", "dataset_names"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    kind: str  # "vector" or "image"
    build: Callable[..., Dataset]


# The listed modules register the built-in data sets when imported, which happens on first lookup.
_DATASETS: Registry[DatasetInfo] = Registry(
    "dataset", modules=["gankit.data.toy", "gankit.data.mnist", "gankit.data.fashion", "gankit.data.stacked",
             "gankit.data.emoji", "gankit.data.cifar", "gankit.data.celeba"]
)


def register(name: str, description: str, kind: str = "vector"):
    """Decorator: ``@register("ring8", "8 Gaussians on a circle")`` over ``build(device, **options)``."""
    return _DATASETS.register(name, lambda build: DatasetInfo(name, description, kind, build))


def dataset_names() -> list[str]:
    return _DATASETS.names()


def dataset_info(name: str) -> DatasetInfo:
    return _DATASETS.get(name)


def build_dataset(name: str, device: torch.device | str = "cpu", **options) -> Dataset:
    """Build the data set called ``name`` with its tensors on ``device``."""
    return dataset_info(name).build(torch.device(device), **options)


def dataset_kind(name: str) -> str:
    """"vector" or "image" for a registry name or a folder of images (GankitError for anything else)."""
    if is_image_folder(name):
        return "image"
    return dataset_info(name).kind


def is_image_folder(name: str) -> bool:
    """Whether ``name`` means a folder of images (a path that is one and no registered data set's name)."""
    from gankit.data.folders import is_image_folder_path

    return name not in _DATASETS and is_image_folder_path(name)


def build_from_config(data_config, device: torch.device | str) -> Dataset:
    """The data set a run's ``data`` config section describes."""
    if is_image_folder(data_config.name):
        from gankit.data.folders import build_image_folder

        return build_image_folder(
            data_config.name, torch.device(device), image_size=data_config.image_size or 64,
            channels=data_config.channels or 3,
        )
    info = dataset_info(data_config.name)
    options = {}
    if info.kind == "image":
        options = {
            "split": data_config.split,
            "image_size": data_config.image_size or None,
            "channels": data_config.channels or None,
        }
    if data_config.root:
        options["root"] = data_config.root
    return info.build(torch.device(device), **options)
