"""Image grids of samples, as PNG files and TensorBoard images."""
from __future__ import annotations

import io
import os
import tempfile

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
  """float in [-1, 1] -> uint8 in [0, 255]."""
  return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, rows: int, padding: int = 2,
              pad_value: int = 0) -> np.ndarray:
  """images: [N, H, W, C] uint8 -> [rows*(H+p)+p, cols*(W+p)+p, C] uint8."""
  n, h, w, c = images.shape
  cols = -(-n // rows)
  grid = np.full((rows * (h + padding) + padding,
                  cols * (w + padding) + padding, c), pad_value, np.uint8)
  for i, image in enumerate(images):
    r, q = divmod(i, cols)
    top, left = padding + r * (h + padding), padding + q * (w + padding)
    grid[top:top + h, left:left + w] = image
  return grid


def save_png(grid: np.ndarray, path: str) -> None:
  """Writes atomically (temporary file + rename): no half-written PNGs."""
  if "://" in path:  # A bucket (gs://...): an object appears whole on close.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    buffer = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(
        buffer, format="PNG")
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(buffer.getvalue())
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  fd, tmp = tempfile.mkstemp(suffix=".png", dir=os.path.dirname(os.path.abspath(path)))
  os.close(fd)
  try:
    image.save(tmp, format="PNG")
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise
