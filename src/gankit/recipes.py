"""Recipes: named presets with each paper's defaults.

A recipe fixes what the paper fixed (loss, penalty, optimiser, learning rates, n_critic); the data
kind fixes what depends on the data (network size, batch, number of steps). Users override any
field with ``--set key=value``. ``gankit recipes`` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gankit.config import Config, apply_overrides
from gankit.errors import GankitError, unknown


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    paper: str
    settings: dict[str, Any]
    # Settings for one data kind only ("vector" or "image"), applied after ``settings``.
    kind_settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# What depends on the data rather than the paper. Vector data (the toy lab): small, fast MLPs; an EMA
# of G's weights and a learning rate decayed to 0 make the last samples sharp (the ring's modes
# have std 0.01, so "high quality" means within 0.03 of a mean).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "vector": {
        "data.batch_size": 256,
        "model.z_dim": 8,
        "model.g_hidden": 128,
        "model.g_layers": 3,
        "model.d_hidden": 128,
        "model.d_layers": 3,
        "train.steps": 4000,
        "train.ema": 0.999,
        "optim.lr_decay": "linear",
        "train.log_every": 100,
        "train.sample_every": 1000,
        "train.checkpoint_every": 1000,
        "train.eval_samples": 2000,
    },
    # Images: DCGAN-shaped nets at half DCGAN's width (h=32; the paper's 64-128 triples the cost for
    # little gain on 28 px digits) so that MNIST trains in under 10 minutes on 2 CPU cores; raise
    # model.g_hidden / model.d_hidden on a GPU or for 64 px photos. D has no batch norm by default,
    # which every loss tolerates (the gradient penalty requires it); the dcgan/cgan/infogan recipes
    # turn it on.
    "image": {
        "data.batch_size": 64,
        "model.z_dim": 100,
        "model.g_hidden": 32,
        "model.d_hidden": 32,
        "model.g_batchnorm": True,
        "train.steps": 3000,
        "train.ema": 0.999,
        "train.log_every": 50,
        "train.sample_every": 500,
        "train.checkpoint_every": 1000,
        "train.eval_samples": 2000,
    },
}

_ADAM_DCGAN = {"optim.name": "adam", "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999}


def _fgan(divergence: str, title: str) -> Recipe:
    return Recipe(
        f"fgan-{divergence}",
        f"f-GAN with the {title} divergence",
        "Nowozin, Cseke & Tomioka 2016, f-GAN (Adam 2e-4, beta1 0.5)",
        {"loss.name": f"fgan-{divergence}", **_ADAM_DCGAN},
    )


_RECIPES: list[Recipe] = [
    Recipe(
        "gan",
        "Original GAN: minimax (saturating) G loss, SGD with momentum, k=1",
        "Goodfellow et al. 2014, Generative Adversarial Nets, Algorithm 1",
        {
            "loss.name": "minimax",
            "optim.name": "sgd",
            "optim.lr_g": 1e-2,
            "optim.lr_d": 1e-2,
            "optim.momentum": 0.9,
            "train.n_critic": 1,
        },
    ),
    Recipe(
        "nsgan",
        "GAN with the non-saturating -log D(G(z)) generator loss",
        "Goodfellow et al. 2014, Sec. 3; Adam as in Radford et al. 2016",
        {"loss.name": "nsgan", **_ADAM_DCGAN},
    ),
    Recipe(
        "lsgan",
        "Least-squares GAN, targets a=0, b=1, c=1",
        "Mao et al. 2017, Least Squares GANs (Adam 2e-4, beta1 0.5)",
        {"loss.name": "lsgan", "loss.lsgan_a": 0.0, "loss.lsgan_b": 1.0, "loss.lsgan_c": 1.0, **_ADAM_DCGAN},
    ),
    Recipe(
        "hinge",
        "Hinge loss GAN",
        "Lim & Ye 2017, Geometric GAN; Miyato et al. 2018",
        {"loss.name": "hinge", **_ADAM_DCGAN},
    ),
    _fgan("kl", "Kullback-Leibler"),
    _fgan("rkl", "reverse Kullback-Leibler"),
    _fgan("chi2", "Pearson chi-squared"),
    _fgan("hellinger", "squared Hellinger"),
    _fgan("js", "Jensen-Shannon"),
    Recipe(
        "wgan",
        "Wasserstein GAN: critic loss D(fake)-D(real), weights clipped to [-0.01, 0.01], RMSProp",
        "Arjovsky, Chintala & Bottou 2017, Algorithm 1 (lr 5e-5, c=0.01, n_critic=5)",
        {
            "loss.name": "wgan",
            "loss.clip": 0.01,
            "optim.name": "rmsprop",
            "optim.lr_g": 5e-5,
            "optim.lr_d": 5e-5,
            "train.n_critic": 5,
        },
    ),
    Recipe(
        "wgan-gp",
        "WGAN with gradient penalty λ·E[(‖∇D(x̂)‖₂-1)²], λ=10, Adam",
        "Gulrajani et al. 2017, Algorithm 1 (Adam 1e-4, betas (0.5, 0.9), λ=10, n_critic=5)",
        {
            "loss.name": "wgan",
            "loss.gp_weight": 10.0,
            "optim.name": "adam",
            "optim.lr_g": 1e-4,
            "optim.lr_d": 1e-4,
            "optim.beta1": 0.5,
            "optim.beta2": 0.9,
            "train.n_critic": 5,
        },
        # The toy lab's small MLPs under a linearly decaying schedule: the paper's Adam 1e-4 with λ=10 leaves
        # a diffuse blob on ring8 (seed 0, 4000 steps: 3/8 modes, 0.5% high-quality samples); 1e-3 with λ=1
        # gives 8/8 and 91% (λ=0.1, the authors' gan_toy.py value, 8/8 but 35%; 2e-3 diverges to 3/8).
        # 3000 steps (8/8, 87% high quality in 106 s on 2 CPU cores) keep the run under two minutes; each
        # generator step costs five critic steps with a double backward, the toy lab's dearest.
        {"vector": {"optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "loss.gp_weight": 1.0, "train.steps": 3000}},
    ),
    Recipe(
        "pacgan",
        "PacGAN2: D judges packs of 2 samples (model.pack), non-saturating loss, PacGAN's toy nets on vectors",
        "Lin, Khetan, Fanti & Oh 2018, PacGAN (Adam 1e-4, beta1 0.8, 100 packs per batch; toy nets: G 4x400 with "
        "batch norm, D 3 maxout layers of 200x5, z 2-d)",
        {"loss.name": "nsgan", "model.pack": 2, "optim.name": "adam", "optim.lr_g": 1e-4, "optim.lr_d": 1e-4,
         "optim.beta1": 0.8, "optim.beta2": 0.999},
        # The authors' synthetic-data code: no EMA, a constant learning rate, batches of 100 packs.
        {"vector": {"model.arch": "pacgan-mlp", "model.z_dim": 2, "model.g_hidden": 400, "model.g_layers": 4,
                    "model.g_batchnorm": True, "model.d_hidden": 200, "model.d_layers": 3, "data.batch_size": 200,
                    "train.ema": 0.0, "optim.lr_decay": "none", "train.steps": 10000},
         # DCGAN's nets with packed channels (the paper's Stacked MNIST runs).
         "image": {"model.arch": "dcgan", "model.g_batchnorm": True, "model.d_batchnorm": True, "data.batch_size": 64,
                   "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5}},
    ),
    # --- image GANs (nets in gankit.nets.dcgan / infogan / sagan; image data only) -----------------------
    Recipe(
        "dcgan",
        "DCGAN: transposed-conv G / strided-conv D, batch norm in both, non-saturating loss",
        "Radford, Metz & Chintala 2016 (Adam 2e-4, beta1 0.5)",
        {"model.arch": "dcgan", "loss.name": "nsgan", **_ADAM_DCGAN},
        # Batches of 32 (the paper: 128): on MNIST the digits' sharpness follows the number of steps more
        # than the batch (classifier confidence 0.893 after 4000 steps of 64, 0.895 after 4000 of 32, 0.886
        # after 2500 of 128), so for the same CPU time 8000 steps of 32 beat 4000 of 64 (0.911 vs 0.893).
        {"image": {"model.g_batchnorm": True, "model.d_batchnorm": True, "data.batch_size": 32, "train.steps": 8000}},
    ),
    Recipe(
        "cgan",
        "Conditional DCGAN: the label embedded and joined to z in G and to the image in D",
        "Mirza & Osindero 2014, Conditional GANs; DCGAN nets and optimiser (Radford et al. 2016)",
        {"model.arch": "dcgan", "model.conditional": True, "loss.name": "nsgan", **_ADAM_DCGAN},
        {"image": {"model.g_batchnorm": True, "model.d_batchnorm": True}},
    ),
    Recipe(
        "infogan",
        "InfoGAN: categorical + continuous codes, Q head on D, mutual-information term λ·L_I",
        "Chen et al. 2016, InfoGAN (62-d noise, 10-way + 2 continuous codes, λ=1, Adam lr_D 2e-4, lr_G 1e-3)",
        {
            "model.arch": "infogan",
            "loss.name": "nsgan",
            **_ADAM_DCGAN,
            "optim.lr_g": 1e-3,
            "model.z_dim": 62,
            "model.info_categorical": 10,
            "model.info_continuous": 2,
            "model.info_weight": 1.0,
            "model.info_continuous_weight": 0.1,
        },
        # The paper's MNIST nets (fully connected layers next to the latent and the score), at half its
        # widths: with DCGAN's all-convolutional nets the code splits by style, not digit (code accuracy
        # 0.45 on MNIST after 3000 steps; the fc nets 0.66-0.94 over seeds 0-2). L_I kept out of D's
        # shared body (Q's head learns it) lifts the seeds that stalled (seed 1: 0.71 -> 0.81 after 4000
        # steps; seed 2: 0.59 -> 0.88 after 3000); the code keeps sharpening past 3000 steps. These
        # settings: 0.953, 0.821, 0.991 for seeds 0-2 (526 s of training on 2 CPU cores).
        # NCHW, not the CPU default NHWC: the fc nets gain nothing from it (1.04x, within the machine's
        # noise; 542 s), and its other rounding sent seed 0 to another code split (accuracy 0.80, FID 24.4).
        {"image": {"model.g_batchnorm": True, "model.d_batchnorm": True, "model.info_body": "fc",
                   "model.info_q_trains_body": False, "train.steps": 5000, "train.channels_last": "off"}},
    ),
    Recipe(
        "sagan",
        "Self-attention GAN: attention blocks, spectral norm in G and D, hinge loss, TTUR",
        "Zhang et al. 2019, SAGAN (Adam lr_D 4e-4, lr_G 1e-4, betas (0, 0.9))",
        {
            "model.arch": "sagan",
            "loss.name": "hinge",
            "optim.name": "adam",
            "optim.lr_g": 1e-4,
            "optim.lr_d": 4e-4,
            "optim.beta1": 0.0,
            "optim.beta2": 0.9,
            "model.projection": True,
        },
    ),
    Recipe(
        "biggan",
        "BigGAN at CPU scale: class-conditional BN with a shared embedding, hierarchical z, projection D, "
        "spectral norm in G and D, hinge loss, TTUR, orthogonal regularisation, EMA of G",
        "Brock, Donahue & Simonyan 2019, BigGAN (Adam betas (0, 0.999), lr_D = 4·lr_G, β = 1e-4, "
        "z split in chunks of 20 per block at 128 px; here 40)",
        {
            "model.arch": "biggan",
            "model.conditional": True,
            "model.projection": True,
            "model.z_dim": 120,
            "loss.name": "hinge",
            "loss.ortho_weight": 1e-4,
            "optim.name": "adam",
            "optim.lr_g": 1e-4,
            "optim.lr_d": 4e-4,
            "optim.beta1": 0.0,
            "optim.beta2": 0.999,
            "train.ema": 0.999,
        },
        # BigGAN's G is dear on a CPU (two 3x3 convs per block at full resolution): at g_hidden=32 one step of
        # 64 costs 6x SAGAN's (1.16 vs 0.19 CPU-seconds, one thread, benchmark loop); at 16, 2.3x (0.44). In
        # gankit train on Fashion-MNIST: 0.55 CPU-s per step against sagan's 0.21, so 1200 steps cost what
        # sagan's 3000 do (~650 CPU-s, the image recipes' ~10 minutes).
        {"image": {"model.g_hidden": 16, "train.steps": 1200}},
    ),
]

# The textbook's hands-on (seed 001, Sec. 13.3 and 13.8): its 64x64 nets (gankit.nets.book), z of 100, batch 64,
# Adam 2e-4 with beta1 0.5 for both nets, and k = 5 discriminator steps per generator step in both loops.
_BOOK = {"model.arch": "book64", "model.z_dim": 100, "model.g_hidden": 64, "model.d_hidden": 64,
         "model.g_batchnorm": True, "data.batch_size": 64, "data.image_size": 64, **_ADAM_DCGAN, "train.n_critic": 5,
         "train.ema": 0.0}
_RECIPES += [
    Recipe(
        "book-dcgan",
        "The textbook's 64x64 DCGAN hands-on: its nets (BN everywhere, GAP + linear D), non-saturating loss, k=5",
        "Textbook Sec. 13.3 after Radford et al. 2016 (Adam 2e-4, beta1 0.5, batch 64, z 100, 5 D steps per G step)",
        {**_BOOK, "loss.name": "nsgan", "model.d_batchnorm": True},
    ),
    Recipe(
        "book-wgan-gp",
        "The textbook's WGAN-GP hands-on: the same 64x64 nets, Wasserstein loss + 10·gradient penalty, k=5",
        "Textbook Sec. 13.8 after Gulrajani et al. 2017 (λ=10, Adam 2e-4, beta1 0.5; D without the book's batch norm)",
        {**_BOOK, "loss.name": "wgan", "loss.gp_weight": 10.0, "model.d_batchnorm": False},
    ),
]

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a recipe (used by modules that bring new architectures, e.g. image GANs)."""
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise unknown("recipe", name, RECIPES)
    return RECIPES[name]


