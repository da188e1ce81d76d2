"""mri_pairs: co-registered modalities of the same subjects, as 2-D slice pairs.

For image-to-image translation (pix2pix, CycleGAN): each example is one slice
position of one subject, with every modality of the config stacked as
channels (`image`: uint8 [H, W, M], in `modalities` order) so that a loader
can pick source and target channels by name.

Two kinds of config:

* `mni152` (embedded, no download): the MNI152 2009a symmetric template that
  the nilearn wheel ships, T1 with its grey- and white-matter probability
  maps on the same 1 mm grid (`t1`, `gm`, `wm`). Axial slices that show
  brain in T1 (`mri_io.has_content`, z = 12..148) are kept. Held-out split:
  the axial slab z = 80..95 (16 slices through the ventricles and basal
  ganglia) is `test`; the 4 slices on each side of it (z = 76..79, 96..99)
  are in neither split, so the nearest training slice is 5 mm from any test
  slice. Leakage, stated: it is one (average) brain, so `test` measures
  translation of unseen anatomy of the same brain, not of a new subject.

* a user's folder, `make_config(root, modalities=("t1", "t2"), target="t2")`:

    root/<subject>/<modality>.nii.gz (or .nii)       a NIfTI volume
    root/<subject>/<modality>/*.dcm                  a DICOM series
    root/<subject>/<modality>/*.png (jpg, tif...)    slices, paired by name

  or, for a fixed test split, `root/train/<subject>/...` and
  `root/test/<subject>/...`. Volumes are cut along `slice_axis` (of the
  RAS+-reoriented NIfTI; a DICOM series is stacked in acquisition order and
  cut along that order). Each modality of a subject is windowed on its own
  whole volume (`mri_io.window_bounds`, percentiles `window`), then every
  slice position whose `target` slice is near-empty (`mri_io.has_content`)
  is dropped. All modalities of a subject must have the same shape; a
  subject missing a modality, or with mismatched shapes, fails the build
  with its paths, or is skipped (and listed) with `skip_incomplete=True`.
  Every example records its `subject`: splits are made by subject
  (`gan.paired_data`), never putting one subject's slices on both sides.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Iterator

from absl import logging
from etils import epath
import numpy as np
import pydicom
import tensorflow_datasets as tfds

from gan.errors import UserError
from gan_datasets import mri_io

EMBEDDED = "mni152"
EMBEDDED_MODALITIES = ("t1", "gm", "wm")
_NILEARN_FILE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
# The embedded held-out slab (axial z, inclusive) and the guard band around
# it that neither split uses.
TEST_SLAB = (80, 95)
GUARD = 4
# Tests point this at a folder holding small volumes named as nilearn's.
TEMPLATE_DIR: str | None = None
SPLIT_FOLDERS = ("train", "test")
_MAX_LISTED = 5


class PairsError(UserError):
  """A problem with the paired folder or the options given for it."""


@dataclasses.dataclass(eq=False)
class MriPairsConfig(tfds.core.BuilderConfig):
  """A paired data set and how to read it; `make_config` for a folder.

  Attributes:
    root: absolute path of the folder ("" for the embedded template).
    modalities: the modality names stored, as channels in this order.
    target: the modality whose near-empty slices are dropped.
    slice_axis: RAS+ axis NIfTI volumes are cut along (0, 1, 2).
    window: (low, high) intensity percentiles, per volume.
    skip_incomplete: skip (and list) subjects missing a modality or with
      mismatched shapes instead of failing.
    split_names: ("train",) or ("train", "test").
  """
  root: str = ""
  modalities: tuple[str, ...] = EMBEDDED_MODALITIES
  target: str = "t1"
  slice_axis: int = 2
  window: tuple[float, float] = (mri_io.DEFAULT_LOW_PERCENTILE,
                                 mri_io.DEFAULT_HIGH_PERCENTILE)
  skip_incomplete: bool = False
  split_names: tuple[str, ...] = ("train", "test")


def _is_hidden(name: str) -> bool:
  return name.startswith((".", "_"))


def _subfolders(path: epath.Path) -> list[str]:
  return sorted(p.name for p in path.iterdir()
                if p.is_dir() and not _is_hidden(p.name))


def make_config(root: str | os.PathLike, modalities, target: str,
                slice_axis: int = 2,
                low_percentile: float = mri_io.DEFAULT_LOW_PERCENTILE,
                high_percentile: float = mri_io.DEFAULT_HIGH_PERCENTILE,
                skip_incomplete: bool = False) -> MriPairsConfig:
  """Checks `root` and returns the builder config of a user's paired folder.

  The config name is `<root basename>_<8 hex digits>` hashing the path and
  the options: other modalities or options give another prepared data set.
  """
  path = epath.Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
  if not path.is_dir():
    raise PairsError(f"paired folder {path} does not exist; pass the folder "
                     f"that holds one sub-folder per subject")
  modalities = tuple(str(m) for m in modalities)
  if len(set(modalities)) != len(modalities) or not modalities:
    raise PairsError(f"modalities must be distinct names, got {modalities}")
  if target not in modalities:
    raise PairsError(f"target modality {target!r} is not among the "
                     f"modalities {list(modalities)}")
  if slice_axis not in (0, 1, 2):
    raise PairsError(f"slice_axis must be 0, 1 or 2, got {slice_axis!r}")
  mri_io.check_window(low_percentile, high_percentile)
  subfolders = _subfolders(path)
  if set(SPLIT_FOLDERS) <= set(subfolders):
    split_names = SPLIT_FOLDERS
  elif set(SPLIT_FOLDERS) & set(subfolders):
    raise PairsError(f"{path} has {'/'.join(set(SPLIT_FOLDERS) & set(subfolders))}"
                     f"/ but not both train/ and test/; make both, or put "
                     f"every subject folder directly in {path}")
  else:
    split_names = ("train",)
  if not subfolders:
    raise PairsError(f"paired folder {path} has no subject sub-folders; lay "
                     f"it out as {path}/<subject>/<modality>.nii.gz")
  options = {"root": os.fspath(path), "modalities": list(modalities),
             "target": target, "slice_axis": int(slice_axis),
             "window": [float(low_percentile), float(high_percentile)],
             "skip_incomplete": bool(skip_incomplete),
             "split_names": list(split_names)}
  digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()
                          ).hexdigest()[:8]
  base = "".join(c if c.isascii() and c.isalnum() else "_"
                 for c in path.name.lower())
  base = "_".join(filter(None, base.split("_"))) or "pairs"
  return MriPairsConfig(
      name=f"{base}_{digest}",
      description=f"{path}: modalities {', '.join(modalities)}",
      root=os.fspath(path), modalities=modalities, target=target,
      slice_axis=int(slice_axis),
      window=(float(low_percentile), float(high_percentile)),
      skip_incomplete=bool(skip_incomplete), split_names=split_names)


# ------------------------------------------------------------ reading volumes


def modality_path(subject: epath.Path, modality: str) -> epath.Path | None:
  """Where a subject's modality is (a NIfTI file or a folder), or None."""
  for suffix in (".nii.gz", ".nii"):
    candidate = subject / f"{modality}{suffix}"
    if candidate.is_file():
      return candidate
  candidate = subject / modality
  return candidate if candidate.is_dir() else None


