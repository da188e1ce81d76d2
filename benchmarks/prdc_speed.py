"""Precision/recall/density/coverage: `gan.metrics.prdc` vs the `prdc` package.

Both sides compute the four metrics (one k for all, as `prdc.compute_prdc`)
on the same float64 features, each in its own fresh subprocess so that the
peak resident memory (ru_maxrss) of each is its own. Rounds alternate under
the shared protocol (benchmarks/protocol.py: machine, versions, threads,
load before and after; ours, prdc, then prdc, ours, ...) so that changes in
machine load hit both sides alike. The program prints seconds per round,
the median and spread of each, the speed-ups (ratios of the medians), the
peak memory, and whether the values are identical.

  python benchmarks/prdc_speed.py --num=10000 --dim=2048 --k=5 --rounds=3 \
      [--json=prdc.json] [--allow_loaded]

Requires the `prdc` package (`pip install prdc`). "cold" times include our
JIT compilation (a fresh process each round); "warm" is a second call in the
same process.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCHMARKS)
sys.path.insert(0, REPO)  # gan.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def make_features(num: int, dim: int, seed: int):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((num, dim)), rng.standard_normal((num, dim))


def worker(side: str, num: int, dim: int, k: int, seed: int):
  real, fake = make_features(num, dim, seed)
  rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  if side == "ours":
    from gan.metrics import prdc as ours
    fn = lambda: ours.precision_recall_density_coverage(real, fake, k, k)
  else:
    import prdc
    fn = lambda: prdc.compute_prdc(real, fake, k)
  start = time.perf_counter()
  out = fn()
  cold = time.perf_counter() - start
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  warm = None
  if side == "ours":
    start = time.perf_counter()
    fn()
    warm = time.perf_counter() - start
  values = {key: float(out[key]) for key in
            ("precision", "recall", "density", "coverage")}
  print(json.dumps(dict(side=side, cold_s=cold, warm_s=warm, values=values,
                        peak_rss_mib=rss / 1024,
                        data_rss_mib=rss_data / 1024)))


def run_side(side, args):
  cmd = [sys.executable, os.path.abspath(__file__), "--worker", side,
         f"--num={args.num}", f"--dim={args.dim}", f"--k={args.k}",
         f"--seed={args.seed}"]
  out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num", type=int, default=10000)
  parser.add_argument("--dim", type=int, default=2048)
  parser.add_argument("--k", type=int, default=5)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--worker", choices=["ours", "prdc"])
  protocol.add_flags(parser)
  args = parser.parse_args()
  if args.worker:
    worker(args.worker, args.num, args.dim, args.k, args.seed)
    return
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "scikit-learn", "scipy", "prdc"))
  print(f"{args.num} real x {args.num} fake, {args.dim}-d float64 N(0, I), "
        f"k={args.k}", flush=True)
  results = {"ours": [], "prdc": []}

  def side(name):
    """A round of `name`: a fresh worker process; its cold seconds."""
    def run():
      res = run_side(name, args)
      results[name].append(res)
      warm = f", warm {res['warm_s']:.1f} s" if res["warm_s"] else ""
      print(f"round {len(results[name]) - 1}: {name:5s} cold "
            f"{res['cold_s']:.1f} s{warm}, peak RSS "
            f"{res['peak_rss_mib']:.0f} MiB (features alone "
            f"{res['data_rss_mib']:.0f} MiB), {res['values']}", flush=True)
      return res["cold_s"]
    return run

  protocol.run_rounds({"ours": side("ours"), "prdc": side("prdc")},
                      args.rounds, log=None)
  # One table: our cold and warm calls (the same processes) and prdc's.
  session.add(
      f"precision/recall/density/coverage, {args.num} x {args.num}, "
      f"{args.dim}-d, k={args.k}; cold: a fresh process, incl. JIT "
      f"compile; warm: a second call in the same process",
      {"ours, cold": [x["cold_s"] for x in results["ours"]],
       "ours, warm": [x["warm_s"] for x in results["ours"]],
       "prdc": [x["cold_s"] for x in results["prdc"]]},
      unit="s", higher_is_better=False,
      ratios=[("prdc", "ours, cold"), ("prdc", "ours, warm")])
  identical = all(x["values"] == results["prdc"][0]["values"]
                  for x in results["ours"] + results["prdc"])
  peak = {side: max(x["peak_rss_mib"] for x in results[side])
          for side in results}
  print(f"peak RSS: ours {peak['ours']:.0f} MiB, prdc {peak['prdc']:.0f} MiB")
  print(f"values identical: {identical}")
  session.finish(details={
      "num": args.num, "dim": args.dim, "k": args.k, "seed": args.seed,
      "peak_rss_mib": peak, "values_identical": identical,
      "rounds": results})


if __name__ == "__main__":
  main()
