"""Builds alzheimers_mri from the real Kaggle archive in ../shared/data.

The archive is not part of the project (ODbL data, never committed); the test
skips where it is absent. The shared folder is read-only, so the dataset is
built into pytest's tmp_path. Takes about 15 s on two CPU cores.
"""
import collections
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_datasets.alzheimers_mri import alzheimers_mri_dataset_builder as amri

ARCHIVE = (pathlib.Path(__file__).resolve().parents[1].parent / "shared" /
           "data" / "alzheimers_mri" / "archive.zip")

EXPECTED = {
    "train": {"MildDemented": 717, "ModerateDemented": 52,
              "NonDemented": 2560, "VeryMildDemented": 1792},
    "test": {"MildDemented": 179, "ModerateDemented": 12,
             "NonDemented": 640, "VeryMildDemented": 448},
}


@pytest.mark.skipif(not ARCHIVE.is_file(),
                    reason=f"shared data not available: {ARCHIVE} is absent")
def test_builds_the_published_splits_from_the_kaggle_archive(tmp_path):
  builder = tfds.builder("alzheimers_mri", data_dir=tmp_path)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=ARCHIVE.parent,
      # Feature statistics would decode all 6400 images again; not needed.
      compute_stats=tfds.download.ComputeStatsMode.SKIP))

  assert builder.info.splits["train"].num_examples == 5121
  assert builder.info.splits["test"].num_examples == 1279
  names = builder.info.features["label"].names
  assert names == list(amri.CLASS_NAMES) == list(EXPECTED["train"])
  assert builder.info.features["image"].shape == (208, 176, 1)

  for split, expected in EXPECTED.items():
    # The builder decoded and size-checked every image while building; here
    # labels and file names are read without decoding the images again.
    ds = builder.as_dataset(split=split, decoders={
        "image": tfds.decode.SkipDecoding()})
    counts = collections.Counter()
    filenames = set()
    for ex in tfds.as_numpy(ds):
      class_name = names[ex["label"]]
      filename = ex["filename"].decode()
      assert filename.startswith(class_name + "/") and filename.endswith(".jpg")
      counts[class_name] += 1
      filenames.add(filename)
    assert dict(counts) == expected
    assert len(filenames) == sum(expected.values())

  images = [ex["image"] for ex in tfds.as_numpy(
      builder.as_dataset(split="test[:64]"))]
  assert len(images) == 64
  assert {(im.shape, im.dtype) for im in images} == {
      ((208, 176, 1), np.dtype(np.uint8))}
  assert all(0 < im.max() for im in images)  # Real slices, not blank images.
