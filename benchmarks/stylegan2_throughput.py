"""Train-step throughput of a StyleGAN2-ADA config on synthetic data.

  python benchmarks/stylegan2_throughput.py \
    --config=configs/stylegan2_ada_alzheimers_128.py --steps=5

Prints images/s and s/kimg of the full train step with ADA at p = 0.5 on
random images (4 classes if conditional). The timed steps are 1..N: the
path-length phase (every 4 steps) is included for N >= 4, lazy R1 (steps 0,
16, ...) only for N >= 16, so small N slightly flatters the number.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_config(path):
  spec = importlib.util.spec_from_file_location("cfg", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--config", default="configs/stylegan2_ada_alzheimers_128.py")
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--batch_size", type=int, default=None)
  parser.add_argument("--ada_p", type=float, default=0.5)
  args = parser.parse_args()

  import jax
  import numpy as np
  from gan import parallel
  from gan import train

  config = load_config(args.config)
  if args.batch_size:
    config.train.batch_size = args.batch_size
  config.augment.ada_initial_p = args.ada_p
  num_classes = 4 if config.data.conditional else 1
  res, ch, batch = (config.data.resolution, config.data.channels,
                    config.train.batch_size)
  state = train._replicate_on_local_devices(
      train.create_train_state(config, num_classes))
  step = parallel.data_parallel_step(train.make_train_step(config, num_classes))
  rng = np.random.default_rng(0)
  data = {"image": rng.uniform(-1, 1, (batch, res, res, ch)).astype(np.float32),
          "label": (np.arange(batch) % num_classes).astype(np.int32)}
  data = parallel.shard(data)
  key = jax.random.key(0)
  t0 = time.time()
  state, metrics = step(state, data, key)
  jax.block_until_ready(metrics)
  compile_s = time.time() - t0
  t0 = time.time()
  for i in range(args.steps):
    state, metrics = step(state, data, jax.random.fold_in(key, i + 1))
    jax.block_until_ready(metrics)
    print(f"step {i + 1}: {time.time() - t0:.1f} s", flush=True)
  elapsed = time.time() - t0
  ips = args.steps * batch / elapsed
  print(f"{args.config}: {res}px batch {batch} on {jax.devices()[0].platform} "
        f"x{jax.device_count()}: compile+first step {compile_s:.0f} s, "
        f"{ips:.2f} img/s, {1000 / ips:.0f} s/kimg over {args.steps} steps "
        f"(steps 1..{args.steps}: R1 every {config.train.r1_interval}, path "
        f"length every {config.train.pl_interval})")


if __name__ == "__main__":
  main()
