"""Layers shared by the GAN models, written for fast gradients on XLA:CPU."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# DCGAN's weight init (Radford et al.): N(0, 0.02) for conv weights.
dcgan_init = nn.initializers.normal(stddev=0.02)


def batch_norm(axis_name=None, **kwargs) -> nn.BatchNorm:
  """BatchNorm as every GAN here uses it: always normalising with the batch
  at hand (training and sampling alike), PyTorch's defaults (momentum 0.1,
  i.e. Flax 0.9; eps 1e-5), and, with `axis_name`, the statistics of the
  global batch, so results do not depend on the number of devices."""
  return nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5,
                      axis_name=axis_name, **kwargs)


def _conv(x, kernel, padding):
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding=padding,
      dimension_numbers=("NHWC", "HWIO", "NHWC"))


class Upsample2x(nn.Module):
  """A 4x4, stride-2, padding-1 transposed convolution computed sub-pixel.

  Same function and parameters as PyTorch's `ConvTranspose2d(k=4, s=2, p=1)`
  (kernel stored as [4, 4, in, out]), but computed as four stride-1 2x2
  convolutions, one per output phase, interleaved into the 2x output. On
  XLA:CPU the gradient of `nn.ConvTranspose` (which lowers to an
  `lhs_dilation` convolution) is ~60x slower than PyTorch's; stride-1
  convolutions have fast gradients (REFERENCE §2).

  Output pixel 2m+a (per spatial axis) reads input m-1, m for phase a=0 with
  taps (3, 1), and m, m+1 for phase a=1 with taps (2, 0) of the 4-tap kernel.

  x: [B, H, W, C_in] -> [B, 2H, 2W, features].
  """
  features: int
  use_bias: bool = False
  kernel_init: Any = dcgan_init
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", self.kernel_init,
                        (4, 4, x.shape[-1], self.features), jnp.float32)
    kernel = kernel.astype(self.dtype)
    x = x.astype(self.dtype)
    taps = {0: (3, 1), 1: (2, 0)}          # kernel taps per phase
    pads = {0: (1, 0), 1: (0, 1)}          # which neighbour each phase reads
    rows = []
    for a in (0, 1):
      cols = []
      for b in (0, 1):
        k = kernel[jnp.array(taps[a])][:, jnp.array(taps[b])]
        cols.append(_conv(x, k, (pads[a], pads[b])))
      rows.append(jnp.stack(cols, axis=3))   # [B, H, W, 2(b), C]
    y = jnp.stack(rows, axis=2)              # [B, H, 2(a), W, 2(b), C]
    bsz, h, _, w, _, c = y.shape
    y = y.reshape(bsz, 2 * h, 2 * w, c)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
    return y


class ProjectionHead(nn.Module):
  """Output of a projection discriminator (Miyato & Koyama, 2018).

  logit = w . h + b + <embed(y), h>; unconditional when `num_classes` is 0.
  h: [B, F] features, labels: [B] int -> [B] logits.
  """
  num_classes: int = 0

  @nn.compact
  def __call__(self, h, labels=None):
    logit = nn.Dense(1, kernel_init=dcgan_init)(h)[:, 0]
    if self.num_classes:
      embed = nn.Embed(self.num_classes, h.shape[-1],
                       embedding_init=dcgan_init)(labels)
      logit = logit + jnp.sum(embed * h, axis=-1)
    return logit
