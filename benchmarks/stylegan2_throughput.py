"""Train-step throughput of a StyleGAN2-ADA config on synthetic data.

  python benchmarks/stylegan2_throughput.py \
    --config=configs/stylegan2_ada_alzheimers_128.py --steps=16 --batch_size=4

Prints images/s and s/kimg of the full train step with ADA at p = 0.5 on
random images (4 classes if conditional). Each step phase (plain, path
length every `pl_interval`, R1 + path length every `r1_interval`) is
compiled and run once before timing; then N steps are timed from step
`r1_interval` on, each with its own phase, and the mean time of each phase
is printed. Use N = r1_interval (16) for the true lazy-regularisation mix.

There is no peer in this program: under the shared protocol
(benchmarks/protocol.py: machine, versions, threads, load before and
after) the N timed steps are one round, repeated --rounds times (the same
step numbers, hence the same phases, every round; the state moves on), and
the table gives every round's img/s, the median and the spread; the
summary line uses the median. --rounds=1 times the N steps once, as this
program did before the protocol.

  python benchmarks/stylegan2_throughput.py \
    --config=configs/stylegan2_ada_alzheimers_64.py --steps=16 --rounds=3 \
    [--json=sg2.json] [--allow_loaded]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan, configs.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def load_config(path):
  spec = importlib.util.spec_from_file_location("cfg", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--config", default="configs/stylegan2_ada_alzheimers_128.py")
  parser.add_argument("--steps", type=int, default=16)
  parser.add_argument("--batch_size", type=int, default=None)
  parser.add_argument("--ada_p", type=float, default=0.5)
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "optax", "ml-collections"))

  import jax
  import numpy as np
  from gan import parallel
  from gan import steps
  from gan import train

  config = load_config(args.config)
  if args.batch_size:
    config.train.batch_size = args.batch_size
  config.augment.ada_initial_p = args.ada_p
  num_classes = 4 if config.data.conditional else 1
  res, ch, batch = (config.data.resolution, config.data.channels,
                    config.train.batch_size)
  state = train._replicate_on_local_devices(
      steps.create_train_state(config, num_classes))
  step = parallel.data_parallel_step(steps.make_train_step(config, num_classes),
                                     phased=True)
  rng = np.random.default_rng(0)
  data = {"image": rng.uniform(-1, 1, (batch, res, res, ch)).astype(np.float32),
          "label": (np.arange(batch) % num_classes).astype(np.int32)}
  data = parallel.shard(data)
  key = jax.random.key(0)
  cycle = max(config.train.r1_interval, config.train.pl_interval)
  compile_s = {}
  for i in range(cycle):  # Compile every phase once (state moves on: fine).
    phase = steps.step_phase(config, i)
    if phase in compile_s:
      continue
    t0 = time.time()
    state, metrics = step(state, data, jax.random.fold_in(key, i), phase)
    jax.block_until_ready(metrics)
    compile_s[phase] = time.time() - t0
    print(f"compile + first run of {phase}: {compile_s[phase]:.0f} s",
          flush=True)
  per_phase = {}

  def timed_round():
    """One round: steps cycle .. cycle + N - 1, each with its phase; img/s."""
    nonlocal state
    t_all = time.perf_counter()
    for i in range(cycle, cycle + args.steps):
      phase = steps.step_phase(config, i)
      t0 = time.perf_counter()
      state, metrics = step(state, data, jax.random.fold_in(key, i), phase)
      jax.block_until_ready(metrics)
      per_phase.setdefault(phase, []).append(time.perf_counter() - t0)
      print(f"step {i} {phase}: {per_phase[phase][-1]:.2f} s", flush=True)
    return args.steps * batch / (time.perf_counter() - t_all)

  rates = session.rounds(
      f"{args.config}: train step, {res}px batch {batch}, steps {cycle}.."
      f"{cycle + args.steps - 1} per round",
      {"gan (JAX)": timed_round}, unit="img/s", higher_is_better=True)
  ips = protocol.summarize(rates["gan (JAX)"])["median"]
  for phase, times in per_phase.items():
    print(f"  {phase}: {np.mean(times):.2f} s/step mean over {len(times)}")
  print(f"{args.config}: {res}px batch {batch} on {jax.devices()[0].platform} "
        f"x{jax.device_count()}: compile {sum(compile_s.values()):.0f} s "
        f"({len(compile_s)} phases), {ips:.2f} img/s, {1000 / ips:.0f} s/kimg "
        f"(median of {args.rounds} rounds) over steps {cycle}.."
        f"{cycle + args.steps - 1} (R1 every {config.train.r1_interval}, path "
        f"length every {config.train.pl_interval})")
  session.finish(details={
      "config": args.config, "resolution": res, "channels": ch,
      "batch_size": batch, "ada_p": args.ada_p, "steps": args.steps,
      "compile_seconds": {str(k): v for k, v in compile_s.items()},
      "seconds_per_step": {str(k): v for k, v in per_phase.items()},
      "median_s_per_kimg": 1000 / ips})


if __name__ == "__main__":
  main()
