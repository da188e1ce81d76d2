"""The translation families (pix2pix, CycleGAN) and what serves them: the
image pool, device-count invariance, exact resume through the real loop,
the linear baseline, grids, and volume translation (gan.translate)."""
import gzip

import jax
import jax.numpy as jnp
import nibabel as nib
import numpy as np
import pytest

from configs import translation_test
from gan import input_pipeline
from gan import paired_data
from gan import sampling
from gan import steps
from gan import train
from gan import translation
from gan import volume_translation
from gan.errors import UserError
from gan.steps import cyclegan
from tests import helpers


def _config(model="pix2pix", **overrides):
  config = translation_test.get_config()
  config.model.name = model
  return helpers.override(config, **overrides)


def _pairs(n=8, resolution=32, source_channels=2, seed=0):
  """Pairs whose target is a fixed function of the sources: [n, R, R, S+1]."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[:resolution, :resolution]
  images = np.zeros((n, resolution, resolution, source_channels + 1), np.uint8)
  for i in range(n):
    r = resolution / 4 + rng.integers(0, resolution // 6)
    disc = (yy - resolution / 2) ** 2 + (xx - resolution / 2) ** 2 < r ** 2
    ring = disc & ((yy - resolution / 2) ** 2 + (xx - resolution / 2) ** 2
                   > (r / 2) ** 2)
    images[i, ring, 0] = 200
    if source_channels > 1:
      images[i, disc & ~ring, 1] = 220
    images[i, disc, -1] = 90 + images[i, disc, 0] // 2
  labels = np.zeros(n, np.int32)
  return input_pipeline.Split(images, labels, ["pairs"],
                              np.array(["s"] * n))


def test_the_families_register_as_translation():
  for name in ("pix2pix", "cyclegan"):
    config = _config(name)
    assert steps.task(config) == "translation"
    train.validate_config(config)
    assert "data.pairs.source=" not in " ".join(
        steps.ignored_fields_set(config, translation_test.get_config()))
  dcgan = helpers.tiny_config()
  dcgan.data.pairs.source = "t1"   # Translation data: a DCGAN ignores it.
  assert "data.pairs.source='t1'" in steps.ignored_fields_set(
      dcgan, helpers.tiny_config())


@pytest.mark.parametrize("overrides,message", [
    ({"data.name": "mni152_slices"}, "set --config.data.name=mri_pairs"),
    ({"data.pairs.target": "gm"}, "is also a source modality"),
    ({"data.resolution": 48}, "power-of-two resolution"),
    ({"model.pix2pix.unet_depth": 6}, "halves 32 px below 1 px"),
    ({"model.pix2pix.l1_weight": 0.0,
      "model.pix2pix.adversarial_weight": 0.0}, "G would learn nothing"),
    ({"train.loss": "wgan_gp"}, "cannot train with loss 'wgan_gp'"),
    ({"transfer.from_workdir": "/tmp/x"}, "cannot use it"),
])
def test_what_pix2pix_cannot_run_is_one_line(overrides, message):
  with pytest.raises(UserError, match=message):
    train.validate_config(_config("pix2pix", **overrides))


def test_cyclegan_identity_needs_equal_channels():
  with pytest.raises(UserError, match="identity_weight needs as many source"):
    train.validate_config(_config(
        "cyclegan", **{"model.cyclegan.identity_weight": 0.5}))
  train.validate_config(_config("cyclegan", **{
      "model.cyclegan.identity_weight": 0.5, "data.pairs.source": "gm"}))


def test_image_pool_fills_then_swaps_half():
  pool = jnp.zeros((4, 1, 1, 1))
  images = jnp.arange(1, 5, dtype=jnp.float32).reshape(4, 1, 1, 1)
  pool, out = cyclegan.query_pool(pool, jnp.int32(0), images,
                                  jax.random.key(0))
  # Not full yet: every fake goes in and is returned as it is.
  np.testing.assert_array_equal(out, images)
  np.testing.assert_array_equal(pool, images)
  new = -jnp.arange(1, 401, dtype=jnp.float32).reshape(400, 1, 1, 1)
  pool2, out2 = cyclegan.query_pool(pool, jnp.int32(4), new, jax.random.key(1))
  swapped = np.asarray(out2 != new).ravel()
  assert 0.4 < swapped.mean() < 0.6          # Half are earlier fakes ...
  seen = set(np.asarray(images).ravel()) | set(np.asarray(new).ravel())
  for i in np.flatnonzero(swapped):          # ... from before this one.
    value = float(np.asarray(out2).ravel()[i])
    assert value in seen and (value > 0 or -value < i + 1)
  # The pool holds only fakes of this batch now, each swapped in.
  assert np.all(np.asarray(pool2) < 0)
  empty, same = cyclegan.query_pool(jnp.zeros((0, 1, 1, 1)), jnp.int32(0),
                                    images, jax.random.key(0))
  assert empty.shape[0] == 0 and same is images


@pytest.mark.parametrize("model,overrides", [
    ("pix2pix", {}),
    ("cyclegan", {"model.cyclegan.identity_weight": 0.5,
                  "data.pairs.source": "gm"}),
])
def test_two_devices_match_one_device(model, overrides):
  assert jax.local_device_count() == 2, "conftest forces two CPU devices"
  config = _config(model, **overrides)
  split = _pairs(source_channels=paired_data.num_source_channels(config))
  one, m1 = helpers.run_steps(config, split, 1, 3)
  two, m2 = helpers.run_steps(config, split, 2, 3)
  for a, b in zip(helpers.tree_leaves_np(one), helpers.tree_leaves_np(two)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  np.testing.assert_allclose(m1["g_loss"], m2["g_loss"], rtol=1e-4)
  init = steps.create_train_state(config, 1)
  moved = max(np.abs(a - b).max() for a, b in zip(
      helpers.tree_leaves_np(init.d_params),
      helpers.tree_leaves_np(one.d_params)))
  assert moved > 1e-4
  if model == "cyclegan":
    assert int(one.pool_count) == 3 and float(m1["identity"]) > 0
    assert np.abs(np.asarray(one.pool_b)).max() > 0


def test_l1_only_pix2pix_leaves_d_untouched_and_fits_the_target():
  config = _config("pix2pix", **{"model.pix2pix.adversarial_weight": 0.0,
                                 "train.g_learning_rate": 2e-3})
  split = _pairs()
  init = steps.create_train_state(config, 1)
  state, first = helpers.run_steps(config, split, 1, 1)
  state, last = helpers.run_steps(config, split, 1, 30)
  for a, b in zip(helpers.tree_leaves_np(init.d_params),
                  helpers.tree_leaves_np(state.d_params)):
    np.testing.assert_array_equal(a, b)
  assert "g_adversarial" not in last
  assert float(last["l1"]) < 0.5 * float(first["l1"])


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_resume_equals_uninterrupted_run(tmp_path, model):
  split = _pairs()
  config = _config(model)
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
  translator = translation.load_translator(str(tmp_path / "resumed"))
  sources, _ = paired_data.split_channels(
      translation.pixels.to_float(split.images[:3]), 2)
  out = translator(sources)
  assert out.shape == (3, 32, 32, 1) and np.all(np.abs(out) <= 1)
  with pytest.raises(UserError, match="translates images rather than"):
    sampling.load_generator(str(tmp_path / "resumed"))


def test_linear_baseline_recovers_a_linear_map():
  split = _pairs()
  s = translation.pixels.to_float(split.images[..., :2])
  target = 0.3 * s[..., :1] - 0.2 * s[..., 1:] + 0.1
  split.images[..., 2:] = translation.pixels.to_uint8(target)
  baseline = translation.LinearBaseline(split, 2)
  np.testing.assert_allclose(baseline.coefficients[:, 0], [0.3, -0.2, 0.1],
                             atol=0.01)
  results = translation.evaluate_pairs(baseline, split, 2, metrics=())
  assert results["paired"]["psnr"] > 45
  assert results["num_pairs"] == 8 and results["distribution"] == {}


def test_pair_grid_lays_out_sources_translation_target():
  split = _pairs(n=3)
  sources, targets = paired_data.split_channels(
      translation.pixels.to_float(split.images), 2)
  grid = translation.pair_grid(sources, -np.ones_like(targets), targets)
  assert grid.shape == (3 * 34 + 2, 4 * 34 + 2, 1)
  np.testing.assert_array_equal(grid[2:34, 2 + 3 * 34:34 + 3 * 34],
                                split.images[0, ..., 2:])


def test_evenly_spaced_rows_span_the_split_and_reject_zero():
  np.testing.assert_array_equal(translation.evenly_spaced(16, 4),
                                [0, 5, 10, 15])
  np.testing.assert_array_equal(translation.evenly_spaced(3, None), [0, 1, 2])
  np.testing.assert_array_equal(translation.evenly_spaced(3, 9), [0, 1, 2])
  with pytest.raises(translation.UserError, match="at least 1 row"):
    translation.evenly_spaced(16, 0)


@pytest.fixture(scope="module")
def translation_workdir(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("pix2pix_run")
  config = _config("pix2pix", **{"train.num_steps": 2})
  train.train_and_evaluate(config, str(workdir), split=_pairs())
  return str(workdir)


def _volume(path, shape=(20, 24, 6), seed=0, affine=None):
  rng = np.random.default_rng(seed)
  data = rng.uniform(0, 1000, shape).astype(np.float32)
  if affine is None:  # LPS-like: the code must undo a reorientation.
    affine = np.diag([-1.5, -1.2, 2.0, 1.0])
    affine[:3, 3] = [10, 20, -30]
  image = nib.Nifti1Image(data, affine)
  image.header.set_xyzt_units("mm", "sec")
  nib.save(image, str(path))
  return image


def test_translate_round_trips_a_nifti_volume(translation_workdir, tmp_path):
  gm = _volume(tmp_path / "gm.nii.gz")
  _volume(tmp_path / "wm.nii.gz", seed=1)
  translator = translation.load_translator(translation_workdir)
  out = tmp_path / "t1_synth.nii.gz"
  result = volume_translation.translate_volume(
      translator, [str(tmp_path / "gm.nii.gz"), str(tmp_path / "wm.nii.gz")],
      str(out))
  assert result["slices"] == 6
  written = nib.load(str(out))
  assert written.shape == gm.shape
  np.testing.assert_allclose(written.affine, gm.affine)
  assert written.header.get_zooms() == gm.header.get_zooms()
  assert written.header.get_xyzt_units() == ("mm", "sec")
  assert written.get_data_dtype() == np.uint8
  gzip.decompress(out.read_bytes())  # A whole gzip file.
  # Slice by slice in the model's orientation: what translate_slices gives.
  data, _ = volume_translation._to_ras(nib.load(str(out)))
  assert data.shape == (20, 24, 6)
  # A folder holding the source volumes gives the same volume.
  folder_out = tmp_path / "from_folder.nii.gz"
  volume_translation.translate_folder(translator, str(tmp_path),
                                      str(folder_out))
  np.testing.assert_array_equal(nib.load(str(folder_out)).get_fdata(),
                                written.get_fdata())


def test_translate_refuses_mismatched_input_in_one_line(translation_workdir,
                                                        tmp_path):
  _volume(tmp_path / "gm.nii.gz")
  _volume(tmp_path / "wm.nii.gz", shape=(20, 24, 7))
  translator = translation.load_translator(translation_workdir)
  gm, wm = str(tmp_path / "gm.nii.gz"), str(tmp_path / "wm.nii.gz")
  cases = [
      ([gm], str(tmp_path / "a.nii.gz"), r"translates gm\+wm \(2 volume"),
      ([gm, wm], str(tmp_path / "b.nii.gz"), "is not on the grid of"),
      ([gm, gm], str(tmp_path / "c.png"), "must be a NIfTI file name"),
      ([gm, str(tmp_path / "none.nii.gz")], str(tmp_path / "d.nii.gz"),
       "does not exist"),
  ]
  for inputs, output, message in cases:
    with pytest.raises(UserError, match=message) as info:
      volume_translation.translate_volume(translator, inputs, output)
    assert "\n" not in str(info.value)
  (tmp_path / "exists.nii.gz").write_bytes(b"keep")
  with pytest.raises(UserError, match="exists; choose another --output"):
    volume_translation.translate_volume(translator, [gm, gm],
                                        str(tmp_path / "exists.nii.gz"))
  assert (tmp_path / "exists.nii.gz").read_bytes() == b"keep"
