"""mri_pairs: the embedded MNI152 set's held-out slab, user folders (NIfTI,
DICOM series, PNG slices), pairing errors, and splits by subject."""
import pathlib

import nibabel as nib
import numpy as np
import pydicom
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from configs import default
from gan import paired_data
from gan.errors import UserError
from gan_datasets import synthetic_mri
from gan_datasets.mri_pairs import mri_pairs_dataset_builder as mp


def _build(config, data_dir):
  builder = tfds.builder("mri_pairs", config=config, data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      compute_stats=tfds.download.ComputeStatsMode.SKIP))
  return builder


def _examples(builder, split):
  return list(tfds.as_numpy(builder.as_dataset(split=split)))


def _nifti(path, data):
  nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.eye(4)), str(path))


def _subject(root, name, shape=(12, 14, 5), modalities=("t1", "t2"), seed=0):
  """A subject whose t2 is 1000 - t1 inside a box; slice 0 (z) is empty."""
  rng = np.random.default_rng(seed)
  folder = pathlib.Path(root) / name
  folder.mkdir(parents=True)
  t1 = np.zeros(shape, np.float32)
  t1[2:-2, 2:-2, 1:] = rng.uniform(200, 800, (shape[0] - 4, shape[1] - 4,
                                              shape[2] - 1))
  volumes = {"t1": t1, "t2": np.where(t1 > 0, 1000 - t1, 0)}
  for m in modalities:
    _nifti(folder / f"{m}.nii.gz", volumes[m])
  return volumes


def test_embedded_split_keeps_a_guarded_slab_out(tmp_path):
  builder = tfds.builder("mri_pairs/mni152", data_dir=str(tmp_path))
  builder.download_and_prepare()
  train = {int(e["slice"]) for e in _examples(builder, "train")}
  test = {int(e["slice"]) for e in _examples(builder, "test")}
  assert test == set(range(80, 96))
  assert len(train) == 113 and min(train) == 12 and max(train) == 148
  gap = min(abs(a - b) for a in train for b in test)
  assert gap == mp.GUARD + 1          # 5 mm from the nearest test slice.
  example = _examples(builder, "test")[0]
  assert example["image"].shape == (233, 197, 3)
  assert builder.info.metadata["modalities"] == ["t1", "gm", "wm"]
  # GM and WM are probability maps on T1's grid: tissue lies inside T1's
  # brain, and white matter is brighter than grey matter in T1.
  image = example["image"].astype(int)
  t1, gm, wm = image[..., 0], image[..., 1], image[..., 2]
  assert (t1[(gm > 128) | (wm > 128)] > 0).mean() > 0.99
  assert t1[wm > 200].mean() > t1[gm > 200].mean() + 30


def test_folder_pairs_nifti_and_drops_empty_target_slices(tmp_path):
  volumes = _subject(tmp_path / "data", "s1")
  config = mp.make_config(tmp_path / "data", ("t1", "t2"), "t2")
  examples = _examples(_build(config, tmp_path / "tfds"), "train")
  assert sorted(int(e["slice"]) for e in examples) == [1, 2, 3, 4]
  for e in examples:
    assert e["subject"] == b"s1" and e["image"].shape == (14, 12, 2)
    t1, t2 = e["image"][..., 0].astype(int), e["image"][..., 1].astype(int)
    inside = t1 > 0
    # t2 = 1000 - t1 per voxel: windowed, the two are anti-correlated.
    assert np.corrcoef(t1[inside], t2[inside])[0, 1] < -0.95


