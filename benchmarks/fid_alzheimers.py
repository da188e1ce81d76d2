"""End-to-end FID, KID and IS of the Alzheimer MRI test split against train.

Reads the 6400 JPEGs straight from Kaggle's archive.zip into a temporary
folder per split (deleted afterwards; nothing derived from the data is
kept), then runs `gan.evaluation.evaluate` on the two folders exactly as
`python -m gan.evaluate --source_a=TEST --source_b=TRAIN` does, and prints
the numbers with their N, the extraction speed and the total time.

  python benchmarks/fid_alzheimers.py \
      --archive=../shared/data/alzheimers_mri/archive.zip \
      [--inception_weights=fid_inception_v3.msgpack]

Without --inception_weights (or $GAN_INCEPTION_WEIGHTS) the FID Inception has
RANDOM weights (pytorch-fid's architecture): the run then measures speed and
the pipeline, and its FID is not the real test-vs-train FID. Random weights
need torch and pytorch-fid (the [test] extra) to be made.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_ARCHIVE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "shared", "data", "alzheimers_mri", "archive.zip")


def extract_split(archive: zipfile.ZipFile, split: str, folder: str,
                  limit: int | None) -> int:
  """Writes `<folder>/<class>__<name>.jpg` (flat, as pytorch-fid lists)."""
  os.makedirs(folder)
  names = sorted(n for n in archive.namelist()
                 if f"/{split}/" in n and n.lower().endswith(".jpg"))
  if limit:
    names = names[::max(1, len(names) // limit)][:limit]
  for name in names:
    class_name, file_name = name.split("/")[-2:]
    with open(os.path.join(folder, f"{class_name}__{file_name}"), "wb") as f:
      f.write(archive.read(name))
  return len(names)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--archive", default=DEFAULT_ARCHIVE)
  parser.add_argument("--inception_weights", default=None)
  parser.add_argument("--batch_size", type=int, default=50)
  parser.add_argument("--limit", type=int, default=None,
                      help="Use only this many images per split (quick run).")
  args = parser.parse_args()

  import jax
  from gan import evaluation
  from gan import inception

  weights = args.inception_weights or os.environ.get(inception.WEIGHTS_ENV)
  if not weights:
    from gan import convert_inception
    home = os.path.join(tempfile.gettempdir(), "gan_benchmark_fid_inception")
    _, weights = convert_inception.write_random_weights(home, seed=0)
    print("NOTE: RANDOM FID Inception weights (none given): the numbers "
          "below measure the pipeline and its speed, not the real FID.")

  work = tempfile.mkdtemp(prefix="gan_alzheimers_fid_")
  try:
    start = time.perf_counter()
    with zipfile.ZipFile(args.archive) as archive:
      counts = {split: extract_split(archive, split,
                                     os.path.join(work, split), args.limit)
                for split in ("test", "train")}
    print(f"extracted {counts} images in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    results = evaluation.evaluate(
        os.path.join(work, "test"), os.path.join(work, "train"),
        inception_weights=weights, batch_size=args.batch_size,
        output=os.path.join(work, "results.json"), tensorboard=False)
    seconds = time.perf_counter() - start
  finally:
    shutil.rmtree(work, ignore_errors=True)

  print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores; jax "
        f"{jax.__version__} on {jax.devices()[0].platform}; load average "
        f"{os.getloadavg()[0]:.1f}")
  print(evaluation.summary({k: v for k, v in results.items()
                            if k != "output"}))
  for label, source in results["sources"].items():
    print(f"source {label}: {source['num_images']} images at "
          f"{source.get('images_per_second', 0):.2f} img/s")
  print(f"convention: {results['conventions']['fid_inception_v3']}")
  print(f"total (features, metrics) {seconds:.0f} s")


if __name__ == "__main__":
  main()
