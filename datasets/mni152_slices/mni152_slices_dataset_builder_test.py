"""Tests mni152_slices: dummy volume (TFDS test case) and the real template."""
import pathlib
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_datasets import mri_io
from gan_datasets import synthetic_mri
from gan_datasets.mni152_slices import mni152_slices_dataset_builder as mni

DUMMY_TEMPLATE = (pathlib.Path(mni.Builder.code_path.parent) / "dummy_data" /
                  "template.nii.gz")


class Mni152SlicesTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from dummy_data/template.nii.gz, a synthetic 197x233x8 volume."""

  DATASET_CLASS = mni.Builder
  SPLITS = {"train": synthetic_mri.MNI152_DUMMY_KEPT}  # 3 of 8 slices empty.

  def setUp(self):
    super().setUp()
    self.enter_context(
        mock.patch.object(mni, "TEMPLATE_PATH", str(DUMMY_TEMPLATE)))


def test_dummy_template_matches_the_generator():
  volume = mri_io.read_nifti(DUMMY_TEMPLATE)
  np.testing.assert_array_equal(volume, synthetic_mri.mni152_volume())


def test_real_template_keeps_137_brain_slices_nose_up():
  slices = dict(mni.kept_slices(mni.template_path()))

  assert len(slices) == mni.NUM_SLICES == 137
  assert sorted(slices) == list(range(12, 149))  # z = 12..148 of 0..188.
  assert {(s.shape, s.dtype) for s in slices.values()} == {
      ((233, 197), np.dtype(np.uint8))}
  assert max(s.max() for s in slices.values()) == 255  # Windowed, not raw.
  # Nose up: at z=20 the cerebellum (posterior) fills the lower half.
  rows = np.nonzero(slices[20] > 25)[0]
  assert rows.mean() > 233 / 2 + 20


@pytest.mark.parametrize("template", [None, "missing"])
def test_missing_template_is_a_one_line_error(tmp_path, template):
  if template is None:
    with mock.patch.object(mni, "TEMPLATE_RELPATH", ("no", "such.nii.gz")):
      with pytest.raises(mni.TemplateError, match="reinstall nilearn"):
        mni.template_path()
  else:
    with mock.patch.object(mni, "TEMPLATE_PATH", str(tmp_path / "none.nii")):
      with pytest.raises(mni.TemplateError, match="not found"):
        mni.template_path()


def test_real_template_builds(tmp_path):
  builder = tfds.builder("mni152_slices", data_dir=tmp_path)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      compute_stats=tfds.download.ComputeStatsMode.SKIP))
  assert builder.info.splits["train"].num_examples == 137
  assert builder.info.features["label"].names == ["mni152"]
  ex = next(iter(tfds.as_numpy(builder.as_dataset(split="train[:1]"))))
  assert ex["image"].shape == (233, 197, 1)
  assert ex["filename"].decode().startswith("z=")