def _dicom_position(ds) -> float:
  """A slice's position along its series: ImagePositionPatient projected on
  the slice normal, else InstanceNumber."""
  position = ds.get("ImagePositionPatient")
  orientation = ds.get("ImageOrientationPatient")
  if position is not None and orientation is not None and len(orientation) == 6:
    normal = np.cross(np.asarray(orientation[:3], float),
                      np.asarray(orientation[3:], float))
    return float(np.dot(normal, np.asarray(position, float)))
  return float(ds.get("InstanceNumber", 0) or 0)


def read_slices(path: epath.Path, slice_axis: int,
                window: tuple[float, float]) -> np.ndarray:
  """One modality of one subject as windowed uint8 slices [N, H, W].

  The window is the modality's whole volume's (percentiles `window`); 8-bit
  slice files are kept as they are, like `mri_folder`'s.
  """
  low, high = window
  if path.is_file():  # NIfTI.
    volume = mri_io.read_nifti(path)
    lo, hi = mri_io.window_bounds(volume, low, high)
    return np.stack([mri_io.apply_window(s, lo, hi)
                     for s in mri_io.volume_slices(volume, slice_axis)])
  files = sorted(p for p in path.iterdir() if p.is_file()
                 and not _is_hidden(p.name) and mri_io.file_kind(p.name))
  if not files:
    raise PairsError(f"{path} holds no DICOM or image slices")
  kinds = {mri_io.file_kind(p.name) for p in files}
  if kinds == {"dicom"}:
    frames = []
    for p in files:
      try:
        ds = pydicom.dcmread(os.fspath(p), force=True)
        pixels = np.asarray(ds.pixel_array, np.float32) * float(
            ds.get("RescaleSlope", 1) or 1) + float(
                ds.get("RescaleIntercept", 0) or 0)
      except Exception as e:  # Decoder boundary. pylint: disable=broad-except
        raise mri_io.UnreadableFileError(p, f"{type(e).__name__}: {e}") from e
      if pixels.ndim != 2:
        raise PairsError(f"{p} is not a single 2-D DICOM slice (shape "
                         f"{pixels.shape}); a series folder holds one slice "
                         f"per file")
      frames.append((_dicom_position(ds), p.name, pixels))
    frames.sort(key=lambda f: (f[0], f[1]))
    shapes = {f[2].shape for f in frames}
    if len(shapes) > 1:
      raise PairsError(f"the DICOM series {path} mixes slice shapes "
                       f"{sorted(shapes)}")
    volume = np.stack([f[2] for f in frames])
    lo, hi = mri_io.window_bounds(volume, low, high)
    return mri_io.apply_window(volume, lo, hi)
  if kinds == {"image"}:
    stack = [mri_io.read_image(p, low_percentile=low, high_percentile=high)
             for p in files]
    shapes = {s.shape for s in stack}
    if len(shapes) > 1:
      raise PairsError(f"the slices in {path} have different shapes "
                       f"{sorted(shapes)}")
    return np.stack(stack)
  raise PairsError(f"{path} mixes file kinds {sorted(kinds)}; a modality "
                   f"folder holds one DICOM series or one stack of images")


