"""Reading image files as the evaluation does: pytorch-fid's conventions.

8-bit pixels v map to v / 127.5 - 1, as pytorch-fid's ToTensor and 2x - 1
do. Grayscale stays one channel (the network treats it as RGB with equal
channels, as pytorch-fid's `.convert('RGB')`); other modes (RGBA, palette,
...) are converted to RGB as pytorch-fid does. 16-bit and float grayscale go
through the percentile window of the project's TFDS builders
(`gan_datasets.mri_io.to_uint8`); pytorch-fid would clip them to 8 bits.
"""
from __future__ import annotations

import os

import numpy as np

from gan import pixels as pixels_lib
from gan.errors import UserError

# pytorch-fid's list (`IMAGE_EXTENSIONS`), matched case-insensitively.
IMAGE_EXTENSIONS = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff",
                    "webp")


def _to_array(image, path: str) -> np.ndarray:
  """PIL image -> float32 [H, W, 1 or 3] in [-1, 1]."""
  mode = image.mode
  if mode.startswith("I") or mode == "F":
    # 16/32-bit or float grayscale: the percentile window the project's TFDS
    # builders apply (`gan_datasets.mri_io.to_uint8`), so a folder compares
    # like the dataset built from it.
    from gan_datasets import mri_io  # pylint: disable=g-import-not-at-top
    pixels = mri_io.to_uint8(np.asarray(image))
    return pixels_lib.to_float(pixels)[..., None]
  if mode in ("1", "L", "LA"):
    image = image.convert("L")
    return pixels_lib.to_float(image)[..., None]
  # RGB, RGBA, P, CMYK, YCbCr, ...: RGB as pytorch-fid's `.convert('RGB')`.
  image = image.convert("RGB")
  return pixels_lib.to_float(image)


def read_image(path: str) -> np.ndarray:
  """Decodes one image file to float32 [H, W, 1 or 3] in [-1, 1].

  Raises:
    UserError: an unreadable or corrupt file, naming it.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as image:
      image.load()
      return _to_array(image, path)
  except UserError:
    raise
  except Exception as e:  # PIL raises many types for bad files.
    reason = " ".join(str(e).split())  # One line, whatever PIL says.
    raise UserError(f"cannot read image {path} ({type(e).__name__}: "
                    f"{reason}); remove or replace the file") from None


def list_images(folder: str) -> list[str]:
  """Image files under `folder`, recursively, sorted by relative path."""
  files = []
  for root, dirs, names in os.walk(folder, followlinks=True):
    dirs.sort()
    for name in names:
      if name.startswith("."):
        continue
      if name.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS:
        files.append(os.path.join(root, name))
  return sorted(files, key=lambda p: os.path.relpath(p, folder))


def stack(images: list[np.ndarray]) -> np.ndarray:
  """Stacks [H, W, C] images; grayscale joins RGB by repeating its channel
  (what pytorch-fid's `.convert('RGB')` does, and exact for the network)."""
  if len({image.shape[-1] for image in images}) > 1:
    images = [pixels_lib.to_rgb(image) for image in images]
  return np.stack(images)
