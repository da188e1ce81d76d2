"""A researcher's own folder, end to end, as the README walks it.

The fixture imitates a real public brain-MRI folder: two classes, mixed
modes (L, RGB, RGBA, P) and extensions (.png, .PNG, .jpg, .jpeg), a PNG named
.jpg, a colour-annotated slice, an 8x8 thumbnail, a 1920x1080 screenshot, an
empty class folder, a corrupt file and no train/test split. Each README step
runs in-process on it (tiny sizes), asserting on its outputs and on every
warning and error a user would meet on the way.
"""
import json
import os

import numpy as np
import pytest
from PIL import Image

from configs import augment_benchmark_alzheimers
from configs import classifier_alzheimers
from gan import classifier
from gan import downstream
from gan import evaluation
from gan import image_sources
from gan import input_pipeline
from gan import sampling
from gan import storage
from gan import synthetic_dataset
from gan import synthetic_sources
from gan import train
from gan.errors import UserError
from tests import helpers


def _slice(rng, size=48, value=120):
  """A bright disc (a "brain") with noise on a black background."""
  y, x = np.mgrid[:size, :size]
  disc = (y - size / 2) ** 2 + (x - size / 2) ** 2 < (size / 2.5) ** 2
  return np.clip(disc * value + rng.normal(0, 12, (size, size)), 0,
                 255).astype(np.uint8)


def _write_folder(root):
  rng = np.random.default_rng(0)
  for name, value, count in (("healthy", 90, 14), ("tumour", 200, 10)):
    folder = root / name
    folder.mkdir(parents=True)
    for i in range(count):
      gray = _slice(rng, value=value)
      kind = i % 4
      if kind == 0:
        Image.fromarray(gray).save(folder / f"{i}.png")
      elif kind == 1:
        Image.fromarray(np.stack([gray] * 3, -1)).save(folder / f"{i}.jpg",
                                                       quality=95)
      elif kind == 2:
        rgba = np.concatenate([np.stack([gray] * 3, -1),
                               np.full(gray.shape + (1,), 255, np.uint8)], -1)
        Image.fromarray(rgba, "RGBA").save(folder / f"{i}.PNG")
      else:
        Image.fromarray(gray).save(folder / f"{i}.jpeg", quality=95)
  Image.fromarray(_slice(rng, value=90)).convert("P").save(
      root / "healthy" / "palette.png")
  tumour = root / "tumour"
  # A PNG named .jpg, a slice with a red arrow, a thumbnail, a screenshot.
  Image.fromarray(_slice(rng, value=210)).save(tumour / "really_png.jpg",
                                               format="PNG")
  annotated = np.stack([_slice(rng, value=190)] * 3, -1)
  annotated[5:12, 5:12] = (255, 0, 0)
  Image.fromarray(annotated).save(tumour / "annotated.png")
  Image.fromarray(_slice(rng, size=8, value=200)).save(tumour / "thumb.png")
  screenshot = np.zeros((1080, 1920), np.uint8)
  screenshot[300:780, 720:1200] = np.asarray(
      Image.fromarray(_slice(rng, value=200)).resize((480, 480)))
  Image.fromarray(screenshot).save(tumour / "screenshot.png")
  (root / "Empty").mkdir()
  (root / "healthy" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")


@pytest.fixture(scope="module")
def own(tmp_path_factory):
  root = tmp_path_factory.mktemp("own")
  folder = root / "brain_mri"
  _write_folder(folder)
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder),
              data_dir=str(root / "tfds"), test_fraction=0.2)
  return root, folder, data