def _slice_names(path: epath.Path) -> list[str] | None:
  """The file names of a folder of image slices (pairing is by name)."""
  if path.is_file():
    return None
  names = sorted(p.name for p in path.iterdir() if p.is_file()
                 and not _is_hidden(p.name)
                 and mri_io.file_kind(p.name) == "image")
  return [os.path.splitext(n)[0] for n in names] or None


class _Subjects:
  """The subjects of one split folder, with the problems found."""

  def __init__(self, folder: epath.Path, config: MriPairsConfig):
    self.folder, self.config = folder, config
    self.complete: list[tuple[str, dict[str, epath.Path]]] = []
    self.problems: list[str] = []
    for name in _subfolders(folder):
      subject = folder / name
      paths = {m: modality_path(subject, m) for m in config.modalities}
      missing = [m for m, p in paths.items() if p is None]
      if missing:
        found = sorted(p.name for p in subject.iterdir()
                       if not _is_hidden(p.name))
        self.problems.append(
            f"subject {subject} has no {', '.join(missing)} (expected "
            f"{missing[0]}.nii.gz or a folder {missing[0]}/; found "
            f"{', '.join(found) or 'nothing'})")
        continue
      self.complete.append((name, paths))
    if not self.complete and not self.problems:
      raise PairsError(f"{folder} has no subject sub-folders; lay it out as "
                       f"{folder}/<subject>/<modality>.nii.gz")

  def refuse_or_skip(self, problems: list[str]) -> None:
    if not problems:
      return
    listing = "; ".join(problems[:_MAX_LISTED]) + (
        f"; and {len(problems) - _MAX_LISTED} more"
        if len(problems) > _MAX_LISTED else "")
    if not self.config.skip_incomplete:
      raise PairsError(
          f"{len(problems)} subject(s) cannot be paired: {listing}; fix them, "
          f"or skip them with skip_incomplete=True "
          f"(--config.data.pairs.skip_incomplete=True)")
    logging.warning("Skipped %d subject(s) that cannot be paired: %s",
                    len(problems), listing)


def _pair_subject(name: str, paths: dict[str, epath.Path],
                  config: MriPairsConfig) -> np.ndarray:
  """[N, H, W, M] uint8 slices of one subject (every position, before the
  empty-slice rule). Raises PairsError naming the paths on a mismatch."""
  stacks, names = {}, {}
  for modality in config.modalities:
    stacks[modality] = read_slices(paths[modality], config.slice_axis,
                                   config.window)
    names[modality] = _slice_names(paths[modality])
  shapes = {m: s.shape for m, s in stacks.items()}
  if len(set(shapes.values())) > 1:
    described = ", ".join(f"{paths[m]} {shapes[m]}" for m in config.modalities)
    raise PairsError(f"subject {name}: modalities have different shapes "
                     f"({described}); resample them onto one grid first")
  named = {m: n for m, n in names.items() if n is not None}
  if len(named) > 1 and len({tuple(n) for n in named.values()}) > 1:
    a, b = list(named)[:2]
    odd = sorted(set(named[a]) ^ set(named[b]))[:3]
    raise PairsError(f"subject {name}: slice files of {paths[a]} and "
                     f"{paths[b]} do not pair by name (e.g. {odd})")
  return np.stack([stacks[m] for m in config.modalities], axis=-1)


