"""Tests mri_folder on the synthetic dummy_data/ folder and on tmp folders."""
import collections
import pathlib

import pytest
import tensorflow_datasets as tfds

from gan.errors import UserError
from gan_datasets import synthetic_mri
from gan_datasets.mri_folder import mri_folder_dataset_builder as mf

DUMMY_FOLDER = pathlib.Path(mf.Builder.code_path.parent) / "dummy_data"
DUMMY_CONFIG = mf.make_config(DUMMY_FOLDER)


class MriFolderTest(tfds.testing.DatasetBuilderTestCase):
  """dummy_data/: control/ (8- and 16-bit PNG), patient/ (JPEG, DICOM, NIfTI).

  The 6-slice NIfTI volume gives 4 examples (2 empty slices dropped).
  """

  DATASET_CLASS = mf.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = [DUMMY_CONFIG]
  SPLITS = {"train": 8}

  def _make_builder(self, config=None):
    return super()._make_builder(config=config or DUMMY_CONFIG)


def _build(config, data_dir):
  builder = tfds.builder("mri_folder", config=config, data_dir=data_dir)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      compute_stats=tfds.download.ComputeStatsMode.SKIP))
  return builder


def _examples(builder, split="train"):
  return {ex["filename"].decode(): ex
          for ex in tfds.as_numpy(builder.as_dataset(split=split))}


def test_dummy_folder_matches_the_generator(tmp_path):
  synthetic_mri.write_mri_folder(tmp_path)
  for path in DUMMY_FOLDER.rglob("*"):
    if path.is_file():
      relpath = path.relative_to(DUMMY_FOLDER)
      assert path.read_bytes() == (tmp_path / relpath).read_bytes(), relpath


def test_dummy_folder_examples(tmp_path):
  builder = _build(DUMMY_CONFIG, tmp_path)
  assert builder.info.features["label"].names == ["control", "patient"]
  examples = _examples(builder)
  assert sorted(examples) == [
      "control/phantom_16bit.png", "control/phantom_8bit.png",
      "patient/phantom.dcm", "patient/phantom.jpg",
      "patient/volume.nii.gz:z=001", "patient/volume.nii.gz:z=002",
      "patient/volume.nii.gz:z=003", "patient/volume.nii.gz:z=004"]
  shapes = {name: ex["image"].shape for name, ex in examples.items()}
  assert shapes["control/phantom_16bit.png"] == (48, 56, 1)
  assert shapes["patient/phantom.dcm"] == (40, 50, 1)
  assert shapes["patient/volume.nii.gz:z=002"] == (36, 32, 1)
  labels = collections.Counter(ex["label"] for ex in examples.values())
  assert labels == {0: 2, 1: 6}
  # 16-bit and DICOM data are windowed to the full 8-bit range.
  assert examples["control/phantom_16bit.png"]["image"].max() == 255
  assert examples["patient/phantom.dcm"]["image"].max() == 255


def test_make_config_names_and_options(tmp_path):
  config = mf.make_config(DUMMY_FOLDER)
  assert config.name.startswith("dummy_data_") and len(config.name) == 19
  assert config.class_names == ("control", "patient")
  assert config.split_names == ("train",)
  assert (config.slice_axis, config.window) == (2, (0.5, 99.5))
  assert not config.skip_corrupt and config.drop_empty_slices
  assert mf.make_config(DUMMY_FOLDER).name == config.name
  assert mf.make_config(DUMMY_FOLDER, slice_axis=0).name != config.name
  assert mf.make_config(DUMMY_FOLDER, high_percentile=99).name != config.name
  synthetic_mri.write_mri_folder(tmp_path / "dummy_data")
  assert mf.make_config(tmp_path / "dummy_data").name != config.name

  with pytest.raises(mf.MriFolderError, match="slice_axis must be"):
    mf.make_config(DUMMY_FOLDER, slice_axis=3)
  with pytest.raises(mf.mri_io.InvalidWindowError, match="0 <= low < high"):
    mf.make_config(DUMMY_FOLDER, low_percentile=50, high_percentile=10)


