"""Tests the shared readers and the intensity window of gan_datasets.mri_io."""
import gzip

import nibabel as nib
import numpy as np
import pytest

from gan_datasets import mri_io
from gan_datasets import synthetic_mri


def test_window_maps_percentiles_to_0_and_255():
  values = np.arange(1001, dtype=np.float32)  # Percentile p is the value 10p.
  out = mri_io.window_to_uint8(values, 10, 90)
  assert out.dtype == np.uint8
  assert out[100] == 0 and out[900] == 255
  assert out[:100].max() == 0 and out[900:].min() == 255  # Clipped.
  assert out[500] == 128  # Linear in between: 127.5 rounds to even 128.
  np.testing.assert_array_equal(
      mri_io.window_to_uint8(values, 0, 100), np.rint(values * 0.255))


def test_window_of_constant_nan_and_sparse_data():
  assert not mri_io.window_to_uint8(np.full((4, 4), 7.0)).any()
  assert not mri_io.window_to_uint8(np.full((2, 2), np.nan)).any()
  with_nan = np.array([0.0, np.nan, 10.0, np.inf])
  assert mri_io.window_to_uint8(with_nan, 0, 100).tolist() == [0, 0, 255, 255]
  # 99.9% background: the (0.5, 99.5) percentiles coincide, so the window
  # falls back to min/max instead of erasing the one bright pixel.
  sparse = np.zeros((100, 100), np.uint16)
  sparse[5, 5] = 4000
  out = mri_io.window_to_uint8(sparse)
  assert out[5, 5] == 255 and out.sum() == 255


def test_window_rejects_bad_percentiles():
  for low, high in [(50, 50), (60, 40), (-1, 99), (1, 101)]:
    with pytest.raises(mri_io.InvalidWindowError, match="0 <= low < high"):
      mri_io.window_to_uint8(np.ones(3), low, high)


def test_has_content_rule():
  image = np.zeros((10, 10), np.uint8)
  image.flat[:5] = 26  # 5% of the pixels just above 10% of 255.
  assert mri_io.has_content(image)
  image.flat[:5] = 25  # Not above 25.5.
  assert not mri_io.has_content(image)
  image.flat[:4] = 255  # Bright but only 4%.
  assert not mri_io.has_content(image)


def test_read_image_modes(tmp_path):
  gray = synthetic_mri.to_uint8(synthetic_mri.phantom(30, 20, 1))
  (tmp_path / "gray.png").write_bytes(synthetic_mri.encode_png(gray))
  np.testing.assert_array_equal(mri_io.read_image(tmp_path / "gray.png"), gray)

  rgb = np.stack([gray] * 3, axis=-1)
  (tmp_path / "rgb.png").write_bytes(synthetic_mri.encode_png(rgb))
  np.testing.assert_array_equal(mri_io.read_image(tmp_path / "rgb.png"), gray)

  deep = (synthetic_mri.phantom(30, 20, 1) * 3000).astype(np.uint16)
  (tmp_path / "deep.png").write_bytes(synthetic_mri.encode_png(deep))
  out = mri_io.read_image(tmp_path / "deep.png")
  assert out.dtype == np.uint8 and out.shape == (30, 20)
  np.testing.assert_array_equal(out, mri_io.window_to_uint8(deep))

  jpeg = synthetic_mri.encode_jpeg(gray)
  out = mri_io.read_image("in_memory.jpg", data=jpeg)
  assert out.shape == (30, 20) and np.abs(out.astype(int) - gray).mean() < 10


def test_read_image_corrupt_files(tmp_path):
  (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n junk")
  with pytest.raises(mri_io.UnreadableFileError) as error:
    mri_io.read_image(tmp_path / "junk.png")
  assert error.value.path == str(tmp_path / "junk.png")
  assert str(error.value).startswith(f"cannot read {tmp_path / 'junk.png'}: ")

  jpeg = synthetic_mri.encode_jpeg(
      synthetic_mri.to_uint8(synthetic_mri.phantom(64, 64, 2)))
  (tmp_path / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 2])
  with pytest.raises(mri_io.UnreadableFileError, match="truncated"):
    mri_io.read_image(tmp_path / "cut.jpg")

  with pytest.raises(mri_io.UnreadableFileError):
    mri_io.read_image(tmp_path / "missing.png")


