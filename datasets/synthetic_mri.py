"""Synthetic MRI-like files: the builders' `dummy_data/` and test fixtures.

Nothing here comes from a real scan: images are ellipse "phantoms" drawn from
a seeded generator, so the files are small, deterministic (byte-identical on
every run) and free to redistribute.

Regenerate every builder's `dummy_data/` with:

  python -m gan_datasets.synthetic_mri
"""
from __future__ import annotations

import gzip
import io
import os
import pathlib
import zipfile

import nibabel as nib
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_HERE = pathlib.Path(__file__).resolve().parent


def phantom(height: int, width: int, seed: int,
            size: float = 1.0) -> np.ndarray:
  """A brain-like ellipse phantom: [height, width] float32 in [0, 1].

  Args:
    height, width: image size in pixels.
    seed: varies the shape and texture; same seed, same image.
    size: radius of the head relative to the image (0 gives an empty image).
  """
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  cy, cx = (height - 1) / 2, (width - 1) / 2

  def ellipse(ry, rx, dy=0.0, dx=0.0):
    ry, rx = max(ry, 1e-6), max(rx, 1e-6)
    return ((y - cy - dy) / ry)**2 + ((x - cx - dx) / rx)**2 <= 1

  ry = 0.42 * height * size * rng.uniform(0.9, 1.0)
  rx = 0.38 * width * size * rng.uniform(0.9, 1.0)
  image = np.zeros((height, width), np.float32)
  image[ellipse(ry, rx)] = 0.75
  for side in (-1, 1):  # Ventricles.
    image[ellipse(0.25 * ry, 0.08 * rx, 0.0, side * 0.15 * rx)] = 0.2
  # Smooth "gyri" texture: compresses well, unlike white noise.
  phase = rng.uniform(0, 2 * np.pi, 2)
  texture = 0.06 * np.sin(x / 4.0 + phase[0]) * np.cos(y / 5.0 + phase[1])
  image = np.where(image > 0, image + texture, 0.0)
  return np.clip(image, 0.0, 1.0).astype(np.float32)


def encode_png(image: np.ndarray) -> bytes:
  """uint8 [H, W] -> 8-bit PNG bytes; uint16 [H, W] -> 16-bit PNG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="PNG")
  return buffer.getvalue()


def encode_jpeg(image: np.ndarray, quality: int = 75) -> bytes:
  """uint8 [H, W] -> grayscale (PIL mode L) JPEG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(image, mode="L").save(buffer, format="JPEG", quality=quality)
  return buffer.getvalue()


def write_dicom(
    path: str | os.PathLike,
    pixels: np.ndarray,
    *,
    slope: float = 1.0,
    intercept: float = 0.0,
    photometric: str = "MONOCHROME2",
) -> None:
  """Writes a single-frame MR DICOM file (explicit VR little endian).

  Args:
    path: output file.
    pixels: [H, W] uint8, uint16 or int16 stored values.
    slope, intercept: RescaleSlope/RescaleIntercept tags.
    photometric: "MONOCHROME2" (high = bright) or "MONOCHROME1".
  """
  instance_uid = "1.2.826.0.1.3680043.8.498.1"  # Fixed: deterministic bytes.
  meta = FileMetaDataset()
  meta.MediaStorageSOPClassUID = MRImageStorage
  meta.MediaStorageSOPInstanceUID = instance_uid
  meta.TransferSyntaxUID = ExplicitVRLittleEndian
  ds = Dataset()
  ds.file_meta = meta
  ds.SOPClassUID = MRImageStorage
  ds.SOPInstanceUID = instance_uid
  ds.Modality = "MR"
  ds.PatientName = "Synthetic^Phantom"
  ds.Rows, ds.Columns = pixels.shape
  ds.SamplesPerPixel = 1
  ds.PhotometricInterpretation = photometric
  bits = pixels.dtype.itemsize * 8
  ds.BitsAllocated = ds.BitsStored = bits
  ds.HighBit = bits - 1
  ds.PixelRepresentation = int(np.issubdtype(pixels.dtype, np.signedinteger))
  ds.RescaleSlope = slope
  ds.RescaleIntercept = intercept
  ds.PixelData = np.ascontiguousarray(pixels).astype(
      pixels.dtype.newbyteorder("<")).tobytes()
  ds.save_as(os.fspath(path), enforce_file_format=True)


def write_nifti(path: str | os.PathLike, volume: np.ndarray) -> None:
  """Writes [X, Y, Z] as NIfTI-1 with a 1 mm RAS+ affine (.nii or .nii.gz)."""
  data = nib.Nifti1Image(volume, np.eye(4)).to_bytes()
  if os.fspath(path).endswith(".gz"):
    data = gzip.compress(data, mtime=0)
  pathlib.Path(path).write_bytes(data)


