"""mri_folder: a user's own MRI images, one sub-folder per class.

  folder/<class>/**/*.{png,jpg,jpeg,bmp,tif,tiff,dcm,dicom,nii,nii.gz}

or, for a fixed test split, `folder/train/<class>/...` and
`folder/test/<class>/...`. Create the builder with a config for the folder:

  builder = tfds.builder("mri_folder", config=make_config("/data/my_mri"),
                         data_dir=...)

Each PNG/JPEG/DICOM image is one example; NIfTI volumes are cut into 2-D
slices along `slice_axis` (of the RAS+-reoriented volume), one example each,
near-empty slices dropped unless `drop_empty_slices=False`. Intensities: see
`gan_datasets.mri_io`.

Each example records its subject (`subject`), so that no subject's slices
land on both sides of a split (gan.input_pipeline.stratified_holdout):
  * `folder/subjects.csv` (columns `file,subject`; `file` relative to
    `folder`, e.g. `healthy/a.png` or `train/healthy/a.png`) names them;
  * else the first sub-folder under the class folder is the subject
    (`folder/<class>/<subject>/*.png`);
  * else a volume (a NIfTI file, a multi-frame DICOM) is one subject;
  * else the subject is unknown ("") and the image is split on its own.
Subject names are not per class: `s01` in two class folders is one subject
(a coarser split, never a leak).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
from typing import Iterator

from absl import logging
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from gan.errors import UserError
from gan_datasets import mri_io
from gan_datasets.mri_folder import subjects as subjects_lib

SPLIT_FOLDERS = ("train", "test")
SUBJECTS_FILE = subjects_lib.SUBJECTS_FILE
_AXIS_LETTERS = "xyz"  # RAS+ axes 0, 1, 2 (sagittal, coronal, axial slices).
_MAX_LISTED = 10  # Paths named in one message.


class MriFolderError(UserError):
  """A problem with the image folder or the options given for it."""


class FolderNotFoundError(MriFolderError):
  pass


class EmptyFolderError(MriFolderError):
  pass


class CorruptFilesError(MriFolderError):
  pass


@dataclasses.dataclass(eq=False)
class MriFolderConfig(tfds.core.BuilderConfig):
  """One user folder and how to read it; create it with `make_config`.

  Attributes:
    folder: absolute path of the folder with one sub-folder per class (or
      train/ and test/ holding those).
    slice_axis: NIfTI volumes are sliced along this RAS+ axis: 0 sagittal, 1
      coronal, 2 axial.
    window: (low, high) percentiles of the intensity window for non-8-bit
      data (16-bit PNG, DICOM, NIfTI); `mri_io.window_to_uint8`.
    skip_corrupt: skip unreadable files (and print them) instead of failing.
    drop_empty_slices: drop near-empty NIfTI slices (`mri_io.has_content`).
    class_names: sorted class sub-folder names, found by `make_config`.
    split_names: ("train",), or ("train", "test") for a train/ + test/ folder.
  """

  folder: str = ""
  slice_axis: int = 2
  window: tuple[float, float] = (mri_io.DEFAULT_LOW_PERCENTILE,
                                 mri_io.DEFAULT_HIGH_PERCENTILE)
  skip_corrupt: bool = False
  drop_empty_slices: bool = True
  class_names: tuple[str, ...] = ()
  split_names: tuple[str, ...] = ("train",)

  def split_folder(self, split: str) -> epath.Path:
    folder = epath.Path(self.folder)
    return folder if self.split_names == ("train",) else folder / split


def make_config(
    folder: str | os.PathLike,
    slice_axis: int = 2,
    low_percentile: float = mri_io.DEFAULT_LOW_PERCENTILE,
    high_percentile: float = mri_io.DEFAULT_HIGH_PERCENTILE,
    skip_corrupt: bool = False,
    drop_empty_slices: bool = True,
) -> MriFolderConfig:
  """Checks `folder`, finds its classes and returns the builder config.

  The config name is `<folder basename>_<8 hex digits>`, the digits hashing
  the absolute path, the options, the classes and the split layout: another
  folder or other options give another prepared dataset in the same data_dir;
  the same ones reuse it. (Files added, removed or changed since are found
  by `changes_since_build`; `gan.input_pipeline.prepare` then rebuilds.)

  Raises:
    FolderNotFoundError: `folder` does not exist.
    EmptyFolderError: no class sub-folders, or no supported file in them.
    MriFolderError: bad slice_axis or a folder mixing train/ and test/ with
      class folders.
    mri_io.InvalidWindowError: bad percentiles.
  """
  path = epath.Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
  if not path.is_dir():
    raise FolderNotFoundError(
        f"image folder {path} does not exist or is not a folder; pass the "
        "folder that holds one sub-folder of images per class")
  if slice_axis not in (0, 1, 2):
    raise MriFolderError(
        f"slice_axis must be 0 (sagittal), 1 (coronal) or 2 (axial), got "
        f"{slice_axis!r}")
  slice_axis = int(slice_axis)
  mri_io.check_window(low_percentile, high_percentile)
  split_names, class_names = _discover(path)
  options = {
      "folder": os.fspath(path),
      "slice_axis": slice_axis,
      "window": [float(low_percentile), float(high_percentile)],
      "skip_corrupt": bool(skip_corrupt),
      "drop_empty_slices": bool(drop_empty_slices),
      "class_names": class_names,
      "split_names": split_names,
  }
  digest = hashlib.sha256(
      json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]
  base = "".join(c if c.isascii() and c.isalnum() else "_"
                 for c in path.name.lower())
  base = "_".join(filter(None, base.split("_"))) or "folder"
  return MriFolderConfig(
      name=f"{base}_{digest}",
      description=(f"{path}: classes {', '.join(class_names)}; splits "
                   f"{', '.join(split_names)}"),
      folder=os.fspath(path),
      slice_axis=slice_axis,
      window=(float(low_percentile), float(high_percentile)),
      skip_corrupt=bool(skip_corrupt),
      drop_empty_slices=bool(drop_empty_slices),
      class_names=tuple(class_names),
      split_names=tuple(split_names),
  )


# Beside the prepared data set (<data_dir>/mri_folder/<name>/), the folder's
# file list as it was when it was built: a later run compares it with the
# folder and rebuilds when files were added, removed or changed.
CONTENTS_FILE = "folder_contents.json"


def folder_contents(folder: str | os.PathLike) -> dict[str, list[int]]:
  """relative path -> [size, mtime_ns] of every visible file under `folder`."""
  contents = {}
  root = os.fspath(folder)
  for directory, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in files:
      if name.startswith("."):
        continue
      path = os.path.join(directory, name)
      stat = os.stat(path)
      contents[os.path.relpath(path, root)] = [stat.st_size, stat.st_mtime_ns]
  return contents


def contents_record(builder: tfds.core.DatasetBuilder) -> epath.Path:
  """Where the file list of a prepared mri_folder data set is kept."""
  return epath.Path(builder.data_dir).parent / CONTENTS_FILE


def changes_since_build(builder: tfds.core.DatasetBuilder) -> str | None:
  """None when `builder` is not prepared or its folder is unchanged since;
  else what changed, in words ('2 files added, 1 removed')."""
  if not builder.is_prepared():
    return None
  record = contents_record(builder)
  if not record.exists():
    return "prepared without a record of its files"
  features = epath.Path(builder.data_dir) / "features.json"
  if features.exists() and '"subject"' not in features.read_text():
    return "prepared before subjects were recorded"
  try:
    before = json.loads(record.read_text())
  except ValueError:
    return "its record of files is unreadable"
  now = folder_contents(builder.builder_config.folder)
  added = len(set(now) - set(before))
  removed = len(set(before) - set(now))
  changed = sum(1 for f in set(now) & set(before) if now[f] != before[f])
  if not (added or removed or changed):
    return None
  return f"{added} files added, {removed} removed, {changed} changed"


def prepared_folders(root: str | os.PathLike,
                     version: str = "1.0.0") -> dict[str, str]:
  """Prepared copies under `root` (a data dir's `mri_folder/`): config name
  -> the folder it was built from. A build that failed (a corrupt file)
  leaves no dataset_info.json and is not listed."""
  root = epath.Path(root)
  found = {}
  for build in sorted(root.iterdir()) if root.is_dir() else []:
    info = build / version / "dataset_info.json"
    if build.name.startswith(".") or not info.exists():
      continue
    try:
      description = json.loads(info.read_text()).get("configDescription", "")
    except ValueError:
      description = ""
    # The description is "<folder>: classes ..." (see make_config).
    found[build.name] = description.split(": classes ")[0] or "?"
  return found


def other_builds(builder: tfds.core.DatasetBuilder) -> list[str]:
  """Prepared copies of the same folder under other config names (built
  before a class folder was added or an option changed)."""
  here = epath.Path(builder.data_dir).parent
  folder = os.fspath(builder.builder_config.folder)
  return [os.fspath(here.parent / name)
          for name, source in prepared_folders(
              here.parent, str(builder.version)).items()
          if name != here.name and source == folder]


def _is_hidden(relpath: str) -> bool:
  return any(part.startswith(".") for part in relpath.split("/"))


def _subfolders(path: epath.Path) -> list[str]:
  return sorted(p.name for p in path.iterdir()
                if p.is_dir() and not p.name.startswith("."))


def _discover(folder: epath.Path) -> tuple[list[str], list[str]]:
  """Returns (split names, sorted class names) of a user folder."""
  top = _subfolders(folder)
  if all(s in top for s in SPLIT_FOLDERS):
    others = [n for n in top if n not in SPLIT_FOLDERS]
    if others:
      raise MriFolderError(
          f"{folder} holds train/ and test/ but also {', '.join(others)}: "
          "move every class folder into train/ and test/, or rename train/ "
          "and test/ if they are classes")
    split_names = list(SPLIT_FOLDERS)
    per_split = {s: _subfolders(folder / s) for s in SPLIT_FOLDERS}
  else:
    split_names = ["train"]
    per_split = {"train": top}
  class_names = sorted(set().union(*per_split.values()))
  if not class_names:
    loose = sum(1 for p in folder.iterdir() if not p.is_dir())
    raise EmptyFolderError(
        f"image folder {folder} is empty: it has no class sub-folders "
        f"({loose} loose files); put the images in one sub-folder per class, "
        f"e.g. {folder / 'healthy'}/*.png (one sub-folder for a single class)")
  for split, names in per_split.items():
    missing = sorted(set(class_names) - set(names))
    if missing and len(split_names) > 1:
      logging.warning("mri_folder: %s/%s has no folder for classes %s", folder,
                      split, missing)
  supported = collections.Counter()
  for split in split_names:
    split_folder = folder if split_names == ["train"] else folder / split
    for class_name in per_split[split]:
      supported[split, class_name] = sum(
          1 for f in mri_io.list_files(split_folder / class_name)
          if not _is_hidden(f) and mri_io.file_kind(f))
  if not sum(supported.values()):
    raise EmptyFolderError(
        f"image folder {folder} is empty: its class folders "
        f"{', '.join(class_names)} hold no image files (supported: "
        f"{' '.join(mri_io.SUPPORTED_SUFFIXES)}); add images")
  # A class without a training image would still be a class: a conditional
  # GAN would draw it from nothing and `gan.sample --num=balance` fill it.
  train_folder = folder if split_names == ["train"] else folder / "train"
  empty = [name for name in per_split["train"]
           if not supported["train", name]]
  if empty:
    raise EmptyFolderError(
        f"class folder(s) {', '.join(str(train_folder / n) for n in empty)} "
        f"hold no image files (supported: "
        f"{' '.join(mri_io.SUPPORTED_SUFFIXES)}); add images to them, or "
        f"remove or rename them with a leading '.' to leave them out")
  return split_names, class_names


def _announce(message: str, level=logging.WARNING) -> None:
  """Logs and prints: the user sees it even with absl logging off."""
  logging.log(level, message)
  print(message)


def _listing(paths: list[str]) -> str:
  shown = ", ".join(paths[:_MAX_LISTED])
  more = len(paths) - _MAX_LISTED
  return shown + (f" and {more} more" if more > 0 else "")


@dataclasses.dataclass
class _Report:
  """What one split's generation skipped, ignored or dropped."""

  split_folder: epath.Path
  ignored: list[str] = dataclasses.field(default_factory=list)
  unreadable: list[str] = dataclasses.field(default_factory=list)
  reasons: list[str] = dataclasses.field(default_factory=list)
  files: int = 0
  every_class: bool = False  # The training split: each class needs images.
  per_class: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  converted: list[str] = dataclasses.field(default_factory=list)
  coloured: list[str] = dataclasses.field(default_factory=list)
  dropped_slices: int = 0
  volumes: int = 0
  volumes_without_slices: list[str] = dataclasses.field(default_factory=list)
  examples: int = 0
  # Files by where their subject came from (see subjects.subject_of).
  subject_sources: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)

  def finish(self, config: MriFolderConfig) -> None:
    """Prints the summary; raises if the split is unusable."""
    where = self.split_folder
    if self.ignored:
      _announce(
          f"mri_folder: ignored {len(self.ignored)} files in {where} that are "
          f"not images (supported: {' '.join(mri_io.SUPPORTED_SUFFIXES)}): "
          f"{_listing(self.ignored)}")
    if self.converted:
      _announce(
          f"mri_folder: converted {len(self.converted)} colour-mode images in "
          f"{where} to grayscale (luminance); {len(self.coloured)} of them "
          f"really hold colour (annotations or colour JPEG noise), which is "
          f"lost: {_listing(self.coloured) or 'none'}")
    if self.dropped_slices:
      _announce(
          f"mri_folder: dropped {self.dropped_slices} near-empty slices of "
          f"{self.volumes} NIfTI volumes in {where} (keep them with "
          "make_config(..., drop_empty_slices=False))", logging.INFO)
    if self.volumes_without_slices:
      _announce(
          f"mri_folder: {len(self.volumes_without_slices)} NIfTI volumes in "
          f"{where} have no slice with content, none of their slices was "
          f"kept: {_listing(self.volumes_without_slices)}")
    known = [f"{n} {k}" for k, n in self.subject_sources.items()
             if k != "unknown"]
    if known:
      _announce(
          f"mri_folder: subjects of the files in {where}: {', '.join(known)}; "
          f"{self.subject_sources['unknown']} without one (each split on its "
          f"own)", logging.INFO)
    if self.unreadable and not config.skip_corrupt:
      raise CorruptFilesError(
          f"{len(self.unreadable)} unreadable files in {where}: "
          f"{_listing(self.unreadable)} (first error: {self.reasons[0]}); "
          "replace or remove them, or skip them with "
          "--config.data.skip_corrupt=True (make_config(..., "
          "skip_corrupt=True) from Python)")
    if self.unreadable:
      _announce(
          f"mri_folder: skipped {len(self.unreadable)} unreadable files in "
          f"{where}: {_listing(self.unreadable)} (first error: "
          f"{self.reasons[0]})")
    if not self.examples:
      raise EmptyFolderError(
          f"image folder {where} is empty: no readable image in its class "
          "folders; add images or replace the unreadable ones")
    empty = [n for n in config.class_names
             if self.every_class and not self.per_class[n]]
    if empty:  # Every file of these classes was unreadable and skipped.
      raise EmptyFolderError(
          f"class folder(s) {', '.join(str(where / n) for n in empty)} hold "
          f"no readable image (their files were unreadable and skipped); "
          f"replace them, or rename the folders with a leading '.' to leave "
          f"those classes out")


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for a folder of MRI images, one sub-folder per class."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}

  def _folder_config(self) -> MriFolderConfig:
    config = self.builder_config
    if not isinstance(config, MriFolderConfig) or not config.class_names:
      raise MriFolderError(
          "mri_folder needs a folder: use tfds.builder('mri_folder', "
          "config=make_config('/path/to/folder'), data_dir=...) with "
          "make_config from gan_datasets.mri_folder")
    return config

  def _info(self) -> tfds.core.DatasetInfo:
    config = self._folder_config()
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            # Sizes vary from file to file.
            "image": tfds.features.Image(shape=(None, None, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(names=config.class_names),
            "filename": tfds.features.Text(),
            "subject": tfds.features.Text(),  # "" when unknown.
        }),
        supervised_keys=("image", "label"),
    )

  # TFDS prints (not logs) "Downloading and preparing dataset Unknown size"
  # and "... downloaded and prepared" around a build: nothing is downloaded
  # and the size is unknown, so say what happens instead (these two hooks are
  # TFDS-internal; if they move, TFDS's own lines come back, nothing breaks).
  def _log_download_bytes(self) -> None:
    _announce(f"mri_folder: preparing a copy of "
              f"{self._folder_config().folder} in {self.data_dir}",
              logging.INFO)

  def _log_download_done(self) -> None:
    pass  # gan.input_pipeline.prepare says where the copy went.

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # The data is already local.
    config = self._folder_config()
    if not epath.Path(config.folder).is_dir():
      raise FolderNotFoundError(
          f"image folder {config.folder} does not exist any more; restore it "
          "or make a config for the folder where the images are now")
    subjects = subjects_lib.read_subjects(config.folder)
    return {split: self._generate_examples(
        config.split_folder(split), split == "train",
        subjects_lib.split_rows(subjects, split, config.split_names))
            for split in config.split_names}

  def _generate_examples(self, split_folder: epath.Path,
                         every_class: bool = False,
                         subjects: dict[str, str] | None = None):
    """subjects: `class/relpath` -> subject, from subjects.csv."""
    config = self._folder_config()
    subjects, matched = subjects or {}, set()
    report = _Report(split_folder)
    report.every_class = every_class
    for entry in sorted(split_folder.iterdir(), key=lambda p: p.name):
      if entry.name == SUBJECTS_FILE and split_folder == epath.Path(config.folder):
        continue
      if not entry.is_dir():
        report.ignored.append(entry.name)
      elif entry.name.startswith("."):
        report.ignored.append(entry.name + "/")
    for class_name in config.class_names:
      class_folder = split_folder / class_name
      if not class_folder.is_dir():
        continue  # A class without images in this split (logged earlier).
      for relpath in mri_io.list_files(class_folder):
        kind = None if _is_hidden(relpath) else mri_io.file_kind(relpath)
        filename = f"{class_name}/{relpath}"
        if kind is None:
          report.ignored.append(filename)
          continue
        report.files += 1
        if report.files % 500 == 0:  # TFDS's own bars are off for folders.
          logging.info("mri_folder: read %d files of %s", report.files,
                       split_folder)
        try:
          images = list(_read(class_folder / relpath, kind, config, report))
        except mri_io.UnreadableFileError as e:
          report.unreadable.append(e.path)
          report.reasons.append(e.reason)
          continue
        if report.unreadable and not config.skip_corrupt:
          continue  # The build fails at the end; keep listing bad files.
        if not images:
          report.volumes_without_slices.append(filename)
        matched.add(filename)
        subject, source = subjects_lib.subject_of(
            subjects, filename, relpath, kind == "nifti" or len(images) > 1)
        report.subject_sources[source] += 1
        for suffix, image in images:
          report.examples += 1
          report.per_class[class_name] += 1
          yield filename + suffix, {
              "image": image[..., None],
              "label": class_name,
              "filename": filename + suffix,
              "subject": subject,
          }
    unmatched = sorted(set(subjects) - matched)
    if unmatched:  # A typo would silently leave images without a subject.
      _announce(f"mri_folder: {len(unmatched)} rows of "
                f"{subjects_lib.SUBJECTS_FILE} name no readable image in "
                f"{split_folder}: {_listing(unmatched)}")
    report.finish(config)


