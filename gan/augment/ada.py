"""StyleGAN2-ADA's augmentation pipeline (`bgc`), differentiable, in JAX.

Every transform is applied to each image independently with probability p
(rotations with 1 - sqrt(1 - p) each, twice, as in the reference), so the
pipeline is the identity at p = 0 (and is then skipped entirely). Geometric
transforms (x-flip, 90-degree rotations, integer translation, isotropic
scaling, rotation, anisotropic scaling, fractional translation) compose into
one 3x3 matrix per image, applied by a single bilinear resampling with
reflect padding; at p = 0 and at integer positions it reproduces the input
exactly. Colour transforms: brightness and contrast for every image; luma
flip, hue rotation and saturation only for 3-channel images (on grayscale
they would invert MRI intensities, so they are never applied to 1 channel).

Gradients flow to the images (the discriminator's gradient reaches G through
the augmented fakes), never to the random parameters.

The adaptive p (`update_p`) follows the reference: the overfitting signal
r_t = E[sign(D(real))] is accumulated and every `interval` steps
p += sign(r_t - target) * batch * interval / (kimg * 1000), clipped to
[0, max_p].
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections

from gan.errors import UserError


@dataclasses.dataclass(frozen=True)
class Spec:
  """Strength multipliers (0 disables a transform) and ranges, as in `bgc`."""
  xflip: float = 1.0
  rotate90: float = 1.0
  xint: float = 1.0
  xint_max: float = 0.125
  scale: float = 1.0
  rotate: float = 1.0
  aniso: float = 1.0
  xfrac: float = 1.0
  scale_std: float = 0.2
  rotate_max: float = 1.0
  aniso_std: float = 0.2
  xfrac_std: float = 0.125
  brightness: float = 1.0
  contrast: float = 1.0
  lumaflip: float = 1.0
  hue: float = 1.0
  saturation: float = 1.0
  brightness_std: float = 0.2
  contrast_std: float = 0.5
  hue_max: float = 1.0
  saturation_std: float = 1.0


def spec_from_config(augment: ml_collections.ConfigDict) -> Spec:
  names = {f.name for f in dataclasses.fields(Spec)}
  ada = augment.get("ada", {}) or {}
  return Spec(**{k: float(v) for k, v in dict(ada).items() if k in names})


def validate(augment: ml_collections.ConfigDict) -> None:
  target = augment.ada_target
  if not 0 < target < 1:
    raise UserError(f"augment.ada_target must be in (0, 1), got {target}; "
                    f"the reference uses 0.6 (--config.augment.ada_target=0.6)")
  if not 0 < augment.ada_max_p <= 1:
    raise UserError(f"augment.ada_max_p must be in (0, 1], got "
                    f"{augment.ada_max_p}; e.g. --config.augment.ada_max_p=0.8")
  if augment.ada_interval < 1 or augment.ada_kimg <= 0:
    raise UserError("augment.ada_interval must be >= 1 and augment.ada_kimg > 0")


def _translate(tx, ty):
  one, zero = jnp.ones_like(tx), jnp.zeros_like(tx)
  return jnp.array([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


def _scale(sx, sy):
  one, zero = jnp.ones_like(sx), jnp.zeros_like(sx)
  return jnp.array([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def _rotate(cos, sin):
  one, zero = jnp.ones_like(cos), jnp.zeros_like(cos)
  return jnp.array([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])


def _reflect(i, n):
  """Reflect padding (no edge repeat) of float index i into [0, n-1]."""
  if n == 1:
    return jnp.zeros_like(i)
  period = 2.0 * (n - 1)
  t = jnp.mod(i, period)
  return jnp.where(t > n - 1, period - t, t)


def _resample(image, matrix):
  """Bilinear resampling of image [H, W, C] at matrix @ (x, y, 1).

  Coordinates are pixel centres relative to the image centre; outside
  positions read the reflect-padded image.
  """
  h, w, _ = image.shape
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) - (h - 1) / 2,
                        jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2,
                        indexing="ij")
  src_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] + (w - 1) / 2
  src_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] + (h - 1) / 2
  src_x, src_y = _reflect(src_x, w), _reflect(src_y, h)
  x0 = jnp.clip(jnp.floor(src_x), 0, w - 1)
  y0 = jnp.clip(jnp.floor(src_y), 0, h - 1)
  fx, fy = (src_x - x0)[..., None], (src_y - y0)[..., None]
  x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
  x1, y1 = jnp.minimum(x0 + 1, w - 1), jnp.minimum(y0 + 1, h - 1)
  top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
  bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
  return top * (1 - fy) + bottom * fy


def _geometric_matrix(key, p, spec: Spec, h: int, w: int):
  keys = iter(jax.random.split(key, 16))
  on = lambda prob: jax.random.uniform(next(keys)) < prob
  m = jnp.eye(3)
  if spec.xflip:
    flip = jax.random.randint(next(keys), (), 0, 2) * on(spec.xflip * p)
    m = m @ _scale(1.0 - 2.0 * flip, jnp.float32(1.0))
  if spec.rotate90:
    k = jax.random.randint(next(keys), (), 0, 4) * on(spec.rotate90 * p)
    cos = jnp.array([1.0, 0.0, -1.0, 0.0])[k]   # exact multiples of 90 deg
    sin = jnp.array([0.0, 1.0, 0.0, -1.0])[k]
    m = m @ _rotate(cos, sin)
  if spec.xint:
    t = jax.random.uniform(next(keys), (2,), minval=-1, maxval=1) * spec.xint_max
    t = jnp.round(t * jnp.array([w, h])) * on(spec.xint * p)
    m = m @ _translate(t[0], t[1])
  if spec.scale:
    s = jnp.exp2(jax.random.normal(next(keys)) * spec.scale_std)
    s = jnp.where(on(spec.scale * p), s, 1.0)
    m = m @ _scale(s, s)
  p_rot = 1 - jnp.sqrt(jnp.clip(1 - spec.rotate * p, 0, 1))
  for _ in range(2 if spec.rotate else 0):   # before and after aniso
    theta = jax.random.uniform(next(keys), (), minval=-1, maxval=1)
    theta = theta * math.pi * spec.rotate_max * on(p_rot)
    m = m @ _rotate(jnp.cos(theta), jnp.sin(theta))
    if spec.aniso and _ == 0:
      s = jnp.exp2(jax.random.normal(next(keys)) * spec.aniso_std)
      s = jnp.where(on(spec.aniso * p), s, 1.0)
      m = m @ _scale(s, 1.0 / s)
  if spec.aniso and not spec.rotate:
    s = jnp.exp2(jax.random.normal(next(keys)) * spec.aniso_std)
    s = jnp.where(on(spec.aniso * p), s, 1.0)
    m = m @ _scale(s, 1.0 / s)
  if spec.xfrac:
    t = jax.random.normal(next(keys), (2,)) * spec.xfrac_std
    t = t * jnp.array([w, h]) * on(spec.xfrac * p)
    m = m @ _translate(t[0], t[1])
  return m


def _color(image, key, p, spec: Spec):
  keys = iter(jax.random.split(key, 10))
  on = lambda prob: jax.random.uniform(next(keys)) < prob
  if spec.brightness:
    b = jax.random.normal(next(keys)) * spec.brightness_std
    image = image + jnp.where(on(spec.brightness * p), b, 0.0)
  if spec.contrast:
    c = jnp.exp2(jax.random.normal(next(keys)) * spec.contrast_std)
    image = image * jnp.where(on(spec.contrast * p), c, 1.0)
  if image.shape[-1] != 3:
    return image   # luma flip / hue / saturation: RGB only (never on MRI).
  v = jnp.full((3,), 1 / math.sqrt(3.0))
  vv = jnp.outer(v, v)
  mat = jnp.eye(3)
  if spec.lumaflip:
    i = jax.random.randint(next(keys), (), 0, 2) * on(spec.lumaflip * p)
    mat = (jnp.eye(3) - 2 * vv * i) @ mat
  if spec.hue:
    theta = jax.random.uniform(next(keys), (), minval=-1, maxval=1)
    theta = theta * math.pi * spec.hue_max * on(spec.hue * p)
    # Rodrigues rotation about the luma axis v.
    kx = jnp.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    rot = jnp.eye(3) + jnp.sin(theta) * kx + (1 - jnp.cos(theta)) * (kx @ kx)
    mat = rot @ mat
  if spec.saturation:
    s = jnp.exp2(jax.random.normal(next(keys)) * spec.saturation_std)
    s = jnp.where(on(spec.saturation * p), s, 1.0)
    mat = (vv + (jnp.eye(3) - vv) * s) @ mat
  return jnp.einsum("hwc,dc->hwd", image, mat)


def augment_one(image, key, p, spec: Spec):
  """image [H, W, C] float32, key: a PRNG key, p: scalar -> [H, W, C]."""
  h, w, _ = image.shape
  g_key, c_key = jax.random.split(key)
  matrix = _geometric_matrix(g_key, p, spec, h, w)
  image = _resample(image, matrix)
  return _color(image, c_key, p, spec)


def augment(images, keys, p, spec: Spec = Spec()):
  """images [B, H, W, C] in [-1, 1], keys [B] PRNG keys, p scalar in [0, 1].

  The identity (and free) when p == 0.
  """
  p = jnp.asarray(p, jnp.float32)
  run = jax.vmap(lambda img, k: augment_one(img, k, p, spec))
  return jax.lax.cond(p > 0, lambda x: run(x, keys), lambda x: x, images)


def update_p(p, signal_sum, signal_count, *, target: float, batch_size: int,
             interval: int, kimg: float, max_p: float = 1.0):
  """One ADA adjustment from accumulated sign(D(real)) (returns new p, r_t).

  signal_sum / signal_count = r_t, the fraction of reals D calls real minus
  the fraction it calls fake. Higher than `target`: D overfits, raise p.
  """
  r_t = signal_sum / jnp.maximum(signal_count, 1.0)
  adjust = jnp.sign(r_t - target) * (batch_size * interval) / (kimg * 1000.0)
  return jnp.clip(p + adjust, 0.0, max_p), r_t
