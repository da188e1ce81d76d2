"""Reads MRI files (PNG/JPEG, DICOM, NIfTI) as 2-D uint8 grayscale images.

Shared by the builders in `gan_datasets`. Every reader turns a corrupt or
unreadable file into `UnreadableFileError(path, reason)` (one line, names the
file), so a builder can list or skip bad files instead of dying inside PIL,
pydicom or nibabel.

Intensities: 8-bit images are kept as they are. Everything else (16-bit PNG,
DICOM, NIfTI, float data) is mapped to uint8 by `window_to_uint8`, a percentile
window: values at or below the `low_percentile` map to 0, values at or above the
`high_percentile` map to 255, linear in between. Percentiles resist the few
very bright voxels (vessels, artefacts) that would make a min/max window dark.

Orientation: NIfTI volumes are first reoriented to RAS+ (closest canonical), so
slice axis 0 is sagittal, 1 coronal and 2 axial whatever the scanner stored;
slices are then turned to the radiological viewing convention (see
`volume_slices`).
"""
from __future__ import annotations

import io
import os
from typing import Iterator

from etils import epath
import nibabel as nib
import numpy as np
from PIL import Image
import pydicom

from gan.errors import UserError

# File name suffixes (lower case) each reader accepts.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DICOM_SUFFIXES = (".dcm", ".dicom")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
SUPPORTED_SUFFIXES = IMAGE_SUFFIXES + DICOM_SUFFIXES + NIFTI_SUFFIXES

DEFAULT_LOW_PERCENTILE = 0.5
DEFAULT_HIGH_PERCENTILE = 99.5

# The near-empty slice rule (`has_content`), shared by `mni152_slices` and
# `mri_folder`: a slice of a windowed volume is kept when at least
# EMPTY_SLICE_MIN_FRACTION of its pixels are brighter than
# EMPTY_SLICE_INTENSITY of the uint8 range (i.e. > 25.5/255).
EMPTY_SLICE_MIN_FRACTION = 0.05
EMPTY_SLICE_INTENSITY = 0.10


class UnreadableFileError(UserError):
  """A file its reader cannot decode (corrupt, truncated, wrong type...)."""

  def __init__(self, path: str | os.PathLike, reason: str):
    self.path = os.fspath(path)
    # Third-party messages can span lines; ours must stay on one.
    self.reason = " ".join(str(reason).split()) or "unknown error"
    super().__init__(f"cannot read {self.path}: {self.reason}")


class InvalidWindowError(UserError):
  """Percentiles that do not form a window (need 0 <= low < high <= 100)."""


def file_kind(name: str | os.PathLike) -> str | None:
  """'image', 'dicom' or 'nifti' from the file name; None if unknown."""
  lower = os.fspath(name).lower()
  if lower.endswith(NIFTI_SUFFIXES):
    return "nifti"
  if lower.endswith(DICOM_SUFFIXES):
    return "dicom"
  if lower.endswith(IMAGE_SUFFIXES):
    return "image"
  return None


def list_files(root: str | os.PathLike) -> list[str]:
  """All files under `root`, recursively, as sorted '/'-separated paths."""
  root = epath.Path(root)
  files = []
  for folder, _, names in root.walk():
    prefix = epath.Path(folder).relative_to(root).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    files.extend(prefix + name for name in names)
  return sorted(files)


# ---------------------------------------------------------------- windowing --


def check_window(low_percentile: float, high_percentile: float) -> None:
  if not 0.0 <= low_percentile < high_percentile <= 100.0:
    raise InvalidWindowError(
        f"invalid intensity window percentiles ({low_percentile}, "
        f"{high_percentile}); use 0 <= low < high <= 100, e.g. (0.5, 99.5)")


