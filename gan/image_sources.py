"""Streaming image sources for evaluation.

Every source yields batches of float32 [B, H, W, C] images in [-1, 1]
(C = 1 or 3) and never holds the whole set in memory. A statistics file is a
source without images. Sources are named by a spec string:

  PATH/TO/DIR  or folder:PATH   images in a folder (recursive; bmp, jpg,
                                jpeg, pgm, png, ppm, tif, tiff, webp)
  PATH.npz     or stats:PATH    pytorch-fid statistics (`mu`, `sigma`)
  tfds:NAME/SPLIT[#CLASS]       a prepared TFDS dataset split, e.g.
                                tfds:alzheimers_mri/test or
                                tfds:alzheimers_mri/train[:50%]#ModerateDemented
  workdir:PATH[@STEP][#CLASS]   samples of a training run's EMA generator
                                (latest checkpoint, or STEP); N per class for
                                a conditional model (or only CLASS)
  data:WORKDIR/SPLIT[#CLASS]    the images a run (GAN or classifier) trained
                                on, or its test split, preprocessed exactly as
                                training does (e.g. data:workdirs/mine/train)

In-memory sources (`ArraySource`, `GeneratorSource`) serve the periodic
evaluation during training; they have no spec string.

Folder and TFDS images keep their own size (pytorch-fid's convention; the
feature extractor resizes), while a generator draws what training saw
(grayscale, cropped, padded to a square, resized): to compare a generator
with its training folder as training read it, use data:WORKDIR/SPLIT.
Image files are read by `gan.image_files` (pytorch-fid's conventions).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Iterator, Protocol

import numpy as np

from gan import image_files
from gan import pixels as pixels_lib
from gan.errors import UserError
from gan.metrics import statistics as statistics_lib

SPEC_HELP = ("a folder of images, a statistics .npz, tfds:NAME/SPLIT[#CLASS], "
             "workdir:PATH[@STEP][#CLASS] or data:WORKDIR/SPLIT[#CLASS]")


class ImageSource(Protocol):
  """A finite stream of images."""
  spec: str

  def num_images(self) -> int | None:
    """How many images `batches` yields, if known beforehand."""

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    """float32 [B <= batch_size, H, W, C] in [-1, 1]; B varies at the end."""

  def describe(self) -> dict:
    """JSON-able description for results."""

  def cache_key(self) -> str | None:
    """A digest of the exact images, or None if they cannot be cached."""


# ---------------------------------------------------------------------------
# Folder.


@dataclasses.dataclass
class FolderSource:
  """Images in a folder and its subfolders, in sorted path order.

  Consecutive images of equal size are batched together; a change of size
  ends a batch early (mixed folders work, in order, at some speed cost: each
  new size compiles a resize once). Grayscale and RGB images mix freely.
  """
  folder: str
  spec: str = ""

  def __post_init__(self):
    if not os.path.isdir(self.folder):
      raise UserError(f"image folder {self.folder} does not exist")
    self.spec = self.spec or f"folder:{self.folder}"
    self.files = image_files.list_images(self.folder)
    if not self.files:
      raise UserError(f"no images ({', '.join(image_files.IMAGE_EXTENSIONS)}) in folder "
                      f"{self.folder}")

  def num_images(self) -> int:
    return len(self.files)

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    pending: list[np.ndarray] = []
    for path in self.files:
      try:
        image = image_files.read_image(path)
      except UserError as e:  # Training can skip such files; say how.
        raise UserError(f"{e}; or, for the folder a run trained on with "
                        f"skip_corrupt, read it as training did: "
                        f"data:WORKDIR/train") from None
      if pending and (image.shape[:2] != pending[0].shape[:2]
                      or len(pending) == batch_size):
        yield image_files.stack(pending)
        pending = []
      pending.append(image)
    if pending:
      yield image_files.stack(pending)

  def describe(self) -> dict:
    return {"kind": "folder", "path": os.path.abspath(self.folder)}

  def cache_key(self) -> str:
    digest = hashlib.sha256(b"folder\0")
    for path in self.files:
      stat = os.stat(path)
      digest.update(f"{os.path.relpath(path, self.folder)}\0{stat.st_size}\0"
                    f"{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# TFDS.


def class_index(name_or_index: str, class_names: list[str], where: str) -> int:
  """A class given by name or index -> its index (one-line error if none)."""
  name_or_index = str(name_or_index).strip()
  if name_or_index in class_names:
    return class_names.index(name_or_index)
  if name_or_index.isdigit() and int(name_or_index) < len(class_names):
    return int(name_or_index)
  raise UserError(f"no class {name_or_index!r} in {where}; its classes are "
                  f"{class_names}")


@dataclasses.dataclass
class TfdsSource:
  """A split of a prepared TFDS dataset (feature 'image', uint8 [H, W, C])."""
  name: str
  split: str
  data_dir: str | None = None
  class_name: str | None = None
  spec: str = ""

  def __post_init__(self):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    tf.config.set_visible_devices([], "GPU")  # Leave accelerators to JAX.
    self.spec = self.spec or f"tfds:{self.name}/{self.split}"
    base = self.name.split("/")[0].split(":")[0]
    try:  # Registers our builders; other names must be registered already.
      __import__(f"gan_datasets.{base}")
    except ImportError:
      pass
    if self.name == "mri_folder":  # Which user folder: the one prepared.
      self.name = _prepared_folder_dataset(self.data_dir)
    try:
      self.builder = tfds.builder(self.name, data_dir=self.data_dir)
    except Exception as e:  # DatasetNotFoundError and friends.
      raise UserError(f"unknown TFDS dataset {self.name!r} ({type(e).__name__}"
                      f"); the project's datasets are alzheimers_mri, "
                      f"mni152_slices and mri_folder") from None
    if not self.builder.is_prepared():
      raise UserError(
          f"TFDS dataset {self.name} is not prepared in "
          f"{self.builder.data_dir}; build it first (`python -m gan.main` "
          f"prepares it, or `tfds build` with --data_dir), or pass "
          f"--data_dir where it is")
    info = self.builder.info
    if "image" not in info.features:
      raise UserError(f"TFDS dataset {self.name} has no 'image' feature")
    try:
      self._num = info.splits[self.split].num_examples
    except Exception as e:
      raise UserError(f"TFDS dataset {self.name} has no split {self.split!r} "
                      f"(splits: {sorted(info.splits)}; {e})") from None
    self.label = None
    if self.class_name is not None:
      names = (list(info.features["label"].names)
               if "label" in info.features else [])
      self.label = class_index(self.class_name, names,
                                  f"TFDS dataset {self.name}")
      self._num = None  # Known only after filtering.

  def num_images(self) -> int | None:
    return self._num

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    dataset = self.builder.as_dataset(split=self.split, shuffle_files=False)
    if self.label is not None:
      dataset = dataset.filter(lambda ex: ex["label"] == self.label)
    dataset = dataset.map(lambda ex: ex["image"]).prefetch(tf.data.AUTOTUNE)
    # A user folder's images differ in size: a batch holds consecutive
    # images of one size (the feature network resizes each batch).
    batch = []
    for image in dataset.as_numpy_iterator():
      if image.dtype != np.uint8:
        raise UserError(f"TFDS dataset {self.name} stores {image.dtype} "
                        f"images; evaluation reads uint8 images")
      if batch and (len(batch) == batch_size or image.shape != batch[0].shape):
        yield pixels_lib.to_float(np.stack(batch))
        batch = []
      batch.append(image)
    if batch:
      yield pixels_lib.to_float(np.stack(batch))

  def describe(self) -> dict:
    return {"kind": "tfds", "name": self.name, "split": self.split,
            "class": self.class_name,
            "data_dir": str(self.builder.data_dir)}

  def cache_key(self) -> str:
    info = self.builder.info
    digest = hashlib.sha256(b"tfds\0")
    digest.update(f"{info.full_name}\0{self.split}\0{self.label}\0"
                  f"{self.builder.data_dir}\0".encode())
    for path in sorted(os.listdir(self.builder.data_dir)):
      stat = os.stat(os.path.join(self.builder.data_dir, path))
      digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Training workdir.


@dataclasses.dataclass
class WorkdirSource:
  """Samples of the EMA generator of a training workdir.

  `num_samples` images for an unconditional model; for a conditional one,
  `num_samples` per class it was trained on (in order; `data.classes`), or
  only for `class_name`.
  """
  workdir: str
  step: int | None = None
  num_samples: int = 10_000
  seed: int = 0
  class_name: str | None = None
  spec: str = ""
  # The loaded `sampling.Generator` (or a stand-in with its interface);
  # None: load it from the workdir's checkpoint at `step`.
  generator: Any = None

  def __post_init__(self):
    from gan import sampling  # pylint: disable=g-import-not-at-top
    if not os.path.isdir(self.workdir):
      raise UserError(f"workdir {self.workdir} does not exist")
    if self.generator is None:
      self.generator = sampling.load_generator(self.workdir, self.step)
    self.spec = self.spec or f"workdir:{self.workdir}"
    if self.generator.num_classes:
      names = list(self.generator.class_names)
      if self.class_name is not None:
        self.classes = [class_index(self.class_name, names,
                                       f"the model of {self.workdir}")]
      else:
        self.classes = list(self.generator.drawn_labels)  # Trained ones.
    else:
      if self.class_name is not None:
        raise UserError(f"the model of {self.workdir} is unconditional; drop "
                        f"#{self.class_name} from the source")
      self.classes = [None]

  def num_images(self) -> int:
    return self.num_samples * len(self.classes)

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    for index, label in enumerate(self.classes):
      labels = (None if label is None
                else np.full(self.num_samples, label, np.int32))
      yield from self.generator.sample(self.num_samples,
                                       seed=self.seed + index, labels=labels,
                                       batch_size=batch_size)

  def describe(self) -> dict:
    names = self.generator.class_names
    return {"kind": "workdir", "path": os.path.abspath(self.workdir),
            "step": int(self.generator.step), "seed": self.seed,
            "num_samples_per_class": self.num_samples,
            "classes": [names[c] if c is not None else None
                        for c in self.classes],
            "generator": "ema"}

  def cache_key(self) -> None:
    return None


# ---------------------------------------------------------------------------
# A run's own data, preprocessed as it trained on it.

@dataclasses.dataclass
class DataSource:
  """The images a workdir's run was trained on (or its test split), read and
  preprocessed by the training input pipeline itself (`load_split` of the
  run's saved data config): grayscale conversion, skipped corrupt files,
  crop, pad, resize and the held-out test part are exactly training's.

  Works for a GAN workdir and a `gan.train_classifier` workdir alike.
  """
  workdir: str
  split: str
  class_name: str | None = None
  spec: str = ""

  def __post_init__(self):
    import ml_collections  # pylint: disable=g-import-not-at-top
    from gan import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
    from gan import input_pipeline  # pylint: disable=g-import-not-at-top
    if not os.path.isdir(self.workdir):
      raise UserError(f"workdir {self.workdir} does not exist; data:WORKDIR/"
                      f"SPLIT reads the data a training run used")
    self.spec = self.spec or f"data:{self.workdir}/{self.split}"
    meta = checkpoint_lib.Checkpointer(self.workdir,
                                       read_only=True).restore_meta()
    self.data = ml_collections.ConfigDict(meta["config"]).data
    loaded = input_pipeline.load_split(self.data, self.split)
    self.class_names = list(loaded.class_names)
    self.images, self.labels = loaded.images, loaded.labels
    if self.class_name is not None:
      label = class_index(self.class_name, self.class_names,
                          f"the data of {self.workdir}")
      keep = self.labels == label
      self.images, self.labels = self.images[keep], self.labels[keep]
    if not len(self.images):
      raise UserError(f"{self.spec} holds no images")

  def num_images(self) -> int:
    return len(self.images)

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    return ArraySource(self.images).batches(batch_size)

  def describe(self) -> dict:
    return {"kind": "data", "workdir": os.path.abspath(self.workdir),
            "split": self.split, "class": self.class_name,
            "num_images": len(self.images),
            "preprocessing": pixels_lib.describe_preprocessing(self.data)}

  def cache_key(self) -> str:  # The pixels decide, as for any array.
    return ArraySource(self.images).cache_key()


# ---------------------------------------------------------------------------
# In memory (training-time evaluation).


@dataclasses.dataclass
class ArraySource:
  """Images held in memory, e.g. the training split during training.

  images: [N, H, W, C] uint8 (or float32 in [-1, 1]).
  """
  images: np.ndarray
  spec: str = "array"

  def num_images(self) -> int:
    return len(self.images)

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(self.images), batch_size):
      chunk = self.images[start:start + batch_size]
      yield (pixels_lib.to_float(chunk) if chunk.dtype == np.uint8
             else np.asarray(chunk, np.float32))

  def describe(self) -> dict:
    return {"kind": "array", "name": self.spec}

  def cache_key(self) -> str:
    digest = hashlib.sha256(b"array\0")
    digest.update(f"{self.images.shape}\0{self.images.dtype}\0".encode())
    digest.update(np.ascontiguousarray(self.images).data)
    return digest.hexdigest()


@dataclasses.dataclass
class GeneratorSource:
  """`num_samples` images of a `gan.sampling.Generator` in memory (e.g. the
  EMA generator during training); classes round-robin when conditional."""
  generator: object
  num_samples: int
  seed: int = 0
  spec: str = "generator"

  def num_images(self) -> int:
    return self.num_samples

  def batches(self, batch_size: int) -> Iterator[np.ndarray]:
    yield from self.generator.sample(self.num_samples, seed=self.seed,
                                     batch_size=batch_size)

  def describe(self) -> dict:
    return {"kind": "generator", "name": self.spec,
            "step": int(self.generator.step), "seed": self.seed,
            "generator": "ema"}

  def cache_key(self) -> None:
    return None


# ---------------------------------------------------------------------------
# Statistics.


@dataclasses.dataclass
class StatisticsSource:
  """A pytorch-fid `.npz` (mu, sigma): FID only, no images."""
  path: str
  spec: str = ""

  def __post_init__(self):
    self.spec = self.spec or self.path
    self.statistics = statistics_lib.load_statistics(self.path)

  def describe(self) -> dict:
    return {"kind": "statistics", "path": os.path.abspath(self.path),
            "num_samples": self.statistics.num_samples,
            "feature": self.statistics.feature or None,
            "convention": self.statistics.convention or None}


Source = (FolderSource | TfdsSource | WorkdirSource | DataSource
          | StatisticsSource | ArraySource | GeneratorSource)


def _split_class(rest: str) -> tuple[str, str | None]:
  if "#" in rest:
    rest, class_name = rest.rsplit("#", 1)
    return rest, class_name
  return rest, None


def _prepared_folder_dataset(data_dir: str | None) -> str:
  """`mri_folder/<config>` for `tfds:mri_folder/SPLIT`: the one user folder
  prepared in the data dir; several are an error that lists them."""
  from gan_datasets.mri_folder import mri_folder_dataset_builder as folder_builder  # pylint: disable=g-import-not-at-top
  root = os.path.join(
      data_dir or os.environ.get("TFDS_DATA_DIR")
      or os.path.expanduser("~/tensorflow_datasets"), "mri_folder")
  prepared = folder_builder.prepared_folders(root)
  if len(prepared) == 1:
    return f"mri_folder/{next(iter(prepared))}"
  if not prepared:
    raise UserError(f"no user folder is prepared in {root}; train on it first "
                    f"(python -m gan.main --config.data.name=mri_folder "
                    f"--config.data.folder=...), or read it directly with "
                    f"folder:PATH")
  listing = ", ".join(f"mri_folder/{name} ({folder})"
                      for name, folder in prepared.items())
  raise UserError(f"{len(prepared)} user folders are prepared in {root}: "
                  f"{listing}; name one, e.g. "
                  f"tfds:mri_folder/{next(iter(prepared))}/train")


def parse_source(spec: str, *, data_dir: str | None = None,
                 num_samples: int = 10_000, seed: int = 0) -> Source:
  """Builds the source a spec string names (see the module docstring).

  Raises:
    UserError: an unknown or malformed spec, or a missing input.
  """
  if not spec:
    raise UserError(f"empty source; give {SPEC_HELP}")
  if spec.startswith("tfds:"):
    rest, class_name = _split_class(spec[len("tfds:"):])
    if "/" not in rest:
      raise UserError(f"source {spec!r} needs a split: tfds:NAME/SPLIT, e.g. "
                      f"tfds:alzheimers_mri/test")
    name, split = rest.rsplit("/", 1)
    return TfdsSource(name, split, data_dir=data_dir, class_name=class_name,
                      spec=spec)
  if spec.startswith("workdir:"):
    rest, class_name = _split_class(spec[len("workdir:"):])
    step = None
    if "@" in rest:
      rest, step_text = rest.rsplit("@", 1)
      if not step_text.isdigit():
        raise UserError(f"source {spec!r}: the checkpoint step after '@' must "
                        f"be a number")
      step = int(step_text)
    return WorkdirSource(rest, step=step, num_samples=num_samples, seed=seed,
                         class_name=class_name, spec=spec)
  if spec.startswith("data:"):
    rest, class_name = _split_class(spec[len("data:"):])
    if "/" not in rest.rstrip("/"):
      raise UserError(f"source {spec!r} needs a split: data:WORKDIR/SPLIT, "
                      f"e.g. data:workdirs/mine/train")
    workdir, split = rest.rstrip("/").rsplit("/", 1)
    return DataSource(workdir, split, class_name=class_name, spec=spec)
  if spec.startswith("stats:"):
    return StatisticsSource(spec[len("stats:"):], spec=spec)
  if spec.startswith("folder:"):
    return FolderSource(spec[len("folder:"):], spec=spec)
  if spec.endswith(".npz"):
    return StatisticsSource(spec, spec=spec)
  if os.path.isdir(spec):
    return FolderSource(spec, spec=spec)
  raise UserError(f"source {spec!r} is neither an existing folder nor a .npz "
                  f"file; give {SPEC_HELP}")