def test_read_dicom_rescale_and_monochrome1(tmp_path):
  stored = (synthetic_mri.phantom(40, 30, 3) * 100).astype(np.uint8)
  synthetic_mri.write_dicom(tmp_path / "plain.dcm", stored)
  # 8-bit without a rescale: kept as stored (max 100, not stretched to 255).
  np.testing.assert_array_equal(mri_io.read_dicom(tmp_path / "plain.dcm"),
                                stored)

  signed = (synthetic_mri.phantom(40, 30, 3) * 2000 - 500).astype(np.int16)
  synthetic_mri.write_dicom(tmp_path / "mono2.dcm", signed, slope=0.5,
                            intercept=1000)
  mono2 = mri_io.read_dicom(tmp_path / "mono2.dcm")
  np.testing.assert_array_equal(
      mono2, mri_io.window_to_uint8(signed * 0.5 + 1000))
  synthetic_mri.write_dicom(tmp_path / "mono1.dcm", signed, slope=0.5,
                            intercept=1000, photometric="MONOCHROME1")
  mono1 = mri_io.read_dicom(tmp_path / "mono1.dcm")
  np.testing.assert_allclose(mono1, 255 - mono2.astype(int), atol=1)


def test_read_dicom_corrupt_files(tmp_path):
  (tmp_path / "text.dcm").write_text("hello")
  with pytest.raises(mri_io.UnreadableFileError) as error:
    mri_io.read_dicom(tmp_path / "text.dcm")
  assert "\n" not in str(error.value)


def _marked_volume():
  """[X=5, Y=6, Z=4] RAS+ with one bright voxel: right, anterior, slice z=2."""
  volume = np.zeros((5, 6, 4), np.float32)
  volume[4, 5, 2] = 100.0  # Max x (patient's right), max y (anterior).
  return volume


def test_axial_slices_are_radiological_nose_up(tmp_path):
  synthetic_mri.write_nifti(tmp_path / "ras.nii.gz", _marked_volume())
  slices = mri_io.read_nifti_slices(tmp_path / "ras.nii.gz", axis=2)
  assert slices.shape == (4, 6, 5)  # [Z, rows=Y, columns=X].
  assert slices.dtype == np.uint8
  # Anterior at the top row, the patient's right on the image left.
  assert slices[2, 0, 0] == 255 and slices.sum() == 255

  # The same anatomy stored left-to-right (LAS): reoriented to RAS first.
  las = nib.Nifti1Image(_marked_volume()[::-1], np.diag([-1.0, 1, 1, 1]))
  nib.save(las, tmp_path / "las.nii")
  np.testing.assert_array_equal(
      mri_io.read_nifti_slices(tmp_path / "las.nii", axis=2), slices)


def test_sagittal_and_coronal_slices():
  volume = _marked_volume()
  sagittal = list(mri_io.volume_slices(volume, axis=0))
  assert len(sagittal) == 5 and sagittal[4].shape == (4, 6)  # [Z, Y].
  assert sagittal[4][1, 0] == 100  # Superior up (z=2 of 0..3), anterior left.
  coronal = list(mri_io.volume_slices(volume, axis=1))
  assert len(coronal) == 6 and coronal[5].shape == (4, 5)  # [Z, X].
  assert coronal[5][1, 0] == 100  # Superior up, patient's right on the left.
  with pytest.raises(ValueError, match="0, 1 or 2"):
    next(mri_io.volume_slices(volume, axis=3))


def test_read_nifti_2d_4d_and_corrupt(tmp_path):
  nib.save(nib.Nifti1Image(np.ones((7, 8), np.float32), np.eye(4)),
           tmp_path / "flat.nii")
  assert mri_io.read_nifti_slices(tmp_path / "flat.nii", axis=0).shape == (
      1, 8, 7)

  nib.save(nib.Nifti1Image(np.ones((4, 4, 4, 3), np.float32), np.eye(4)),
           tmp_path / "series.nii")
  with pytest.raises(mri_io.UnreadableFileError, match="expected a 3-D"):
    mri_io.read_nifti(tmp_path / "series.nii")

  data = gzip.compress(
      nib.Nifti1Image(_marked_volume(), np.eye(4)).to_bytes())
  (tmp_path / "cut.nii.gz").write_bytes(data[:60])
  with pytest.raises(mri_io.UnreadableFileError):
    mri_io.read_nifti(tmp_path / "cut.nii.gz")


def test_file_kind_and_list_files(tmp_path):
  assert mri_io.file_kind("a/B.NII.GZ") == "nifti"
  assert mri_io.file_kind("x.dcm") == "dicom"
  assert mri_io.file_kind("x.JPEG") == "image"
  assert mri_io.file_kind("x.txt") is None
  assert mri_io.file_kind("x.gz") is None
  (tmp_path / "a" / "b").mkdir(parents=True)
  for name in ("z.png", "a/y.png", "a/b/x.png"):
    (tmp_path / name).write_bytes(b"")
  assert mri_io.list_files(tmp_path) == ["a/b/x.png", "a/y.png", "z.png"]
