"""What the translation families (pix2pix, CycleGAN) share.

Not a family itself: the config fields they ignore, their checks, Adam, and
the sampler that translates source slices with the EMA generator. Their
batches are `gan.paired_data` pairs: channels [source..., target], split
with `paired_data.split_channels`.

The family protocol's sampler `(params, batch_stats, z, labels,
truncation)` keeps its shape: for these families `z` is the batch of source
images [B, R, R, S] in [-1, 1] and the result their translations.
"""
from __future__ import annotations

import jax
import optax

from gan import paired_data
from gan.errors import UserError
from gan.models import unet
from gan.steps import common

TASK = "translation"
LOSSES = ("nonsaturating", "least_squares", "hinge")

# Fields of the noise-to-image families and their data options.
IGNORED_FIELDS = (
    "model.latent_dim", "model.g_base_channels", "model.d_base_channels",
    "model.label_embed_dim", "train.gp_weight", "train.r1_", "train.pl_",
    "train.style_mixing_prob", "train.ema_kimg", "train.ema_rampup",
    "augment.", "data.conditional", "data.class_balanced", "data.classes",
    "data.folder", "data.skip_corrupt", "data.crop_to_content",
    "data.pad_with_edge", "data.test_fraction", "data.manual_dir",
    "transfer.")


def validate(config, section) -> None:
  """Checks shared by both families; `section` is model.<family>."""
  if config.data.name != paired_data.DATASET:
    raise UserError(f"model {config.model.name!r} translates paired slices: "
                    f"set --config.data.name={paired_data.DATASET}")
  paired_data.modalities(config.data)
  unet.check_depth(config.data.resolution, section.unet_depth)
  if config.data.resolution >> (section.d_layers + 1) < 2:
    raise UserError(f"a PatchGAN of {section.d_layers} layers leaves no "
                    f"patch at {config.data.resolution} px; lower "
                    f"--config.model.{config.model.name}.d_layers")
  if config.data.channels != 1:
    raise UserError("translation works on grayscale modalities; set "
                    "--config.data.channels=1")
  if config.transfer.get("from_workdir"):
    raise UserError(f"transfer (FreezeD) is for the noise-to-image families; "
                    f"model {config.model.name!r} cannot use it: drop "
                    f"--config.transfer.from_workdir")
  if not 0.0 <= config.train.ema_decay < 1.0:
    raise UserError(f"train.ema_decay must be in [0, 1), got "
                    f"{config.train.ema_decay}")


def channels(config) -> tuple[int, int]:
  """(source channels, target channels)."""
  return paired_data.num_source_channels(config), config.data.channels


def generator(config, section, out_channels: int) -> unet.UNet:
  return unet.UNet(out_channels=out_channels,
                   base_channels=section.ngf, depth=section.unet_depth)


def discriminator(section) -> unet.PatchGAN:
  return unet.PatchGAN(base_channels=section.ndf, layers=section.d_layers)


def optimizers(config):
  t = config.train
  return (optax.adam(t.g_learning_rate, b1=t.adam_b1, b2=t.adam_b2),
          optax.adam(t.d_learning_rate, b1=t.adam_b1, b2=t.adam_b2))


def ema_params(state_ema, params, step, config):
  """EMA of G's weights (`train.ema_decay`, ramped up; 0 = no average)."""
  if not config.train.ema_decay:
    return params
  return common.ema(state_ema, params,
                    common.ema_decay_with_rampup(step, config.train.ema_decay))


def make_translate_fn(config, net: unet.UNet, select=lambda params: params):
  """The family sampler: `(params, batch_stats, sources, labels=None,
  truncation=1.0) -> translations` in [-1, 1]."""

  @jax.jit
  def translate(params, sources):
    return net.apply({"params": select(params)}, sources)

  def generate_fn(params, batch_stats, sources, labels=None, truncation=1.0):
    del batch_stats  # Instance norm: none.
    if labels is not None or truncation != 1.0:
      raise UserError(f"model {config.model.name!r} translates images: it "
                      f"takes no class labels and no truncation")
    return translate(params, sources)

  return generate_fn
