"""Image grids of samples, as PNG files and TensorBoard images."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gan import storage


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
  """Writes whole or not at all (gan.storage): no half-written PNGs, and a
  one-line error when the disk has no room."""
  buffer = io.BytesIO()
  Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(
      buffer, format="PNG")
  storage.write_bytes(path, buffer.getvalue(), what="a sample grid")
