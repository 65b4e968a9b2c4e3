"""Figures of the toy lab: sample scatters, model comparisons, critic surfaces, training curves.

Everything renders off-screen with matplotlib's Agg backend and writes a file (PNG unless the
path's suffix asks for another format) at ``DPI``; parent folders are created and every figure is
closed, so long runs do not leak memory. Inputs may be tensors on any device or numpy arrays;
non-finite points (a diverged generator) are left out of the drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # off-screen: gankit runs on headless machines and never opens windows

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from gankit.errors import GankitError  # noqa: E402

DPI = 120
FAKE_COLOUR = "tab:blue"
REAL_COLOUR = "0.75"  # light grey: the data stays in the background
MODE_COLOUR = "tab:red"

Points = Tensor | np.ndarray


def _numpy_points(x: Points | None, what: str) -> np.ndarray | None:
    """``x`` as a finite float64 (n, d) array (a 1-D input is n points on the line)."""
    if x is None:
        return None
    array = x.detach().to("cpu", torch.float64).numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise GankitError(f"{what} must be an (n, d) array of points to plot, got shape {array.shape}")
    return array[np.isfinite(array).all(axis=1)]


def _numpy_values(values: Sequence[float] | Tensor) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray([float(v) for v in values], dtype=np.float64)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _draw_samples(ax: plt.Axes, fake: Points, real: Points | None, modes: Points | None) -> None:
    """Samples on one axes: histograms for 1-D data, a scatter (first two coordinates) otherwise."""
    fake_xy = _numpy_points(fake, "fake")
    real_xy = _numpy_points(real, "real")
    modes_xy = _numpy_points(modes, "modes")
    if fake_xy.shape[1] == 1:
        # One shared set of bins so the two densities compare bar for bar.
        both = fake_xy[:, 0] if real_xy is None else np.concatenate([fake_xy[:, 0], real_xy[:, 0]])
        bins = np.histogram_bin_edges(both, bins=50) if both.size else 50
        if real_xy is not None:
            ax.hist(real_xy[:, 0], bins=bins, density=True, color=REAL_COLOUR, label="real")
        ax.hist(fake_xy[:, 0], bins=bins, density=True, histtype="step", linewidth=1.5, color=FAKE_COLOUR, label="fake")
        for mode in modes_xy[:, 0] if modes_xy is not None else []:
            ax.axvline(mode, color=MODE_COLOUR, linewidth=0.8)
        ax.set_ylabel("density")
    else:
        if real_xy is not None:
            ax.scatter(real_xy[:, 0], real_xy[:, 1], s=4, color=REAL_COLOUR, linewidths=0, label="real")
        ax.scatter(fake_xy[:, 0], fake_xy[:, 1], s=4, color=FAKE_COLOUR, linewidths=0, alpha=0.6, label="fake")
        if modes_xy is not None:
            ax.scatter(modes_xy[:, 0], modes_xy[:, 1], s=30, marker="x", color=MODE_COLOUR, label="modes")
        ax.set_aspect("equal", adjustable="datalim")
        if fake_xy.shape[1] > 2:
            ax.set_xlabel("x[0] (first two of %d coordinates)" % fake_xy.shape[1])


def scatter_samples(fake: Points, real: Points | None = None, modes: Points | None = None, *,
                    path: str | Path, title: str = "") -> Path:
    """Generated samples over the real ones (light grey) and the mixture means (red crosses).

    2-D data is a scatter; 1-D data (``gauss1d``) draws density histograms on shared bins instead.
    Returns the written path.
    """
    fig, ax = plt.subplots(figsize=(5, 5))
    _draw_samples(ax, fake, real, modes)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small", markerscale=2)
    return _save(fig, path)


def scatter_grid(panels: Sequence[tuple[str, Points, Points | None]], path: str | Path, ncols: int = 4) -> Path:
    """Many ``(title, fake, real)`` panels in one figure, ``ncols`` per row (model comparisons)."""
    if not panels:
        raise GankitError("scatter_grid needs at least one panel")
    if ncols < 1:
        raise GankitError(f"scatter_grid ncols must be positive, got {ncols}")
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 4 * nrows), squeeze=False)
    for ax, (title, fake, real) in zip(axes.flat, panels):
        _draw_samples(ax, fake, real, None)
        ax.set_title(title, fontsize="medium")
    axes.flat[0].legend(loc="upper right", fontsize="small", markerscale=2)  # one key serves every panel
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    return _save(fig, path)


def _covering_extent(fake: np.ndarray, real: np.ndarray | None, margin: float = 0.15) -> tuple[float, float, float, float]:
    """A box around the real data and the bulk (1%–99% quantiles) of the fake, padded by ``margin``."""
    parts = [np.quantile(fake, [0.01, 0.99], axis=0)] if len(fake) else []
    if real is not None and len(real):
        parts.append(np.stack([real.min(axis=0), real.max(axis=0)]))
    if not parts:
        return (-1.0, 1.0, -1.0, 1.0)
    bounds = np.concatenate(parts)
    lo, hi = bounds.min(axis=0), bounds.max(axis=0)
    # The parallel lines have zero width in x: keep a minimum span so the grid is 2-D.
    pad = margin * np.maximum(hi - lo, 0.0) + 0.1
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def critic_surface(critic_fn: Callable[[Tensor], Tensor], fake: Points, real: Points | None, path: str | Path,
                   extent: tuple[float, float, float, float] | None = None, title: str = "",
                   resolution: int = 100) -> Path:
    """Filled contours of the critic/discriminator value D(x) over a 2-D box, samples on top.

    ``critic_fn`` maps an (M, 2) float tensor to M values; it is called once under ``torch.no_grad``
    on a ``resolution``² grid covering ``extent`` = (xmin, xmax, ymin, ymax) (default: the real data
    and the bulk of the fake samples, padded). The grid is built on ``fake``'s device when ``fake``
    is a tensor, so a GPU critic needs no transfer.
    """
    fake_xy = _numpy_points(fake, "fake")
    real_xy = _numpy_points(real, "real")
    if fake_xy.shape[1] != 2:
        raise GankitError(f"critic_surface draws 2-D data, got {fake_xy.shape[1]}-D samples")
    x0, x1, y0, y1 = extent if extent is not None else _covering_extent(fake_xy, real_xy)
    device = fake.device if isinstance(fake, Tensor) else torch.device("cpu")
    xs = torch.linspace(x0, x1, resolution, device=device)
    ys = torch.linspace(y0, y1, resolution, device=device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
    with torch.no_grad():
        values = torch.as_tensor(critic_fn(points)).reshape(resolution, resolution)
    values = np.ma.masked_invalid(values.to("cpu", torch.float64).numpy())

    fig, ax = plt.subplots(figsize=(6, 5))
    if values.count():
        contour = ax.contourf(xs.cpu().numpy(), ys.cpu().numpy(), values, levels=20, cmap="viridis")
        fig.colorbar(contour, ax=ax, label="critic value")
    if real_xy is not None:
        ax.scatter(real_xy[:, 0], real_xy[:, 1], s=4, color="white", linewidths=0, alpha=0.8, label="real")
    ax.scatter(fake_xy[:, 0], fake_xy[:, 1], s=4, color="tab:orange", linewidths=0, alpha=0.8, label="fake")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small", markerscale=2)
    return _save(fig, path)


def line_plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, xlabel: str, ylabel: str,
              logy: bool = False, title: str = "") -> Path:
    """One line per ``name: (xs, ys)`` (training curves, divergence against θ...); ``logy`` for a log y-axis."""
    if not series:
        raise GankitError("line_plot needs at least one series")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (xs, ys) in series.items():
        xs, ys = _numpy_values(xs), _numpy_values(ys)
        if xs.shape != ys.shape:
            raise GankitError(f"line_plot series {name!r} has {xs.size} x values but {ys.size} y values")
        ax.plot(xs, ys, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def truncation_figure(points: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """FID (left) and precision / recall (right) against truncation ψ; the untruncated point (``psi`` None)
    as dashed horizontal lines. ``points`` as :func:`gankit.evaluation.truncation.truncation_curve` returns."""
    cut = [p for p in points if p["psi"] is not None]
    free = next((p for p in points if p["psi"] is None), None)
    if not cut:
        raise GankitError("truncation_figure needs at least one point with a ψ")
    psis = [p["psi"] for p in cut]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    panels = [(left, ["fid"], "FID (lower is better)"), (right, ["precision", "recall"], "precision / recall")]
    for ax, keys, label in panels:
        for key, colour in zip(keys, ("tab:blue", "tab:orange")):
            if key not in cut[0]:
                continue
            ax.plot(psis, [p[key] for p in cut], "o-", color=colour, label=key)
            if free is not None:
                ax.axhline(free[key], color=colour, linestyle="--", linewidth=1, label=f"{key}, untruncated")
        ax.set_xlabel("truncation ψ")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return _save(fig, path)


def image_rows(images: Tensor, row_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Images ``(rows·columns, C, H, W)`` in [-1, 1], row-major, as a grid with each row named on the left."""
    from gankit.grids import make_grid

    rows = len(row_names)
    if rows == 0 or images.shape[0] % rows:
        raise GankitError(f"{images.shape[0]} images do not split into {rows} named rows")
    columns = images.shape[0] // rows
    grid = make_grid(images, nrow=columns)
    height = images.shape[2] + 2
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * columns, 0.3 + 0.55 * rows))
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
    ax.set_yticks([2 + height * r + (height - 2) / 2 for r in range(rows)], list(row_names))
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize="small")
    return _save(fig, path)