def resolve_config(recipe_name: str, data_name: str, data_kind: str, overrides: dict[str, Any] | None = None) -> Config:
    """The full config for ``recipe_name`` on data ``data_name`` of kind ``data_kind``, then ``overrides``."""
    recipe = get_recipe(recipe_name)
    config = Config(recipe=recipe.name)
    apply_overrides(config, {"data.name": data_name})
    apply_overrides(config, KIND_DEFAULTS[data_kind])
    apply_overrides(config, recipe.settings)
    apply_overrides(config, recipe.kind_settings.get(data_kind, {}))
    apply_overrides(config, overrides or {})
    if config.recipe != recipe.name:  # a run saying it is another recipe could be neither resumed nor evaluated
        raise GankitError(f"config key 'recipe': {config.recipe!r} cannot be set; this run trains recipe {recipe.name!r}")
    check_consistency(config)
    return config


def check_consistency(config: Config) -> None:
    """Refuse combinations of keys that are each valid but wrong together.

    A gradient penalty constrains ``‖∇ₓD(x)‖`` per example; batch norm makes D(x) depend on the
    whole batch, so the penalised gradient is not the critic's (Gulrajani et al. 2017, Sec. 4: "we
    omit batch normalization in the critic"; use no normalisation or layer norm there).
    """
    if config.data.batch_size % config.model.pack:
        raise GankitError(f"config key 'data.batch_size': {config.data.batch_size} samples do not divide into packs of "
                          f"model.pack={config.model.pack} (data.batch_size counts samples: PacGAN's 100 packs of 2 are 200)")
    if config.loss.gp_weight > 0 and config.model.d_batchnorm:
        raise GankitError("config key 'model.d_batchnorm': a critic trained with a gradient penalty (loss.gp_weight > 0) must not use batch norm; set model.d_batchnorm=false")


