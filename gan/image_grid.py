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


def label_rows(grid: np.ndarray, names: list[str], padding: int = 2,
               value: int = 255) -> np.ndarray:
  """Writes `names[i]` left of row i of a `make_grid` grid (one row per
  class): [H, W, C] -> [H, W + label width, C], text in `value` on black."""
  from PIL import ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  font = ImageFont.load_default()
  rows = len(names)
  cell = (grid.shape[0] - padding) // rows  # Image height + padding.
  width = max(int(np.ceil(font.getlength(n))) for n in names) + 2 * padding + 4
  canvas = Image.new("L", (width, grid.shape[0]), 0)
  draw = ImageDraw.Draw(canvas)
  for i, name in enumerate(names):
    top, bottom = font.getbbox(name)[1], font.getbbox(name)[3]
    y = padding + i * cell + (cell - padding - (bottom - top)) // 2 - top
    draw.text((padding + 2, y), name, fill=value, font=font)
  labels = np.asarray(canvas, np.uint8)[..., None]
  labels = np.repeat(labels, grid.shape[-1], axis=-1)
  return np.concatenate([labels, grid], axis=1)


def save_png(grid: np.ndarray, path: str) -> None:
  """Writes whole or not at all (gan.storage): no half-written PNGs, and a
  one-line error when the disk has no room."""
  buffer = io.BytesIO()
  Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(
      buffer, format="PNG")
  storage.write_bytes(path, buffer.getvalue(), what="a sample grid")
