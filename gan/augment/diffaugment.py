"""DiffAugment (Zhao et al., 2020): color, translation, cutout; differentiable.

Ranges as in the paper's code: brightness + U(-0.5, 0.5), saturation
x U(0, 2) (RGB only), contrast x U(0.5, 1.5) about the image mean,
translation by up to 1/8 of the size, cutout of a square half the size.
The value that translation and cutout fill with is a parameter: the paper
fills with 0 (mid-grey in [-1, 1]); the default here is -1, the black
background of MRI.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gan.errors import UserError

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
  parts = tuple(p.strip() for p in policy.split(",") if p.strip())
  bad = [p for p in parts if p not in POLICIES]
  if bad:
    raise UserError(f"unknown DiffAugment policy {bad[0]!r}; set "
                    f"--config.augment.diffaugment_policy to a comma-separated "
                    f"subset of {','.join(POLICIES)}")
  return parts


def _color(x, key):
  kb, ks, kc = jax.random.split(key, 3)
  x = x + (jax.random.uniform(kb) - 0.5)
  if x.shape[-1] == 3:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (jax.random.uniform(ks) * 2) + mean
  mean = jnp.mean(x)
  return (x - mean) * (jax.random.uniform(kc) + 0.5) + mean


def _translation(x, key, ratio, fill):
  h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  ty = jax.random.randint(ky, (), -sh, sh + 1)
  tx = jax.random.randint(kx, (), -sw, sw + 1)
  rows = jnp.arange(h) - ty
  cols = jnp.arange(w) - tx
  valid = (((rows >= 0) & (rows < h))[:, None]
           & ((cols >= 0) & (cols < w))[None, :])[..., None]
  moved = x[jnp.clip(rows, 0, h - 1)][:, jnp.clip(cols, 0, w - 1)]
  return jnp.where(valid, moved, fill)


def _cutout(x, key, ratio, fill):
  h, w, _ = x.shape
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (), 0, h + (1 - ch % 2))
  cx = jax.random.randint(kx, (), 0, w + (1 - cw % 2))
  rows = jnp.arange(h)[:, None]
  cols = jnp.arange(w)[None, :]
  inside = ((rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch)
            & (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw))
  return jnp.where(inside[..., None], fill, x)


def augment(images, keys, policy: tuple[str, ...] = POLICIES,
            fill_value: float = -1.0, translation_ratio: float = 0.125,
            cutout_ratio: float = 0.5):
  """images [B, H, W, C] in [-1, 1], keys [B] PRNG keys -> [B, H, W, C]."""

  def one(x, key):
    kc, kt, ko = jax.random.split(key, 3)
    if "color" in policy:
      x = _color(x, kc)
    if "translation" in policy:
      x = _translation(x, kt, translation_ratio, fill_value)
    if "cutout" in policy:
      x = _cutout(x, ko, cutout_ratio, fill_value)
    return x

  return jax.vmap(one)(images, keys)
