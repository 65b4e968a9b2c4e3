import builtins
import io
import os
import pickle

import numpy as np
import pytest

from gankit.data.safe_pickle import UnsafePickleError, safe_load
from gankit.errors import GankitError


class _Payload:
    """Pickles as a call of ``function(*args)``: what a malicious pickle does on load."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _payloads(marker):
    return [
        (_Payload(os.mkdir, str(marker)), r"(posix|nt)\.mkdir"),
        (_Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"), r"builtins\.exec"),
        (_Payload(os.system, f"touch {marker}"), r"(posix|nt)\.system"),
    ]


@pytest.mark.parametrize("which", range(3))
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, which):
    payload, culprit = _payloads(tmp_path / "pwned")[which]
    data = pickle.dumps((np.zeros(3), payload))  # hidden after a legit array

    with pytest.raises(UnsafePickleError, match=culprit):
        safe_load(io.BytesIO(data))
    assert not (tmp_path / "pwned").exists()

    # The payload is real: an ordinary unpickler runs it (so the check above can fail).
    if os.name == "posix" or which != 2:
        pickle.loads(data)
        assert (tmp_path / "pwned").exists()


def test_refusal_is_a_gankit_error_naming_module_and_class():
    data = pickle.dumps(_Payload(os.getcwd))
    with pytest.raises(GankitError, match=r"refusing to unpickle (posix|nt)\.getcwd"):
        safe_load(io.BytesIO(data))


def test_non_numpy_classes_are_refused_even_if_harmless():
    with pytest.raises(UnsafePickleError, match=r"collections\.OrderedDict"):
        safe_load(io.BytesIO(pickle.dumps(__import__("collections").OrderedDict(a=1))))


def test_python3_protocol2_bytes_need_codecs_and_are_refused():
    # Python 3 writes bytes in protocol 2 through _codecs.encode: not a numpy class, so refused.
    with pytest.raises(UnsafePickleError, match=r"_codecs\.encode"):
        safe_load(io.BytesIO(pickle.dumps(np.arange(3.0), protocol=2)))


@pytest.mark.parametrize("protocol", [3, 4])
def test_numpy_arrays_round_trip(protocol):
    rng = np.random.default_rng(0)
    original = {
        "pixels": rng.random((5, 784), dtype=np.float32),
        "labels": rng.integers(0, 10, 5),
        "scalar": np.float32(1.5),
        "nested": ([np.arange(6, dtype=np.uint8).reshape(2, 3)], "text", 3),
    }
    loaded = safe_load(io.BytesIO(pickle.dumps(original, protocol=protocol)))
    assert loaded["pixels"].dtype == np.float32 and np.array_equal(loaded["pixels"], original["pixels"])
    assert np.array_equal(loaded["labels"], original["labels"])
    assert loaded["scalar"] == np.float32(1.5) and loaded["scalar"].dtype == np.float32
    assert np.array_equal(loaded["nested"][0][0], original["nested"][0][0]) and loaded["nested"][1:] == ("text", 3)