def write_zip(path: str | os.PathLike, members: dict[str, bytes]) -> None:
  """Writes a zip with its folder entries, like an archive from Kaggle."""
  folders = set()
  for name in members:
    parts = name.split("/")[:-1]
    folders.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
  with zipfile.ZipFile(path, "w") as archive:
    for name in sorted(folders):
      archive.writestr(zipfile.ZipInfo(name, _FIXED_ZIP_TIME), b"")
    for name in sorted(members):
      info = zipfile.ZipInfo(name, _FIXED_ZIP_TIME)
      info.compress_type = zipfile.ZIP_DEFLATED
      archive.writestr(info, members[name])


def to_uint8(image: np.ndarray) -> np.ndarray:
  return np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


# ------------------------------------------------------------- dummy_data/ --

ALZHEIMERS_CLASSES = ("MildDemented", "ModerateDemented", "NonDemented",
                      "VeryMildDemented")
ALZHEIMERS_DUMMY_COUNTS = {"train": 2, "test": 1}  # Images per class.


def alzheimers_archive_members() -> dict[str, bytes]:
  """Fake Kaggle archive: `Alzheimer_s Dataset/{train,test}/<class>/*.jpg`."""
  members = {}
  seed = 0
  for split, per_class in ALZHEIMERS_DUMMY_COUNTS.items():
    for class_name in ALZHEIMERS_CLASSES:
      for i in range(per_class):
        seed += 1
        image = to_uint8(phantom(208, 176, seed))  # H=208, W=176 as published.
        name = f"Alzheimer_s Dataset/{split}/{class_name}/{seed} ({i}).jpg"
        members[name] = encode_jpeg(image)
  return members


# z=0 and z=7 empty, z=1 a small blob (under 5% of the pixels): 5 slices kept.
MNI152_DUMMY_SIZES = (0.0, 0.15, 0.5, 0.8, 1.0, 0.8, 0.5, 0.0)
MNI152_DUMMY_KEPT = 5


def mni152_volume() -> np.ndarray:
  """A fake template: [197, 233, 8] uint8 RAS+, the real template's X/Y size."""
  slices = [phantom(233, 197, seed, size).T for seed, size in
            enumerate(MNI152_DUMMY_SIZES)]
  return to_uint8(np.stack(slices, axis=-1))


def mri_folder_nifti() -> np.ndarray:
  """[32, 36, 6] float32: 4 slices with a phantom, 2 empty ones at the ends."""
  sizes = (0.0, 0.7, 1.0, 1.0, 0.7, 0.0)
  slices = [phantom(36, 32, 100 + i, size).T * 1500.0 for i, size in
            enumerate(sizes)]
  return np.stack(slices, axis=-1).astype(np.float32)


def write_mri_folder(folder: str | os.PathLike) -> dict[str, int]:
  """Two classes of mixed files; returns examples per class once built."""
  folder = pathlib.Path(folder)
  (folder / "control").mkdir(parents=True, exist_ok=True)
  (folder / "patient").mkdir(parents=True, exist_ok=True)
  (folder / "control" / "phantom_8bit.png").write_bytes(
      encode_png(to_uint8(phantom(64, 64, 11))))
  (folder / "control" / "phantom_16bit.png").write_bytes(
      encode_png((phantom(48, 56, 12) * 4000).astype(np.uint16)))
  (folder / "patient" / "phantom.jpg").write_bytes(
      encode_jpeg(to_uint8(phantom(72, 60, 13))))
  write_dicom(folder / "patient" / "phantom.dcm",
              (phantom(40, 50, 14) * 2000).astype(np.int16),
              slope=2.0, intercept=-100.0)
  write_nifti(folder / "patient" / "volume.nii.gz", mri_folder_nifti())
  return {"control": 2, "patient": 1 + 1 + 4}


def main() -> None:
  alzheimers = _HERE / "alzheimers_mri" / "dummy_data"
  alzheimers.mkdir(exist_ok=True)
  write_zip(alzheimers / "archive.zip", alzheimers_archive_members())

  mni152 = _HERE / "mni152_slices" / "dummy_data"
  mni152.mkdir(exist_ok=True)
  write_nifti(mni152 / "template.nii.gz", mni152_volume())

  write_mri_folder(_HERE / "mri_folder" / "dummy_data")
  print(f"wrote dummy_data under {_HERE}")


if __name__ == "__main__":
  main()
