"""One side of an evaluation: a source, and the features and pixels read
from it (streamed through the feature networks, cached on disk when the
source has a stable key)."""
from __future__ import annotations

import collections
import hashlib
import io
import os

from absl import logging
import numpy as np

from gan import features as features_lib
from gan import image_sources
from gan import pixels
from gan import storage
from gan.errors import UserError


class Side:
  """One source with what was computed from it."""

  def __init__(self, label: str, source):
    self.label = label
    self.source = source
    self.features: dict[str, np.ndarray] = {}
    self.images: np.ndarray | None = None  # uint8 [N, H, W, C] when kept.
    self.images_per_second: float | None = None
    self.from_cache = False
    self.resized_note: str | None = None  # How mixed sizes were unified.

  @property
  def has_images(self) -> bool:
    return not isinstance(self.source, image_sources.StatisticsSource)

  @property
  def num(self) -> int | None:
    if self.has_images:
      if self.features:
        return next(iter(self.features.values())).shape[0]
      return None if self.images is None else len(self.images)
    return self.source.statistics.num_samples

  def describe(self) -> dict:
    description = {"spec": self.source.spec, **self.source.describe(),
                   "num_images": self.num}
    if self.images_per_second is not None:
      description["images_per_second"] = round(self.images_per_second, 2)
    if self.from_cache:
      description["features_from_cache"] = True
    return description


def _cache_path(cache_dir: str, side: Side, networks: dict,
                names) -> str | None:
  key = side.source.cache_key()
  if key is None:
    return None
  digest = hashlib.sha256(key.encode())
  for name in sorted(networks):
    digest.update(f"\0{name}\0{networks[name].info.get('fingerprint', '')}\0"
                  f"{networks[name].convention}".encode())
  digest.update(("\0" + ",".join(sorted(names))).encode())
  return os.path.join(cache_dir, f"features_{digest.hexdigest()[:32]}.npz")


def _kept(batches, store: list):
  for images in batches:
    store.append(pixels.to_uint8(images))
    yield images


def _stack_kept(side: Side, store: list) -> np.ndarray:
  if not store:
    return np.zeros((0, 1, 1, 1), np.uint8)
  sizes = collections.Counter()
  for b in store:
    sizes[b.shape[1:3]] += len(b)
  if len(sizes) > 1:
    # Pixel metrics need one size: the training preprocessing (pad to a
    # square with black, resize) to the most common size's longer side.
    side_px = max(sizes.most_common(1)[0][0])
    store = [pixels.pad_to_square_and_resize_batch(b, side_px, 0)
             for b in store]
    side.resized_note = (
        f"source {side.source.spec} mixes {len(sizes)} image sizes (e.g. "
        f"{', '.join(f'{w}x{h}' for h, w in list(sizes)[:3])}): for ms_ssim "
        f"and the memorization grid its images were padded to a square and "
        f"resized to {side_px}x{side_px}, as training does")
  if len({b.shape[-1] for b in store}) > 1:  # Grayscale joins RGB.
    store = [pixels.to_rgb(b) for b in store]
  return np.concatenate(store)


def extract(side: Side, names: list[str], networks: dict, batch_size: int,
             cache_dir: str | None, progress: bool,
             keep_images: bool = False) -> None:
  store: list[np.ndarray] = []
  batches = side.source.batches(batch_size)
  if keep_images:
    batches = _kept(batches, store)
  cache = _cache_path(cache_dir, side, networks, names) if cache_dir else None
  if names and cache and os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as data:
      side.features = {name: data[name] for name in names}
    side.from_cache = True
    logging.info("%s: features of %d images from cache %s", side.source.spec,
                 side.num, cache)
    if keep_images:  # Only the pixels are read again.
      for _ in batches:
        pass
      side.images = _stack_kept(side, store)
    return
  if not names:  # Images only (ms_ssim alone).
    for _ in batches:
      pass
    side.images = _stack_kept(side, store)
    count = len(side.images)
  else:
    try:
      side.features, side.images_per_second = features_lib.extract_features(
          batches, names, networks, total=side.source.num_images(),
          description=f"{side.label}: {side.source.spec}", progress=progress)
    except UserError as e:
      if side.source.spec in str(e):
        raise
      raise UserError(f"source {side.source.spec}: {e}") from None
    if keep_images:
      side.images = _stack_kept(side, store)
    count = side.features[names[0]].shape[0]
    logging.info("%s: %d images at %.1f img/s", side.source.spec, count,
                 side.images_per_second)
  if count < 2:
    raise UserError(f"source {side.source.spec} has {count} image(s); the "
                    f"metrics need at least 2")
  if cache and names:
    buffer = io.BytesIO()
    np.savez(buffer, **side.features)
    try:
      storage.write_bytes(cache, buffer.getvalue(), "the feature cache")
    except storage.DiskFull as e:  # Only a cache: the results still come.
      logging.warning("Feature cache not written: %s", e)
