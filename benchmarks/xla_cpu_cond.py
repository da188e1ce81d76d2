"""Convolution gradients inside `lax.cond` vs outside, same program, same run.

  python benchmarks/xla_cpu_cond.py [--batch=2 --size=128 --channels=128] \
      [--rounds=3] [--json=cond.json] [--allow_loaded]

Why this exists: StyleGAN2's lazy regularisers (R1 every 16 steps, path
length every 4) were first written as `lax.cond(step % interval == 0, ...)`
inside the train step. On XLA:CPU a convolution's gradients run many times
slower inside a conditional than the same computation outside it (the
128 px path-length step took 190 s instead of ~12 s), so the train step now
takes its phase as a static argument chosen on the host
(`gan.steps.stylegan2.Phase`). This program prints the ratio per op so the
pitfall can be re-checked on a new jax/XLA release or another backend.
Related upstream: jax-ml/jax#12868 (a convolution inside a loop body is far
slower on CPU; open).

Each op is compiled both ways and run once untimed, then the two run in
alternating rounds under the shared protocol (benchmarks/protocol.py:
machine, versions, threads, load before and after, the order reversed every
round); each round's value is the milliseconds of one call, and the ratio of
the medians (inside / outside) is the slowdown.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARKS)  # protocol, whatever the working directory.
import protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def timed_ms(fn, *args):
  """A round: one call of the compiled `fn`, in milliseconds."""
  import jax
  def run():
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return 1000 * (time.perf_counter() - t0)
  return run


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=2)
  parser.add_argument("--size", type=int, default=128)
  parser.add_argument("--channels", type=int, default=128)
  protocol.add_flags(parser)
  args = parser.parse_args()
  session = protocol.Session(args, libraries=("jax", "jaxlib"))

  import jax
  import jax.numpy as jnp

  key = jax.random.key(0)
  x = jax.random.normal(key, (args.batch, args.size, args.size, args.channels))
  w = jax.random.normal(key, (3, 3, args.channels, args.channels))
  conv = lambda x, w: jax.lax.conv_general_dilated(
      x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  loss = lambda x, w: jnp.sum(jnp.square(conv(x, w)))
  ops = {
      "conv forward": lambda x, w: conv(x, w),
      "conv gradient w.r.t. kernel": jax.grad(loss, argnums=1),
      "conv gradient w.r.t. input": jax.grad(loss, argnums=0),
      "matmul (control)": lambda x, w: x.reshape(-1, x.shape[-1]) @ w[1, 1],
  }
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, "
        f"x [{args.batch},{args.size},{args.size},{args.channels}], 3x3 kernel")
  for name, op in ops.items():
    plain = jax.jit(op)
    # The untaken branch returns zeros of the same shape; flag is traced, so
    # XLA cannot fold the conditional away.
    in_cond = jax.jit(lambda x, w, flag, op=op: jax.lax.cond(
        flag, op, lambda x, w, op=op: jax.tree.map(
            lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(op, x, w)),
        x, w))
    jax.block_until_ready(plain(x, w))  # Compile.
    jax.block_until_ready(in_cond(x, w, jnp.array(True)))
    times = session.rounds(
        f"{name}, x [{args.batch},{args.size},{args.size},{args.channels}], "
        f"3x3 kernel",
        {"outside": timed_ms(plain, x, w),
         "inside lax.cond": timed_ms(in_cond, x, w, jnp.array(True))},
        unit="ms", higher_is_better=False,
        ratios=[("inside lax.cond", "outside")])
    t_plain, t_cond = (protocol.summarize(times[side])["median"]
                       for side in ("outside", "inside lax.cond"))
    print(f"{name:30s} outside {t_plain:9.1f} ms   inside lax.cond "
          f"{t_cond:9.1f} ms   ratio {t_cond / t_plain:6.1f}x (medians)",
          flush=True)
  session.finish(details={"batch": args.batch, "size": args.size,
                          "channels": args.channels})


if __name__ == "__main__":
  main()
