"""The GAN training loop: the algorithm box of the papers, one step read top to bottom.

    for each generator step:
        repeat n_critic times:                          (k in Goodfellow et al., n_critic in WGAN)
            x ~ data, z ~ N(0, I)
            L_D = loss.discriminator(D(x), D(G(z)))  [+ λ·GP]     then clip D's weights (WGAN)
        repeat g_steps times:                           (1; 2 in DCGAN-tensorflow, PacGAN's Table 2)
            z ~ N(0, I)
            L_G = loss.generator(D(G(z)))  [+ β·orthogonal regulariser of G's weights (BigGAN)]
        EMA of G's weights; learning-rate schedule; log, snapshot, checkpoint

The loop knows no data set, network or loss by name: all come from registries via the config.
Every random draw goes through one ``torch.Generator`` on the device, so a run is a function of
its seed, and a checkpoint holds every RNG state so that resuming continues exactly. What every loop
shares (run directory, checkpoints, resume, logging, rollback, signals, torchrun) is the
:class:`~gankit.training.harness.Harness`'s; this module holds the step and what it samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data import build_from_config
from gankit.data.base import Dataset
from gankit.errors import GankitError
from gankit.losses import GanLoss, get_loss
from gankit.nets import build_networks, resolve_arch, sample_latent
from gankit.penalties import (
    add_instance_noise, apply_spectral_norm, clip_weights_, gradient_penalty, instance_noise_std, orthogonal_regularization,
)
from gankit.training.compilation import begin_step, compiled
from gankit.training.distributed import convert_sync_batchnorm
from gankit.training.ema import EMA
from gankit.training.harness import Harness
from gankit.training.precision import set_layout, with_precision
from gankit.training.snapshots import quick_metrics, write_snapshot


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    seconds: float
    last_record: dict
    generator: nn.Module  # the trained networks (unwrapped), for callers that inspect them
    discriminator: nn.Module
    sampler: nn.Module  # what sampling uses: the EMA generator when enabled


def build_models(config: Config, shape: tuple[int, ...], num_classes: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """G and D for this config, on ``device``; spectral norm on D if asked."""
    generator, discriminator = build_networks(config.model, shape, num_classes)
    if config.model.spectral_norm:
        apply_spectral_norm(discriminator)
    return generator.to(device), discriminator.to(device)


@dataclass
class GanStep:
    """One step of a GAN: ``n_critic`` critic updates, then ``g_steps`` generator updates (usually 1).

    ``G``, ``D`` are the networks; ``G_train``, ``D_train`` the passes whose backward updates them (DDP,
    compiled, autocast as configured), ``G_step``, ``D_step`` the same without DDP (G in the critic's
    update, D in G's), ``D_penalty`` the eager pass the gradient penalty differentiates twice.
    """

    config: Config
    dataset: Dataset
    rng: torch.Generator
    G: nn.Module
    D: nn.Module
    G_train: nn.Module
    D_train: nn.Module
    G_step: nn.Module
    D_step: nn.Module
    D_penalty: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: GanLoss
    ema: EMA | None
    layout: Callable[[Tensor], Tensor]  # the batches' memory format (train.channels_last)
    step: int = 0  # generator steps made, for the instance-noise schedule

    @classmethod
    def plain(cls, config: Config, dataset: Dataset, rng: torch.Generator, G: nn.Module, D: nn.Module,
              opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, loss: GanLoss) -> GanStep:
        """The step on eager passes, without EMA or memory-layout change: what the theory lab's experiments drive,
        one update at a time, to train exactly as the loop does."""
        return cls(config, dataset, rng, G, D, G, D, G, D, D, opt_g, opt_d, loss, None, lambda x: x)

    def __post_init__(self) -> None:
        self.conditional = self.G.num_classes > 0
        self.batch = self.config.data.batch_size * getattr(self.G, "ensemble_size", 1)  # an ensemble of S nets takes S batches
        # An extra term both players add to their losses, if D defines one (InfoGAN's λ·L_I(G, Q)): such a D
        # takes the fakes' latent, D(fake, labels, latent=z), and returns (scores, term) from one forward pass.
        self.auxiliary = hasattr(self.D, "auxiliary_loss")

    def __call__(self, totals: dict[str, Tensor]) -> dict[str, float]:
        """The algorithm box; adds the step's losses to ``totals``, returns the instance-noise σ it used."""
        c = self.config
        begin_step(c.train.compile)
        noise_steps = c.loss.instance_noise_steps or c.train.steps
        sigma = instance_noise_std(self.step, c.loss.instance_noise, noise_steps) if c.loss.instance_noise > 0 else 0.0
        for _ in range(c.train.n_critic):
            loss_d = self.critic_update(sigma, totals)
        totals["loss_d"] += loss_d.detach()
        for _ in range(c.train.g_steps):
            loss_g = self.generator_update(sigma, totals)
        totals["loss_g"] += loss_g.detach()
        if self.ema:
            self.ema.update()
        self.step += 1
        return {"sigma": sigma}

    def critic_update(self, sigma: float, totals: dict[str, Tensor]) -> Tensor:
        """x ~ data, z ~ N(0, I): L_D = loss.discriminator(D(x), D(G(z))) [+ λ·GP]; one step of D, then clip D's weights (WGAN)."""
        c = self.config.loss
        real, labels = self.dataset.sample(self.batch, self.rng)
        real = self.layout(real)
        cond = labels if self.conditional else None
        z = sample_latent(self.batch, self.G.z_dim, self.rng, self.rng.device)
        with torch.no_grad():
            fake = self.G_step(z, cond)
        real_in, fake_in = add_instance_noise(real, sigma, self.rng), add_instance_noise(fake, sigma, self.rng)
        real_score = self.D_train(real_in, cond)
        if self.auxiliary:
            fake_score, extra = self.D_train(fake_in, cond, latent=z)
            loss_d = self.loss.discriminator(real_score, fake_score) + extra
        else:
            loss_d = self.loss.discriminator(real_score, self.D_train(fake_in, cond))
        if c.gp_weight > 0:
            penalty = gradient_penalty(self.D_penalty, real_in, fake_in, weight=c.gp_weight, one_sided=c.gp_one_sided,
                                       generator=self.rng, critic_kwargs={"labels": cond})
            loss_d = loss_d + penalty
            totals["penalty"] += penalty.detach() / self.config.train.n_critic  # logged per critic update
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if c.clip > 0:
            clip_weights_(self.D, c.clip)
        return loss_d

    def generator_update(self, sigma: float, totals: dict[str, Tensor]) -> Tensor:
        """z ~ N(0, I): L_G = loss.generator(D(G(z))); one step of G (D frozen: its gradients would be thrown away)."""
        z = sample_latent(self.batch, self.G.z_dim, self.rng, self.rng.device)
        cond = self.dataset.sample(self.batch, self.rng)[1] if self.conditional else None
        fake = add_instance_noise(self.G_train(z, cond), sigma, self.rng)
        self.D.requires_grad_(False)
        if self.auxiliary:
            fake_score, extra = self.D_step(fake, cond, latent=z)
            loss_g = self.loss.generator(fake_score) + extra
            totals["auxiliary"] += extra.detach()
        else:
            loss_g = self.loss.generator(self.D_step(fake, cond))
        if self.config.loss.ortho_weight > 0:  # BigGAN: β·Σ‖WWᵀ ⊙ (1 − I)‖²_F over G's weights
            loss_g = loss_g + orthogonal_regularization(self.G, self.config.loss.ortho_weight)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.D.requires_grad_(True)
        self.opt_g.step()
        return loss_g


def train(config: Config, run_dir: str | Path, resume: bool = False, progress: bool | None = None,
          networks: tuple[nn.Module, nn.Module] | None = None) -> TrainResult:
    """Train ``config`` into ``run_dir`` (created, or continued from its last checkpoint if ``resume``).

    ``networks`` replaces the (G, D) the config describes, e.g. a seed ensemble (gankit.sweep). From its
    first write on, the run directory is locked (:func:`~gankit.training.run_dir.hold_directory`): a second
    process cannot train into it, or resume it, at the same time.
    """
    with Harness(config, run_dir, progress) as harness:
        t, device, ddp = config.train, harness.device, harness.ddp
        dataset = load_dataset(config, harness)
        G, D = build_models(config, dataset.shape, dataset.num_classes, device) if networks is None else (n.to(device) for n in networks)
        if config.model.sync_batchnorm and ddp.enabled:
            G, D = convert_sync_batchnorm(G, device), convert_sync_batchnorm(D, device)
        nhwc, layout = set_layout(t.channels_last, dataset.shape, device, G, D)
        # The forward passes the step makes: compiled if train.compile, under bf16 autocast if train.precision=bf16
        # (scores back in fp32). The gradient penalty's pass stays eager: compiled graphs have no double backward.
        def step_pass(module: nn.Module):
            return with_precision(compiled(module, t.compile), t.precision, device)

        opt_g, opt_d = harness.optimizers(G.parameters(), D.parameters())
        ema = EMA(G, t.ema) if t.ema > 0 else None
        box = GanStep(config, dataset, harness.rng, G, D, step_pass(ddp.wrap(G, device)), step_pass(ddp.wrap(D, device)),
                      step_pass(G), step_pass(D), with_precision(D, t.precision, device), opt_g, opt_d,
                      get_loss(config.loss.name, lsgan_a=config.loss.lsgan_a, lsgan_b=config.loss.lsgan_b, lsgan_c=config.loss.lsgan_c),
                      ema, layout)
        harness.track(G=G, D=D, **({"ema": ema} if ema else {}))
        harness.add_totals("loss_d", "loss_g", "penalty", *(["auxiliary"] if box.auxiliary else []))
        sampler = ema.model if ema else G  # what snapshots, evaluation and generate() use
        harness.sampler, harness.sampler_info, harness.best_metric = sampler, {"ema": ema is not None}, "hq_fraction"
        harness.final_generator = G if ema else None
        sample = snapshot_writer(config, dataset, sampler, D, device)

        meta = {"data_shape": list(dataset.shape), "num_classes": dataset.num_classes,
                "arch": resolve_arch(config.model.arch, dataset.shape)}
        if len(dataset.shape) == 3:
            meta["layout"] = "NHWC" if nhwc else "NCHW"  # what train.channels_last chose
        box.step = start = harness.open(resume, meta)
        G.train()
        D.train()
        record = harness.loop(start, box, sample)
        return TrainResult(harness.run_dir.path, t.steps, harness.seconds(), record, G, D, sampler)


def load_dataset(config: Config, harness: Harness) -> Dataset:
    """The config's data set on the run's device (this rank's shard under torchrun), checked against the config."""
    dataset = build_from_config(config.data, harness.device)
    ddp = harness.ddp
    if ddp.enabled and hasattr(dataset, "shard"):
        dataset = dataset.shard(ddp.rank, ddp.world_size)
    size = len(dataset) if hasattr(dataset, "__len__") else None
    if size is not None and config.data.batch_size > size:
        raise GankitError(f"config key 'data.batch_size': {config.data.batch_size} is larger than the data set "
                          f"{config.data.name!r} ({size} examples)")
    if config.model.conditional and dataset.num_classes == 0:
        raise GankitError(f"config key 'model.conditional': recipe {config.recipe!r} needs labelled data, but data set "
                          f"{config.data.name!r} has no labels (an image folder is labelled when its images sit in "
                          f"two or more class subfolders)")
    return dataset


def snapshot_writer(config: Config, dataset: Dataset, sampler: nn.Module, D: nn.Module, device: torch.device):
    """``sample(path)``: the quick metrics of fixed samples, and their snapshot written to ``path``.

    The fixed inputs come from their own generator, so that they do not shift the training stream."""
    t, size = config.train, getattr(sampler, "ensemble_size", 1)
    snapshot_rng = torch.Generator(device=device).manual_seed(t.seed + 1_000_003)
    z = sample_latent(-(-max(t.eval_samples, 64) // size) * size, sampler.z_dim, snapshot_rng, device)
    real, labels = dataset.sample(z.shape[0], snapshot_rng)

    def sample(path: Path) -> dict[str, float]:
        metrics = quick_metrics(dataset, sampler, z, labels)
        write_snapshot(path, dataset, sampler, D, z, real, labels)
        return metrics

    return sample
