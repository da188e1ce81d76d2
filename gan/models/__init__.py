"""GAN models by name: `create(config) -> (generator, discriminator)`.

Networks only: how each family trains them is `gan/steps/` (by the same
`config.model.name`). Adding networks is adding a module with a `Generator`,
a `Discriminator`, a `SUPPORTED_RESOLUTIONS` tuple, `discriminator_blocks`
(D's parameter groups from the image side, for FreezeD) and a line in
`_REGISTRY`.
A module with its own `create(config, num_classes)` builds itself from its
config section (e.g. `config.model.stylegan2`, `config.model.fastgan`).
"""
from __future__ import annotations

import ml_collections

from gan.errors import UserError
from gan.models import dcgan
from gan.models import fastgan
from gan.models import stylegan2

_REGISTRY = {
    "dcgan": dcgan,
    "fastgan": fastgan,
    "stylegan2": stylegan2,
}


def names() -> list[str]:
  return sorted(_REGISTRY)


def get_module(name: str):
  if name not in _REGISTRY:
    raise UserError(f"unknown model {name!r}; set --config.model.name to one "
                    f"of {names()}")
  return _REGISTRY[name]


def create(config: ml_collections.ConfigDict, num_classes: int,
           bn_axis_name=None):
  """Builds the generator and discriminator described by `config`.

  num_classes: 0 for an unconditional model.
  bn_axis_name: the device axis that batch statistics are averaged over, or
    None outside a device-mapped function.
  """
  module = get_module(config.model.name)
  if hasattr(module, "create"):
    return module.create(config, num_classes, bn_axis_name=bn_axis_name)
  resolution = config.data.resolution
  if resolution not in module.SUPPORTED_RESOLUTIONS:
    raise UserError(
        f"unsupported resolution {resolution} for model "
        f"{config.model.name!r}; set --config.data.resolution to one of "
        f"{list(module.SUPPORTED_RESOLUTIONS)}")
  m = config.model
  generator = module.Generator(
      resolution=resolution, channels=config.data.channels,
      latent_dim=m.latent_dim, base_channels=m.g_base_channels,
      num_classes=num_classes, label_embed_dim=m.label_embed_dim,
      bn_axis_name=bn_axis_name)
  discriminator = module.Discriminator(
      resolution=resolution, base_channels=m.d_base_channels,
      num_classes=num_classes, bn_axis_name=bn_axis_name)
  return generator, discriminator


def discriminator_blocks(config: ml_collections.ConfigDict) -> list[tuple[str, ...]]:
  """The top-level names of D's parameters, grouped in blocks from the image
  side (block 0 sees the image); names in no block are D's head."""
  return get_module(config.model.name).discriminator_blocks(
      config.data.resolution)
