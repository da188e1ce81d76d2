"""DCGAN training throughput: this codebase vs PyTorch, same network, same run.

The network is pytorch/examples' DCGAN (64x64, nz 100, ngf = ndf = 64, batch
64, Adam 2e-4 beta1 0.5, BCE; one D and one G update per step). Both sides
train on the same random images for the same number of steps after warm-up,
under the shared protocol (benchmarks/protocol.py: machine, versions,
threads, load before and after, rounds alternating with the order reversed
every round); the program prints img/s of every round for each side, the
medians, the spreads and the ratio of the medians (ours / PyTorch).

  python benchmarks/dcgan_throughput.py --steps=10 --rounds=3 --channels=3 \
      [--json=dcgan.json] [--allow_loaded]

Requires torch (`pip install torch==2.14.1`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))  # gan, configs.
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position

BATCH = 64


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


def warm_up(step, batches, sync, steps: int) -> None:
  """Runs `steps` untimed steps (compilation, allocator, caches)."""
  out = None
  for i in range(steps):
    out = step(batches[i % len(batches)])
  sync(out)


def timed_round(step, batches, sync, steps: int):
  """A round of one side: `steps` steps and a sync, returning img/s."""
  def run():
    start = time.perf_counter()
    out = None
    for i in range(steps):
      out = step(batches[i % len(batches)])
    sync(out)
    return steps * BATCH / (time.perf_counter() - start)
  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=10, help="steps per round")
  parser.add_argument("--warmup", type=int, default=3,
                      help="untimed steps of each side before the rounds")
  parser.add_argument("--channels", type=int, default=3,
                      help="3 as in pytorch/examples; 1 for grayscale MRI")
  parser.add_argument("--torch_threads", type=int, default=os.cpu_count())
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(
      args, libraries=("jax", "jaxlib", "flax", "optax", "torch"),
      busy_threads=max(protocol.usable_cores(), args.torch_threads))

  rng = np.random.default_rng(0)
  images = [rng.uniform(-1, 1, (BATCH, 64, 64, args.channels)).astype(
      np.float32) for _ in range(4)]

  torch_step, to_torch = pytorch_dcgan(args.channels, args.torch_threads)
  jax_step, to_jax, sync = jax_dcgan(args.channels)
  sides = {
      "gan/jax": (jax_step, [to_jax(x) for x in images], sync),
      "pytorch": (torch_step, [to_torch(x) for x in images], lambda _: None),
  }
  for step, batches, sync_fn in sides.values():
    warm_up(step, batches, sync_fn, args.warmup)
  session.rounds(
      f"DCGAN 64x64x{args.channels} training, batch {BATCH}, {args.steps} "
      f"steps per round after {args.warmup} warm-up, torch "
      f"{args.torch_threads} threads",
      {name: timed_round(*side, args.steps) for name, side in sides.items()},
      unit="img/s", higher_is_better=True, ratios=[("gan/jax", "pytorch")])
  session.finish(details={"steps": args.steps, "warmup": args.warmup,
                          "channels": args.channels, "batch": BATCH,
                          "torch_threads": args.torch_threads})


if __name__ == "__main__":
  main()
