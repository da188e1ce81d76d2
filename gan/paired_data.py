"""Paired (co-registered) slices for translation: `mri_pairs` -> a Split.

A pair is stored as one image whose channels are the source modalities
followed by the target (`data.pairs.source`, `data.pairs.target`), so the
training loop's batches (`input_pipeline.train_batches`: the epoch order, the
left-right flips) keep each source with its own target, and a family splits
the channels back (`split_channels`). Labels are all 0 (one class, "pairs").

Splits are by subject: a folder with `train/` and `test/` keeps them; else
`data.pairs.test_fraction` of the subjects (seed `data.split_seed`) are
held out as `test` (`input_pipeline.stratified_holdout` with the subjects as
groups). The embedded `mni152` set has its own held-out slab
(`datasets/mri_pairs`).
"""
from __future__ import annotations

import os

import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from gan import input_pipeline
from gan import pixels
from gan.errors import UserError

DATASET = "mri_pairs"
CLASS_NAME = "pairs"


def modalities(data: ml_collections.ConfigDict) -> tuple[tuple[str, ...], str]:
  """(source modality names, target modality name) of `data.pairs`."""
  p = data.pairs
  source = tuple(s.strip() for s in str(p.source).split(",") if s.strip())
  target = str(p.target).strip()
  if not source or not target:
    raise UserError("data.pairs.source and data.pairs.target must name "
                    "modalities, e.g. --config.data.pairs.source=t1 "
                    "--config.data.pairs.target=t2")
  if target in source:
    raise UserError(f"data.pairs.target {target!r} is also a source "
                    f"modality ({','.join(source)}); translate between "
                    f"different modalities")
  return source, target


def num_source_channels(config) -> int:
  return len(modalities(config.data)[0])


def split_channels(images, num_source: int):
  """[..., S + T] pairs -> ([..., S] source, [..., T] target)."""
  return images[..., :num_source], images[..., num_source:]


def get_builder(data: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The `mri_pairs` builder of `data`: the embedded set or `data.pairs.root`."""
  # Registers the builder (the package also holds the folder reader).
  from gan_datasets.mri_pairs import mri_pairs_dataset_builder as builder_lib  # pylint: disable=g-import-not-at-top
  if data.name != DATASET:
    raise UserError(f"translation trains on dataset {DATASET!r}; set "
                    f"--config.data.name={DATASET}")
  source, target = modalities(data)
  kwargs = {"data_dir": data.data_dir} if data.data_dir else {}
  root = data.pairs.get("root")
  if not root:
    missing = [m for m in source + (target,)
               if m not in builder_lib.EMBEDDED_MODALITIES]
    if missing:
      raise UserError(
          f"the embedded mri_pairs set has modalities "
          f"{list(builder_lib.EMBEDDED_MODALITIES)}, not {missing}; pick "
          f"from those, or pass your own --config.data.pairs.root")
    return tfds.builder(f"{DATASET}/{builder_lib.EMBEDDED}", **kwargs)
  if not os.path.isdir(root):
    raise UserError(f"paired folder {root!r} does not exist; pass an existing "
                    f"--config.data.pairs.root")
  try:
    config = builder_lib.make_config(
        root, modalities=source + (target,), target=target,
        slice_axis=data.slice_axis,
        skip_incomplete=bool(data.pairs.skip_incomplete))
  except (ValueError, OSError) as e:
    raise UserError(str(e)) from e
  return tfds.builder(DATASET, config=config, **kwargs)


def load_pairs(data: ml_collections.ConfigDict,
               split: str | None = None) -> input_pipeline.Split:
  """A split of pairs in memory: images [N, R, R, S + T] uint8 (source
  channels, then target), labels 0, groups = subjects."""
  split = split or data.split
  if data.channels != 1:
    raise UserError(f"translation works on grayscale modalities; set "
                    f"--config.data.channels=1 (got {data.channels})")
  builder = get_builder(data)
  try:
    builder.download_and_prepare()
  except UserError:
    raise
  except (ValueError, FileNotFoundError, OSError, AssertionError) as e:
    raise UserError(f"could not build dataset {DATASET!r}: "
                    f"{' '.join(str(e).split())}") from e
  stored = list(builder.info.metadata["modalities"])
  source, target = modalities(data)
  channels = [stored.index(m) for m in source + (target,)]
  available = list(builder.info.splits)
  held_out = "test" not in available and split in ("train", "test")
  if split not in available and not held_out:
    raise UserError(f"dataset {DATASET!r} has no split {split!r} (its "
                    f"splits: {available})")
  read = "train" if held_out else split
  images, subjects = [], []
  for example in tfds.as_numpy(builder.as_dataset(split=read,
                                                  shuffle_files=False)):
    images.append(example["image"][..., channels])
    subjects.append(example["subject"].decode())
  if not images:
    raise UserError(f"split {read!r} of {DATASET} is empty: no slice of the "
                    f"target {target!r} has content")
  groups = np.asarray(subjects)
  resized = np.empty((len(images), data.resolution, data.resolution,
                      len(channels)), np.uint8)
  by_shape: dict[tuple, list[int]] = {}
  for i, image in enumerate(images):
    by_shape.setdefault(image.shape, []).append(i)
  for shape, rows in by_shape.items():  # One batched resize per slice shape.
    resized[rows] = pixels.pad_to_square_and_resize_batch(
        np.stack([images[i] for i in rows]), data.resolution,
        data.background)
  labels = np.zeros(len(images), np.int32)
  how = ""
  if held_out:
    fraction = float(data.pairs.test_fraction)
    if not 0.0 < fraction < 1.0:
      raise UserError(f"{DATASET} at {data.pairs.root} has no test/ folder: "
                      f"set --config.data.pairs.test_fraction in (0, 1) to "
                      f"hold out subjects (got {fraction})")
    if len(np.unique(groups)) < 2:
      raise UserError(f"{data.pairs.root} has one subject: a held-out split "
                      f"by subject needs at least 2 (add subjects, or a "
                      f"test/ folder)")
    test = input_pipeline.stratified_holdout(labels, fraction,
                                             data.split_seed, groups)
    keep = test if split == "test" else ~test
    resized, labels, groups = resized[keep], labels[keep], groups[keep]
    how = (f" ({fraction:.0%} of the subjects held out as 'test', seed "
           f"{data.split_seed})")
  logging.info("Loaded %s/%s%s: %d pairs of %d subject(s) at %d px, %s -> %s",
               DATASET, split, how, len(labels), len(np.unique(groups)),
               data.resolution, "+".join(source), target)
  return input_pipeline.Split(resized, labels, [CLASS_NAME], groups)