def test_missing_and_empty_folders_are_one_line_errors(tmp_path):
  with pytest.raises(mf.FolderNotFoundError, match="does not exist") as error:
    mf.make_config(tmp_path / "nope")
  assert "\n" not in str(error.value)

  (tmp_path / "loose.png").write_bytes(b"")
  with pytest.raises(mf.EmptyFolderError, match="no class sub-folders"):
    mf.make_config(tmp_path)

  (tmp_path / "healthy").mkdir()
  (tmp_path / "healthy" / "notes.txt").write_text("x")
  with pytest.raises(mf.EmptyFolderError, match="hold no image files"):
    mf.make_config(tmp_path)


def test_an_empty_class_folder_is_refused_not_made_a_class(tmp_path):
  synthetic_mri.write_mri_folder(tmp_path)
  (tmp_path / "Empty").mkdir()
  (tmp_path / "Empty" / "Thumbs.db").write_bytes(b"x")  # Not an image.
  with pytest.raises(mf.EmptyFolderError) as error:
    mf.make_config(tmp_path)
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith(f"class folder(s) {tmp_path / 'Empty'} hold no "
                            "image files (supported: ")
  assert "rename them with a leading '.'" in message
  (tmp_path / "Empty").rename(tmp_path / ".Empty")  # The fix it names works.
  assert mf.make_config(tmp_path).class_names == ("control", "patient")


def _folder_with_corrupt_files(root, count):
  synthetic_mri.write_mri_folder(root)
  bad = []
  for i in range(count):
    path = root / "patient" / f"broken_{i:02d}.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad.append(str(path))
  (root / "patient" / "truncated.nii.gz").write_bytes(
      (root / "patient" / "volume.nii.gz").read_bytes()[:500])
  bad.append(str(root / "patient" / "truncated.nii.gz"))
  return bad


def test_corrupt_files_fail_the_build_listing_them(tmp_path):
  bad = _folder_with_corrupt_files(tmp_path / "images", count=11)
  config = mf.make_config(tmp_path / "images")
  with pytest.raises(mf.CorruptFilesError) as error:
    _build(config, tmp_path / "data")
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith("12 unreadable files in ")
  assert bad[0] in message and "and 2 more" in message
  assert "--config.data.skip_corrupt=True" in message


def test_skip_corrupt_skips_and_reports_them(tmp_path, capsys):
  bad = _folder_with_corrupt_files(tmp_path / "images", count=1)
  (tmp_path / "images" / "control" / "readme.txt").write_text("x")
  config = mf.make_config(tmp_path / "images", skip_corrupt=True)
  builder = _build(config, tmp_path / "data")
  assert builder.info.splits["train"].num_examples == 8
  out = capsys.readouterr().out
  assert "skipped 2 unreadable files" in out
  assert bad[0] in out and bad[1] in out
  assert "ignored 1 files" in out and "control/readme.txt" in out


def test_only_corrupt_files_is_empty_even_when_skipping(tmp_path):
  (tmp_path / "healthy").mkdir()
  (tmp_path / "healthy" / "a.jpg").write_bytes(b"not a jpeg")
  config = mf.make_config(tmp_path, skip_corrupt=True)
  with pytest.raises(mf.EmptyFolderError, match="no readable image"):
    _build(config, tmp_path / "data")


def test_train_test_layout_and_slice_options(tmp_path):
  root = tmp_path / "study"
  for split, seed in (("train", 1), ("test", 2)):
    for class_name in ("a", "b"):
      folder = root / split / class_name
      folder.mkdir(parents=True)
      image = synthetic_mri.to_uint8(synthetic_mri.phantom(30, 20, seed))
      (folder / "x.png").write_bytes(synthetic_mri.encode_png(image))
  synthetic_mri.write_nifti(root / "train" / "b" / "vol.nii",
                            synthetic_mri.mri_folder_nifti())  # 32x36x6.

  config = mf.make_config(root, slice_axis=0, drop_empty_slices=False)
  assert config.split_names == ("train", "test")
  assert config.class_names == ("a", "b")
  builder = _build(config, tmp_path / "data")
  assert builder.info.splits["test"].num_examples == 2
  # Sagittal slices of a 32x36x6 volume: 32 slices of 6 (z) x 36 (y), none
  # dropped.
  train = _examples(builder, "train")
  assert len(train) == 2 + 32
  assert train["b/vol.nii:x=000"]["image"].shape == (6, 36, 1)

  with pytest.raises(mf.MriFolderError, match="but also extra"):
    (root / "extra").mkdir()
    mf.make_config(root)