def _scaled(x: Tensor, symmetric: bool) -> Tensor:
    """Each item of ``x`` ``(N, ...)`` scaled to [-1, 1]: by its max |value| (``symmetric``), else min-max."""
    flat = x.detach().float().flatten(1)
    if symmetric:
        scale = flat.abs().amax(1).clamp_min(1e-12)
        return (flat / scale[:, None]).view_as(x)
    low, high = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    return ((flat - low) / (high - low).clamp_min(1e-12) * 2 - 1).view_as(x)


def discriminator_figure(views: Sequence, image: Tensor, path: str | Path, title: str = "") -> Path:
    """One row per :class:`~gankit.discriminator_view.DiscriminatorView`: its filters, the image, its strongest maps.

    Filters are scaled one by one by their max |weight| (grey = 0); filters over other than 1 or 3 input
    channels show their mean over those channels. Maps are scaled one by one from their min to their max.
    """
    from gankit.grids import make_grid

    def shown(grid):
        return (grid[..., 0], "gray") if grid.shape[2] == 1 else (grid, None)

    fig, axes = plt.subplots(len(views), 3, figsize=(11, 2.6 * len(views)), squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1, 2]})
    for row, view in zip(axes, views):
        filters = view.filters if view.filters.shape[1] in (1, 3) else view.filters.mean(1, keepdim=True)
        maps = view.maps[:, None]
        panels = [(make_grid(_scaled(filters, True), padding=1), f"{view.name}: {filters.shape[0]} filters"),
                  (make_grid(image[None].clamp(-1, 1)), "image"),
                  (make_grid(_scaled(maps, False), nrow=min(4, maps.shape[0])),
                   f"{view.name}: top {maps.shape[0]} maps (channels {', '.join(map(str, view.channels))})")]
        for ax, (grid, label) in zip(row, panels):
            pixels, cmap = shown(grid)
            ax.imshow(pixels, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(label, fontsize="small")
            ax.axis("off")
    fig.suptitle(title, fontsize="small")
    return _save(fig, path)
