"""End to end: `python -m gan.evaluate` against pytorch-fid's and
torch-fidelity's own pipelines on the same folders and weights, the sources,
and the one-line errors.

The weights are random (`gan.pytorch_fid_weights.write_random_weights`), saved
where torch.hub looks first ($TORCH_HOME/hub/checkpoints/), so pytorch-fid's
command line and torch-fidelity run offline with exactly the weights we
convert. Nothing is downloaded.
"""
import json
import os
import subprocess
import sys
import tempfile

import ml_collections
import numpy as np
import pytest
from PIL import Image

from gan import evaluation
from gan import features
from gan import image_files
from gan import image_sources
from gan import inception_weights
from gan.errors import UserError
from gan.metrics import fid as fid_lib
from gan.metrics import statistics
from tests import helpers
from tests import pytorch_fid_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def weights():
  home = os.path.join(tempfile.gettempdir(), "gan_test_fid_inception_seed0")
  torch_path, flax_path = pytorch_fid_weights.write_random_weights(home, seed=0)
  return home, torch_path, flax_path


def _write_images(folder, count, seed, size=(48, 40), brightness=0):
  """Smooth random images, alternately grayscale and RGB, as PNG."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.RandomState(seed)
  for i in range(count):
    low = rng.randint(0, 200, (6, 5, 3)).astype(np.uint8) + brightness
    image = Image.fromarray(low).resize(size[::-1], Image.BILINEAR)
    if i % 2:
      image = image.convert("L")
    image.save(os.path.join(folder, f"image_{i:03d}.png"))
  return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp("folders")
  return (_write_images(str(root / "a"), 12, seed=0),
          _write_images(str(root / "b"), 10, seed=1, brightness=40))


def _env(**extra):
  env = dict(os.environ)
  env.update({k: str(v) for k, v in extra.items()})
  return env


def _torch_fidelity_metrics(home, torch_path, folder_a, folder_b, subset_size):
  """torch-fidelity's own pipeline (folder reading, KID subsets, IS splits)
  with pytorch-fid's network and our random weights as its extractor."""
  import torch
  import torch_fidelity
  from torch_fidelity.feature_extractor_base import FeatureExtractorBase

  model = helpers.pytorch_fid_inception(home)
  fc_weight = torch.load(torch_path, weights_only=True)["fc.weight"]

  class PytorchFid(FeatureExtractorBase):
    def __init__(self, name, features_list, **kwargs):
      super().__init__(name, features_list)
      self.model = model

    def forward(self, x):  # uint8 [B, 3, H, W], as torch-fidelity reads it.
      pool3 = self.model(x.to(torch.float32) / 255)[0][:, :, 0, 0]
      out = {"2048": pool3, "logits_unbiased": pool3 @ fc_weight.T}
      return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list():
      return ("2048", "logits_unbiased")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
      return {"isc": "logits_unbiased", "fid": "2048", "kid": "2048"}[metric]

    @staticmethod
    def can_be_compiled():
      return False

    @staticmethod
    def get_dummy_input_for_compile():
      return None

  torch_fidelity.register_feature_extractor("pytorch-fid-random-test",
                                            PytorchFid)
  return torch_fidelity.calculate_metrics(
      input1=folder_a, input2=folder_b, cuda=False, isc=True, kid=True,
      feature_extractor="pytorch-fid-random-test", kid_subset_size=subset_size,
      isc_splits=2, cache=False, verbose=False, save_cpu_ram=True)


