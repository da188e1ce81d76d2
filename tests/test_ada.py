"""ADA: the augmentations are differentiable, exact where they should be, the
identity at p = 0, and p follows the overfitting signal."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import train
from gan.augment import ada
from gan.errors import UserError
from tests import helpers

_OFF = {f.name: 0.0 for f in dataclasses.fields(ada.Spec)
        if f.name in ("xflip", "rotate90", "xint", "scale", "rotate", "aniso",
                      "xfrac", "brightness", "contrast", "lumaflip", "hue",
                      "saturation")}
_ALL = sorted(_OFF)


def _only(name):
  return ada.Spec(**{**_OFF, name: 1.0})


def _images(channels, n=4, res=16, seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(
      -1, 1, (n, res, res, channels)).astype(np.float32))


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


@pytest.mark.parametrize("channels", [1, 3])
def test_every_augmentation_is_differentiable_and_acts(channels):
  x = _images(channels)
  weights = _images(channels, seed=1)
  keys = _keys(4)
  for name in _ALL:
    spec = _only(name)
    out = ada.augment(x, keys, 1.0, spec)
    grad = jax.grad(lambda img: jnp.sum(ada.augment(img, keys, 1.0, spec)
                                        * weights))(x)
    grad = np.asarray(grad)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0, name
    if channels == 1 and name in ("lumaflip", "hue", "saturation"):
      # Never applied to grayscale: they would invert MRI intensities.
      np.testing.assert_array_equal(out, x)
      continue
    # Linear in the image for fixed keys: the vjp is the exact derivative.
    d = _images(channels, seed=2) * 1e-2
    lin = np.sum((ada.augment(x + d, keys, 1.0, spec) - out) * weights)
    np.testing.assert_allclose(lin, np.sum(grad * np.asarray(d)), rtol=2e-3,
                               atol=1e-5)
    if name not in ("xflip", "rotate90", "lumaflip"):  # these may draw "no-op"
      assert np.abs(np.asarray(out) - np.asarray(x)).max() > 1e-3, name


def test_identity_at_p_zero_and_exact_flips_and_rotations():
  x = _images(1, n=8)
  keys = _keys(8)
  np.testing.assert_array_equal(ada.augment(x, keys, 0.0), x)
  # A jitted p = 0 of the full pipeline, through the resampling path too.
  spec = ada.Spec()
  resampled = jax.vmap(lambda img, k: ada.augment_one(img, k, 0.0, spec))(x, keys)
  np.testing.assert_allclose(resampled, x, atol=1e-6)
  x_np = np.asarray(x)
  flipped = np.asarray(ada.augment(x, keys, 1.0, _only("xflip")))
  rotated = np.asarray(ada.augment(x, keys, 1.0, _only("rotate90")))
  for i in range(8):
    assert any(np.allclose(flipped[i], c, atol=1e-6)
               for c in (x_np[i], x_np[i, :, ::-1]))
    assert any(np.allclose(rotated[i], np.rot90(x_np[i], k), atol=1e-6)
               for k in range(4))
  assert not np.allclose(flipped, x_np)


def test_p_rises_when_d_overfits_and_falls_when_not():
  batch, interval, kimg = 32, 4, 10.0
  step_size = batch * interval / (kimg * 1000)
  rng = np.random.default_rng(0)

  def run(logit_mean, p0, steps=40, max_p=1.0):
    p, signal, history = jnp.float32(p0), np.zeros(2), []
    for i in range(steps):
      logits = rng.normal(logit_mean, 1.0, batch)   # D's outputs on reals
      signal += [np.mean(np.sign(logits)), 1.0]
      if (i + 1) % interval == 0:
        p, rt = ada.update_p(p, signal[0], signal[1], target=0.6,
                             batch_size=batch, interval=interval, kimg=kimg,
                             max_p=max_p)
        signal[:] = 0
        history.append(float(p))
    return np.array(history)

  overfit = run(3.0, 0.0)      # r_t ~ 1 > 0.6
  np.testing.assert_allclose(np.diff(overfit), step_size, rtol=1e-5)
  healthy = run(0.0, 0.1)      # r_t ~ 0 < 0.6
  assert healthy[0] < 0.1 and healthy[-1] == 0.0   # falls, clipped at 0
  capped = run(3.0, 0.0, steps=400, max_p=0.5)
  assert capped.max() == pytest.approx(0.5)


def test_ada_target_outside_unit_interval_is_a_user_error():
  config = helpers.tiny_config()
  config.model.name = "stylegan2"
  config.data.resolution = 16
  config.augment.kind = "ada"
  config.augment.ada_target = 1.5
  with pytest.raises(UserError, match=r"ada_target must be in \(0, 1\)"):
    train.validate_config(config)
