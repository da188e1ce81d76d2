"""No subject's images on both sides of a split: the held-out test part of
a user folder, the benchmark's validation part, and train/ vs test/."""
import ml_collections
import numpy as np
import pytest

from gan_datasets import synthetic_mri
from gan import downstream
from gan import input_pipeline
from gan.errors import UserError
from tests import helpers


def _subjects(seed, n=40, num_classes=3):
  """[N] labels and subject names: n subjects of 2-7 slices, a subject's
  slices mostly (not always) of one class."""
  rng = np.random.default_rng(seed)
  labels, groups = [], []
  for s in range(n):
    k = int(rng.integers(2, 8))
    label = np.full(k, s % num_classes)
    label[0] = rng.integers(num_classes)      # A stray slice now and then.
    labels.append(label)
    groups += [f"sub{s:02d}"] * k
  return np.concatenate(labels).astype(np.int32), np.array(groups, object)


@pytest.mark.parametrize("seed,fraction", [(0, 0.2), (1, 0.25), (2, 0.5)])
def test_holdout_by_subject_keeps_every_subject_on_one_side(seed, fraction):
  labels, groups = _subjects(seed)
  held = input_pipeline.stratified_holdout(labels, fraction, seed, groups)
  assert not set(groups[held]) & set(groups[~held])
  # Stratified over subjects: round(fraction * n) of each class's subjects,
  # a subject's class being its most frequent label (lowest on ties).
  majority = {g: np.bincount(labels[groups == g]).argmax() for g in set(groups)}
  for c in range(3):
    n = sum(1 for g in majority if majority[g] == c)
    held_c = {g for g in set(groups[held]) if majority[g] == c}
    assert n >= 10 and len(held_c) == round(fraction * n)
  # Without subjects, the same call splits images, not subjects.
  by_image = input_pipeline.stratified_holdout(labels, fraction, seed)
  assert set(groups[by_image]) & set(groups[~by_image])


def test_the_benchmark_validation_part_is_by_subject():
  labels, groups = _subjects(3)
  split = helpers.synthetic_split(n=len(labels), num_classes=3)
  split = input_pipeline.Split(split.images, labels, split.class_names, groups)
  validation = ml_collections.ConfigDict({"fraction": 0.25, "seed": 5})
  fit, val = downstream.validation_parts(split, validation)
  assert len(fit) + len(val) == len(split)
  assert not set(fit.groups) & set(val.groups)
  assert set(fit.groups) | set(val.groups) == set(groups)


def _folder(root, subjects_by_split):
  """root/[split/]class/subject/i.png for {split: {class: [subjects]}}."""
  seed = 0
  for split, classes in subjects_by_split.items():
    for class_name, subjects in classes.items():
      for subject in subjects:
        for i in range(3):
          seed += 1
          path = root / split / class_name / subject / f"{i}.png"
          path.parent.mkdir(parents=True, exist_ok=True)
          image = synthetic_mri.to_uint8(synthetic_mri.phantom(24, 24, seed))
          path.write_bytes(synthetic_mri.encode_png(image))


def _data(folder, data_dir, **kwargs):
  data = helpers.tiny_config().data
  data.update(name="mri_folder", folder=str(folder), data_dir=str(data_dir),
              **kwargs)
  return data


def test_a_folder_test_fraction_holds_out_whole_subjects(tmp_path):
  _folder(tmp_path / "study", {"": {
      "healthy": [f"h{i}" for i in range(8)],
      "tumour": [f"t{i}" for i in range(6)]}})
  data = _data(tmp_path / "study", tmp_path / "tfds", test_fraction=0.25)
  train, test = input_pipeline.load_train_and_test(data, "test")
  assert len(train) + len(test) == 14 * 3
  assert not set(train.groups) & set(test.groups)
  # 2 of 8 healthy and 2 (round(1.5)) of 6 tumour subjects, 3 slices each.
  assert sorted(np.bincount(test.labels).tolist()) == [6, 6]
  assert len(set(test.groups)) == 4


def test_a_subject_in_train_and_test_folders_is_refused(tmp_path):
  _folder(tmp_path / "study", {
      "train": {"healthy": ["a", "b"], "tumour": ["c"]},
      "test": {"healthy": ["b"], "tumour": ["d"]}})
  data = _data(tmp_path / "study", tmp_path / "tfds")
  with pytest.raises(UserError, match=r"1 subjects have images in both .*\['b'\]"):
    input_pipeline.load_train_and_test(data, "test")