def test_dicom_series_and_png_slices_pair_with_nifti(tmp_path):
  root = tmp_path / "data"
  (root / "s1").mkdir(parents=True)
  rng = np.random.default_rng(0)
  slices = rng.integers(50, 250, (3, 10, 8)).astype(np.uint16)
  series = root / "s1" / "t1"
  series.mkdir()
  for i in (2, 0, 1):  # Named out of order: sorted by position.
    path = series / f"slice_{9 - i}.dcm"
    synthetic_mri.write_dicom(path, slices[i])
    ds = pydicom.dcmread(str(path))
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, float(i)]
    ds.save_as(str(path), enforce_file_format=True)
  pngs = root / "s1" / "t2"
  pngs.mkdir()
  for i in range(3):
    Image.fromarray(np.full((10, 8), 40 * (i + 1), np.uint8)).save(
        pngs / f"{i:02d}.png")
  config = mp.make_config(root, ("t1", "t2"), "t2")
  examples = sorted(_examples(_build(config, tmp_path / "tfds"), "train"),
                    key=lambda e: int(e["slice"]))
  assert [int(e["slice"]) for e in examples] == [0, 1, 2]
  # DICOM slices in position order: the brightest mean comes where written.
  means = [e["image"][..., 0].mean() for e in examples]
  assert np.argsort(means).tolist() == np.argsort(
      slices.reshape(3, -1).mean(1)).tolist()
  assert [int(e["image"][0, 0, 1]) for e in examples] == [40, 80, 120]


def test_pairing_errors_name_the_paths(tmp_path):
  root = tmp_path / "data"
  _subject(root, "s1")
  _subject(root, "s2", modalities=("t1",))
  config = mp.make_config(root, ("t1", "t2"), "t2")
  with pytest.raises(UserError, match=r"subject .*s2 has no t2 \(expected "
                     r"t2.nii.gz or a folder t2/; found t1.nii.gz\).*"
                     r"skip_incomplete=True") as info:
    _build(config, tmp_path / "tfds")
  assert "\n" not in str(info.value)
  skipping = mp.make_config(root, ("t1", "t2"), "t2", skip_incomplete=True)
  examples = _examples(_build(skipping, tmp_path / "tfds2"), "train")
  assert {e["subject"] for e in examples} == {b"s1"}
  bad = tmp_path / "bad"
  _subject(bad, "s3")
  _nifti(bad / "s3" / "t2.nii.gz", np.ones((12, 14, 6)))
  with pytest.raises(UserError, match=r"subject s3: modalities have "
                     r"different shapes \(.*t1.nii.gz \(5, 14, 12\), .*"
                     r"t2.nii.gz \(6, 14, 12\)\)"):
    _build(mp.make_config(bad, ("t1", "t2"), "t2"), tmp_path / "tfds3")
  with pytest.raises(UserError, match="target modality 'flair' is not among"):
    mp.make_config(root, ("t1", "t2"), "flair")


def _data_config(root, **pairs):
  data = default.get_config().data
  data.name = "mri_pairs"
  data.resolution = 16
  data.pairs.source, data.pairs.target = "t1", "t2"
  data.pairs.root = str(root)
  data.data_dir = str(pathlib.Path(root).parent / "tfds")
  for key, value in pairs.items():
    data.pairs[key] = value
  return data


def test_held_out_subjects_never_cross_the_split(tmp_path):
  root = tmp_path / "data"
  for i in range(10):
    _subject(root, f"s{i:02d}", seed=i)
  data = _data_config(root, test_fraction=0.3)
  train = paired_data.load_pairs(data, "train")
  test = paired_data.load_pairs(data, "test")
  assert not set(train.groups) & set(test.groups)
  assert len(set(test.groups)) == 3 and len(set(train.groups)) == 7
  assert len(train) + len(test) == 40
  assert train.images.shape[1:] == (16, 16, 2)
  data.split_seed = 1
  assert set(paired_data.load_pairs(data, "test").groups) != set(test.groups)


def test_train_and_test_folders_cannot_share_a_subject(tmp_path):
  root = tmp_path / "data"
  _subject(root / "train", "s1")
  _subject(root / "test", "s1")
  with pytest.raises(UserError, match=r"subject s1 is in both .*train and "
                     r".*test: one subject's slices must stay on one side"):
    paired_data.load_pairs(_data_config(root), "train")
  only = tmp_path / "only"
  _subject(only, "s1")
  with pytest.raises(UserError, match="has one subject: a held-out split"):
    paired_data.load_pairs(_data_config(only), "test")