def _nilearn_dir() -> epath.Path:
  if TEMPLATE_DIR is not None:
    return epath.Path(TEMPLATE_DIR)
  try:
    import nilearn  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise PairsError("the embedded mri_pairs needs nilearn, which ships the "
                     "MNI152 template and tissue maps: pip install nilearn"
                     ) from e
  return epath.Path(os.path.dirname(nilearn.__file__)) / "datasets" / "data"


def embedded_volumes() -> np.ndarray:
  """The template's windowed axial slices [Z, H, W, 3] (t1, gm, wm)."""
  folder = _nilearn_dir()
  stacks = []
  for modality in EMBEDDED_MODALITIES:
    path = folder / _NILEARN_FILE.format(modality)
    if not path.exists():
      raise PairsError(f"{path} not found; reinstall nilearn (pip install "
                       f"--force-reinstall nilearn), which ships it")
    stacks.append(read_slices(path, 2, (mri_io.DEFAULT_LOW_PERCENTILE,
                                        mri_io.DEFAULT_HIGH_PERCENTILE)))
  return np.stack(stacks, axis=-1)


def embedded_split(z: int) -> str | None:
  """The split of axial slice z of the embedded set (None: the guard band)."""
  lo, hi = TEST_SLAB
  if lo <= z <= hi:
    return "test"
  if lo - GUARD <= z <= hi + GUARD:
    return None
  return "train"


class Builder(tfds.core.GeneratorBasedBuilder):
  """Co-registered MRI modalities as stacked 2-D slices, split by subject."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: the embedded MNI152 "
                            "T1/GM/WM set and user folders."}
  BUILDER_CONFIGS = [MriPairsConfig(
      name=EMBEDDED, description="MNI152 2009a T1 with GM/WM maps (nilearn); "
      "test = the axial slab z=80..95, 4-slice guard band each side")]

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(
                shape=(None, None, len(config.modalities)), dtype=np.uint8,
                encoding=tfds.features.Encoding.ZLIB),
            "subject": tfds.features.Text(),
            "slice": np.int32,
        }),
        metadata=tfds.core.MetadataDict(
            modalities=list(config.modalities), target=config.target),
        homepage="https://nist.mni.mcgill.ca/icbm-152-nonlinear-atlases-2009/",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download.
    config = self.builder_config
    if not config.root:
      slices = embedded_volumes()
      return {split: self._generate_examples(split, slices=slices)
              for split in SPLIT_FOLDERS}
    root = epath.Path(config.root)
    folders = ({"train": root} if config.split_names == ("train",) else
               {s: root / s for s in config.split_names})
    subjects = {s: _Subjects(f, config) for s, f in folders.items()}
    # Checked before anything is written: one message for every problem.
    problems = [p for s in subjects.values() for p in s.problems]
    seen = {}
    for split, found in subjects.items():
      for name, _ in found.complete:
        if name in seen and seen[name] != split:
          raise PairsError(f"subject {name} is in both {folders[seen[name]]} "
                           f"and {folders[split]}: one subject's slices "
                           f"must stay on one side; move one of them")
        seen[name] = split
    next(iter(subjects.values())).refuse_or_skip(problems)
    return {split: self._generate_examples(split, found=found)
            for split, found in subjects.items()}

  def _generate_examples(self, split: str, slices: np.ndarray | None = None,
                         found: _Subjects | None = None):
    if slices is not None:
      return self._embedded_examples(slices, split)
    return self._folder_examples(found)

  def _embedded_examples(self, slices: np.ndarray, split: str):
    target = EMBEDDED_MODALITIES.index(self.builder_config.target)
    for z, image in enumerate(slices):
      if embedded_split(z) == split and mri_io.has_content(image[..., target]):
        yield f"mni152_z{z:03d}", {"image": image, "subject": "mni152",
                                   "slice": z}

  def _folder_examples(self, found: _Subjects) -> Iterator:
    config = self.builder_config
    target = config.modalities.index(config.target)
    for name, paths in found.complete:
      try:
        stack = _pair_subject(name, paths, config)
      except (PairsError, mri_io.UnreadableFileError) as e:
        if not config.skip_incomplete:
          raise
        logging.warning("Skipped subject %s: %s", name, e)
        continue
      kept = 0
      for index, image in enumerate(stack):
        if mri_io.has_content(image[..., target]):
          kept += 1
          yield f"{name}/{index:04d}", {"image": image, "subject": name,
                                        "slice": index}
      if not kept:
        logging.warning("Subject %s has no slice with content in %s", name,
                        config.target)
