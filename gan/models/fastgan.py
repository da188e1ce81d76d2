"""FastGAN (Liu et al., ICLR 2021) at 64, 128 and 256 px: the networks.

Generator: z (and a label) -> a 4x4 map (dense layer + BatchNorm + GLU), then
one 2x up-block per octave: nearest-neighbour upsampling + 3x3 convolution +
BatchNorm + GLU, every other block doubled and with noise injection (the
reference's `UpBlockComp`). Skip-layer excitation (SLE) gates the map at
resolution r channel-wise with the map at r/16: adaptive average pool to 4x4
-> 4x4 convolution -> Swish -> 1x1 convolution -> sigmoid (REFERENCE §6). It
returns the image and a half-resolution image (from the R/2 map), which the
discriminator's second branch reads.

Discriminator: a big branch (3x3 conv at R, then residual down-blocks to
8x8, with SLE from r to r/8) ending in a 5x5 map of patch logits, and a small
branch on the half-resolution image, ending in another 5x5 map: 50 logits per
image. For real images it also returns reconstructions (the self-supervision):
a small decoder rebuilds the half-resolution image from the 8x8 map, another
the half-resolution image from the small branch's 8x8 map, and a third a
random quarter of the image from that quarter of the 16x16 map.

Conditional: class-conditional BatchNorm in G (a per-class scale and shift
after each normalisation, BigGAN-style), a projection term in D (Miyato &
Koyama 2018) added to both logit maps. Spectral normalisation on every
convolution and dense layer, as in the reference (`model.fastgan.spectral_norm`).

Written for XLA:CPU (REFERENCE §2): no transposed convolutions (nearest
upsampling + stride-1 conv), 1x1 convolutions as dense layers on the channel
axis, the SLE's 4x4 convolution of a 4x4 map as a dense layer.
Channel widths follow the reference's tables (`_G_MULT`, `_D_MULT` x
ngf/ndf, `_DECODER_MULT` x decoder_channels), by resolution.
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan.errors import UserError
from gan.models import layers

SUPPORTED_RESOLUTIONS = (64, 128, 256)
# Width multipliers by feature-map resolution (the reference's `nfc_multi`).
_G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5}
_D_MULT = {4: 16, 8: 16, 16: 8, 32: 4, 64: 2, 128: 1, 256: 0.5}
_DECODER_MULT = _G_MULT
_MIN_WIDTH = 8
_SLE_POOL = 4          # SLE pools its low-resolution input to 4x4.


def _width(mult: dict, base: int, res: int) -> int:
  return max(_MIN_WIDTH, int(mult[res] * base))


def check_resolution(resolution: int) -> None:
  if resolution not in SUPPORTED_RESOLUTIONS:
    raise UserError(f"unsupported resolution {resolution} for model "
                    f"'fastgan'; set --config.data.resolution to one of "
                    f"{list(SUPPORTED_RESOLUTIONS)}")


def discriminator_blocks(resolution: int) -> list[tuple[str, ...]]:
  """D's parameter groups from the image side (what FreezeD freezes first):
  the big branch's first convolution, then each down-block with the SLE
  that gates its output. The small branch, the logits, the projection and
  the decoders are the head (always trained)."""
  blocks, r = [("from_big",)], resolution
  while r > 8:
    r //= 2
    blocks.append((f"down_{r}",) + ((f"sle_{8 * r}_{r}",)
                                    if 8 * r <= resolution else ()))
  return blocks


def _glu(x):
  a, b = jnp.split(x, 2, axis=-1)
  return a * jax.nn.sigmoid(b)


def _upsample_nearest(x):
  b, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


def _avg_pool(x, factor: int):
  if factor == 1:
    return x
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean((2, 4))


def downsample_to(images, size: int):
  """Box-filter downsampling of [B, R, R, C] to [B, size, size, C] (R a
  multiple of size): what D's small branch and the reconstruction targets
  see of a real image."""
  return _avg_pool(images, images.shape[1] // size)


class _SN(nn.Module):
  """Applies `layer`, spectrally normalised when `enabled` (one power
  iteration per call; u and sigma live in `batch_stats`)."""
  layer: nn.Module
  enabled: bool = True

  @nn.compact
  def __call__(self, x, update_stats: bool = True):
    if not self.enabled:
      return self.layer(x)
    return nn.SpectralNorm(self.layer, collection_name="batch_stats")(
        x, update_stats=update_stats)


class _Norm(nn.Module):
  """BatchNorm over the global batch; with labels, a per-class scale and
  shift after it (class-conditional BatchNorm)."""
  num_classes: int = 0
  axis_name: Any = None

  @nn.compact
  def __call__(self, x, labels=None):
    conditional = bool(self.num_classes) and labels is not None
    x = layers.batch_norm(self.axis_name, use_scale=not conditional,
                          use_bias=not conditional)(x)
    if conditional:
      c = x.shape[-1]
      gain = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros,
                      name="class_gain")(labels)
      bias = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros,
                      name="class_bias")(labels)
      x = x * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]
    return x


class _Conv(nn.Module):
  """k x k convolution (NHWC), spectrally normalised when `sn`."""
  features: int
  kernel: int = 3
  stride: int = 1
  padding: Any = "SAME"
  use_bias: bool = False
  sn: bool = True

  @nn.compact
  def __call__(self, x, update_stats=True):
    conv = nn.Conv(self.features, (self.kernel, self.kernel),
                   strides=(self.stride, self.stride), padding=self.padding,
                   use_bias=self.use_bias)
    return _SN(conv, self.sn)(x, update_stats)


class _Dense(nn.Module):
  """A 1x1 convolution or a dense layer, spectrally normalised when `sn`."""
  features: int
  use_bias: bool = True
  sn: bool = True

  @nn.compact
  def __call__(self, x, update_stats=True):
    return _SN(nn.Dense(self.features, use_bias=self.use_bias), self.sn)(
        x, update_stats)


class _SLE(nn.Module):
  """Skip-layer excitation: `small` gates `big` channel-wise."""
  sn: bool = True

  @nn.compact
  def __call__(self, small, big, update_stats=True):
    b = small.shape[0]
    pooled = _avg_pool(small, small.shape[1] // _SLE_POOL)
    # A valid 4x4 convolution of a 4x4 map is a dense layer of the flat map.
    h = _Dense(big.shape[-1], use_bias=False, sn=self.sn)(
        pooled.reshape(b, -1), update_stats)
    h = nn.swish(h)
    gate = jax.nn.sigmoid(_Dense(big.shape[-1], use_bias=False, sn=self.sn)(
        h, update_stats))
    return big * gate[:, None, None, :]


class _NoiseInjection(nn.Module):
  """x + w * noise, w a learnt scalar starting at 0; noise: [B, H, W, 1]."""

  @nn.compact
  def __call__(self, x, noise):
    weight = self.param("weight", nn.initializers.zeros, ())
    return x if noise is None else x + weight * noise


class _UpBlock(nn.Module):
  """2x up: nearest + 3x3 conv + norm + GLU (x2 with noise when `double`)."""
  features: int
  double: bool = False
  num_classes: int = 0
  sn: bool = True
  axis_name: Any = None

  @nn.compact
  def __call__(self, x, labels, noises, update_stats=True):
    x = _upsample_nearest(x)
    for i in range(2 if self.double else 1):
      x = _Conv(self.features * 2, 3, sn=self.sn)(x, update_stats)
      if self.double:
        x = _NoiseInjection()(x, None if noises is None else noises[i])
      x = _glu(_Norm(self.num_classes, self.axis_name)(x, labels))
    return x


class Generator(nn.Module):
  """z: [B, latent_dim], labels: [B] or None, noise_keys: [B] keys or None
  (no noise) -> (images [B, R, R, C], half-resolution images) in [-1, 1]."""
  resolution: int = 64
  channels: int = 1
  ngf: int = 64
  num_classes: int = 0
  sn: bool = True
  axis_name: Any = None

  @nn.compact
  def __call__(self, z, labels=None, noise_keys=None, update_stats=True):
    b = z.shape[0]
    labels = labels if self.num_classes else None
    width = lambda r: _width(_G_MULT, self.ngf, r)
    # The reference's InitLayer: a 4x4 transposed convolution of a 1x1 input
    # (a dense layer) to 2x the channels, normalised, GLU.
    x = _Dense(16 * width(4) * 2, use_bias=False, sn=self.sn)(
        z, update_stats).reshape(b, 4, 4, 2 * width(4))
    x = _glu(_Norm(self.num_classes, self.axis_name)(x, labels))
    feats = {4: x}
    stages = int(math.log2(self.resolution // 4))
    for i in range(stages):
      res = 8 * 2 ** i
      double = i % 2 == 0                  # UpBlockComp at 8, 32, 128 px.
      noises = None
      if double and noise_keys is not None:
        noises = [jax.vmap(lambda k, n=n: jax.random.normal(
            jax.random.fold_in(k, 2 * i + n), (res, res, 1)))(noise_keys)
                  for n in range(2)]
      x = _UpBlock(width(res), double, self.num_classes, self.sn,
                   self.axis_name, name=f"up_{res}")(x, labels, noises,
                                                     update_stats)
      if res >= 64:                        # SLE from r/16, as the reference.
        x = _SLE(self.sn, name=f"sle_{res // 16}_{res}")(
            feats[res // 16], x, update_stats)
      feats[res] = x
    image = _Conv(self.channels, 3, use_bias=True, sn=self.sn,
                  name="to_image")(x, update_stats)
    half = _Dense(self.channels, sn=self.sn, name="to_half")(
        feats[self.resolution // 2], update_stats)
    return jnp.tanh(image), jnp.tanh(half)


class _DownBlock(nn.Module):
  """4x4 stride-2 conv + BatchNorm + LeakyReLU; with `residual`, averaged
  with a pooled 1x1 path and a second 3x3 conv (the reference's
  `DownBlockComp`)."""
  features: int
  residual: bool = True
  sn: bool = True
  axis_name: Any = None

  @nn.compact
  def __call__(self, x, update_stats=True):
    bn = lambda: layers.batch_norm(self.axis_name)
    main = _Conv(self.features, 4, 2, ((1, 1), (1, 1)), sn=self.sn)(
        x, update_stats)
    main = nn.leaky_relu(bn()(main), 0.2)
    if not self.residual:
      return main
    main = _Conv(self.features, 3, sn=self.sn)(main, update_stats)
    main = nn.leaky_relu(bn()(main), 0.2)
    direct = _Dense(self.features, use_bias=False, sn=self.sn)(
        _avg_pool(x, 2), update_stats)
    direct = nn.leaky_relu(bn()(direct), 0.2)
    return (main + direct) / 2


class _Decoder(nn.Module):
  """[B, H, W, C] -> pool to 8x8 -> up-blocks to `size` -> [B, size, size,
  channels] in [-1, 1] (the reference's `SimpleDecoder`)."""
  size: int
  channels: int
  base: int = 32
  sn: bool = True
  axis_name: Any = None

  @nn.compact
  def __call__(self, x, update_stats=True):
    x = _avg_pool(x, x.shape[1] // 8)
    res = 8
    while res < self.size:
      res *= 2
      x = _UpBlock(_width(_DECODER_MULT, self.base, res), sn=self.sn,
                   axis_name=self.axis_name)(x, None, None, update_stats)
    return jnp.tanh(_Conv(self.channels, 3, use_bias=True, sn=self.sn)(
        x, update_stats))


def _patch_logits(features, sn, update_stats, name):
  """A valid 4x4 convolution to one logit per 4x4 patch: [B, 8, 8, C] ->
  [B, 25]."""
  logits = _Conv(1, 4, padding="VALID", use_bias=True, sn=sn, name=name)(
      features, update_stats)
  return logits.reshape(logits.shape[0], -1)


def quarter(x, part):
  """The quarter `part` (0..3: top-left, top-right, bottom-left,
  bottom-right) of each [H, W, C] map in x: [B, H, W, C], part: [B]."""
  h, w = x.shape[1] // 2, x.shape[2] // 2

  def one(img, p):
    return jax.lax.dynamic_slice(img, ((p // 2) * h, (p % 2) * w, 0),
                                 (h, w, img.shape[-1]))

  return jax.vmap(one)(x, part)


class Discriminator(nn.Module):
  """(images [B, R, R, C], half-resolution images [B, R/2, R/2, C]), labels
  -> logits [B, 50]; with `part` ([B] ints in 0..3) also the reconstructions
  {"big", "small", "part"}, each [B, R/2, R/2, C]."""
  resolution: int = 64
  channels: int = 1
  ndf: int = 64
  decoder_channels: int = 32
  num_classes: int = 0
  sn: bool = True
  axis_name: Any = None

  @nn.compact
  def __call__(self, images, half, labels=None, part=None, update_stats=True):
    width = lambda r: _width(_D_MULT, self.ndf, r)
    r = self.resolution
    x = _Conv(width(r), 3, sn=self.sn, name="from_big")(images, update_stats)
    x = nn.leaky_relu(x, 0.2)
    feats = {r: x}
    while r > 8:
      r //= 2
      x = _DownBlock(width(r), sn=self.sn, axis_name=self.axis_name,
                     name=f"down_{r}")(x, update_stats)
      if 8 * r in feats:                   # SLE from r x 8, as the reference.
        x = _SLE(self.sn, name=f"sle_{8 * r}_{r}")(feats[8 * r], x,
                                                    update_stats)
      feats[r] = x
    big = nn.leaky_relu(layers.batch_norm(self.axis_name)(
        _Dense(width(8), use_bias=False, sn=self.sn)(feats[8], update_stats)),
        0.2)
    logits_big = _patch_logits(big, self.sn, update_stats, "logits_big")

    r = self.resolution // 2
    s = _Conv(width(r // 2), 4, 2, ((1, 1), (1, 1)), sn=self.sn,
              name="from_small")(half, update_stats)
    s = nn.leaky_relu(s, 0.2)
    r //= 2
    while r > 8:
      r //= 2
      s = _DownBlock(width(r), residual=False, sn=self.sn,
                     axis_name=self.axis_name, name=f"small_down_{r}")(
                         s, update_stats)
    logits_small = _patch_logits(s, self.sn, update_stats, "logits_small")
    logits = jnp.concatenate([logits_big, logits_small], axis=1)

    if self.num_classes:
      # Projection: <embed(y), pooled features> added to every patch logit.
      h = jnp.concatenate([feats[8].mean((1, 2)), s.mean((1, 2))], axis=-1)
      embed = nn.Embed(self.num_classes, h.shape[-1],
                       embedding_init=nn.initializers.normal(0.02),
                       name="projection")(labels)
      logits = logits + jnp.sum(embed * h, axis=-1, keepdims=True)
    if part is None:
      return logits
    size = self.resolution // 2
    dec = lambda name: _Decoder(size, self.channels, self.decoder_channels,
                                self.sn, self.axis_name, name=name)
    reconstructions = {
        "big": dec("decoder_big")(feats[8], update_stats),
        "small": dec("decoder_small")(s, update_stats),
        "part": dec("decoder_part")(quarter(feats[16], part), update_stats),
    }
    return logits, reconstructions


def create(config, num_classes: int, bn_axis_name=None):
  """(Generator, Discriminator) from `config.model.fastgan`."""
  f = config.model.fastgan
  check_resolution(config.data.resolution)
  generator = Generator(
      resolution=config.data.resolution, channels=config.data.channels,
      ngf=f.ngf, num_classes=num_classes, sn=f.spectral_norm,
      axis_name=bn_axis_name)
  discriminator = Discriminator(
      resolution=config.data.resolution, channels=config.data.channels,
      ndf=f.ndf, decoder_channels=f.decoder_channels, num_classes=num_classes,
      sn=f.spectral_norm, axis_name=bn_axis_name)
  return generator, discriminator
