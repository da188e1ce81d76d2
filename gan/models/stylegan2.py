"""StyleGAN2 (Karras et al., 2020) as configured by StyleGAN2-ADA, grayscale or RGB.

Generator: mapping network (equalised lr with a multiplier, label embedding
for class conditioning, a tracked average w for truncation) and a `skip`
synthesis network (constant 4x4 input, modulated/demodulated 3x3 convolutions,
per-layer noise, toRGB at every resolution summed through 2x upsampling).
Discriminator: `resnet` architecture, minibatch standard deviation, projection
conditioning (a label embedding dotted with the final features).

Written for fast gradients on XLA:CPU as well as accelerators (REFERENCE §2):
- modulation as `x * style` before a shared, normal 3x3 convolution and
  demodulation as `* demod` after it (StyleGAN2's `fused_modconv=False`);
- 2x upsampling as the [1, 3, 3, 1] FIR filter (what StyleGAN2 applies after
  its transposed convolution) written as interleaved weighted sums, followed by
  a stride-1 3x3 convolution: no `lhs_dilation`, no transposed convolution;
- 2x downsampling as the same filter with stride 2 (weighted sums), followed
  by a convolution at the lower resolution;
- 1x1 convolutions (toRGB, fromRGB, resnet skips) as matmuls.

Parameters are stored N(0, 1) and scaled at run time (equalised learning
rate). The generator keeps the running average of w in the `batch_stats`
collection (it is not trained; `w_avg_beta` EMA, as in the reference), so the
trainer's `g_batch_stats` and the sampling API carry it.

Shapes: z [B, z_dim]; labels [B] int32 or None; images [B, R, R, C] in about
[-1, 1] (not clipped: the reference's output is unbounded too).
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import UserError

# Any square power of two from 4 px up (the data pipeline letterboxes
# non-square images).
SUPPORTED_RESOLUTIONS = tuple(2 ** k for k in range(2, 13))

_SQRT2 = math.sqrt(2.0)


def check_resolution(resolution: int) -> None:
  if resolution < 4 or resolution & (resolution - 1):
    raise UserError(f"StyleGAN2 needs a square power-of-two resolution >= 4, "
                    f"got {resolution}; set --config.data.resolution to e.g. "
                    f"64 or 128")


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  return int(min(channel_base // res, channel_max))


def num_ws(resolution: int) -> int:
  """Number of w vectors the synthesis network reads (2 per block + 1 toRGB)."""
  return 2 * int(math.log2(resolution)) - 2


def discriminator_blocks(resolution: int) -> list[tuple[str, ...]]:
  """D's parameter groups from the image side (what FreezeD freezes first):
  fromrgb with the full-resolution block, then one block per resolution
  down to 8; the 4x4 epilogue and the label mapping are the head."""
  blocks, res = [], resolution
  while res > 4:
    blocks.append((f"b{res}_conv0", f"b{res}_conv1", f"b{res}_skip"))
    res //= 2
  if blocks:
    blocks[0] = ("fromrgb",) + blocks[0]
  return blocks


def lrelu(x):
  # Gain sqrt(2) keeps the activation variance, as in the reference.
  return jax.nn.leaky_relu(x, 0.2) * _SQRT2


def _normalize_2nd_moment(x, eps=1e-8):
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def _conv(x, kernel, dtype):
  """Stride-1 'same' convolution, NHWC x HWIO, in `dtype` with f32 output.

  1x1 kernels run as a matmul: XLA:CPU is several times slower on a 1x1
  convolution than on the same contraction written as a dot.
  """
  k = kernel.shape[0]
  if k == 1:
    return jnp.einsum("bhwc,cd->bhwd", x.astype(dtype), kernel[0, 0].astype(dtype),
                      preferred_element_type=jnp.float32)
  pad = ((k // 2, (k - 1) // 2),) * 2
  return jax.lax.conv_general_dilated(
      x.astype(dtype), kernel.astype(dtype), (1, 1), pad,
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      preferred_element_type=jnp.float32)


def upsample2x(x):
  """[B, H, W, C] -> [B, 2H, 2W, C] with the FIR filter [1, 3, 3, 1] (gain 4).

  Output 2m reads (x[m-1] + 3 x[m]) / 4 and 2m+1 reads (3 x[m] + x[m+1]) / 4
  per axis, with zero padding (as `upfirdn2d` pads), which is StyleGAN2's
  zero-insertion + filter written without a transposed convolution.
  """
  def along(x, axis):
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (1, 1)
    xp = jnp.pad(x, pad)
    prev = jax.lax.slice_in_dim(xp, 0, n, axis=axis)
    nxt = jax.lax.slice_in_dim(xp, 2, n + 2, axis=axis)
    even = 0.25 * prev + 0.75 * x
    odd = 0.75 * x + 0.25 * nxt
    y = jnp.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return y.reshape(shape)
  return along(along(x, 1), 2)


def downsample2x(x):
  """[B, H, W, C] -> [B, H/2, W/2, C]: FIR [1, 3, 3, 1] / 8 per axis, stride 2.

  Output m reads (x[2m-1] + 3 x[2m] + 3 x[2m+1] + x[2m+2]) / 8, zero padded.
  """
  def along(x, axis):
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis:axis + 1] = [n // 2, 2]
    pairs = x.reshape(shape)                       # [..., n/2, 2, ...]
    even = jnp.take(pairs, 0, axis=axis + 1)       # x[2m]
    odd = jnp.take(pairs, 1, axis=axis + 1)        # x[2m+1]
    pad_prev = [(0, 0)] * x.ndim
    pad_prev[axis] = (1, 0)
    pad_next = [(0, 0)] * x.ndim
    pad_next[axis] = (0, 1)
    prev_odd = jax.lax.slice_in_dim(jnp.pad(odd, pad_prev), 0, n // 2, axis=axis)
    next_even = jax.lax.slice_in_dim(jnp.pad(even, pad_next), 1, n // 2 + 1,
                                     axis=axis)
    return (prev_odd + 3 * even + 3 * odd + next_even) / 8
  return along(along(x, 1), 2)


class EqualDense(nn.Module):
  """Dense layer with equalised learning rate: w ~ N(0, 1/lr_mul) * lr_mul/sqrt(fan_in)."""
  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True
  activation: bool = False

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1]
    w = self.param("kernel", nn.initializers.normal(1.0 / self.lr_mul),
                   (fan_in, self.features), jnp.float32)
    y = x @ (w * (self.lr_mul / math.sqrt(fan_in)))
    if self.use_bias:
      b = self.param("bias", nn.initializers.constant(self.bias_init / self.lr_mul),
                     (self.features,), jnp.float32)
      y = y + b * self.lr_mul
    return lrelu(y) if self.activation else y


class MappingNetwork(nn.Module):
  """z [B, z_dim] (+ labels) -> w [B, num_ws, w_dim]; tracks the average w."""
  z_dim: int
  w_dim: int
  num_ws: int
  num_layers: int = 8
  lr_mul: float = 0.01
  num_classes: int = 0
  w_avg_beta: float = 0.995

  @nn.compact
  def __call__(self, z, labels=None, truncation_psi=1.0):
    parts = []
    if self.z_dim:
      parts.append(_normalize_2nd_moment(z.astype(jnp.float32)))
    if self.num_classes:
      onehot = jax.nn.one_hot(labels, self.num_classes)
      parts.append(_normalize_2nd_moment(
          EqualDense(self.w_dim, name="embed")(onehot)))
    x = jnp.concatenate(parts, axis=-1)
    for i in range(self.num_layers):
      x = EqualDense(self.w_dim, lr_mul=self.lr_mul, activation=True,
                     name=f"fc{i}")(x)
    # The trainer updates w_avg (an EMA of w over the global batch, beta
    # `w_avg_beta`); here it is only read, for truncation.
    w_avg = self.variable("batch_stats", "w_avg",
                          lambda: jnp.zeros((self.w_dim,), jnp.float32))
    x = jnp.repeat(x[:, None, :], self.num_ws, axis=1)
    if not (isinstance(truncation_psi, (int, float)) and truncation_psi == 1):
      x = w_avg.value + truncation_psi * (x - w_avg.value)
    return x


class ModulatedConv(nn.Module):
  """3x3 modulated conv (optionally after 2x upsampling), noise, bias, lrelu.

  x: [B, H, W, C_in], w: [B, w_dim] -> [B, H', W', features].
  """
  features: int
  up: bool = False
  demodulate: bool = True
  use_noise: bool = True
  kernel_size: int = 3
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, w):
    c_in = x.shape[-1]
    k = self.kernel_size
    styles = EqualDense(c_in, bias_init=1.0, name="affine")(w)     # [B, C_in]
    weight = self.param("kernel", nn.initializers.normal(1.0),
                        (k, k, c_in, self.features), jnp.float32)
    weight = weight * (1.0 / math.sqrt(c_in * k * k))
    x = x * styles[:, None, None, :].astype(x.dtype)
    if self.up:
      x = upsample2x(x)
    y = _conv(x, weight, self.dtype)
    if self.demodulate:
      w2 = jnp.sum(jnp.square(weight), axis=(0, 1))                # [C_in, out]
      demod = jax.lax.rsqrt(jnp.square(styles) @ w2 + 1e-8)       # [B, out]
      y = y * demod[:, None, None, :]
    if self.use_noise:
      strength = self.param("noise_strength", nn.initializers.zeros, (),
                            jnp.float32)
      if self.has_rng("noise"):
        noise = jax.random.normal(self.make_rng("noise"),
                                  y.shape[:3] + (1,), jnp.float32)
        y = y + noise * strength
    bias = self.param("bias", nn.initializers.zeros, (self.features,),
                      jnp.float32)
    y = y + bias
    return y if not self.demodulate else lrelu(y)


class ToRGB(nn.Module):
  """1x1 modulated conv without demodulation, as a matmul. -> [B, H, W, C]."""
  channels: int

  @nn.compact
  def __call__(self, x, w):
    c_in = x.shape[-1]
    styles = EqualDense(c_in, bias_init=1.0, name="affine")(w) / math.sqrt(c_in)
    weight = self.param("kernel", nn.initializers.normal(1.0),
                        (c_in, self.channels), jnp.float32)
    y = jnp.einsum("bhwc,bc,cd->bhwd", x.astype(jnp.float32), styles, weight)
    return y + self.param("bias", nn.initializers.zeros, (self.channels,),
                          jnp.float32)


class SynthesisNetwork(nn.Module):
  """ws [B, num_ws, w_dim] -> images [B, R, R, C] (skip architecture)."""
  resolution: int
  channels: int
  channel_base: int
  channel_max: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, ws):
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)),
                       jnp.float32)
    x = jnp.broadcast_to(const, (ws.shape[0],) + const.shape)
    x = ModulatedConv(ch(4), dtype=self.dtype, name="b4_conv1")(x, ws[:, 0])
    img = ToRGB(self.channels, name="b4_torgb")(x, ws[:, 1])
    i = 1
    res = 8
    while res <= self.resolution:
      x = ModulatedConv(ch(res), up=True, dtype=self.dtype,
                        name=f"b{res}_conv0")(x, ws[:, i])
      x = ModulatedConv(ch(res), dtype=self.dtype,
                        name=f"b{res}_conv1")(x, ws[:, i + 1])
      img = upsample2x(img) + ToRGB(self.channels, name=f"b{res}_torgb")(
          x, ws[:, i + 2])
      i += 2
      res *= 2
    return img.astype(jnp.float32)


class Generator(nn.Module):
  """z: [B, z_dim], labels: [B] int or None -> [B, R, R, C], about [-1, 1].

  `__call__` = mapping + synthesis. Per-layer noise is drawn from the
  'noise' rng when one is passed (training, sampling) and left out otherwise.
  """
  resolution: int = 64
  channels: int = 1
  z_dim: int = 512
  w_dim: int = 512
  mapping_layers: int = 8
  mapping_lr_mul: float = 0.01
  channel_base: int = 16384
  channel_max: int = 512
  num_classes: int = 0
  dtype: Any = jnp.float32

  def setup(self):
    check_resolution(self.resolution)
    self.mapping = MappingNetwork(
        z_dim=self.z_dim, w_dim=self.w_dim, num_ws=num_ws(self.resolution),
        num_layers=self.mapping_layers, lr_mul=self.mapping_lr_mul,
        num_classes=self.num_classes)
    self.synthesis = SynthesisNetwork(
        resolution=self.resolution, channels=self.channels,
        channel_base=self.channel_base, channel_max=self.channel_max,
        dtype=self.dtype)

  def map(self, z, labels=None, truncation_psi=1.0):
    return self.mapping(z, labels, truncation_psi)

  def synthesize(self, ws):
    return self.synthesis(ws)

  def __call__(self, z, labels=None, truncation_psi=1.0):
    return self.synthesis(self.mapping(z, labels, truncation_psi))


def _minibatch_std(x, group_size: int, num_channels: int = 1):
  """Appends the std over groups of the batch: [B,H,W,C] -> [B,H,W,C+F]."""
  b, h, w, c = x.shape
  g = math.gcd(group_size, b)
  f = num_channels
  y = x.reshape(g, b // g, h, w, f, c // f)
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)   # [B/g, h, w, f, c/f]
  y = jnp.mean(y, axis=(1, 2, 4))                        # [B/g, f]
  y = jnp.tile(y, (g, 1))                                # [B, f] (row i -> i % (B/g))
  y = jnp.broadcast_to(y[:, None, None, :], (b, h, w, f))
  return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)


class EqualConv(nn.Module):
  """k x k conv (1x1 as matmul) with equalised lr; optional 2x downsample first."""
  features: int
  kernel_size: int = 3
  down: bool = False
  use_bias: bool = True
  activation: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    c_in = x.shape[-1]
    k = self.kernel_size
    weight = self.param("kernel", nn.initializers.normal(1.0),
                        (k, k, c_in, self.features), jnp.float32)
    weight = weight * (1.0 / math.sqrt(c_in * k * k))
    if self.down:
      x = downsample2x(x)
    y = _conv(x, weight, self.dtype)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,),
                         jnp.float32)
    return lrelu(y) if self.activation else y


class Discriminator(nn.Module):
  """images: [B, R, R, C] in [-1, 1], labels: [B] int or None -> [B] logits.

  Minibatch std is taken over groups of the per-device batch (as the
  reference takes it per GPU).
  """
  resolution: int = 64
  channel_base: int = 16384
  channel_max: int = 512
  num_classes: int = 0
  mbstd_group_size: int = 4
  mbstd_num_channels: int = 1
  cmap_dim: int = 0            # 0: the width of the last layer.
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, labels=None):
    check_resolution(self.resolution)
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    x = EqualConv(ch(self.resolution), kernel_size=1, dtype=self.dtype,
                  name="fromrgb")(images.astype(jnp.float32))
    res = self.resolution
    while res > 4:
      skip = EqualConv(ch(res // 2), kernel_size=1, down=True, use_bias=False,
                       activation=False, dtype=self.dtype,
                       name=f"b{res}_skip")(x)
      x = EqualConv(ch(res), dtype=self.dtype, name=f"b{res}_conv0")(x)
      x = EqualConv(ch(res // 2), down=True, dtype=self.dtype,
                    name=f"b{res}_conv1")(x)
      x = (skip + x) * math.sqrt(0.5)
      res //= 2
    if self.mbstd_num_channels:
      x = _minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
    x = EqualConv(ch(4), dtype=self.dtype, name="b4_conv")(x)
    x = EqualDense(ch(4), activation=True, name="b4_fc")(
        x.reshape(x.shape[0], -1))
    if not self.num_classes:
      return EqualDense(1, name="b4_out")(x)[:, 0]
    cmap_dim = self.cmap_dim or ch(4)
    out = EqualDense(cmap_dim, name="b4_out")(x)
    cmap = EqualDense(cmap_dim, name="cmap_embed")(
        jax.nn.one_hot(labels, self.num_classes))
    cmap = EqualDense(cmap_dim, activation=True, name="cmap_fc0")(
        _normalize_2nd_moment(cmap))
    return jnp.sum(out * cmap, axis=-1) / math.sqrt(cmap_dim)


def create(config, num_classes: int, dtype=None, bn_axis_name=None):
  """(Generator, Discriminator) from `config.model.stylegan2` (no BatchNorm:
  `bn_axis_name` is not read)."""
  del bn_axis_name
  s = config.model.stylegan2
  check_resolution(config.data.resolution)
  if dtype is None:
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}.get(s.dtype)
    if dtype is None:
      raise UserError(f"model.stylegan2.dtype must be 'float32' or 'bfloat16', "
                      f"got {s.dtype!r}")
  generator = Generator(
      resolution=config.data.resolution, channels=config.data.channels,
      z_dim=config.model.latent_dim, w_dim=s.w_dim,
      mapping_layers=s.mapping_layers, mapping_lr_mul=s.mapping_lr_mul,
      channel_base=s.channel_base, channel_max=s.channel_max,
      num_classes=num_classes, dtype=dtype)
  discriminator = Discriminator(
      resolution=config.data.resolution, channel_base=s.channel_base,
      channel_max=s.channel_max, num_classes=num_classes,
      mbstd_group_size=s.mbstd_group_size,
      mbstd_num_channels=s.mbstd_num_channels, dtype=dtype)
  return generator, discriminator
