"""Fréchet distance at d = 2048: gan.metrics.fid vs pytorch-fid, same run.

Both get the same float64 statistics (mean and covariance of correlated
random features, N > d so the covariances are full rank, as for real
evaluations with N >= 2048) and run in alternating rounds under the shared
protocol (benchmarks/protocol.py: machine, versions, threads, load before
and after, the order reversed every round). Prints seconds per call of
every round for pytorch-fid's `calculate_frechet_distance`
(scipy.linalg.sqrtm of the non-symmetric product) and ours (pivoted
Cholesky + symmetric eigenvalues), the medians, the spreads, the ratio of
the medians (the speed-up) and the relative difference of the values. With
--threads_one, also with every BLAS call on one thread (both sides).

  python benchmarks/frechet_distance.py --dims=2048 --num=4000 --rounds=3 \
      [--threads_one] [--json=frechet.json] [--allow_loaded]

Requires pytorch-fid (the [test] extra).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def statistics(num: int, dims: int, seed: int):
  rng = np.random.RandomState(seed)
  mixing = rng.randn(dims, dims) / np.sqrt(dims)
  x = np.abs(rng.randn(num, dims) @ mixing + rng.rand(dims))
  return x.mean(axis=0), np.cov(x, rowvar=False)


def run(session, sides, label):
  """Alternating rounds of `sides` (name -> fn returning the distance).

  Each round's value is the seconds of one call. Returns the relative
  difference of the last values, ours against pytorch-fid's, after printing
  both.
  """
  values = {}

  def timed(name, fn):
    def call():
      start = time.perf_counter()
      values[name] = fn()
      return time.perf_counter() - start
    return call

  session.rounds(f"Fréchet distance, {label}",
                 {name: timed(name, fn) for name, fn in sides.items()},
                 unit="s", higher_is_better=False,
                 ratios=[("pytorch-fid", "gan.metrics.fid")])
  reference = values["pytorch-fid"]
  ours = values["gan.metrics.fid"]
  difference = abs(ours - reference) / abs(reference)
  print(f"[{label}] FID {ours:.6f} (gan.metrics.fid) vs {reference:.6f} "
        f"(pytorch-fid), relative difference {difference:.1e}", flush=True)
  return {"fid_ours": ours, "fid_pytorch_fid": reference,
          "relative_difference": difference}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--dims", type=int, default=2048)
  parser.add_argument("--num", type=int, default=4000)
  parser.add_argument("--threads_one", action="store_true",
                      help="Also time both with one BLAS thread.")
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(
      args, libraries=("scipy", "pytorch-fid", "torch", "threadpoolctl"))

  from pytorch_fid.fid_score import calculate_frechet_distance
  from gan.metrics import fid

  mu1, sigma1 = statistics(args.num, args.dims, 0)
  mu2, sigma2 = statistics(args.num, args.dims, 1)
  sides = {
      "gan.metrics.fid": lambda: fid.frechet_distance(mu1, sigma1, mu2,
                                                      sigma2),
      "pytorch-fid": lambda: calculate_frechet_distance(mu1, sigma1, mu2,
                                                        sigma2),
  }
  print(f"d={args.dims}, N={args.num}", flush=True)
  details = {"dims": args.dims, "num": args.num}
  details["default BLAS threads"] = run(session, sides,
                                        "default BLAS threads")
  if args.threads_one:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
      details["one BLAS thread"] = run(session, sides, "one BLAS thread")
  session.finish(details=details)


if __name__ == "__main__":
  main()
