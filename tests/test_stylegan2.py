"""StyleGAN2: layers, shapes, conditioning, R1, training, resume, sampling."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import stylegan2_test
from gan import input_pipeline
from gan import models
from gan import sampling
from gan import train
from gan.errors import UserError
from gan.models import stylegan2 as sg2
from gan import steps as families
from gan.steps import common
from gan.steps import stylegan2 as steps
from tests import helpers

_FIR = np.array([1.0, 3.0, 3.0, 1.0])


def _config(**overrides):
  return helpers.override(stylegan2_test.get_config(), **overrides)


def _upfirdn_1d(x, up, down):
  """The reference's upfirdn2d along one axis (zero-insert, filter, decimate)."""
  f = _FIR / _FIR.sum() * up
  y = np.zeros(len(x) * up)
  y[::up] = x
  pad = (2, 1) if up == 2 else (1, 1)
  return np.convolve(np.pad(y, pad), f, mode="valid")[::down]


def test_up_and_downsampling_equal_the_fir_reference():
  x = np.random.default_rng(0).normal(size=(2, 6, 8, 3)).astype(np.float32)
  up = np.apply_along_axis(_upfirdn_1d, 1, x, 2, 1)
  up = np.apply_along_axis(_upfirdn_1d, 2, up, 2, 1)
  np.testing.assert_allclose(sg2.upsample2x(jnp.asarray(x)), up, atol=1e-5)
  down = np.apply_along_axis(_upfirdn_1d, 1, x, 1, 2)
  down = np.apply_along_axis(_upfirdn_1d, 2, down, 1, 2)
  np.testing.assert_allclose(sg2.downsample2x(jnp.asarray(x)), down, atol=1e-5)


def test_modulated_conv_equals_per_sample_weight_modulation():
  conv = sg2.ModulatedConv(5, use_noise=False)
  x = jax.random.normal(jax.random.key(0), (3, 8, 8, 4))
  w = jax.random.normal(jax.random.key(1), (3, 6))
  params = conv.init(jax.random.key(2), x, w)
  got = conv.apply(params, x, w)
  p = params["params"]
  styles = w @ (p["affine"]["kernel"] / np.sqrt(6)) + p["affine"]["bias"]
  kernel = p["kernel"] / np.sqrt(4 * 9)
  for i in range(3):   # StyleGAN2's fused form: modulate, demodulate weights
    wi = kernel * styles[i][None, None, :, None]
    wi = wi / jnp.sqrt(jnp.sum(wi ** 2, axis=(0, 1, 2)) + 1e-8)
    y = jax.lax.conv_general_dilated(x[i:i + 1], wi, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = sg2.lrelu(y + p["bias"])
    np.testing.assert_allclose(got[i:i + 1], y, rtol=1e-4, atol=1e-5)


def test_shapes_and_label_routing(channels=1):   # 3 channels: see the last test
  config = _config(**{"data.channels": channels, "data.conditional": True})
  gen, disc = models.create(config, 3)
  z = jax.random.normal(jax.random.key(0), (4, 16))
  labels = jnp.array([0, 1, 2, 0])
  g_vars = jax.jit(gen.init)(
      {"params": jax.random.key(1), "noise": jax.random.key(2)}, z, labels)
  apply = jax.jit(gen.apply)
  images = apply(g_vars, z, labels)
  assert images.shape == (4, 16, 16, channels)
  ws = jax.jit(lambda v, z, c: gen.apply(v, z, c, method="map"))(g_vars, z,
                                                                 labels)
  assert ws.shape == (4, sg2.num_ws(16), 16) == (4, 6, 16)
  other = apply(g_vars, z, jnp.array([1, 2, 0, 1]))
  assert np.abs(np.asarray(images - other)).max() > 1e-4
  d_vars = jax.jit(disc.init)(jax.random.key(3), images, labels)
  assert jax.jit(disc.apply)(d_vars, images, labels).shape == (4,)


def test_resolution_must_be_a_power_of_two():
  config = _config(**{"data.resolution": 48})
  with pytest.raises(UserError, match="power-of-two resolution.*got 48"):
    train.validate_config(config)
  with pytest.raises(UserError, match="power-of-two"):
    models.create(config, 0)


def test_r1_equals_finite_differences():
  config = _config(**{"model.stylegan2.mbstd_num_channels": 0,
                      "data.resolution": 8})
  _, disc = models.create(config, 0)
  x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1), minval=-1, maxval=1)
  d_vars = disc.init(jax.random.key(1), x)
  # Through the ADA pipeline at p = 0.5, as the train step computes it.
  keys = jax.random.split(jax.random.key(2), 2)
  from gan.augment import ada
  d_fn = lambda imgs: disc.apply(d_vars, ada.augment(imgs, keys, 0.5))
  got = common.r1_penalty(d_fn, x)
  # Central differences of every pixel, all perturbed images in one batch.
  eps = 1e-2
  n = x[0].size
  basis = jnp.eye(n).reshape(n, 8, 8, 1) * eps

  @jax.jit
  def fd_r1(i):   # sum over pixels of (dD/dx)^2 for image i
    def logits_of(delta):
      batch = jnp.broadcast_to(x, (n,) + x.shape).at[:, i].add(delta)
      return jax.vmap(d_fn)(batch)[:, i]
    return jnp.sum(((logits_of(basis) - logits_of(-basis)) / (2 * eps)) ** 2)

  fd = [float(fd_r1(i)) for i in range(2)]
  np.testing.assert_allclose(got, fd, rtol=2e-2)


