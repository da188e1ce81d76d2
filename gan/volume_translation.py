"""Translating whole volumes and slice folders with a trained translator.

Each input is prepared exactly as `mri_pairs` prepared the training pairs:
the volume reoriented to RAS+, windowed on its own percentiles (0.5, 99.5)
to 0..255, cut along the model's `data.slice_axis` into radiological-view
slices, each padded to a square (background 0) and resized to the model's
resolution. Each translation is resized back to the padded square, cropped
to the slice and put back where the slice came from, so the output has the
input's grid: its shape, affine and header (orientation, voxel size), with
the data type set to uint8 (intensities on the 0..255 window scale of the
training target). Files are written whole or not at all (`gan.storage`).
"""
from __future__ import annotations

import gzip
import os

from etils import epath
import nibabel as nib
import numpy as np

from gan import pixels
from gan import storage
from gan.errors import UserError
from gan_datasets import mri_io
from gan_datasets.mri_pairs import mri_pairs_dataset_builder as pairs_builder

_RAS = nib.orientations.axcodes2ornt("RAS")


def _load_nifti(path: str) -> nib.Nifti1Image:
  if not os.path.isfile(path):
    raise UserError(f"input volume {path} does not exist; pass an existing "
                    f"NIfTI file with --input")
  try:
    image = nib.load(path)
    image.get_fdata(dtype=np.float32)  # Decodes now: a corrupt file says so.
  except Exception as e:  # Decoder boundary. pylint: disable=broad-except
    raise UserError(f"cannot read {path} as NIfTI: "
                    f"{' '.join(str(e).split())}") from e
  if len(image.shape) != 3:
    raise UserError(f"{path} has shape {image.shape}; the model translates "
                    f"3-D volumes (one per source modality)")
  return image


