"""Synthetic data sets: class routing, manifest, determinism, mri_folder round trip."""
import json

import numpy as np
import pytest

from gan import input_pipeline
from gan import sampling
from gan import storage
from gan import synthetic_dataset
from gan.errors import UserError
from tests import helpers


@pytest.fixture(scope="module")
def generator(conditional_workdir):
  return sampling.load_generator(str(conditional_workdir[0]))


def test_parse_counts():
  names = ["a", "b", "c"]
  assert synthetic_dataset.parse_counts("5", names, None) == {"a": 5, "b": 5, "c": 5}
  assert synthetic_dataset.parse_counts(
      "balance", names, {"a": 10, "b": 4, "c": 1}) == {"a": 0, "b": 6, "c": 9}
  assert synthetic_dataset.parse_counts("b:3", names, None) == {"b": 3}
  with pytest.raises(UserError, match="unknown class 'd'"):
    synthetic_dataset.parse_counts("d:3", names, None)
  # An unconditional model has no class to top up: said, not guessed.
  with pytest.raises(UserError, match=r"^--num=balance tops up each class, "
                     r"but this model is unconditional .*pass --num=N"):
    synthetic_dataset.parse_counts("balance", ["synthetic"], {"a": 10},
                                   conditional=False)


def test_writes_class_folders_and_manifest_and_reads_back(generator, tmp_path):
  out = tmp_path / "synthetic"
  counts = {"class0": 3, "class2": 5}
  manifest = synthetic_dataset.write_dataset(generator, str(out), counts, seed=1,
                                             batch_size=4)
  assert sorted(p.name for p in out.iterdir()) == ["class0", "class2", "manifest.json"]
  # Readable by colleagues: the umask's permissions, not mkdtemp's 0700.
  assert (out.stat().st_mode & 0o777) == 0o777 & ~storage.current_umask()
  assert len(list((out / "class2").glob("*.png"))) == 5
  saved = json.loads((out / "manifest.json").read_text())
  assert saved == json.loads(json.dumps(manifest))
  assert saved["checkpoint_step"] == 2 and saved["seed"] == 1
  assert {f["class"] for f in saved["files"]} == {"class0", "class2"}
  assert all(f["file"].startswith(f["class"] + "/") for f in saved["files"])
  # The files are the generator's samples for that class, in order.
  want = next(generator.sample(5, seed=saved["files"][-1]["seed"],
                               labels=np.full(5, 2), batch_size=4))
  from PIL import Image
  got = np.asarray(Image.open(out / "class2" / "class2_000000.png"))
  np.testing.assert_array_equal(got, np.round((want[0, ..., 0] + 1) * 127.5))
  # Same seed, same images.
  again = tmp_path / "again"
  synthetic_dataset.write_dataset(generator, str(again), counts, seed=1, batch_size=4)
  for f in saved["files"]:
    assert (out / f["file"]).read_bytes() == (again / f["file"]).read_bytes()
  # The mri_folder builder reads it back with the right labels.
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(out), data_dir=str(tmp_path / "tfds"))
  split = input_pipeline.load_split(data)
  assert split.class_names == ["class0", "class2"]
  assert np.bincount(split.labels).tolist() == [3, 5]
  # ... and a classifier trains on it with no manual step in between.
  from gan import classifier
  from tests.test_classifier import _config
  clf_config = _config().classifier
  clf_config.num_steps, clf_config.batch_size = 3, 4
  model = classifier.fit(clf_config, split.images, split.labels,
                         split.class_names, seed=0)
  metrics = model.evaluate(split.images, split.labels)
  assert metrics["num_examples"] == 8 and set(metrics["recall"]) == {"class0", "class2"}


def test_refuses_existing_output_and_leaves_nothing_on_error(generator, tmp_path):
  out = tmp_path / "exists"
  out.mkdir()
  with pytest.raises(UserError, match="exists; pass another --output, or --overwrite"):
    synthetic_dataset.write_dataset(generator, str(out), {"class0": 1}, seed=0)
  with pytest.raises(UserError, match="unknown class"):
    synthetic_dataset.write_dataset(generator, str(tmp_path / "new"),
                                    {"nope": 1}, seed=0)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]
  synthetic_dataset.write_dataset(generator, str(out), {"class1": 2}, seed=0,
                                  overwrite=True, batch_size=4)
  assert sorted(p.name for p in out.iterdir()) == ["class1", "manifest.json"]