# ---- Training through the real loop ----------------------------------------

def _train(config, split, workdir, monkeypatch=None):
  del monkeypatch  # The data is passed in.
  return train.train_and_evaluate(config, str(workdir), split=split)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
  """4 steps, 1 channel, 3 classes, ADA + lazy R1 + path length."""
  workdir = tmp_path_factory.mktemp("sg2_cond")
  split = helpers.synthetic_split(resolution=16, num_classes=3)
  config = _config(**{"data.conditional": True})
  return workdir, split, config, _train(config, split, workdir)


def test_resume_restores_p_ema_and_optimizers_exactly(conditional_run,
                                                      tmp_path):
  _, split, config, straight = conditional_run
  # One adjustment (after step 4) moved p by +-8 * 4 / 1000 from 0.3.
  assert abs(abs(float(straight.ada_p) - 0.3) - 0.032) < 1e-6
  assert float(straight.pl_mean) > 0
  config = config.copy_and_resolve_references()
  config.train.num_steps = 2
  _train(config, split, tmp_path)
  config.train.num_steps = 4
  resumed = _train(config, split, tmp_path)
  for a, b in zip(helpers.tree_leaves_np(straight),
                  helpers.tree_leaves_np(resumed)):
    np.testing.assert_array_equal(a, b)
  assert (tmp_path / "samples" / "step_0000004.png").exists()


def test_ada_p_is_a_tensorboard_scalar(conditional_run):
  import tensorflow as tf
  workdir = conditional_run[0]
  tags = set()
  for path in workdir.glob("events.out.tfevents.*"):
    for record in tf.data.TFRecordDataset(str(path)):
      event = tf.compat.v1.Event.FromString(record.numpy())
      tags.update(v.tag for v in event.summary.value)
  assert {"ada_p", "ada_rt", "r1_penalty", "pl_penalty", "d_loss"} <= tags


def test_conditional_sampling_routes_classes_and_truncates(conditional_run,
                                                           tmp_path):
  workdir = str(conditional_run[0])
  gen = sampling.load_generator(workdir)
  assert (gen.num_classes, gen.resolution, gen.channels) == (3, 16, 1)
  zeros = next(gen.sample(4, seed=0, labels=[0] * 4, batch_size=4))
  twos = next(gen.sample(4, seed=0, labels=[2] * 4, batch_size=4))
  assert zeros.shape == (4, 16, 16, 1)
  assert np.abs(zeros - twos).max() > 1e-4   # same z, other class
  again = next(gen.sample(4, seed=0, labels=[2] * 4, batch_size=4))
  np.testing.assert_array_equal(twos, again)
  full = next(gen.sample(8, seed=1, labels=[1] * 8, batch_size=8))
  trunc = next(gen.sample(8, seed=1, labels=[1] * 8, batch_size=8,
                          truncation=0.0))
  assert trunc.std(axis=0).mean() < 0.5 * full.std(axis=0).mean()
  with pytest.raises(UserError, match="class index 3 out of range"):
    next(gen.sample(1, seed=0, labels=[3], batch_size=4))
  grid = sampling.write_grid(workdir, str(tmp_path / "g.png"),
                             labels=[0, 0, 2, 2], truncation=0.7, rows=2)
  assert grid.shape[:2] == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)
  assert (tmp_path / "g.png").exists()
  with pytest.raises(UserError, match="class index 5 out of range"):
    sampling.write_grid(workdir, str(tmp_path / "h.png"), labels=[5])


def test_three_channels_with_diffaugment_train(tmp_path):
  split = helpers.synthetic_split(resolution=16, channels=3)
  config = _config(**{"data.channels": 3, "augment.kind": "diffaugment",
                      "train.pl_weight": 0.0, "train.r1_gamma": 0.0,
                      "train.num_steps": 2})
  state = _train(config, split, tmp_path)
  assert int(state.step) == 2
  init = families.create_train_state(config, split.num_classes)
  moved = [np.abs(a - b).max() for a, b in zip(
      helpers.tree_leaves_np(init.g_params),
      helpers.tree_leaves_np(state.g_params))]
  assert max(moved) > 1e-4
  assert (tmp_path / "samples" / "step_0000002.png").exists()



def test_lazy_regularisers_are_scheduled_on_their_steps():
  """Phases are chosen on the host: R1 on multiples of r1_interval, path
  length on multiples of pl_interval, nothing on other steps, and neither
  when its weight is 0. (The phased step itself trains in the fixtures.)"""
  config = _config(**{"train.r1_interval": 2, "train.pl_interval": 3})
  phases = [families.step_phase(config, s) for s in range(7)]
  assert [p.r1 for p in phases] == [s % 2 == 0 for s in range(7)]
  assert [p.pl for p in phases] == [s % 3 == 0 for s in range(7)]
  off = _config(**{"train.r1_gamma": 0.0, "train.pl_weight": 0.0})
  assert {steps.step_phase(off, s) for s in range(8)} == {
      steps.Phase(r1=False, pl=False)}
