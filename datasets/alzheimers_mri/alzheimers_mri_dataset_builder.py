"""alzheimers_mri: Kaggle "Alzheimer's Dataset (4 class of Images)" (tourist55).

6400 axial brain-MRI slices, 208 high x 176 wide, 8-bit grayscale JPEG, in the
published train/test split. A manual download: the builder reads Kaggle's
`archive.zip` directly (no extraction) or its extracted folder.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import zipfile
import zlib
from typing import Callable, Iterator

from absl import logging
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from gan.errors import UserError
from gan_datasets import mri_io

CLASS_NAMES = ("MildDemented", "ModerateDemented", "NonDemented",
               "VeryMildDemented")
IMAGE_SHAPE = (208, 176, 1)  # Height, width, channels as published.
SPLITS = ("train", "test")
ARCHIVE_NAME = "archive.zip"
DATASET_FOLDER = "Alzheimer_s Dataset"  # Top folder inside archive.zip.
KAGGLE_URL = ("https://www.kaggle.com/datasets/tourist55/"
              "alzheimers-dataset-4-class-of-images")
_JPEG_SUFFIXES = (".jpg", ".jpeg")

# `<anything>/<split>/<class>/<file>` inside the archive or folder.
_MEMBER_RE = re.compile(
    r"^(?P<root>(?:[^/]+/)*?)(?P<split>train|test)/(?P<class_name>[^/]+)/"
    r"(?P<name>[^/]+)$")


class ManualDownloadMissingError(UserError):
  """Neither archive.zip nor its extracted folder is in the manual dir."""


class ArchiveError(UserError):
  """The download is damaged or is not the expected dataset."""


@dataclasses.dataclass(frozen=True)
class Source:
  """Where the images are: archive.zip, or the folder with train/ and test/."""

  path: epath.Path
  is_zip: bool


@dataclasses.dataclass(frozen=True)
class Entry:
  """One image: `relpath` = `<class>/<file>` (the filename feature)."""

  relpath: str
  class_name: str
  locator: str  # Zip member name, or path relative to the source folder.


def find_source(manual_dir: epath.PathLike) -> Source:
  """Finds the download in `manual_dir`, or raises a one-line error.

  Accepted, in this order: `<manual_dir>/archive.zip`; the extracted folder
  `<manual_dir>/Alzheimer_s Dataset/`; `<manual_dir>` itself holding train/
  and test/; `<manual_dir>/archive/Alzheimer_s Dataset/` (what unzipping
  `archive.zip` into its own folder gives).
  """
  manual_dir = epath.Path(manual_dir)
  archive = manual_dir / ARCHIVE_NAME
  if archive.is_file():
    return Source(archive, is_zip=True)
  for folder in (manual_dir / DATASET_FOLDER, manual_dir,
                 manual_dir / "archive" / DATASET_FOLDER):
    if all((folder / split).is_dir() for split in SPLITS):
      return Source(folder, is_zip=False)
  other_zips = sorted(p.name for p in manual_dir.glob("*.zip")) if (
      manual_dir.is_dir()) else []
  hint = (f" (found {', '.join(other_zips)}: rename the Kaggle download to "
          f"{ARCHIVE_NAME})" if other_zips else "")
  raise ManualDownloadMissingError(
      f"alzheimers_mri needs the Kaggle download at {archive}{hint} (or its "
      f"extracted folder {manual_dir / DATASET_FOLDER}/{{train,test}}/<class>"
      f"/*.jpg): download archive.zip of \"Alzheimer's Dataset (4 class of "
      f"Images)\" (tourist55) from {KAGGLE_URL} and put it there, or pass "
      "manual_dir=<folder holding archive.zip> in tfds.download.DownloadConfig")


def _relative_names(source: Source) -> list[str]:
  """All file names in the source, '/'-separated, relative to its root."""
  if source.is_zip:
    with _open_zip(source.path) as archive:
      return [n for n in archive.namelist() if not n.endswith("/")]
  return [f"{split}/{name}" for split in SPLITS
          for name in mri_io.list_files(source.path / split)]


def list_entries(source: Source) -> dict[str, list[Entry]]:
  """Returns {split: [Entry]} sorted by relpath; logs the files it ignores.

  Raises:
    ArchiveError: no images, several copies of the dataset in one archive, or
      a split without images.
  """
  by_root: dict[str, dict[str, list[Entry]]] = {}
  ignored = []
  for name in _relative_names(source):
    match = _MEMBER_RE.match(name)
    if (not match or name.startswith("__MACOSX/")
        or match["class_name"] not in CLASS_NAMES
        or not match["name"].lower().endswith(_JPEG_SUFFIXES)):
      ignored.append(name)
      continue
    splits = by_root.setdefault(match["root"], {s: [] for s in SPLITS})
    splits[match["split"]].append(
        Entry(f"{match['class_name']}/{match['name']}", match["class_name"],
              name))
  if not by_root:
    raise ArchiveError(
        f"{source.path} holds no <train|test>/<class>/*.jpg images with "
        f"classes {', '.join(CLASS_NAMES)}; download archive.zip again from "
        f"{KAGGLE_URL}")
  if len(by_root) > 1:
    roots = ", ".join(repr(r) for r in sorted(by_root))
    raise ArchiveError(
        f"{source.path} holds several copies of the dataset (under {roots}); "
        "keep one copy")
  if ignored:
    message = (f"alzheimers_mri: ignored {len(ignored)} files that are not "
               f"<split>/<class>/*.jpg in {source.path}: "
               f"{', '.join(ignored[:10])}")
    logging.warning(message)
    print(message)
  (entries,) = by_root.values()
  for split, split_entries in entries.items():
    if not split_entries:
      raise ArchiveError(
          f"{source.path} has no {split} images; the download is incomplete: "
          f"download archive.zip again from {KAGGLE_URL}")
    split_entries.sort(key=lambda e: e.relpath)
  return entries


@contextlib.contextmanager
def _open_zip(path: epath.Path) -> Iterator[zipfile.ZipFile]:
  try:
    with path.open("rb") as f, zipfile.ZipFile(f) as archive:
      yield archive
  except zipfile.BadZipFile as e:
    raise ArchiveError(
        f"{path} is not a valid zip file ({e}); download it again from "
        f"{KAGGLE_URL}") from e


@contextlib.contextmanager
def _reader(source: Source) -> Iterator[Callable[[str], bytes]]:
  """Yields read(locator) -> bytes for the source's files."""
  if not source.is_zip:
    yield lambda locator: (source.path / locator).read_bytes()
    return
  with _open_zip(source.path) as archive:
    yield archive.read


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for the Kaggle Alzheimer's 4-class MRI dataset."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: published train/test split."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Download "Alzheimer's Dataset (4 class of Images)" (tourist55) from Kaggle:
  {KAGGLE_URL} (button "Download", a file named `archive.zip`, ~35 MB).
  Put `archive.zip` itself in the manual dir (`<manual_dir>/archive.zip`; it is
  read directly, no need to extract it), or its extracted folder
  (`<manual_dir>/Alzheimer_s Dataset/{{train,test}}/<class>/*.jpg`). The
  manual dir defaults to `<data_dir>/downloads/manual/`; set it with
  `tfds.download.DownloadConfig(manual_dir=...)` or `tfds build --manual_dir`.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            # The original JPEG bytes are stored (no re-encoding).
            "image": tfds.features.Image(
                shape=IMAGE_SHAPE, dtype=np.uint8, encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage=KAGGLE_URL,
        license="Open Database License (ODbL) 1.0",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    source = find_source(_manual_dir(dl_manager))
    entries = list_entries(source)
    return {split: self._generate_examples(source, entries[split])
            for split in SPLITS}

  def _generate_examples(self, source: Source, entries: list[Entry]):
    with _reader(source) as read:
      for entry in entries:
        name = f"{source.path}/{entry.locator}"
        try:
          data = read(entry.locator)
          image = mri_io.open_image(name, data)
        except (mri_io.UnreadableFileError, zipfile.BadZipFile, zlib.error,
                OSError, EOFError) as e:
          raise ArchiveError(
              f"{e}; the download is damaged: download archive.zip again "
              f"from {KAGGLE_URL}") from e
        if image.size != (IMAGE_SHAPE[1], IMAGE_SHAPE[0]):
          raise ArchiveError(
              f"{name} is {image.size[0]}x{image.size[1]} (WxH), expected "
              f"{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}: this is not the published "
              "dataset; use the original archive.zip from Kaggle")
        if image.format == "JPEG" and image.mode == "L":
          encoded = data  # Already what the feature stores: keep it bit-exact.
        else:
          encoded = mri_io.image_to_uint8(image)[..., None]
        yield entry.relpath, {
            "image": encoded,
            "label": entry.class_name,
            "filename": entry.relpath,
        }


def _manual_dir(dl_manager: tfds.download.DownloadManager) -> epath.Path:
  """The manual dir, without TFDS's assertion when it is missing or empty."""
  try:
    return dl_manager.manual_dir
  except AssertionError:
    # `find_source` then raises a one-line message naming the expected file.
    return epath.Path(dl_manager._manual_dir)  # pylint: disable=protected-access
