"""Fréchet distance at d = 2048: gan.metrics.fid vs pytorch-fid, same run.

Both get the same float64 statistics (mean and covariance of correlated
random features, N > d so the covariances are full rank, as for real
evaluations with N >= 2048) and run in alternating rounds. Prints seconds per
call for pytorch-fid's `calculate_frechet_distance` (scipy.linalg.sqrtm of
the non-symmetric product) and ours (pivoted Cholesky + symmetric
eigenvalues), the ratio and the relative difference of the values. With
--threads_one, also with every BLAS call on one thread (both sides).

  python benchmarks/frechet_distance.py --dims=2048 --num=4000 --rounds=2

Requires pytorch-fid (the [test] extra).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def statistics(num: int, dims: int, seed: int):
  rng = np.random.RandomState(seed)
  mixing = rng.randn(dims, dims) / np.sqrt(dims)
  x = np.abs(rng.randn(num, dims) @ mixing + rng.rand(dims))
  return x.mean(axis=0), np.cov(x, rowvar=False)


def run(sides, rounds, label):
  times = {name: [] for name in sides}
  values = {}
  for _ in range(rounds):
    for name, fn in sides.items():
      start = time.perf_counter()
      values[name] = fn()
      times[name].append(time.perf_counter() - start)
  best = {name: min(t) for name, t in times.items()}
  reference = values["pytorch-fid"]
  ours = values["gan.metrics.fid"]
  print(f"[{label}] pytorch-fid {best['pytorch-fid']:.2f} s, "
        f"gan.metrics.fid {best['gan.metrics.fid']:.3f} s (best of "
        f"{rounds}): {best['pytorch-fid'] / best['gan.metrics.fid']:.1f}x "
        f"faster; FID {ours:.6f} vs {reference:.6f}, relative difference "
        f"{abs(ours - reference) / abs(reference):.1e}", flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--dims", type=int, default=2048)
  parser.add_argument("--num", type=int, default=4000)
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--threads_one", action="store_true",
                      help="Also time both with one BLAS thread.")
  args = parser.parse_args()

  from pytorch_fid.fid_score import calculate_frechet_distance
  from gan.metrics import fid

  mu1, sigma1 = statistics(args.num, args.dims, 0)
  mu2, sigma2 = statistics(args.num, args.dims, 1)
  sides = {
      "pytorch-fid": lambda: calculate_frechet_distance(mu1, sigma1, mu2,
                                                        sigma2),
      "gan.metrics.fid": lambda: fid.frechet_distance(mu1, sigma1, mu2,
                                                      sigma2),
  }
  print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; "
        f"numpy {np.__version__}; d={args.dims}, N={args.num}; load average "
        f"{os.getloadavg()[0]:.1f}", flush=True)
  run(sides, args.rounds, "default BLAS threads")
  if args.threads_one:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
      run(sides, args.rounds, "one BLAS thread")
  print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
  main()