def _read(path: epath.Path, kind: str, config: MriFolderConfig,
          report: _Report) -> Iterator[tuple[str, np.ndarray]]:
  """Yields (filename suffix, [H, W] uint8) for the images in one file."""
  low, high = config.window
  if kind == "image":
    info = {}
    image = mri_io.read_image(path, low_percentile=low, high_percentile=high,
                              info=info)
    if info["mode"] not in mri_io.GRAY_MODES:
      report.converted.append(str(path))
      if info["colour"]:
        report.coloured.append(str(path))
    yield "", image
  elif kind == "dicom":
    pixels = mri_io.read_dicom(path, low, high)
    if pixels.ndim == 2:
      yield "", pixels
    else:
      for frame, image in enumerate(pixels):
        yield f":frame={frame:03d}", image
  else:
    volume = mri_io.read_nifti(path)
    axis = config.slice_axis if volume.shape[2] > 1 else 2
    lo, hi = mri_io.window_bounds(volume, low, high)
    report.volumes += 1
    for index, plane in enumerate(mri_io.volume_slices(volume, axis)):
      image = mri_io.apply_window(plane, lo, hi)
      if (config.drop_empty_slices and volume.shape[axis] > 1
          and not mri_io.has_content(image)):
        report.dropped_slices += 1
        continue
      yield f":{_AXIS_LETTERS[axis]}={index:03d}", image