def test_binary_matches_pytorch_fid_and_torch_fidelity(weights, folders,
                                                       tmp_path):
  home, torch_path, flax_path = weights
  folder_a, folder_b = folders
  output = tmp_path / "results.json"
  ours = subprocess.run(
      [sys.executable, "-m", "gan.evaluate", f"--source_a={folder_a}",
       f"--source_b={folder_b}", f"--output={output}", "--batch_size=8",
       # Two splits of 6: with 10 splits of 1-2 images IS is ~1 by design.
       "--is_splits=2"],
      cwd=REPO, capture_output=True, text=True, timeout=900,
      env=_env(GAN_INCEPTION_WEIGHTS=flax_path,
               XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_COMPILATION_CACHE_DIR=helpers.jax_cache_dir()))
  assert ours.returncode == 0, ours.stderr[-3000:]
  results = json.loads(output.read_text())
  assert "FID " in ours.stdout and "(N_a=12, N_b=10)" in ours.stdout

  # pytorch-fid's command line, offline with the same weights. One BLAS
  # thread: its 2048 x 2048 sqrtm crawls when cores are shared.
  theirs = subprocess.run(
      [sys.executable, "-m", "pytorch_fid", folder_a, folder_b,
       "--device=cpu", "--num-workers=0"],
      capture_output=True, text=True, timeout=900,
      env=_env(TORCH_HOME=home, OPENBLAS_NUM_THREADS=1))
  assert theirs.returncode == 0, theirs.stderr[-3000:]
  pytorch_fid_value = float(theirs.stdout.split("FID:")[-1])
  fid = results["metrics"]["fid"]
  assert (fid["num_a"], fid["num_b"]) == (12, 10)
  assert pytorch_fid_value > 1.0
  assert abs(fid["value"] - pytorch_fid_value) / pytorch_fid_value <= 1e-3

  reference = _torch_fidelity_metrics(home, torch_path, folder_a, folder_b,
                                      subset_size=10)
  kid = results["metrics"]["kid"]
  assert kid["subset_size"] == 10 and kid["num_subsets"] == 100
  assert abs(reference["kernel_inception_distance_mean"]) > 1e-3
  for ours_value, reference_value in (
      (kid["mean"], reference["kernel_inception_distance_mean"]),
      (kid["std"], reference["kernel_inception_distance_std"]),
      (results["metrics"]["is_a"]["mean"], reference["inception_score_mean"]),
      (results["metrics"]["is_a"]["std"], reference["inception_score_std"])):
    assert abs(ours_value - reference_value) <= 1e-3 * abs(reference_value)
  assert results["metrics"]["is_a"]["num"] == 12
  assert results["metrics"]["is_a"]["splits"] == 2
  assert results["metrics"]["is_a"]["mean"] > 1.02  # Not a degenerate IS.

  # The convention and the weights are named; small N is flagged.
  convention = results["conventions"]["fid_inception_v3"]
  assert "299x299" in convention and "NOT pt_inception" in convention
  assert results["weights"]["fid_inception_v3"]["official"] == "no"
  assert any("N=12" in w and "2048" in w for w in results["warnings"])


def test_statistics_sources_and_tensorboard(weights, folders, tmp_path,
                                            monkeypatch):
  _, _, flax_path = weights
  folder_a, folder_b = folders
  written = []

  class FakeWriter:
    def write_scalars(self, step, scalars):
      written.append((step, dict(scalars)))

    def flush(self):
      pass

    def close(self):
      pass

  common = dict(inception_weights=flax_path, batch_size=8, progress=False,
                tensorboard=lambda directory: FakeWriter())
  stats_b = str(tmp_path / "b.npz")
  saved = evaluation.evaluate(folder_b, None, save_statistics=stats_b,
                              metrics=["fid"], **common)
  assert saved["saved_statistics"] == stats_b
  loaded = statistics.load_statistics(stats_b, dims=2048)
  assert loaded.num_samples == 10 and loaded.feature == "inception"

  both = evaluation.evaluate(folder_a, folder_b, metrics=["fid"],
                             output=str(tmp_path / "out"), **common)
  against_file = evaluation.evaluate(folder_a, stats_b,
                                     output=str(tmp_path / "out"), **common)
  value = both["metrics"]["fid"]["value"]
  assert abs(against_file["metrics"]["fid"]["value"] - value) <= 1e-6 * value
  assert against_file["metrics"]["fid"]["num_b"] == 10
  assert "kid" not in against_file["metrics"]
  assert any("KID skipped" in w for w in against_file["warnings"])
  assert "is_a" in against_file["metrics"]
  files_only = evaluation.evaluate(stats_b, stats_b, **common)
  assert abs(files_only["metrics"]["fid"]["value"]) < 1e-6
  assert "conventions" not in files_only  # No network was needed.
  # TensorBoard scalars next to the JSON, at step 0 (no workdir).
  assert (0, {"eval/fid": value}) in written
  assert os.path.isfile(both["output"])


