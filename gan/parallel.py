"""Device parallelism: the only module that calls `jax.pmap`.

Everything data-parallel in the codebase goes through here: the GAN train step
(state broadcast, batch split over local devices, gradients averaged with
`lax.pmean` over `AXIS`) and batched inference such as feature extraction.

State is kept *unreplicated*: it enters the mapped function with
`in_axes=None` and leaves with `out_axes=None`, so the host never has to
replicate or gather parameters (no `x[0]` global gathers).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import UserError

# The one axis name collectives use (`lax.pmean(x, AXIS)`, BatchNorm axis_name).
AXIS = "batch"


class BatchNotDivisibleError(UserError):
  pass


def local_device_count() -> int:
  return jax.local_device_count()


def check_global_batch(global_batch_size: int) -> int:
  """Returns the per-device batch size, or raises a one-line error."""
  devices = jax.device_count()
  if global_batch_size % devices:
    raise BatchNotDivisibleError(
        f"global batch size {global_batch_size} is not divisible by the "
        f"{devices} devices; set --config.train.batch_size to a multiple of "
        f"{devices}")
  return global_batch_size // devices


def shard(tree: Any, num_devices: int | None = None) -> Any:
  """[local_batch, ...] arrays -> [devices, local_batch/devices, ...].

  num_devices: defaults to all local devices.
  """
  n = num_devices or jax.local_device_count()

  def split(x):
    x = np.asarray(x) if not isinstance(x, jax.Array) else x
    if x.shape[0] % n:
      raise BatchNotDivisibleError(
          f"batch of {x.shape[0]} cannot be split over {n} local devices")
    return x.reshape((n, x.shape[0] // n) + x.shape[1:])

  return jax.tree.map(split, tree)


def unshard(tree: Any) -> Any:
  """[devices, per_device, ...] -> [devices * per_device, ...]."""
  return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def data_parallel_step(step_fn: Callable, devices=None,
                       phased: bool = False) -> Callable:
  """Maps `step_fn(state, batch, rng) -> (state, metrics)` over local devices.

  `state` and `rng` are broadcast (unreplicated in and out); `batch` is a
  pytree of arrays with a leading device axis (see `shard`). Inside,
  `step_fn` sees the per-device batch and must average what it reduces with
  `lax.pmean(..., AXIS)`, so that its outputs are identical on all devices.
  devices: defaults to all local devices (tests pass a subset).
  phased: `step_fn` takes a fourth argument, a hashable phase known on the
  host (e.g. which lazy regularisers run this step); it is static, so each
  distinct phase is compiled once and no phase is a `lax.cond` on the device.
  """
  return jax.pmap(step_fn, axis_name=AXIS, in_axes=(None, 0, None),
                  out_axes=(None, None), devices=devices,
                  static_broadcasted_argnums=(3,) if phased else ())


def batched_inference(fn: Callable) -> Callable:
  """Runs `fn(params, inputs) -> outputs` data-parallel over local devices.

  The returned function takes unsharded `inputs` of any leading size N, pads
  N up to a multiple of the local device count, splits the batch over the
  devices, and returns unsharded outputs with the padding removed.
  """
  mapped = jax.pmap(fn, axis_name=AXIS, in_axes=(None, 0))

  @functools.wraps(fn)
  def run(params, inputs):
    n = jax.local_device_count()
    leaves = jax.tree.leaves(inputs)
    size = leaves[0].shape[0]
    pad = (-size) % n

    def pad_and_split(x):
      x = jnp.asarray(x)
      if pad:
        x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)], axis=0)
      return x.reshape((n, -1) + x.shape[1:])

    outputs = mapped(params, jax.tree.map(pad_and_split, inputs))
    return jax.tree.map(lambda y: unshard(y)[:size], outputs)

  return run


def global_slice(x: jax.Array, per_device: int) -> jax.Array:
  """Inside a mapped function: this device's rows of a global array.

  Lets every device draw the *global* random latents from one key and keep
  its own slice, so results do not depend on the number of devices.
  """
  index = jax.lax.axis_index(AXIS)
  return jax.lax.dynamic_slice_in_dim(x, index * per_device, per_device, axis=0)
