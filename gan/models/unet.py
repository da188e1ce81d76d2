"""Translation networks: a U-Net generator and a PatchGAN discriminator.

After pix2pix (Isola et al., CVPR 2017) and CycleGAN (Zhu et al., ICCV
2017), at widths and depths for 64-256 px slices on a CPU:

  UNet:      `depth` encoder blocks (4x4 stride-2 convolution, instance
             norm, LeakyReLU 0.2; no norm on the first block or on the 2x2
             bottleneck, where instance norm would zero a 1x1 map), then as
             many decoder blocks (2x nearest upsampling, 3x3 convolution,
             instance norm, ReLU) each concatenated with its encoder block's
             output, and a 2x upsampling + 3x3 convolution + tanh to the
             output channels. Upsampling is nearest + convolution rather than
             the papers' transposed convolutions, whose gradients XLA:CPU
             runs ~60x slower (REFERENCE §2); it also avoids their
             checkerboard artefacts. No dropout: the papers' dropout noise
             made outputs depend on a key at inference, for no measured gain.
  PatchGAN:  C(ndf) - C(2 ndf) - C(4 ndf) (4x4 stride 2) - C(8 ndf) (4x4
             stride 1) - a 4x4 stride-1 convolution to one logit per patch
             (the 70x70 PatchGAN for `layers` = 3), instance norm and
             LeakyReLU 0.2 after all but the first and last convolutions.

A convolution followed by instance norm has no bias: the norm removes it,
so its gradient is zero up to rounding, which Adam would amplify into
updates of noise. Instance norm has no batch statistics, so results do not depend on how a
batch is split over devices, and `batch_stats` is empty.
Weights: N(0, 0.02), as both papers.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from gan.errors import UserError

init = nn.initializers.normal(stddev=0.02)


def _norm(name: str) -> nn.Module:
  # PyTorch's InstanceNorm2d(affine=True) of the reference code: eps 1e-5.
  return nn.InstanceNorm(epsilon=1e-5, name=name)


def upsample_nearest(x):
  """[B, H, W, C] -> [B, 2H, 2W, C] by repeating pixels (a fast gradient:
  the reverse is a reshape and a sum)."""
  b, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


def check_depth(resolution: int, depth: int) -> None:
  """Whether a U-Net of `depth` fits `resolution` (a power of two >= 2^depth)."""
  if resolution < 16 or resolution & (resolution - 1):
    raise UserError(f"translation needs a power-of-two resolution >= 16, got "
                    f"{resolution}; set --config.data.resolution")
  if not 1 <= depth or resolution >> depth < 1:
    raise UserError(f"a U-Net of depth {depth} halves {resolution} px below "
                    f"1 px; use a depth of at most "
                    f"{resolution.bit_length() - 1}")


class UNet(nn.Module):
  """[B, R, R, C_in] in [-1, 1] -> [B, R, R, out_channels] in [-1, 1]."""
  out_channels: int = 1
  base_channels: int = 32
  depth: int = 5
  max_multiplier: int = 8

  @nn.compact
  def __call__(self, x):
    skips = []
    for i in range(self.depth):
      features = self.base_channels * min(2 ** i, self.max_multiplier)
      normed = 0 < i < self.depth - 1
      x = nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                  use_bias=not normed, kernel_init=init, name=f"down_{i}")(x)
      if normed:
        x = _norm(f"down_norm_{i}")(x)
      x = nn.leaky_relu(x, 0.2)
      skips.append(x)
    for i in reversed(range(self.depth - 1)):
      features = self.base_channels * min(2 ** i, self.max_multiplier)
      x = upsample_nearest(x)
      x = nn.Conv(features, (3, 3), padding=((1, 1), (1, 1)),
                  use_bias=False, kernel_init=init, name=f"up_{i}")(x)
      x = nn.relu(_norm(f"up_norm_{i}")(x))
      x = jnp.concatenate([x, skips[i]], axis=-1)
    x = upsample_nearest(x)
    x = nn.Conv(self.out_channels, (3, 3), padding=((1, 1), (1, 1)),
                kernel_init=init, name="out")(x)
    return jnp.tanh(x)


class PatchGAN(nn.Module):
  """[B, R, R, C] -> [B, P, P] patch logits."""
  base_channels: int = 64
  layers: int = 3

  @nn.compact
  def __call__(self, x):
    pad = ((1, 1), (1, 1))
    x = nn.Conv(self.base_channels, (4, 4), strides=(2, 2), padding=pad,
                kernel_init=init, name="conv_0")(x)
    x = nn.leaky_relu(x, 0.2)
    for i in range(1, self.layers + 1):
      stride = 2 if i < self.layers else 1
      x = nn.Conv(self.base_channels * min(2 ** i, 8), (4, 4),
                  strides=(stride, stride), padding=pad, use_bias=False,
                  kernel_init=init, name=f"conv_{i}")(x)
      x = nn.leaky_relu(_norm(f"norm_{i}")(x), 0.2)
    x = nn.Conv(1, (4, 4), padding=pad, kernel_init=init, name="logits")(x)
    return x[..., 0]

