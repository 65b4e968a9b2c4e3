"""Finding a data set's archive on disk, or downloading it with a checksum check.

:func:`find_or_download` looks for ``name`` in the user's ``data.root`` (or gankit's cache,
``$GANKIT_CACHE/<data set>``); when it is missing and the data set has an official, stable URL, it
downloads it into the cache, checks its MD5 / SHA-256 against the published value and only then moves it
into place (a ``.part`` file never counts). Any failure is one line naming the file looked for and
the URL.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gankit.data.mnist import cache_dir
from gankit.errors import GankitError

__all__ = ["Archive", "file_digest", "download", "find_or_download", "DOWNLOAD_TIMEOUT_S"]

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One official file of a data set: its name, where to get it, and its published checksum."""

    dataset: str  # registry name: the cache sub-folder and the error messages' subject
    name: str
    url: str = ""  # "" = no stable URL: the user must fetch it
    md5: str = ""
    sha256: str = ""  # or its first hex digits, where only those are published (torch.hub's file names)
    how: str = ""  # what to do by hand, for data sets without a URL


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digests(path: Path, archive: Archive) -> None:
    for algorithm, expected in (("md5", archive.md5), ("sha256", archive.sha256)):
        if expected and not (found := file_digest(path, algorithm)).startswith(expected):
            raise GankitError(f"{archive.dataset}: {archive.url} gave a file with {algorithm} {found}, "
                              f"expected {expected}; deleted it, try again or download it by hand")


def download(archive: Archive, dest: Path) -> Path:
    """Fetch ``archive.url`` to ``dest`` through ``dest.part``, checksum-checked; GankitError on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(archive.url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
        _check_digests(partial, archive)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise GankitError(f"{archive.dataset}: {dest} not found and downloading {archive.url} failed ({reason}); "
                          f"put {archive.name} there by hand") from None
    except GankitError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest)
    return dest


def find_or_download(archive: Archive, root: str | Path | None) -> Path:
    """``root/name`` if it exists (``root`` given), else the cached copy, downloading it when there is a URL."""
    if root:
        path = Path(root).expanduser() / archive.name
        if path.exists():
            return path
        if not archive.url:
            raise GankitError(f"{archive.dataset}: {path} not found; {archive.how}")
        raise GankitError(f"{archive.dataset}: {path} not found; download {archive.url} there "
                          f"or leave data.root unset to download it into gankit's cache")
    path = cache_dir() / archive.dataset / archive.name
    if path.exists():
        return path
    if not archive.url:
        raise GankitError(f"{archive.dataset}: {path} not found; {archive.how}")
    return download(archive, path)
