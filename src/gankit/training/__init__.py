"""Training: the loop (loop.py), run directories, checkpoints and the generator's weight average."""