def test_mixed_sizes_and_channels_keep_order(weights, tmp_path):
  _, _, flax_path = weights
  folder = str(tmp_path / "mixed")
  _write_images(folder, 3, seed=2, size=(40, 40))
  os.rename(os.path.join(folder, "image_001.png"),
            os.path.join(folder, "image_004.png"))
  _write_images(str(tmp_path / "other"), 2, seed=3, size=(30, 52))
  for i, name in enumerate(sorted(os.listdir(tmp_path / "other"))):
    os.rename(tmp_path / "other" / name,
              os.path.join(folder, f"image_{2 * i + 1:03d}.png"))
  source = image_sources.FolderSource(folder)
  batches = list(source.batches(batch_size=8))
  assert [b.shape for b in batches] == [
      (1, 40, 40, 3), (1, 30, 52, 3), (1, 40, 40, 3), (1, 30, 52, 1),
      (1, 40, 40, 1)]
  network = features.FIDInceptionNetwork(flax_path, batch_size=8)
  extracted, _ = features.extract_features(source.batches(8), ["inception"],
                                           {network.name: network},
                                           progress=False)
  one_by_one = np.concatenate([
      np.asarray(network(image_files.read_image(path)[None])["pool3"])
      for path in source.files])
  np.testing.assert_allclose(extracted["inception"], one_by_one, atol=1e-5)
  # Grayscale in an RGB batch is repeated: the same features either way.
  gray = image_files.read_image(source.files[4])[None]
  assert gray.shape[-1] == 1
  # Equal up to float32 summation order (the gray input folds the first
  # kernel's three input channels): 1.2e-5 apart on a CPU without AVX-512.
  np.testing.assert_allclose(network(gray)["pool3"],
                             network(np.repeat(gray, 3, -1))["pool3"],
                             atol=1e-5, rtol=1e-5)


class _FakeGenerator:
  """`gan.sampling.Generator` stand-in yielding fixed images."""

  def __init__(self, images, num_classes=0):
    self.images = images
    self.num_classes = num_classes
    self.class_names = [f"class{i}" for i in range(num_classes)]
    self.drawn_labels = list(range(num_classes))
    self.resolution, self.channels, self.step = 40, 1, 1234
    self.config = ml_collections.ConfigDict(
        {"data": {"resolution": 40, "channels": 1, "background": 0}})
    self.calls = []

  def sample(self, num, seed, labels=None, batch_size=64):
    self.calls.append((num, seed, None if labels is None else list(labels)))
    for start in range(0, num, batch_size):
      yield self.images[start:min(num, start + batch_size)]


def test_workdir_source(weights, folders, tmp_path):
  _, _, flax_path = weights
  _, folder_b = folders
  images = np.stack([image_files.read_image(p) for p in
                     image_files.list_images(folder_b)
                     if Image.open(p).mode == "L"])  # 5 grayscale images.
  generator = _FakeGenerator(images)
  workdir = tmp_path / "run"
  workdir.mkdir()
  def source(fake, **kwargs):  # Given the generator: nothing to load.
    return image_sources.WorkdirSource(str(workdir), generator=fake, **kwargs)

  results = evaluation.evaluate(
      source(generator, step=1234, num_samples=5), folder_b, num_samples=5,
      inception_weights=flax_path, batch_size=4, metrics=["fid", "kid"],
      tensorboard=False, progress=False)
  # Generated samples equal the folder's grayscale half: compare with it.
  assert generator.calls == [(5, 0, None)]
  assert results["sources"]["a"]["step"] == 1234
  assert results["output"] == str(
      workdir / "eval" / "step_000001234__vs__b.json")
  only_gray = tmp_path / "gray"
  only_gray.mkdir()
  for i, image in enumerate(images):
    Image.fromarray(np.round((image[..., 0] + 1) * 127.5).astype(
        np.uint8)).save(only_gray / f"{i}.png")
  same = evaluation.evaluate(source(generator, num_samples=5), str(only_gray),
                             num_samples=5, inception_weights=flax_path,
                             batch_size=4, metrics=["fid"], tensorboard=False,
                             progress=False)
  assert abs(same["metrics"]["fid"]["value"]) < 1e-3

  # Conditional: N per class, or one class by name.
  conditional = _FakeGenerator(images, num_classes=2)
  every = source(conditional, num_samples=2)
  assert every.num_images() == 4
  assert sum(b.shape[0] for b in every.batches(64)) == 4
  assert conditional.calls == [(2, 0, [0, 0]), (2, 1, [1, 1])]
  # A model trained on one class (data.classes) draws that class only.
  conditional.drawn_labels = [1]
  assert source(conditional, num_samples=2).num_images() == 2
  conditional.drawn_labels = [0, 1]
  one = source(conditional, num_samples=3, class_name="class1")
  list(one.batches(64))
  assert conditional.calls[-1] == (3, 0, [1, 1, 1])
  with pytest.raises(UserError, match="no class 'class7'"):
    source(conditional, class_name="class7")
  # The spec syntax reaches the same source: workdir:PATH@STEP#CLASS.
  with pytest.raises(UserError, match="no checkpoints in workdir"):
    image_sources.parse_source(f"workdir:{workdir}@1234#class1")