def window_bounds(
    array: np.ndarray,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> tuple[float, float]:
  """Returns the intensity window (lo, hi) of `array`, any shape and dtype.

  lo and hi are the given percentiles of the finite values. When they coincide
  (a mostly constant image, e.g. 99.6% background) the window falls back to the
  finite [min, max], so sparse structure is not lost. A constant (or all
  non-finite) array gives lo == hi, which `apply_window` maps to 0.
  """
  check_window(low_percentile, high_percentile)
  values = np.asarray(array)
  if values.dtype == bool:
    values = values.astype(np.uint8)
  if not np.issubdtype(values.dtype, np.integer):
    values = values[np.isfinite(values)]
  if values.size == 0:
    return 0.0, 0.0
  lo, hi = np.percentile(values, [low_percentile, high_percentile])
  if hi <= lo:
    lo, hi = values.min(), values.max()
  return float(lo), float(hi)


def apply_window(array: np.ndarray, lo: float, hi: float) -> np.ndarray:
  """Maps [lo, hi] linearly onto 0..255 (clipped); same shape, uint8.

  NaN and -inf map to 0, +inf to 255; if hi <= lo (constant data) everything
  maps to 0 (no division by zero).
  """
  values = np.asarray(array, dtype=np.float32)
  if hi <= lo:
    return np.zeros(values.shape, np.uint8)
  scaled = (values - np.float32(lo)) * np.float32(255.0 / (hi - lo))
  scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
  return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def window_to_uint8(
    array: np.ndarray,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
  """Maps float/16-bit data to uint8 by a percentile window of the whole array.

  Args:
    array: any shape, any real dtype (uint16 PNG, int16 DICOM, float NIfTI...).
    low_percentile: values at or below this percentile map to 0.
    high_percentile: values at or above this percentile map to 255.

  Returns:
    uint8 array of the same shape; a constant array maps to all zeros. Use
    `(0, 100)` for a plain min/max window.
  """
  lo, hi = window_bounds(array, low_percentile, high_percentile)
  return apply_window(array, lo, hi)


def to_uint8(
    array: np.ndarray,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
  """uint8 data unchanged, anything else through `window_to_uint8`."""
  if array.dtype == np.uint8:
    return array
  return window_to_uint8(array, low_percentile, high_percentile)


def has_content(
    image: np.ndarray,
    min_fraction: float = EMPTY_SLICE_MIN_FRACTION,
    intensity: float = EMPTY_SLICE_INTENSITY,
) -> bool:
  """The near-empty slice rule: `image` (uint8) is kept if it returns True.

  True when at least `min_fraction` of the pixels are brighter than
  `intensity * 255`. With the defaults (5% of the pixels above 10% of the
  window) the MNI152 template keeps axial slices z=12..148 (137 slices), those
  with visible brain.
  """
  return bool(np.mean(image > intensity * 255.0) >= min_fraction)


# ---------------------------------------------------------------- 2-D images --


def open_image(path: str | os.PathLike, data: bytes | None = None):
  """Opens and fully decodes an image with PIL; returns the `PIL.Image.Image`.

  Args:
    path: the file; also the name used in error messages when `data` is given.
    data: the encoded file contents (e.g. a zip member), read from `path` if
      None.

  Raises:
    UnreadableFileError: the file is missing, truncated or not an image.
  """
  try:
    if data is None:
      with open(path, "rb") as f:
        data = f.read()
    image = Image.open(io.BytesIO(data))
    image.load()  # Decodes now: truncated files fail here, not later.
  except Image.UnidentifiedImageError as e:
    raise UnreadableFileError(
        path, "not an image PIL can read (corrupt, or a wrong extension)") from e
  except Exception as e:  # PIL raises many types. pylint: disable=broad-except
    raise UnreadableFileError(path, f"{type(e).__name__}: {e}") from e
  return image


def image_to_uint8(
    image,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
  """A decoded PIL image as [H, W] uint8 grayscale.

  8-bit modes (L, RGB, P, ...) go through `convert('L')`; 16-bit, 32-bit and
  float modes (I;16, I, F) through the percentile window.
  """
  if image.mode.startswith("I") or image.mode == "F":
    return window_to_uint8(np.asarray(image), low_percentile, high_percentile)
  if image.mode != "L":
    image = image.convert("L")
  return np.asarray(image, dtype=np.uint8)


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def read_image(
    path: str | os.PathLike,
    data: bytes | None = None,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
    info: dict | None = None,
) -> np.ndarray:
  """Reads a PNG/JPEG (or BMP/TIFF) as [H, W] uint8 grayscale.

  info: if given, filled with the file's PIL `mode` and `colour`: whether
    its colour channels differ somewhere (annotations, colour JPEG noise),
    so that the luminance conversion loses information.
  Raises:
    UnreadableFileError: corrupt or unreadable file.
  """
  image = open_image(path, data)
  try:
    if info is not None:
      info["mode"] = image.mode
      info["colour"] = False
      if image.mode not in GRAY_MODES:
        rgb = np.asarray(image.convert("RGB"))
        info["colour"] = bool((rgb[..., 0] != rgb[..., 1]).any()
                              or (rgb[..., 1] != rgb[..., 2]).any())
    return image_to_uint8(image, low_percentile, high_percentile)
  except Exception as e:  # pylint: disable=broad-except
    raise UnreadableFileError(path, f"{type(e).__name__}: {e}") from e


# --------------------------------------------------------------------- DICOM --


def read_dicom(
    path: str | os.PathLike,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
  """Reads a DICOM file as uint8 grayscale: [H, W], or [frames, H, W].

  The modality LUT (RescaleSlope/RescaleIntercept) is applied, MONOCHROME1
  (where high values are dark) is inverted so bright means high signal, colour
  data is reduced to luminance. Stored 8-bit data without a rescale is kept;
  anything else goes through the percentile window of the whole file (all
  frames together). The DICOM WindowCenter/Width tags are not used.

  Raises:
    UnreadableFileError: not DICOM, no pixel data, corrupt, or compressed with a
      codec pydicom cannot decode here.
  """
  try:
    ds = pydicom.dcmread(os.fspath(path), force=True)
    if "PixelData" not in ds:
      raise ValueError("no pixel data (not an image DICOM)")
    pixels = np.asarray(ds.pixel_array)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 3 and pixels.shape[-1] == 3:
      pixels = pixels.astype(np.float32) @ np.array(
          [0.299, 0.587, 0.114], np.float32)
    elif samples != 1:
      raise ValueError(f"unsupported SamplesPerPixel={samples}")
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope != 1.0 or intercept != 0.0:
      pixels = pixels.astype(np.float32) * np.float32(slope) + np.float32(
          intercept)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
      if pixels.dtype == np.uint8:
        pixels = 255 - pixels
      else:
        pixels = pixels.astype(np.float32)
        pixels = pixels.max() + pixels.min() - pixels
    if pixels.ndim not in (2, 3):
      raise ValueError(f"unexpected pixel array shape {pixels.shape}")
  except Exception as e:  # Decoder boundary. pylint: disable=broad-except
    raise UnreadableFileError(path, f"{type(e).__name__}: {e}") from e
  return to_uint8(pixels, low_percentile, high_percentile)


# --------------------------------------------------------------------- NIfTI --


def read_nifti(path: str | os.PathLike) -> np.ndarray:
  """Reads a NIfTI volume as float32 [X, Y, Z], reoriented to RAS+.

  RAS+ (nibabel's closest canonical): axis 0 runs to the patient's Right,
  axis 1 to Anterior, axis 2 to Superior. Scaling (scl_slope/inter) is
  applied. A 2-D image is returned as [X, Y, 1]; trailing singleton
  dimensions are dropped; a true 4-D series is refused (split it into 3-D
  volumes first).

  Raises:
    UnreadableFileError: corrupt, truncated, or not a 2-D/3-D volume.
  """
  try:
    image = nib.load(os.fspath(path))
    shape = image.shape
    while len(shape) > 3 and shape[-1] == 1:
      shape = shape[:-1]
    if len(shape) == 2:
      shape = shape + (1,)
    if len(shape) != 3:
      raise ValueError(
          f"expected a 3-D volume, got shape {image.shape}; split the series "
          "into 3-D volumes (e.g. with nibabel.funcs.four_to_three)")
    if shape != image.shape:
      image = nib.Nifti1Image(
          np.asarray(image.dataobj, np.float32).reshape(shape), image.affine)
    image = nib.as_closest_canonical(image)
    volume = image.get_fdata(dtype=np.float32)
  except Exception as e:  # Decoder boundary. pylint: disable=broad-except
    raise UnreadableFileError(path, f"{type(e).__name__}: {e}") from e
  return volume


def volume_slices(volume: np.ndarray, axis: int = 2) -> Iterator[np.ndarray]:
  """Yields the 2-D slices of a RAS+ volume along `axis`, ready to view.

  Each slice is transposed and flipped on both axes, which gives the
  radiological convention: axial (axis=2) and coronal (axis=1) slices show
  the patient's right on the image left, with anterior (nose) resp. superior
  at the top; sagittal (axis=0) slices show superior at the top and anterior
  on the left.

  Args:
    volume: [X, Y, Z] RAS+ (as returned by `read_nifti`), any dtype.
    axis: 0 (sagittal), 1 (coronal) or 2 (axial).

  Yields:
    Contiguous 2-D arrays, one per index along `axis`, in index order.
  """
  if axis not in (0, 1, 2):
    raise ValueError(f"slice axis must be 0, 1 or 2, got {axis}")
  planes = np.moveaxis(volume, axis, 0)  # A view (np.take would be slow).
  for plane in planes:
    yield np.ascontiguousarray(plane.T[::-1, ::-1])


def read_nifti_slices(
    path: str | os.PathLike,
    axis: int = 2,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
  """Reads a NIfTI file as uint8 slices [N, H, W] along `axis` (RAS+).

  The window is the percentile window of the whole volume (not per slice), so
  brightness is comparable across slices. A 2-D image gives one slice
  whatever `axis` is.

  Raises:
    UnreadableFileError: see `read_nifti`.
  """
  volume = read_nifti(path)
  if volume.shape[2] == 1:
    axis = 2
  lo, hi = window_bounds(volume, low_percentile, high_percentile)
  return np.stack(
      [apply_window(s, lo, hi) for s in volume_slices(volume, axis)])