def _to_ras(image: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
  """(RAS+ data, the orientation transform back to the file's axes)."""
  start = nib.orientations.io_orientation(image.affine)
  data = nib.orientations.apply_orientation(
      image.get_fdata(dtype=np.float32),
      nib.orientations.ornt_transform(start, _RAS))
  return data, nib.orientations.ornt_transform(_RAS, start)


def _unview(plane: np.ndarray) -> np.ndarray:
  """Inverse of `mri_io.volume_slices`' viewing transform."""
  return np.ascontiguousarray(plane[::-1, ::-1].T)


def _square_back(translated: np.ndarray, height: int, width: int) -> np.ndarray:
  """[R, R] in [-1, 1] -> uint8 [height, width]: resized to the padded
  square, then the padding cropped (the inverse of pad-and-resize)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  side = max(height, width)
  top, left = (side - height) // 2, (side - width) // 2
  values = (np.asarray(translated, np.float32) + 1.0) * 127.5
  resized = tf.image.resize(values[None, ..., None], [side, side],
                            method="bilinear", antialias=True).numpy()[0, ..., 0]
  crop = resized[top:top + height, left:left + width]
  return np.clip(np.rint(crop), 0, 255).astype(np.uint8)


def translate_slices(translator, stacks: np.ndarray,
                     batch_size: int = 16) -> np.ndarray:
  """uint8 [N, H, W, S] viewed slices -> uint8 [N, H, W] translations."""
  n, h, w, _ = stacks.shape
  res = translator.resolution
  small = np.concatenate([
      pixels.pad_to_square_and_resize_batch(stacks[i:i + 64], res, 0)
      for i in range(0, n, 64)])
  translated = translator(pixels.to_float(small), batch_size=batch_size)
  return np.stack([_square_back(t[..., 0], h, w) for t in translated])


def translate_volume(translator, inputs: list[str], output: str,
                     overwrite: bool = False) -> dict:
  """Translates NIfTI volumes (one per source modality, in the model's
  order) into one NIfTI volume at `output` on the first input's grid."""
  _check_output(output, overwrite, (".nii", ".nii.gz"))
  sources = translator.source
  if len(inputs) != len(sources):
    raise UserError(f"the model translates {'+'.join(sources)} "
                    f"({len(sources)} volume(s)), got {len(inputs)} input(s); "
                    f"pass --input={','.join(f'{m}.nii.gz' for m in sources)}")
  images = [_load_nifti(p) for p in inputs]
  first = images[0]
  for path, image in zip(inputs[1:], images[1:]):
    if image.shape != first.shape or not np.allclose(image.affine,
                                                      first.affine, atol=1e-4):
      raise UserError(f"{path} (shape {image.shape}) is not on the grid of "
                      f"{inputs[0]} (shape {first.shape}); resample the "
                      f"modalities onto one grid first")
  axis = int(translator.config.data.slice_axis)
  channels, back = [], None
  for image in images:
    data, back = _to_ras(image)
    lo, hi = mri_io.window_bounds(data)
    channels.append(np.stack([mri_io.apply_window(s, lo, hi)
                              for s in mri_io.volume_slices(data, axis)]))
  stacks = np.stack(channels, axis=-1)
  translated = translate_slices(translator, stacks)
  planes = np.stack([_unview(t) for t in translated])   # [N, X', Y'] RAS
  volume = nib.orientations.apply_orientation(np.moveaxis(planes, 0, axis),
                                              back)
  header = first.header.copy()
  header.set_data_dtype(np.uint8)
  out = nib.Nifti1Image(volume.astype(np.uint8), first.affine, header)
  out.header.set_slope_inter(1.0, 0.0)
  data = out.to_bytes()
  if output.lower().endswith(".gz"):
    data = gzip.compress(data, mtime=0)
  storage.write_bytes(output, data, "the translated volume")
  return {"output": output, "shape": list(volume.shape),
          "slices": int(len(translated)), "axis": axis}


def translate_folder(translator, folder: str, output: str,
                     overwrite: bool = False) -> dict:
  """Translates a subject folder (`<folder>/<modality>.nii.gz`, or
  `<modality>/` folders of DICOM or image slices, as `mri_pairs` reads
  them): NIfTI in -> `output` NIfTI; slice folders in -> `output/` PNGs,
  one per slice, named after the first source's slices."""
  if not os.path.isdir(folder):
    raise UserError(f"input {folder} is neither a NIfTI file nor a folder")
  paths = {m: pairs_builder.modality_path(epath.Path(folder), m)
           for m in translator.source}
  missing = [m for m, p in paths.items() if p is None]
  if missing:
    raise UserError(f"{folder} has no {', '.join(missing)}: expected "
                    f"{missing[0]}.nii.gz or a folder {missing[0]}/ for each "
                    f"source modality ({'+'.join(translator.source)})")
  if all(p.is_file() for p in paths.values()):
    return translate_volume(translator, [os.fspath(paths[m])
                                         for m in translator.source],
                            output, overwrite)
  stacks = [pairs_builder.read_slices(paths[m], translator.config.data.slice_axis,
                                      (mri_io.DEFAULT_LOW_PERCENTILE,
                                       mri_io.DEFAULT_HIGH_PERCENTILE))
            for m in translator.source]
  if len({s.shape for s in stacks}) > 1:
    raise UserError(f"the source modalities in {folder} have different "
                    f"shapes {[s.shape for s in stacks]}; resample them onto "
                    f"one grid first")
  first = paths[translator.source[0]]
  names = (sorted(p.name for p in first.iterdir() if p.is_file()
                  and mri_io.file_kind(p.name))
           if first.is_dir() else [])
  _check_output(output, overwrite, ())
  translated = translate_slices(translator, np.stack(stacks, axis=-1))
  os.makedirs(output, exist_ok=True)
  for i, image in enumerate(translated):
    stem = os.path.splitext(names[i])[0] if i < len(names) else f"{i:04d}"
    pixels.save_png(image[..., None], os.path.join(output, f"{stem}.png"))
  return {"output": output, "slices": int(len(translated))}


def _check_output(output: str, overwrite: bool, suffixes: tuple) -> None:
  if suffixes and not output.lower().endswith(suffixes):
    raise UserError(f"--output={output} must be a NIfTI file name "
                    f"(.nii or .nii.gz) for a volume input")
  if os.path.exists(output) and not overwrite:
    raise UserError(f"{output} exists; choose another --output or pass "
                    f"--overwrite")
  parent = os.path.dirname(os.path.abspath(output))
  if not os.path.isdir(parent):
    raise UserError(f"the folder of --output={output} does not exist; create "
                    f"{parent} first")