def test_tfds_source(tmp_path):
  import tensorflow_datasets as tfds
  import gan_datasets.alzheimers_mri  # noqa: F401  Registers the builder.
  dummy = os.path.join(REPO, "datasets", "alzheimers_mri", "dummy_data")
  builder = tfds.builder("alzheimers_mri", data_dir=str(tmp_path))
  with pytest.raises(UserError, match="not prepared"):
    image_sources.parse_source("tfds:alzheimers_mri/test",
                               data_dir=str(tmp_path))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=dummy))
  source = image_sources.parse_source("tfds:alzheimers_mri/test",
                                      data_dir=str(tmp_path))
  batches = list(source.batches(3))
  images = np.concatenate(batches)
  assert source.num_images() == images.shape[0] == 4
  assert images.shape[1:] == (208, 176, 1) and images.dtype == np.float32
  assert -1.0 <= images.min() and images.max() <= 1.0
  assert [b.shape[0] for b in batches] == [3, 1]
  # The same pixels as the JPEGs in the archive, decoded by PIL.
  import zipfile
  with zipfile.ZipFile(os.path.join(dummy, "archive.zip")) as archive:
    names = [n for n in archive.namelist() if "/test/" in n
             and n.endswith(".jpg")]
    expected = sorted(
        float(np.asarray(Image.open(archive.open(n)).convert("L"),
                         np.float32).mean() / 127.5 - 1) for n in names)
  np.testing.assert_allclose(sorted(images.mean(axis=(1, 2, 3))), expected,
                             atol=2e-3)
  one_class = image_sources.parse_source(
      "tfds:alzheimers_mri/test#ModerateDemented", data_dir=str(tmp_path))
  assert sum(b.shape[0] for b in one_class.batches(8)) == 1
  with pytest.raises(UserError, match="needs a split"):
    image_sources.parse_source("tfds:alzheimers_mri")


def test_user_errors(weights, folders, tmp_path, monkeypatch):
  _, _, flax_path = weights
  folder_a, _ = folders
  helpers.hide_inception_weights(monkeypatch, tmp_path)
  common = dict(batch_size=8, progress=False, tensorboard=False)

  def error(*args, **kwargs):
    with pytest.raises(UserError) as caught:
      evaluation.evaluate(*args, **{**common, **kwargs})
    message = str(caught.value)
    assert "\n" not in message
    return message

  message = error(folder_a, folder_a)  # No weights anywhere.
  assert inception_weights.WEIGHTS_URL in message and "--inception_weights=" in message
  wrong = tmp_path / "wrong.msgpack"
  wrong.write_bytes(b"\x81\xa6format\xa3bad")
  assert "not a converted FID Inception weights file" in error(
      folder_a, folder_a, inception_weights=str(wrong))

  corrupt = tmp_path / "corrupt"
  _write_images(str(corrupt), 3, seed=4)
  bad = corrupt / "image_001.png"
  bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
  assert str(bad) in error(str(corrupt), folder_a,
                           inception_weights=flax_path)

  single = tmp_path / "single"
  _write_images(str(single), 1, seed=5)
  assert "has 1 image(s)" in error(str(single), folder_a,
                                   inception_weights=flax_path)
  empty = tmp_path / "empty"
  empty.mkdir()
  assert "no images" in error(str(empty), folder_a)

  small = tmp_path / "small.npz"
  np.savez(small, mu=np.zeros(64), sigma=np.eye(64))
  assert "64-d features but --feature=inception is 2048-d" in error(
      folder_a, str(small), inception_weights=flax_path, metrics=["fid"])

  assert "no checkpoints" in error(f"workdir:{tmp_path}", folder_a)
  assert "neither an existing folder nor a .npz" in error(
      str(tmp_path / "absent"), folder_a)
  assert "unknown metrics" in error(folder_a, folder_a, metrics=["fjd"])


def test_binary_prints_one_line_errors(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "gan.evaluate", f"--source_a={tmp_path}/absent",
       "--source_b=x.npz"], cwd=REPO, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: source ")
  assert "neither an existing folder" in last
  assert "Traceback" not in result.stderr


def test_frechet_distance_paths_agree(weights, folders):
  """The evaluation's FID route (features) equals the statistics route."""
  _, _, flax_path = weights
  network = features.FIDInceptionNetwork(flax_path, batch_size=8)
  extracted = []
  for folder in folders:
    source = image_sources.FolderSource(folder)
    values, _ = features.extract_features(source.batches(8), ["inception"],
                                          {network.name: network},
                                          progress=False)
    extracted.append(values["inception"])
  a, b = (statistics.compute_statistics(x) for x in extracted)
  from_features = fid_lib.frechet_distance_from_features(*extracted)
  from_statistics = fid_lib.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
  assert abs(from_features - from_statistics) <= 1e-6 * from_statistics