def test_builder_without_config_says_how_to_make_one(tmp_path):
  with pytest.raises(mf.MriFolderError, match="make_config") as error:
    tfds.builder("mri_folder", data_dir=tmp_path)
  assert "\n" not in str(error.value)


def test_colour_conversion_is_reported_with_counts(tmp_path, capsys):
  from PIL import Image
  import numpy as np
  folder = tmp_path / "images" / "scans"
  folder.mkdir(parents=True)
  gray = np.full((32, 32), 100, np.uint8)
  Image.fromarray(gray).save(folder / "gray.png")
  Image.fromarray(np.stack([gray] * 3, -1)).save(folder / "rgb_gray.png")
  annotated = np.stack([gray] * 3, -1)
  annotated[4:8, 4:8] = (255, 0, 0)  # A red arrow.
  Image.fromarray(annotated).save(folder / "annotated.png")
  _build(mf.make_config(tmp_path / "images"), tmp_path / "data")
  out = capsys.readouterr().out
  assert ("converted 2 colour-mode images in " in out
          and "to grayscale (luminance); 1 of them really hold colour" in out)
  assert str(folder / "annotated.png") in out
  assert str(folder / "rgb_gray.png") not in out


def _png(path, seed):
  path.parent.mkdir(parents=True, exist_ok=True)
  image = synthetic_mri.to_uint8(synthetic_mri.phantom(24, 24, seed))
  path.write_bytes(synthetic_mri.encode_png(image))


def test_subjects_from_csv_subfolders_and_volumes(tmp_path, capsys):
  root = tmp_path / "study"
  _png(root / "healthy" / "s01" / "a.png", 1)
  _png(root / "healthy" / "s01" / "deeper" / "b.png", 2)
  _png(root / "healthy" / "s02" / "a.png", 3)
  _png(root / "healthy" / "loose.png", 4)
  _png(root / "healthy" / "unknown.png", 5)
  _png(root / "tumour" / "s01" / "a.png", 6)   # Same name: same subject.
  synthetic_mri.write_nifti(root / "tumour" / "vol.nii",
                            synthetic_mri.mri_folder_nifti())
  (root / "subjects.csv").write_text(
      "file,subject\nhealthy/loose.png,s02\n./tumour/s01/a.png,s09\n"
      "healthy/typo.png,s03\n")
  builder = _build(mf.make_config(root), tmp_path / "data")
  out = capsys.readouterr().out
  assert ("1 rows of subjects.csv name no readable image in "
          f"{root}: healthy/typo.png") in out
  # Counted in the order the files are read (healthy/ first).
  assert (f"subjects of the files in {root}: 2 named in subjects.csv, 3 in "
          f"subject sub-folders, 1 volumes (one subject each); 1 without one"
          ) in out
  subjects = {name: ex["subject"].decode()
              for name, ex in _examples(builder).items()}
  volume = {s for n, s in subjects.items() if n.startswith("tumour/vol.nii:")}
  assert volume == {"tumour/vol.nii"}
  assert {n: s for n, s in subjects.items() if not n.startswith("tumour/vol")} == {
      "healthy/s01/a.png": "s01", "healthy/s01/deeper/b.png": "s01",
      "healthy/s02/a.png": "s02", "healthy/loose.png": "s02",   # by the CSV
      "healthy/unknown.png": "",                                # unknown
      "tumour/s01/a.png": "s09"}                                # CSV first


def test_a_malformed_subjects_table_is_a_one_line_error(tmp_path):
  root = tmp_path / "study"
  _png(root / "healthy" / "a.png", 1)
  (root / "subjects.csv").write_text("path,who\nhealthy/a.png,s1\n")
  with pytest.raises(UserError, match="header 'file,subject'"):
    _build(mf.make_config(root), tmp_path / "data")
  (root / "subjects.csv").write_text("file,subject\nhealthy/a.png\n")
  with pytest.raises(UserError, match="line 2: expected"):
    _build(mf.make_config(root), tmp_path / "data2")
