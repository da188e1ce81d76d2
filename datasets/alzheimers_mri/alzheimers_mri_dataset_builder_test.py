"""Tests alzheimers_mri on the synthetic dummy_data/archive.zip."""
import pathlib
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_datasets import synthetic_mri
from gan_datasets.alzheimers_mri import alzheimers_mri_dataset_builder as amri

DUMMY_ARCHIVE = (pathlib.Path(amri.Builder.code_path.parent) / "dummy_data" /
                 "archive.zip")


class AlzheimersMriTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from dummy_data/archive.zip (the zip is read without extraction)."""

  DATASET_CLASS = amri.Builder
  SPLITS = {"train": 8, "test": 4}  # 2 and 1 fake images per class.


def _extract_dummy(folder):
  with zipfile.ZipFile(DUMMY_ARCHIVE) as archive:
    archive.extractall(folder)


def test_dummy_archive_matches_the_generator():
  # dummy_data/ must stay synthetic: regenerate with
  # `python -m gan_datasets.synthetic_mri` if this fails.
  with zipfile.ZipFile(DUMMY_ARCHIVE) as archive:
    members = {n: archive.read(n) for n in archive.namelist()
               if not n.endswith("/")}
  assert members == synthetic_mri.alzheimers_archive_members()


@pytest.mark.parametrize(
    "layout", ["folder", "manual_dir_is_folder", "unzipped_into_archive"])
def test_extracted_folder_lists_what_the_zip_lists(tmp_path, layout):
  target = {"folder": tmp_path,
            "manual_dir_is_folder": tmp_path,
            "unzipped_into_archive": tmp_path / "archive"}[layout]
  _extract_dummy(target)
  manual_dir = tmp_path
  if layout == "manual_dir_is_folder":
    manual_dir = tmp_path / amri.DATASET_FOLDER

  source = amri.find_source(manual_dir)
  assert not source.is_zip
  from_folder = amri.list_entries(source)
  from_zip = amri.list_entries(amri.find_source(DUMMY_ARCHIVE.parent))
  def relpaths(entries):
    return {split: [e.relpath for e in v] for split, v in entries.items()}

  assert relpaths(from_folder) == relpaths(from_zip)
  assert len(from_zip["train"]) == 8 and len(from_zip["test"]) == 4
  assert from_zip["test"][0].relpath == "MildDemented/9 (0).jpg"


def test_build_from_extracted_folder_keeps_labels_filenames_and_bytes(tmp_path):
  manual_dir = tmp_path / "manual"
  _extract_dummy(manual_dir)
  builder = tfds.builder("alzheimers_mri", data_dir=tmp_path / "data")
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir, compute_stats=tfds.download.ComputeStatsMode.SKIP))

  assert builder.info.features["label"].names == list(amri.CLASS_NAMES)
  assert builder.info.supervised_keys is not None
  examples = list(tfds.as_numpy(builder.as_dataset(
      split="test", decoders={"image": tfds.decode.SkipDecoding()})))
  assert len(examples) == 4
  label_names = builder.info.features["label"].names
  for ex in examples:
    filename = ex["filename"].decode()
    assert filename.split("/")[0] == label_names[ex["label"]]
    source = manual_dir / amri.DATASET_FOLDER / "test" / filename
    assert ex["image"] == source.read_bytes()  # Original JPEG, not re-encoded.
  image = next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))["image"]
  assert image.shape == (208, 176, 1) and image.dtype == np.uint8


def test_missing_download_names_the_expected_file(tmp_path):
  builder = tfds.builder("alzheimers_mri", data_dir=tmp_path / "data")
  with pytest.raises(amri.ManualDownloadMissingError) as error:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=tmp_path / "empty_manual_dir"))
  message = str(error.value)
  assert "\n" not in message
  assert str(tmp_path / "empty_manual_dir" / "archive.zip") in message
  assert "tourist55" in message


def test_not_a_zip_and_copies_are_reported(tmp_path):
  (tmp_path / "archive.zip").write_bytes(b"not a zip")
  with pytest.raises(amri.ArchiveError, match="not a valid zip"):
    amri.list_entries(amri.find_source(tmp_path))

  members = synthetic_mri.alzheimers_archive_members()
  members.update({"copy/" + n: d for n, d in members.items()})
  synthetic_mri.write_zip(tmp_path / "archive.zip", members)
  with pytest.raises(amri.ArchiveError, match="several copies"):
    amri.list_entries(amri.find_source(tmp_path))


def test_macos_junk_and_other_files_are_ignored_and_reported(tmp_path, capsys):
  members = synthetic_mri.alzheimers_archive_members()
  junk = {"__MACOSX/Alzheimer_s Dataset/train/MildDemented/._1 (0).jpg": b"x",
          "Alzheimer_s Dataset/train/MildDemented/notes.txt": b"x"}
  synthetic_mri.write_zip(tmp_path / "archive.zip", {**members, **junk})
  entries = amri.list_entries(amri.find_source(tmp_path))
  assert [len(v) for v in entries.values()] == [8, 4]
  assert "ignored 2 files" in capsys.readouterr().out


def test_misnamed_download_is_pointed_out(tmp_path):
  (tmp_path / "archive (1).zip").write_bytes(DUMMY_ARCHIVE.read_bytes())
  with pytest.raises(amri.ManualDownloadMissingError,
                     match=r"found archive \(1\)\.zip: rename"):
    amri.find_source(tmp_path)
