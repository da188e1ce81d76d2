"""The FastGAN family: its pieces on values, device-count invariance, exact
resume and sampling through the real loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import fastgan_test
from gan import steps
from gan import train
from gan.errors import UserError
from gan.models import fastgan as fastgan_models
from gan.steps import fastgan
from tests import helpers


def _config(**overrides):
  return helpers.override(fastgan_test.get_config(), **overrides)


def test_quarter_and_downsampling_pick_the_right_pixels():
  x = jnp.arange(2 * 4 * 4, dtype=jnp.float32).reshape(2, 4, 4, 1)
  got = fastgan_models.quarter(x, jnp.array([1, 2]))
  np.testing.assert_array_equal(got[0, ..., 0], [[2, 3], [6, 7]])     # top right
  np.testing.assert_array_equal(got[1, ..., 0], [[24, 25], [28, 29]])  # bottom left
  half = fastgan_models.downsample_to(x, 2)
  np.testing.assert_allclose(half[0, ..., 0], [[2.5, 4.5], [10.5, 12.5]])


def test_reconstruction_loss_is_l1_of_pixels_and_edges():
  target = jnp.zeros((1, 2, 2, 1))
  recon = jnp.array([[[1.0], [0.0]], [[0.0], [0.0]]])[None]
  # Pixels: 1/4. Row differences (1 of 2 is -1): 1/2; columns: 1/2.
  assert float(fastgan.reconstruction_loss(recon, target)) == pytest.approx(
      0.25 + 0.5 + 0.5)
  assert float(fastgan.reconstruction_loss(target, target)) == 0.0


def test_shapes_skip_layer_excitation_and_label_routing():
  config = _config(**{"data.conditional": True})
  g, d = fastgan.create_models(config, 3)
  z = jax.random.normal(jax.random.key(0), (4, 16))
  labels = jnp.array([0, 1, 2, 0])
  g_vars = g.init(jax.random.key(1), z, labels)
  assert "sle_4_64" in g_vars["params"]           # The 4x4 map gates 64 px.
  # Class-conditional BatchNorm starts as plain BatchNorm: give classes
  # their own gains and shifts to see them routed.
  params = jax.tree_util.tree_map_with_path(
      lambda p, x: x + jnp.arange(x.size, dtype=x.dtype).reshape(x.shape) * 0.1
      if "class_" in jax.tree_util.keystr(p) else x, g_vars["params"])
  (image, half), _ = g.apply({**g_vars, "params": params}, z, labels,
                             mutable=["batch_stats"])
  assert image.shape == (4, 64, 64, 1) and half.shape == (4, 32, 32, 1)
  assert float(jnp.max(jnp.abs(image))) <= 1.0
  (same_z, _), _ = g.apply({**g_vars, "params": params},
                           jnp.stack([z[0]] * 4), labels,
                           mutable=["batch_stats"])
  assert float(jnp.abs(same_z[0] - same_z[3]).max()) < 1e-5   # same class
  assert float(jnp.abs(same_z[0] - same_z[1]).max()) > 1e-3   # other class
  d_vars = d.init(jax.random.key(2), image, half, labels, labels)
  logits, recon = d.apply(d_vars, image, half, labels, labels % 4,
                          mutable=["batch_stats"])[0]
  assert logits.shape == (4, 50)                  # 5x5 patches x 2 branches.
  assert {k: v.shape for k, v in recon.items()} == {
      k: (4, 32, 32, 1) for k in ("big", "small", "part")}
  flipped = d.apply(d_vars, image, half, jnp.array([1, 2, 0, 1]),
                    mutable=["batch_stats"])[0]
  assert float(jnp.abs(flipped - logits).max()) > 0   # D's projection.


def test_skip_layer_excitation_gates_channels():
  sle = fastgan_models._SLE(sn=False)
  small = jax.random.normal(jax.random.key(0), (2, 8, 8, 4))
  big = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
  variables = sle.init(jax.random.key(2), small, big)
  gated = sle.apply(variables, small, big)
  gate = gated / big                     # One gate per image and channel,
  np.testing.assert_allclose(gate, gate[:, :1, :1, :].repeat(16, 1).repeat(
      16, 2), rtol=1e-4)
  assert 0 < float(gate.min()) and float(gate.max()) < 1   # a sigmoid,
  zeroed = jax.tree.map(jnp.zeros_like, variables)
  np.testing.assert_allclose(sle.apply(zeroed, small, big), 0.5 * big)
  other = sle.apply(variables, small * 3.0, big)          # set by `small`.
  assert float(jnp.abs(other - gated).max()) > 1e-4


def test_what_the_family_cannot_run_is_refused():
  for overrides, message in [
      ({"data.resolution": 32}, r"unsupported resolution 32 for model "
       r"'fastgan'; set --config.data.resolution to one of \[64, 128, 256\]"),
      ({"augment.kind": "ada"}, r"cannot run augment.kind='ada'"),
      ({"train.loss": "wgan_gp"}, r"cannot train with loss 'wgan_gp'")]:
    with pytest.raises(UserError, match=message):
      train.validate_config(_config(**overrides))


def test_two_devices_match_one_device():
  assert jax.local_device_count() == 2, "conftest forces two CPU devices"
  config = _config(**{"data.conditional": True})
  split = helpers.synthetic_split(n=8, resolution=64)
  one, m1 = helpers.run_steps(config, split, 1, 2)
  two, m2 = helpers.run_steps(config, split, 2, 2)
  for a, b in zip(helpers.tree_leaves_np(one), helpers.tree_leaves_np(two)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  np.testing.assert_allclose(m1["d_loss"], m2["d_loss"], rtol=1e-4)
  assert float(m1["reconstruction_loss"]) > 0
  init = steps.create_train_state(config, split.num_classes)
  moved = [np.abs(a - b).max() for a, b in zip(
      helpers.tree_leaves_np(init.d_params), helpers.tree_leaves_np(one.d_params))]
  assert max(moved) > 1e-4


def test_resume_equals_uninterrupted_run_and_samples(tmp_path):
  split = helpers.synthetic_split(n=8, resolution=64, num_classes=2)
  config = _config(**{"data.conditional": True})
  straight = train.train_and_evaluate(config, str(tmp_path / "straight"),
                                      split=split)
  config.train.num_steps = 2
  train.train_and_evaluate(config, str(tmp_path / "resumed"), split=split)
  config.train.num_steps = 4
  resumed = train.train_and_evaluate(config, str(tmp_path / "resumed"),
                                     split=split)
  assert int(resumed.step) == 4
  for a, b in zip(helpers.tree_leaves_np(straight),
                  helpers.tree_leaves_np(resumed)):
    np.testing.assert_array_equal(a, b)
  assert (tmp_path / "resumed" / "samples" / "step_0000004.png").exists()
  generate = steps.make_generate_fn(config, split.num_classes)
  z = jax.random.normal(jax.random.key(3), (4, 16))
  labels = jnp.array([0, 1, 0, 1])
  first = generate(resumed.ema_params, resumed.g_batch_stats, z, labels)
  again = generate(resumed.ema_params, resumed.g_batch_stats, z, labels)
  assert first.shape == (4, 64, 64, 1)
  np.testing.assert_array_equal(first, again)   # Noise is a function of z.
  with pytest.raises(UserError, match="has no truncation"):
    generate(resumed.ema_params, resumed.g_batch_stats, z, labels, 0.7)
