"""Input pipeline: TFDS -> tf.data preprocessing -> in-memory split -> batches.

Small medical data sets (hundreds to a few thousand slices) fit in host memory
once preprocessed, so each process decodes its split once with tf.data (pad
to square keeping the aspect ratio, resize to the config resolution) and keeps
it as uint8. Batches are then a pure function of (seed, step):

* the global batch of step t is drawn from an epoch permutation (or, with
  `class_balanced`, class-uniformly) seeded by (seed, t), identically on every
  process; process p keeps rows [p * B/P, (p + 1) * B/P) of it.

This is what makes a resumed run see exactly the batches an uninterrupted run
would, and makes the global batch independent of the number of devices and
processes (ready for multi-host: `jax.process_index()/process_count()`).
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
from typing import Iterator

import jax
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

from gan import pixels
from gan import storage
from gan.errors import UserError

BUILDERS = ("mni152_slices", "alzheimers_mri", "mri_folder")


@dataclasses.dataclass
class Split:
  """A preprocessed split in host memory.

  images: [N, R, R, C] uint8; labels: [N] int32; class_names: list of names;
  groups: [N] subject of each image (str), or None when subjects are unknown:
  held-out parts keep a subject's images together (stratified_holdout).
  """
  images: np.ndarray
  labels: np.ndarray
  class_names: list[str]
  groups: np.ndarray | None = None

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def __len__(self) -> int:
    return len(self.labels)

  def subset(self, mask: np.ndarray) -> "Split":
    """The images where `mask` ([N] bool) holds, in the same label space."""
    return Split(self.images[mask], self.labels[mask], list(self.class_names),
                 None if self.groups is None else self.groups[mask])


def get_builder(data: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The TFDS builder named by `data.name` (registered from `gan_datasets`)."""
  if data.name not in BUILDERS:
    raise UserError(f"unknown dataset {data.name!r}; set --config.data.name to "
                    f"one of {list(BUILDERS)}")
  module = importlib.import_module(
      f"gan_datasets.{data.name}.{data.name}_dataset_builder")
  kwargs = {"data_dir": data.data_dir} if data.data_dir else {}
  if data.name == "mri_folder":
    if not data.folder:
      raise UserError("dataset mri_folder needs a folder; pass "
                      "--config.data.folder=/path/with/one/subfolder/per/class")
    if not os.path.isdir(data.folder):
      raise UserError(f"image folder {data.folder!r} does not exist; pass an "
                      f"existing --config.data.folder")
    try:
      kwargs["config"] = module.make_config(
          os.path.abspath(data.folder), slice_axis=data.slice_axis,
          skip_corrupt=data.skip_corrupt)
    except (ValueError, FileNotFoundError, OSError) as e:
      raise UserError(str(e)) from e
  return tfds.builder(data.name, **kwargs)


