"""The pixel convention, in one place: what FID parity and training share.

  uint8 v in [0, 255]  <->  float32 v / 127.5 - 1 in [-1, 1]
                             (pytorch-fid's ToTensor then 2x - 1; back by
                             round((x + 1) * 127.5), clipped: a PNG's rounding)
  grayscale -> RGB:          the channel repeated (pytorch-fid's
                             `.convert('RGB')` of an L image, exact)
  non-square -> square:      padded (aspect kept, centred) with a background
                             value, then resized bilinearly with antialiasing
                             (tf.image.resize), rounded back to uint8
  crop to content:           the bounding box of pixels more than 25 levels
                             from the background
  grids:                     images in rows with 2-px gaps; one row per class
                             named on the left; PNG written whole or not at all

Every module that converts, pads, resizes, stacks channels or writes a grid
calls these.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gan import storage

# Levels from the background that count as content (`crop_to_content`).
CROP_THRESHOLD = 25


def to_float(images) -> np.ndarray:
  """uint8 in [0, 255] -> float32 in [-1, 1]."""
  return np.asarray(images).astype(np.float32) / 127.5 - 1.0


def to_uint8(images) -> np.ndarray:
  """float in [-1, 1] -> uint8 in [0, 255] (exact for 8-bit sources)."""
  return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0,
                 255).astype(np.uint8)


def to_rgb(images: np.ndarray) -> np.ndarray:
  """[..., 1] grayscale -> [..., 3] by repeating the channel; RGB unchanged."""
  return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


# ---------------------------------------------------------------------------
# Square and resize (TensorFlow ops: they run inside the tf.data pipeline;
# imported on first use, so that writing a grid does not load TensorFlow).


def _tf():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf


def crop_to_content(image, background: int,
                    threshold: int = CROP_THRESHOLD):
  """uint8 [H, W, 1] -> its bounding box of pixels that differ from
  `background` by more than `threshold` (the whole image if none do): a
  screenshot's or a film scan's empty margins go before padding."""
  tf = _tf()
  content = tf.abs(tf.cast(image[..., 0], tf.int32) - background) > threshold
  rows = tf.where(tf.reduce_any(content, axis=1))[:, 0]
  cols = tf.where(tf.reduce_any(content, axis=0))[:, 0]
  return tf.cond(
      tf.size(rows) > 0,
      lambda: image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1],
      lambda: image)


def edge_value(image):
  """The median of an image's outermost pixels (uint8 [H, W, 1] -> int32):
  the colour its padding should have to leave no bars."""
  tf = _tf()
  edge = tf.concat([image[0, :, 0], image[-1, :, 0], image[:, 0, 0],
                    image[:, -1, 0]], axis=0)
  ordered = tf.sort(tf.cast(edge, tf.int32))
  return ordered[tf.size(ordered) // 2]


def _resize(pixels, resolution: int):
  tf = _tf()
  resized = tf.image.resize(tf.cast(pixels, tf.float32),
                            [resolution, resolution], method="bilinear",
                            antialias=True)
  return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def pad_to_square_and_resize(image, resolution: int, background: int):
  """uint8 [H, W, C] -> uint8 [R, R, C]: pad (aspect kept), then resize."""
  tf = _tf()
  shape = tf.shape(image)
  h, w = shape[0], shape[1]
  side = tf.maximum(h, w)
  top, left = (side - h) // 2, (side - w) // 2
  image = tf.pad(image, [[top, side - h - top], [left, side - w - left], [0, 0]],
                 constant_values=tf.cast(background, image.dtype))
  return _resize(image, resolution)


def pad_to_square_and_resize_batch(pixels: np.ndarray, resolution: int,
                                   background: int) -> np.ndarray:
  """`pad_to_square_and_resize` on a batch of one size at once: uint8
  [B, H, W, C] -> [B, R, R, C], the same ops and arguments (per image,
  eager TF costs ~10 ms)."""
  _, h, w, _ = pixels.shape
  side = max(h, w)
  top, left = (side - h) // 2, (side - w) // 2
  pixels = np.pad(pixels, [(0, 0), (top, side - h - top),
                           (left, side - w - left), (0, 0)],
                  constant_values=background)
  return _resize(pixels, resolution).numpy()


# ---------------------------------------------------------------------------
# Grids and PNG.


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


def png_bytes(image: np.ndarray) -> bytes:
  """uint8 [H, W, 1 or 3] -> PNG file contents (grayscale as mode L)."""
  buffer = io.BytesIO()
  Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
      buffer, format="PNG")
  return buffer.getvalue()


def save_png(grid: np.ndarray, path: str) -> None:
  """Writes whole or not at all (gan.storage): no half-written PNGs, and a
  one-line error when the disk has no room."""
  storage.write_bytes(path, png_bytes(grid), what="a sample grid")


# The data-config fields that decide what an image becomes in training.
PREPROCESSING_FIELDS = ("name", "folder", "data_dir", "slice_axis",
                        "skip_corrupt", "resolution", "channels", "background",
                        "crop_to_content", "pad_with_edge", "test_fraction",
                        "split_seed")


def describe_preprocessing(data) -> dict:
  """What training does to an image, from its data config, for results."""
  described = {field: data.get(field) for field in PREPROCESSING_FIELDS
               if data.get(field) is not None}
  described["steps"] = (
      ("read (colour modes to grayscale by luminance, 16-bit and float "
       "windowed to 8 bits)",)
      + ((f"crop to content (pixels > {CROP_THRESHOLD} levels from the "
          "background)",)
         if data.get("crop_to_content") else ())
      + (("pad to square with each image's border median",)
         if data.get("pad_with_edge")
         else (f"pad to square with {data.get('background', 0)}",))
      + (f"resize to {data.get('resolution')} px (bilinear, antialiased)",)
      + (("gray repeated to 3 channels",) if data.get("channels") == 3
         else ()))
  return described
