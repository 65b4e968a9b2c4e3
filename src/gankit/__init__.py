"""gankit: train, evaluate and understand generative adversarial networks."""

__version__ = "0.1.0"


def load(run_dir, device=None, weights=None):
    """The trained generator of a run directory: ``gankit.load(DIR).generate(n, seed=0)``.

    ``weights``: None (its EMA weights when the run kept an EMA, else its final ones), "ema" or "final"."""
    from gankit.generation import load as _load

    return _load(run_dir, device, weights)