def prepare(builder: tfds.core.DatasetBuilder,
            data: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """Builds the dataset on first use (a no-op once it is prepared); a user
  folder whose files changed since is rebuilt, its old copy removed.
  Returns the builder to read from."""
  download_config = tfds.download.DownloadConfig(
      manual_dir=data.manual_dir) if data.manual_dir else None
  folder_module = None
  if data.name == "mri_folder":
    folder_module = importlib.import_module(
        "gan_datasets.mri_folder.mri_folder_dataset_builder")
    changes = folder_module.changes_since_build(builder)
    if changes:
      # The old copy holds every image at full size: a file removed from
      # the folder (a patient who withdrew) must go from it too.
      copy = os.path.dirname(builder.data_dir)
      logging.warning("%s changed since it was prepared (%s): rebuilding, and "
                      "removing the old copy %s", data.folder, changes, copy)
      shutil.rmtree(copy)
      builder = get_builder(data)
    # Listed before building: a file changed during the build is seen later.
    contents = (None if builder.is_prepared()
                else folder_module.folder_contents(data.folder))
  try:
    if folder_module is not None:
      # A local folder downloads nothing: TFDS's "Dl Completed ... Unknown
      # size" bars are noise; the build reports what it read itself.
      tfds.display_progress_bar(False)
    builder.download_and_prepare(download_config=download_config)
  except UserError:
    raise
  except (ValueError, FileNotFoundError, OSError, AssertionError) as e:
    # The builders raise one-line, actionable messages for user errors.
    message = " ".join(str(e).split())
    raise UserError(f"could not build dataset {data.name!r}: {message}") from e
  finally:
    tfds.display_progress_bar(True)
  if folder_module is not None and contents is not None:
    storage.write_json(os.fspath(folder_module.contents_record(builder)),
                       contents, "the folder's file list")
    logging.info("Prepared %s from %s (a full-size copy of its images; "
                 "delete that directory to remove it)",
                 os.path.dirname(builder.data_dir), data.folder)
    for old_copy in folder_module.other_builds(builder):  # One copy a folder.
      shutil.rmtree(old_copy)
      logging.warning("Removed %s, an earlier copy of %s prepared with other "
                      "classes or options", old_copy, data.folder)
  return builder


# Wider than this (or taller) and padding to a square leaves a small brain
# in a large background: a screenshot (16:9 is 1.78) or a montage rather
# than a slice (MRI grids are within 1.3, e.g. 176x208 or 256x320).
_EXTREME_ASPECT = 1.5


def _warn_about_sizes(sizes: np.ndarray, data, split: str,
                      edges: np.ndarray) -> None:
  """One warning each, with counts, for what padding and resizing do to
  images that do not fit the resolution: upscaling, extreme shapes, and
  padding of another colour than the image's border (bars)."""
  heights, widths = sizes[:, 0], sizes[:, 1]
  where = f"{data.name}/{split}"
  barred = np.flatnonzero((heights != widths)
                          & (np.abs(edges - data.background) > 64))
  if barred.size and not data.get("pad_with_edge"):
    logging.warning(
        "%s: %d of %d non-square images have a border unlike the padding "
        "value %d (e.g. %d), so padding draws bars beside them; "
        "--config.data.pad_with_edge=True pads each with its own border",
        where, barred.size, len(sizes), data.background, edges[barred[0]])
  small = np.flatnonzero(np.maximum(heights, widths) < data.resolution)
  if small.size:
    h, w = heights[small[0]], widths[small[0]]
    logging.warning(
        "%s: %d of %d images are smaller than %d px and are upscaled (e.g. "
        "%dx%d); blurry inputs teach the GAN blur: remove them, or lower "
        "--config.data.resolution", where, small.size, len(sizes),
        data.resolution, w, h)
  aspect = np.maximum(heights, widths) / np.maximum(np.minimum(heights,
                                                               widths), 1)
  extreme = np.flatnonzero(aspect > _EXTREME_ASPECT)
  if extreme.size:
    h, w = heights[extreme[0]], widths[extreme[0]]
    logging.warning(
        "%s: %d of %d images are more than %.1f:1 wide or tall (e.g. %dx%d) "
        "and become a small picture in a padded square; crop them to the "
        "brain first%s", where, extreme.size, len(sizes), _EXTREME_ASPECT, w,
        h, "" if data.get("crop_to_content") else
        " (--config.data.crop_to_content=True crops empty margins)")


def load_split(data: ml_collections.ConfigDict, split: str | None = None) -> Split:
  """Prepares (if needed) and loads a whole split, preprocessed, into memory."""
  builder = prepare(get_builder(data), data)
  split = split or data.split
  available = list(builder.info.splits)
  fraction = float(data.get("test_fraction", 0.0) or 0.0)
  if not 0.0 <= fraction < 1.0:
    raise UserError(f"data.test_fraction must be in [0, 1), got {fraction}; "
                    f"e.g. --config.data.test_fraction=0.2")
  if fraction and "test" in available:
    raise UserError(f"dataset {data.name!r} has its own test split; "
                    f"data.test_fraction only holds one out of a data set "
                    f"without one: drop --config.data.test_fraction")
  held_out = fraction > 0 and split in ("train", "test")
  if split not in available and not held_out:
    raise UserError(
        f"dataset {data.name!r} has no split {split!r} (its splits: "
        f"{available}); pick one of those with --config.data.split or "
        f"--config.test_split, or hold out a stratified test split from "
        f"{available[0]!r} with --config.data.test_fraction=0.2")
  read = "train" if held_out else split
  ds = builder.as_dataset(split=read, shuffle_files=False)
  if data.get("crop_to_content"):
    ds = ds.map(lambda ex: dict(ex, image=pixels.crop_to_content(
        ex["image"], data.background)), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
  pad_with_edge = bool(data.get("pad_with_edge"))

  has_subjects = "subject" in builder.info.features

  def preprocess(ex):
    edge = pixels.edge_value(ex["image"])
    background = edge if pad_with_edge else data.background
    return (pixels.pad_to_square_and_resize(ex["image"], data.resolution, background),
            ex["label"], tf.shape(ex["image"])[:2], edge,
            ex["subject"] if has_subjects else tf.constant(""))

  ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  images, labels, sizes, edges, subjects = [], [], [], [], []
  for image_batch, label_batch, size_batch, edge_batch, subject_batch in (
      tfds.as_numpy(ds.batch(256))):
    images.append(image_batch)
    labels.append(label_batch)
    sizes.append(size_batch)
    edges.append(edge_batch)
    subjects.append(subject_batch)
  if not images:
    raise UserError(f"split {split!r} of dataset {data.name!r} is empty; "
                    f"check the data it was built from")
  images = np.concatenate(images)
  if data.channels == 3:
    images = pixels.to_rgb(images)
  elif data.channels != 1:
    raise UserError(f"data.channels must be 1 or 3, got {data.channels}; set "
                    f"--config.data.channels")
  class_names = list(builder.info.features["label"].names)
  labels = np.concatenate(labels).astype(np.int32)
  sizes = np.concatenate(sizes)
  # About every image read (a held-out test part is preprocessed alike).
  _warn_about_sizes(sizes, data, read, np.concatenate(edges))
  groups = _groups(np.concatenate(subjects), f"{data.name}/{read}")
  how = ""
  if held_out:
    seed = data.get("split_seed", 0)
    test = stratified_holdout(labels, fraction, seed, groups)
    keep = test if split == "test" else ~test
    images, labels, sizes = images[keep], labels[keep], sizes[keep]
    groups = None if groups is None else groups[keep]
    how = (f" ({'the' if split == 'test' else 'without the'} {fraction:.0%} "
           f"of 'train' held out as 'test', stratified by class, "
           f"{'by subject, ' if groups is not None else ''}seed {seed})")
  logging.info("Loaded %s/%s%s: %d images at %d px, classes %s", data.name,
               split, how, len(images), data.resolution, class_names)
  return select_classes(Split(images, labels, class_names, groups), data, split)


def _groups(subjects: np.ndarray, where: str) -> np.ndarray | None:
  """[N] subject names (str) from the builder's `subject` feature (b"" for
  unknown): None when none is known; an image without one is its own
  subject (and said so)."""
  names = np.array([s.decode() if isinstance(s, bytes) else str(s)
                    for s in subjects], dtype=object)
  unknown = names == ""
  if unknown.all():
    return None
  if unknown.any():
    logging.warning("%s: %d of %d images have no subject (no subjects.csv "
                    "row, no subject sub-folder): each is split on its own",
                    where, int(unknown.sum()), len(names))
    # Unique across splits too: never a subject shared by accident.
    names[unknown] = [f"\0{where} image {i}" for i in np.flatnonzero(unknown)]
  return names


def selected_class_names(data: ml_collections.ConfigDict,
                         class_names: list[str]) -> list[str]:
  """The classes `data.classes` names (all when unset), in the data set's
  order; a one-line error for a name the data set does not have."""
  spec = data.get("classes")
  if not spec:
    return list(class_names)
  wanted = [name.strip() for name in str(spec).split(",") if name.strip()]
  unknown = [name for name in wanted if name not in class_names]
  if unknown or not wanted:
    raise UserError(f"data.classes={spec!r}: no class {unknown or spec!r} in "
                    f"dataset {data.name!r}; its classes are {class_names} "
                    f"(comma-separated, e.g. --config.data.classes="
                    f"{class_names[-1]})")
  return [name for name in class_names if name in wanted]


def select_classes(split: Split, data: ml_collections.ConfigDict,
                   where: str = "train") -> Split:
  """The images of the classes in `data.classes` (all when unset).

  The class names (the label space) stay the data set's, so a conditional
  model has the same shapes whatever it trains on. Idempotent.
  """
  names = selected_class_names(data, split.class_names)
  if names == list(split.class_names):
    return split
  keep_labels = [split.class_names.index(name) for name in names]
  keep = np.isin(split.labels, keep_labels)
  empty = [name for name, label in zip(names, keep_labels)
           if not np.any(split.labels == label)]
  if empty:
    raise UserError(f"data.classes: split {where!r} of dataset "
                    f"{data.name!r} has no images of {empty}; drop them "
                    f"from --config.data.classes")
  logging.info("data.classes: %d of %d images (%s)", int(keep.sum()),
               len(split), ", ".join(names))
  return split.subset(keep)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int,
                       groups: np.ndarray | None = None) -> np.ndarray:
  """Boolean mask of a held-out part: round(fraction * n) images of each
  class (at least 1 where a class has 2 or more), chosen by `seed`.

  With groups ([N] subject of each image), whole subjects are held out, so
  that none has images on both sides: round(fraction * n) of the subjects
  of each class (a subject's class: its most frequent label; at least 1
  where a class has 2 or more subjects).
  """
  if groups is not None:
    names, inverse = np.unique(np.asarray(groups), return_inverse=True)
    counts = np.zeros((len(names), int(labels.max()) + 1), np.int64)
    np.add.at(counts, (inverse, labels), 1)
    held = stratified_holdout(counts.argmax(1), fraction, seed)
    return held[inverse]
  rng = np.random.default_rng(seed)
  mask = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    count = int(round(fraction * len(members)))
    if len(members) >= 2:
      count = min(max(count, 1), len(members) - 1)
    else:
      count = 0
    mask[rng.permutation(members)[:count]] = True
  return mask


def load_train_and_test(data: ml_collections.ConfigDict,
                        test_split: str) -> tuple[Split, Split]:
  """The training split (`data.split`) and the test split, refusing a test
  split that is the training split (it would report training accuracy)."""
  if test_split == data.split:
    raise UserError(
        f"the test split is the training split ({test_split!r}): accuracy on "
        f"it is training accuracy; set --config.test_split to a held-out "
        f"split, or for a data set without one hold out a stratified part "
        f"with --config.data.test_fraction=0.2")
  train, test = load_split(data), load_split(data, test_split)
  if train.groups is not None and test.groups is not None:
    both = sorted(set(train.groups) & set(test.groups))
    if both:
      raise UserError(
          f"{len(both)} subjects have images in both the training split and "
          f"{test_split!r} of dataset {data.name!r} (e.g. {both[:3]}): a "
          f"classifier would be tested on subjects it trained on; move each "
          f"subject's images to one side, or name the subjects apart in "
          f"subjects.csv")
  return train, test


class BatchSampler:
  """Global batch indices as a pure function of (seed, step)."""

  def __init__(self, labels: np.ndarray, global_batch_size: int, seed: int,
               class_balanced: bool = False, random_flip: bool = False):
    self._labels = labels
    self._batch = global_batch_size
    self._seed = seed
    self._class_balanced = class_balanced
    self._random_flip = random_flip
    self._by_class = [np.flatnonzero(labels == c)
                      for c in range(int(labels.max()) + 1)]
    self._by_class = [ix for ix in self._by_class if len(ix)]

  def _epoch_permutation(self, epoch: int) -> np.ndarray:
    return np.random.default_rng([self._seed, 0, epoch]).permutation(
        len(self._labels))

  def indices(self, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (example indices [B], horizontal flips [B] bool)."""
    if self._class_balanced:
      rng = np.random.default_rng([self._seed, 1, step])
      classes = rng.integers(len(self._by_class), size=self._batch)
      idx = np.array([self._by_class[c][rng.integers(len(self._by_class[c]))]
                      for c in classes])
    else:
      n = len(self._labels)
      positions = step * self._batch + np.arange(self._batch)
      epochs, offsets = positions // n, positions % n
      idx = np.empty(self._batch, dtype=np.int64)
      for epoch in np.unique(epochs):
        mask = epochs == epoch
        idx[mask] = self._epoch_permutation(int(epoch))[offsets[mask]]
    if self._random_flip:
      flips = np.random.default_rng([self._seed, 2, step]).random(self._batch) < 0.5
    else:
      flips = np.zeros(self._batch, dtype=bool)
    return idx, flips


def train_batches(split: Split, config: ml_collections.ConfigDict,
                  start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """This process's part of each global batch, from `start_step` on.

  Yields {"image": [B_local, R, R, C] float32 in [-1, 1], "label": [B_local]}.
  """
  global_batch = config.train.batch_size
  processes, me = jax.process_count(), jax.process_index()
  if global_batch % processes:
    raise UserError(f"global batch {global_batch} is not divisible by the "
                    f"{processes} processes; change --config.train.batch_size")
  local = global_batch // processes
  sampler = BatchSampler(split.labels, global_batch, config.seed,
                         config.data.class_balanced, config.data.random_flip)
  step = start_step
  while True:
    idx, flips = sampler.indices(step)
    idx, flips = idx[me * local:(me + 1) * local], flips[me * local:(me + 1) * local]
    images = split.images[idx]
    images = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
    yield {"image": pixels.to_float(images), "label": split.labels[idx]}
    step += 1
