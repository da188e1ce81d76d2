"""mni152_slices: axial slices of the MNI152 2009 T1 template shipped in nilearn.

Real brain MRI that needs no download: the `nilearn` wheel bundles
`nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz`
(197 x 233 x 189 voxels of 1 mm, RAS+, brain-extracted, uint8). The default
dataset of the project, for demos and tests.
"""
from __future__ import annotations

import os
from typing import Iterator

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from gan.errors import UserError
from gan_datasets import mri_io

TEMPLATE_RELPATH = ("datasets", "data",
                    "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
# The volume to slice; None means nilearn's template. Tests point it at a
# small synthetic volume with the template's X and Y size.
TEMPLATE_PATH: str | None = None
VOLUME_XY = (197, 233)  # Template voxels along x (R) and y (A).
IMAGE_SHAPE = (233, 197, 1)  # An axial slice as viewed: rows y, columns x.
# With the `mri_io.has_content` rule (>= 5% of the pixels above 10% of the
# window) the template keeps z = 12..148.
NUM_SLICES = 137
CLASS_NAME = "mni152"


class TemplateError(UserError):
  """The template volume is missing or is not the expected template."""


def template_path() -> epath.Path:
  """`TEMPLATE_PATH` if set, else the template inside the installed nilearn."""
  if TEMPLATE_PATH is not None:
    path = epath.Path(TEMPLATE_PATH)
  else:
    try:
      import nilearn  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise TemplateError(
          "mni152_slices needs nilearn, which bundles the MNI152 template: "
          "pip install nilearn") from e
    path = epath.Path(os.path.dirname(nilearn.__file__)).joinpath(
        *TEMPLATE_RELPATH)
  if not path.exists():
    raise TemplateError(
        f"MNI152 template not found at {path}; reinstall nilearn "
        "(pip install --force-reinstall nilearn), which bundles it")
  return path


def kept_slices(path: epath.PathLike) -> Iterator[tuple[int, np.ndarray]]:
  """Yields (z, image) for the axial slices of the volume that show brain.

  image: [233, 197] uint8, radiological view (nose up, the patient's right on
  the image left), windowed with the percentile window (0.5, 99.5) of the
  whole volume; slices failing `mri_io.has_content` are dropped.
  """
  volume = mri_io.read_nifti(path)
  if volume.shape[:2] != VOLUME_XY:
    raise TemplateError(
        f"{path} has {volume.shape} voxels, expected {VOLUME_XY} x N (the "
        "MNI152 2009 template at 1 mm); point TEMPLATE_PATH at that template")
  lo, hi = mri_io.window_bounds(volume)
  for z, plane in enumerate(mri_io.volume_slices(volume, axis=2)):
    image = mri_io.apply_window(plane, lo, hi)
    if mri_io.has_content(image):
      yield z, image


class Builder(tfds.core.GeneratorBasedBuilder):
  """Axial slices of the MNI152 2009a symmetric T1 template (nilearn copy)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: 137 axial slices."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=IMAGE_SHAPE, dtype=np.uint8),
            "label": tfds.features.ClassLabel(names=[CLASS_NAME]),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://nist.mni.mcgill.ca/icbm-152-nonlinear-atlases-2009/",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download: the template comes with nilearn.
    return {"train": self._generate_examples(template_path())}

  def _generate_examples(self, path: epath.Path):
    for z, image in kept_slices(path):
      name = f"z={z:03d}"
      yield name, {
          "image": image[..., None],
          "label": CLASS_NAME,
          "filename": name,
      }