# --- image-to-image translation (trained by gankit.translation.train, not the GAN loop) ------------

_TRANSLATION_COMMON = {
    **_ADAM_DCGAN,
    "optim.lr_decay": "linear",
    "optim.decay_start": 0.5,  # 100 epochs at 2e-4, then 100 decaying linearly to 0
    "model.g_hidden": 64,
    "model.d_hidden": 64,
    "model.d_layers": 3,  # the 70x70 PatchGAN
    "data.batch_size": 1,
    "train.ema": 0.0,
    # NCHW: unlike the DCGANs, these nets (normalisation layers, reflection padding, U-Net skips) trained
    # no faster in NHWC on 2 CPU cores (pix2pix 1.01x, CycleGAN 1.00x, median of 3 pairs); `on` is there for GPUs.
    "train.channels_last": "off",
}

register_recipe(Recipe(
    "pix2pix",
    "pix2pix: U-Net G (dropout as noise), 70x70 PatchGAN D on (input, output) pairs, cGAN + 100·L1",
    "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks (Adam 2e-4, beta1 0.5, batch 1)",
    {**_TRANSLATION_COMMON, "loss.name": "nsgan", "loss.l1_weight": 100.0, "model.arch": "unet", "model.norm": "batch",
     "train.pool_size": 0},
))
register_recipe(Recipe(
    "cyclegan",
    "CycleGAN: two ResNet-block Gs, two 70x70 PatchGANs, LSGAN + 10·cycle + 5·identity L1, pool of 50",
    "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks (Adam 2e-4, beta1 0.5)",
    {**_TRANSLATION_COMMON, "loss.name": "lsgan", "loss.lsgan_a": 0.0, "loss.lsgan_b": 1.0, "loss.lsgan_c": 1.0,
     "loss.cycle_weight": 10.0, "loss.identity_weight": 0.5, "model.arch": "resnet", "model.norm": "instance",
     "model.res_blocks": 0, "train.pool_size": 50},
))
