"""Files of a run directory, which may come from someone else: no link followed, no FIFO or device, no read uncapped.

A run directory is copied, downloaded and shared, so gankit treats one it did not just create as
untrusted input. Run as root, a symbolic link planted at ``DIR/.lock`` would otherwise truncate the
file it points to, a FIFO at ``samples/x.png`` would hang ``gankit report``, and a link to
``/dev/zero`` would be read without end. Hence:

- :func:`check_tree`: a run directory may hold only regular files and folders (no symbolic link,
  FIFO, socket or device anywhere below it); checked before anything in it is read or written;
- :func:`read_bytes`: ``O_NOFOLLOW | O_NONBLOCK``, a regular file only, at most ``limit`` bytes;
- :func:`open_in_place`: appending or locking, ``O_NOFOLLOW``, a regular file with one name only
  (a hard link would carry the write to the other name);
- :func:`atomic_write_bytes`: whole files go to a temporary created with ``O_CREAT | O_EXCL``
  (never through anything planted there), then renamed over the target only if that is absent or
  a regular file (``gankit eval --json /dev/null`` must not replace a device node).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gankit.errors import GankitError

TEMPORARY_INFIX = ".tmp-"  # ``.NAME.tmp-PID``: a file being written; left behind only by a killed process
MAX_JSON_BYTES = 16 * 2**20  # config.json, run.json, eval.json...: a few kB when gankit writes them
MAX_LOG_BYTES = 512 * 2**20  # metrics.jsonl, eval-history.jsonl: about 300 bytes a record
MAX_WEIGHTS_BYTES = 64 * 2**30  # checkpoints and generator weights: a bound on memory, far above any real run


def os_error_reason(error: OSError) -> str:
    """``"No space left on device"`` for ENOSPC, however the error was raised (``OSError(errno.ENOSPC)`` has no strerror)."""
    if error.strerror:
        return error.strerror
    code = error.errno
    if code is None and len(error.args) == 1 and isinstance(error.args[0], int):
        code = error.args[0]
    if code is not None:
        return os.strerror(code) if code in errno.errorcode else f"error {code}"
    return str(error) or type(error).__name__


def kind_of(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a symbolic link", "a FIFO"...)."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _not_regular(path: Path, mode: int) -> GankitError:
    return GankitError(f"{str(path)!r} is {kind_of(mode)}, not a regular file (gankit follows no link there, and "
                       "never reads or replaces a FIFO, device or folder in a file's place)")


def check_tree(root: Path, what: str = "run directory") -> None:
    """Refuse ``root`` if anything below it is a symbolic link, FIFO, socket or device (the first one named)."""
    root = Path(root)
    try:
        if not root.is_dir():
            raise GankitError(f"{what} {str(root)!r} does not exist" if not root.exists() else
                              f"{what} {str(root)!r} is not a folder")
        pending = [root]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        pending.append(Path(entry.path))
                    elif not stat.S_ISREG(mode):
                        raise GankitError(f"{entry.path!r} is {kind_of(mode)}: a {what} may hold only regular files "
                                          "and folders (gankit follows no links in one)")
    except OSError as error:
        raise GankitError(f"cannot read {what} {str(error.filename or root)!r}: {os_error_reason(error)}") from None


def _open_regular(path: Path, flags: int, mode: int = 0o644) -> tuple[int, os.stat_result]:
    """``os.open`` without following a final link, refusing anything but a regular file; (fd, its stat)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _not_regular(path, stat.S_IFLNK) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _not_regular(path, info.st_mode)
    return fd, info


def read_bytes(path: str | Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (no link followed, at most ``limit`` bytes, else GankitError).

    A missing file raises FileNotFoundError, other I/O errors OSError, as ``open`` does.
    """
    path = Path(path)
    fd, info = _open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise GankitError(f"{str(path)!r} is larger than gankit reads ({info.st_size} bytes, at most {limit})")
        return handle.read(info.st_size)  # what was there when opened (a log may grow meanwhile)


def read_text(path: str | Path, limit: int = MAX_JSON_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (GankitError naming the file if it is not)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GankitError(f"{str(path)!r} is not UTF-8 text (byte {error.start})") from None


def open_in_place(path: str | Path, mode: str) -> IO:
    """Open a regular file with a single name for appending (``"a"``) or locking (``"r+"``, created if need be)."""
    path = Path(path)
    flags = os.O_CREAT | (os.O_WRONLY | os.O_APPEND if mode.startswith("a") else os.O_RDWR)
    fd, info = _open_regular(path, flags)
    if info.st_nlink > 1:
        os.close(fd)
        raise GankitError(f"{str(path)!r} has {info.st_nlink} names (hard links): gankit writes in place only into "
                          "a file that is nowhere else")
    os.set_blocking(fd, True)
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def temporary_path(path: Path) -> Path:
    """Where :func:`atomic_write_bytes` writes ``path`` before renaming it into place."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMPORARY_INFIX}{os.getpid()}")


def check_replaceable(path: str | Path) -> None:
    """GankitError unless ``path`` is absent or a regular file (what a rename may replace)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise _not_regular(Path(path), mode)


def check_output_file(path: str | Path, what: str) -> None:
    """Before any work: ``path`` can be written as a file (its folder exists; it is absent or a regular file)."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise GankitError(f"{what} {str(path)!r}: folder {str(parent)!r} does not exist")
    check_replaceable(path)


def create_fresh(tmp: Path) -> int:
    """A fresh file for writing (its fd): ``O_EXCL`` never opens what was there (a stale file or a planted link is removed first)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(tmp, flags, 0o644)
    except FileExistsError:
        tmp.unlink()  # removes a link itself, never its target; a folder there fails with EISDIR
        return os.open(tmp, flags, 0o644)


def atomic_write_bytes(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(fileobj)`` on a fresh temporary file next to ``path``, fsync it, then rename it over ``path``."""
    def fill(fd: int) -> None:
        with open(str(tmp), "wb", opener=lambda *_: fd) as handle:  # named, as writers may report
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())

    path = Path(path)
    tmp = temporary_path(path)
    _write_then_rename(path, tmp, fill)


def atomic_render(path: Path, render: Callable[[Path], object]) -> None:
    """:func:`atomic_write_bytes` for writers that take a file name (Pillow, matplotlib and numpy pick the
    format from its suffix, which the temporary keeps): ``render(temporary)``, then rename it over ``path``."""
    def fill(fd: int) -> None:
        os.close(fd)
        render(tmp)
        fd_again = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fsync(fd_again)
        finally:
            os.close(fd_again)

    path = Path(path)
    tmp = path.with_name(f".{path.stem}{TEMPORARY_INFIX}{os.getpid()}{path.suffix}")
    _write_then_rename(path, tmp, fill)


def _write_then_rename(path: Path, tmp: Path, fill: Callable[[int], None]) -> None:
    """Fill a fresh ``tmp`` (given its fd), rename it over ``path`` (absent or a regular file), fsync the folder."""
    check_replaceable(path)
    try:
        fill(create_fresh(tmp))
        check_replaceable(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # never hide the error that matters (ENOSPC, ...)
            tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the half-written ``.NAME.tmp-PID`` files a killed run left in ``directory``; return them."""
    stale = sorted(p for p in Path(directory).glob(f".*{TEMPORARY_INFIX}*") if p.is_file() or p.is_symlink())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
