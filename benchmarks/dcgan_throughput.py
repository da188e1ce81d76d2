"""DCGAN training throughput: this codebase vs PyTorch, same network, same run.

The network is pytorch/examples' DCGAN (64x64, nz 100, ngf = ndf = 64, batch
64, Adam 2e-4 beta1 0.5, BCE; one D and one G update per step). Both sides
train on the same random images for the same number of steps after warm-up,
and the program prints img/s for each and the ratio (ours / PyTorch).

  python benchmarks/dcgan_throughput.py --steps=10 --rounds=3 --channels=3

Requires torch (`pip install torch==2.14.1`).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytorch_dcgan(nc: int, threads: int):
  import torch
  from torch import nn

  torch.set_num_threads(threads)
  nz, ngf, ndf = 100, 64, 64

  generator = nn.Sequential(
      nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
      nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
  discriminator = nn.Sequential(
      nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
      nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
      nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
      nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
      nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
  criterion = nn.BCELoss()
  opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))

  def step(real):
    # Exactly the pytorch/examples dcgan loop body.
    b = real.size(0)
    discriminator.zero_grad()
    label = torch.full((b,), 1.0)
    err_real = criterion(discriminator(real).view(-1), label)
    err_real.backward()
    noise = torch.randn(b, nz, 1, 1)
    fake = generator(noise)
    label.fill_(0.0)
    err_fake = criterion(discriminator(fake.detach()).view(-1), label)
    err_fake.backward()
    opt_d.step()
    generator.zero_grad()
    label.fill_(1.0)
    err_g = criterion(discriminator(fake).view(-1), label)
    err_g.backward()
    opt_g.step()
    return err_g.item()

  return step, lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def jax_dcgan(nc: int):
  import jax
  from gan import parallel
  from gan import steps
  from configs import default

  config = default.get_config()
  config.data.resolution = 64
  config.data.channels = nc
  config.train.batch_size = 64
  config.train.ema_decay = 0.999
  state = steps.create_train_state(config, num_classes=1)
  p_step = parallel.data_parallel_step(steps.make_train_step(config, 1))
  key = jax.random.key(0)
  counter = [0]

  def step(batch):
    nonlocal state
    counter[0] += 1
    state, metrics = p_step(state, batch, jax.random.fold_in(key, counter[0]))
    return metrics

  def to_batch(x):
    return parallel.shard({"image": x, "label": np.zeros(len(x), np.int32)})

  def sync(metrics):
    jax.block_until_ready(metrics)

  return step, to_batch, sync


def time_rounds(sides, warmup, steps, rounds):
  """Times each side in alternating rounds, so load changes hit both alike.

  sides: name -> (step_fn, batches, sync_fn). Returns name -> seconds for
  `steps * rounds` steps.
  """
  for step, batches, sync in sides.values():
    out = None
    for i in range(warmup):
      out = step(batches[i % len(batches)])
    sync(out)
  totals = {name: 0.0 for name in sides}
  for _ in range(rounds):
    for name, (step, batches, sync) in sides.items():
      start = time.perf_counter()
      out = None
      for i in range(steps):
        out = step(batches[i % len(batches)])
      sync(out)
      totals[name] += time.perf_counter() - start
  return totals


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=10, help="steps per round")
  parser.add_argument("--rounds", type=int, default=3,
                      help="alternating rounds of each side")
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--channels", type=int, default=3,
                      help="3 as in pytorch/examples; 1 for grayscale MRI")
  parser.add_argument("--torch_threads", type=int, default=os.cpu_count())
  args = parser.parse_args()

  rng = np.random.default_rng(0)
  images = [rng.uniform(-1, 1, (64, 64, 64, args.channels)).astype(np.float32)
            for _ in range(4)]

  torch_step, to_torch = pytorch_dcgan(args.channels, args.torch_threads)
  jax_step, to_jax, sync = jax_dcgan(args.channels)
  times = time_rounds({
      "pytorch": (torch_step, [to_torch(x) for x in images], lambda _: None),
      "jax": (jax_step, [to_jax(x) for x in images], sync),
  }, args.warmup, args.steps, args.rounds)
  torch_time, jax_time = times["pytorch"], times["jax"]

  import jax
  import torch
  torch_ips = args.steps * args.rounds * 64 / torch_time
  jax_ips = args.steps * args.rounds * 64 / jax_time
  print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; "
        f"jax {jax.__version__} on {jax.device_count()} {jax.default_backend()} "
        f"device(s); torch {torch.__version__} with {args.torch_threads} threads")
  print(f"DCGAN 64x64x{args.channels}, batch 64, {args.rounds} alternating "
        f"rounds of {args.steps} steps per side after {args.warmup} warm-up")
  print(f"pytorch: {torch_ips:8.1f} img/s")
  print(f"gan/jax: {jax_ips:8.1f} img/s")
  print(f"ratio (jax / pytorch): {jax_ips / torch_ips:.2f}x")


if __name__ == "__main__":
  main()
