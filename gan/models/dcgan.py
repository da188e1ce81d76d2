"""The vanilla DCGAN (Radford et al., 2016) of pytorch/examples, at 32/64/128 px.

At 64 px with `base_channels=64`, `latent_dim=100` this is exactly the
pytorch/examples network (same layers, shapes and initialisation), which the
benchmark in `benchmarks/dcgan_throughput.py` trains side by side with PyTorch.
Optional class conditioning: a label embedding concatenated to z in G and a
projection head in D.
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan.models import layers

SUPPORTED_RESOLUTIONS = (32, 64, 128)
_MAX_MULTIPLIER = 8  # channels never exceed 8 x base, as in pytorch/examples.


def _bn_scale_init(key, shape, dtype=jnp.float32):
  # pytorch/examples `weights_init`: BatchNorm weight ~ N(1, 0.02), bias 0.
  return 1.0 + layers.dcgan_init(key, shape, dtype)


def _batch_norm(axis_name):
  return layers.batch_norm(axis_name, scale_init=_bn_scale_init)


def _num_stages(resolution: int) -> int:
  return int(math.log2(resolution // 4))


def discriminator_blocks(resolution: int) -> list[tuple[str, ...]]:
  """D's parameter groups from the image side (what FreezeD freezes first):
  one per strided convolution with its BatchNorm; the head is the rest."""
  return [("Conv_0",)] + [(f"Conv_{i}", f"BatchNorm_{i - 1}")
                          for i in range(1, _num_stages(resolution))]


class Generator(nn.Module):
  """z: [B, latent_dim], labels: [B] int or None -> [B, R, R, C] in [-1, 1]."""
  resolution: int = 64
  channels: int = 1
  latent_dim: int = 100
  base_channels: int = 64
  num_classes: int = 0
  label_embed_dim: int = 32
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, z, labels=None):
    stages = _num_stages(self.resolution)
    widths = [self.base_channels * min(2 ** (stages - 1 - i), _MAX_MULTIPLIER)
              for i in range(stages)]
    if self.num_classes:
      embed = nn.Embed(self.num_classes, self.label_embed_dim,
                       embedding_init=layers.dcgan_init)(labels)
      z = jnp.concatenate([z, embed], axis=-1)
    # A 4x4 transposed convolution of a 1x1 input is a dense layer.
    x = nn.Dense(16 * widths[0], use_bias=False,
                 kernel_init=layers.dcgan_init)(z)
    x = x.reshape(z.shape[0], 4, 4, widths[0])
    x = nn.relu(_batch_norm(self.bn_axis_name)(x))
    for width in widths[1:]:
      x = layers.Upsample2x(width)(x)
      x = nn.relu(_batch_norm(self.bn_axis_name)(x))
    x = layers.Upsample2x(self.channels)(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """images: [B, R, R, C] in [-1, 1], labels: [B] int or None -> [B] logits."""
  resolution: int = 64
  base_channels: int = 64
  num_classes: int = 0
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, x, labels=None):
    stages = _num_stages(self.resolution)
    for i in range(stages):
      width = self.base_channels * min(2 ** i, _MAX_MULTIPLIER)
      x = nn.Conv(width, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                  use_bias=False, kernel_init=layers.dcgan_init)(x)
      if i:  # pytorch/examples has no BatchNorm after the first convolution.
        x = _batch_norm(self.bn_axis_name)(x)
      x = nn.leaky_relu(x, 0.2)
    # pytorch/examples ends with a 4x4 valid convolution to one logit: a dense
    # layer on the flattened 4x4 features (plus the projection term).
    h = x.reshape(x.shape[0], -1)
    return layers.ProjectionHead(self.num_classes)(h, labels)