def test_own_folder_end_to_end(own, caplog, capsys):
  root, folder, data = own
  # Refusals first, each naming the fix that then works.
  with pytest.raises(UserError, match=(
      rf"class folder\(s\) {folder / 'Empty'} hold no image files .* rename "
      rf"them with a leading '.'")):
    input_pipeline.load_split(data)
  (folder / "Empty").rename(folder / ".Empty")
  with pytest.raises(UserError, match=(
      r"1 unreadable files in .*broken\.jpg.*--config\.data\.skip_corrupt=True")):
    input_pipeline.load_split(data)
  data.skip_corrupt = True

  with caplog.at_level("WARNING"):
    train_split = input_pipeline.load_split(data)
  captured = capsys.readouterr()
  out = captured.out
  assert "skipped 1 unreadable files" in out and "broken.jpg" in out
  assert "mri_folder: preparing a copy of " in out
  assert "Downloading and preparing" not in out  # TFDS's print, replaced.
  # 14 files are in colour modes (RGB JPEG, RGBA, palette, the annotated
  # PNG); the annotated one, at least, really holds colour.
  assert "mri_folder: converted 14 colour-mode images in " in out
  assert "really hold colour" in out and "annotated.png" in out
  warnings = " | ".join(r.getMessage() for r in caplog.records)
  assert "smaller than 32 px and are upscaled (e.g. 8x8)" in warnings
  assert "more than 1.5:1 wide or tall (e.g. 1920x1080)" in warnings
  test_split = input_pipeline.load_split(data, "test")
  assert train_split.class_names == test_split.class_names == [
      "healthy", "tumour"]
  assert len(train_split) + len(test_split) == 15 + 14  # All readable files.
  assert np.bincount(test_split.labels).tolist() == [3, 3]

  # Train a conditional GAN on the training part only.
  config = helpers.tiny_config(**{"train.num_steps": 2})
  config.data = data.copy_and_resolve_references()
  config.data.conditional = True
  workdir = root / "gan"
  train.train_and_evaluate(config, str(workdir))
  grid = np.asarray(Image.open(workdir / "samples" / "step_0000002.png"))
  cells = config.log.grid_size // 2  # One row per class, 4 samples each ...
  assert grid.shape[0] == 2 * 34 + 2
  assert grid.shape[1] > cells * 34 + 2 + 20  # ... and a column of names.

  # Balance the classes with synthetic images, readable by colleagues.
  generator = sampling.load_generator(str(workdir))
  counts = synthetic_dataset.parse_counts(
      "balance", generator.class_names,
      {n: int(c) for n, c in zip(train_split.class_names,
                                 np.bincount(train_split.labels))})
  assert counts == {"healthy": 0, "tumour": 1}
  synthetic = root / "synthetic"
  synthetic_dataset.write_dataset(generator, str(synthetic), counts, seed=0)
  assert len(list((synthetic / "tumour").glob("*.png"))) == 1
  assert os.stat(synthetic).st_mode & 0o777 == 0o777 & ~storage.current_umask()

  # The classifier: trained on train, tested on the held-out part.
  clf = classifier_alzheimers.get_config()
  clf.data = data.copy_and_resolve_references()
  clf.classifier.widths, clf.classifier.num_steps = (4, 8), 4
  clf.classifier.batch_size, clf.classifier.log_every_steps = 8, 2
  metrics = classifier.train_and_evaluate(clf, str(root / "classifier"))
  assert metrics["num_examples"] == len(test_split)
  clf.test_split = "train"
  with pytest.raises(UserError, match="the test split is the training split"):
    classifier.train_and_evaluate(clf, str(root / "classifier_bad"))

  # The augmentation benchmark on the same split: real vs real+synthetic.
  bench = augment_benchmark_alzheimers.get_config()
  bench.data = data.copy_and_resolve_references()
  bench.classifier.widths, bench.classifier.num_steps = (4, 8), 4
  bench.classifier.batch_size = 8
  bench.arms, bench.seeds = ("real", "real+synthetic"), (0,)
  # The whole split, no choices (the protocol is tested in test_downstream).
  bench.validation.fraction = 0.0
  bench_train, bench_test = input_pipeline.load_train_and_test(
      bench.data, bench.test_split)
  result = downstream.run(bench, bench_train, bench_test,
                          synthetic_sources.GeneratorSource(
                              str(workdir), bench_train.class_names,
                              bench.data.resolution))
  runs = result["runs"]
  assert runs["real"][0]["num_examples"] == len(test_split) == 6
  # Topped up to the largest class (12 healthy, 11 tumour): one synthetic.
  assert runs["real"][0]["train_examples"] == len(train_split) == 23
  assert runs["real+synthetic"][0]["train_examples"] == 24

  # Evaluation with that classifier's features against the folder as
  # training read it (the prepared copy: corrupt file skipped, found without
  # its hash): colour files, mixed sizes and the memorisation grid all work.
  # The folder itself is refused while it holds the corrupt file.
  with pytest.raises(UserError, match=r"cannot read image .*broken\.jpg"):
    evaluation.evaluate(f"workdir:{workdir}", str(folder), metrics=["kid"],
                        feature=f"encoder:{root / 'classifier'}",
                        num_samples=12, progress=False, tensorboard=False)
  results = evaluation.evaluate(
      f"workdir:{workdir}", "tfds:mri_folder/train", data_dir=data.data_dir,
      metrics=["kid", "memorization"],
      feature=f"encoder:{root / 'classifier'}", num_samples=12, batch_size=8,
      kid_subset_size=6, progress=False, tensorboard=False,
      output=str(root / "eval.json"))
  assert np.isfinite(results["metrics"]["kid"]["mean"])
  assert os.path.isfile(results["metrics"]["memorization"]["plot"])
  assert any("mixes" in w and "resized to" in w for w in results["warnings"])
  assert json.loads((root / "eval.json").read_text())["metrics"]["kid"]
  # Raw files against a generator: said, with the source that matches.
  assert any(f"--source_b=data:{workdir}/train compares" in w
             and "resize to 32 px" in w for w in results["warnings"])

  # The folder as training read it, test part included or alone: the
  # training input pipeline itself, named in the results.
  results = evaluation.evaluate(
      f"workdir:{workdir}", f"data:{workdir}/test", metrics=["kid"],
      feature=f"encoder:{root / 'classifier'}", num_samples=6, batch_size=8,
      kid_subset_size=6, progress=False, tensorboard=False)
  described = results["sources"]["b"]
  assert described["num_images"] == len(test_split) == 6
  assert described["preprocessing"]["test_fraction"] == 0.2
  assert described["preprocessing"]["skip_corrupt"] is True
  assert "pad to square with 0" in described["preprocessing"]["steps"]
  assert not any("compares against" in w for w in results["warnings"])
  source = image_sources.parse_source(f"data:{workdir}/train#tumour")
  pixels = np.concatenate(list(source.batches(64)))
  tumour = train_split.images[train_split.labels == 1]
  np.testing.assert_array_equal(pixels,
                                tumour.astype(np.float32) / 127.5 - 1.0)
