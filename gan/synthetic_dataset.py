"""Writing a synthetic data set from a trained generator.

Output layout, readable by the `mri_folder` TFDS builder:
  OUTPUT/<class name>/<class name>_<index>.png   8-bit grayscale (or RGB) PNGs
  OUTPUT/manifest.json                           provenance of every file
The folder is written under a temporary name and renamed when complete, so
an interrupted run never leaves a half-written data set behind.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time

import numpy as np
from absl import logging
from PIL import Image

import gan
from gan import pixels
from gan import sampling
from gan import storage
from gan.errors import UserError


def parse_counts(spec: str, class_names: list[str],
                 real_counts: dict[str, int] | None,
                 conditional: bool = True) -> dict[str, int]:
  """Images to generate per class from a spec.

  spec: "N" (N per class, or N in all for an unconditional model),
    "balance" (top every class up to the largest class's real count; a
    class-conditional model only), or "name:N,name:N" (only the named
    classes).
  """
  spec = spec.strip()
  if re.fullmatch(r"\d+", spec):
    return {name: int(spec) for name in class_names}
  if spec == "balance" and not conditional:
    raise UserError("--num=balance tops up each class, but this model is "
                    "unconditional (it draws no class); pass --num=N for N "
                    "images")
  if spec == "balance":
    if real_counts is None:
      raise UserError("--num=balance needs the real class counts; the "
                      "training data set could not be read")
    largest = max(real_counts.values())
    return {name: largest - real_counts.get(name, 0) for name in class_names}
  counts = {}
  for item in spec.split(","):
    name, _, number = item.partition(":")
    name = name.strip()
    if name not in class_names:
      raise UserError(f"unknown class {name!r} in --num={spec!r}; the model's "
                      f"classes are {class_names}")
    if not number.strip().isdigit():
      raise UserError(f"bad count in --num={spec!r}: use name:N,name:N, a "
                      f"number, or 'balance'")
    counts[name] = int(number)
  return counts


def output_class_names(generator: sampling.Generator) -> list[str]:
  """The folders a generator's samples go to: the classes it was trained on,
  under their real names (a model adapted to one class with `data.classes`
  writes that class, conditional or not); "synthetic" for an unconditional
  model of several classes."""
  drawn = generator.drawn_classes
  if generator.num_classes:
    return drawn
  return [drawn[0] if len(drawn) == 1 else "synthetic"]


def _to_image(array: np.ndarray) -> Image.Image:
  image = pixels.to_uint8(array)
  return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def write_dataset(generator: sampling.Generator, output: str,
                  counts: dict[str, int], seed: int, batch_size: int = 64,
                  overwrite: bool = False, workdir: str | None = None,
                  sample_kwargs: dict | None = None) -> dict:
  """Generates `counts[class]` images per class into `output`; returns the manifest."""
  output = os.path.abspath(output)
  if os.path.exists(output) and not overwrite:
    raise UserError(f"output folder {output} exists; pass another --output, "
                    f"or --overwrite to replace it")
  conditional = generator.num_classes > 0
  if conditional:
    unknown = set(counts) - set(generator.class_names)
    if unknown:
      raise UserError(f"unknown class(es) {sorted(unknown)}; the model's "
                      f"classes are {generator.class_names}")
  elif len(counts) > 1:
    raise UserError("this generator is not class-conditional, so it cannot "
                    "make per-class samples; pass --num=N for N images")
  parent = os.path.dirname(output)
  total = sum(counts.values())
  # Checked before the first image: an uncompressed PNG's bytes (an upper
  # bound) and a manifest entry per image.
  data = generator.config.data
  expected = total * (data.resolution ** 2 * data.channels + 300)
  storage.require_space(parent, expected, f"{total} synthetic images",
                        kept=f"nothing was written to {output}")
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".synthetic-", dir=parent)
  # mkdtemp's folder is private (0700) whatever the umask; the data set is
  # for colleagues too.
  os.chmod(staging, 0o777 & ~storage.current_umask())
  files, start = [], time.time()
  try:
    done = 0
    for class_offset, (name, count) in enumerate(sorted(counts.items())):
      if count <= 0:
        continue
      os.makedirs(os.path.join(staging, name), exist_ok=True)
      class_index = generator.class_names.index(name) if conditional else None
      labels = np.full(count, class_index) if conditional else None
      class_seed = sampling.class_seed(
          seed, class_index if conditional else class_offset)
      index = 0
      for batch in generator.sample(count, seed=class_seed, labels=labels,
                                    batch_size=batch_size,
                                    **(sample_kwargs or {})):
        for image in batch:
          rel = f"{name}/{name}_{index:06d}.png"
          _to_image(image).save(os.path.join(staging, rel))
          files.append({"file": rel, "class": name, "class_index": class_index,
                        "seed": class_seed, "index": index})
          index += 1
        done += len(batch)
        elapsed = time.time() - start
        logging.info("%d/%d images, %.1f img/s", done, total, done / elapsed)
    manifest = {
        "workdir": os.path.abspath(workdir) if workdir else None,
        "checkpoint_step": generator.step,
        "config": generator.config.to_dict(),
        "class_names": generator.class_names,
        "counts": counts,
        "seed": seed,
        "batch_size": batch_size,
        "sample_options": sample_kwargs or {},
        "software_version": gan.__version__,
        "files": files,
    }
    with open(os.path.join(staging, "manifest.json"), "w") as f:
      json.dump(manifest, f, indent=1)
    if os.path.exists(output):  # --overwrite: replace only once complete.
      shutil.rmtree(output)
    os.replace(staging, output)
  except BaseException as e:
    shutil.rmtree(staging, ignore_errors=True)
    if isinstance(e, OSError) and storage.is_disk_full(e):
      raise storage.disk_full_error(
          parent, expected, f"{total} synthetic images",
          kept=f"the partial set was removed, {output} is untouched") from None
    raise
  return manifest
