"""Sample-quality metrics: :mod:`gankit.metrics.toy` scores the toy lab (modes captured, % high quality, W1)."""
