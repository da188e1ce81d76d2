"""Multi-process (multi-host) start-up: the one place that calls
`jax.distributed.initialize`.

Off unless asked for (`--multihost` or `GAN_MULTIHOST=1`): a single-host run
never starts the coordination service. Once initialised, `jax.devices()`
lists the devices of every process, `jax.pmap` collectives span all of them,
and each process feeds its local devices with its own rows of every global
batch (see `gan.input_pipeline.train_batches`).

Where the processes find each other:
* TPU VM pods, SLURM, Open MPI, GKE: JAX detects the cluster; give nothing.
* elsewhere (several GPU nodes, or several processes on one machine in
  tests): coordinator address, process count and this process's id, from
  flags or from `GAN_COORDINATOR_ADDRESS`, `GAN_NUM_PROCESSES`,
  `GAN_PROCESS_ID`.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from absl import logging

from gan.errors import UserError

ENV_ENABLE = "GAN_MULTIHOST"
ENV_COORDINATOR = "GAN_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "GAN_NUM_PROCESSES"
ENV_PROCESS_ID = "GAN_PROCESS_ID"


def _env_int(name: str) -> int | None:
  value = os.environ.get(name)
  if value in (None, ""):
    return None
  try:
    return int(value)
  except ValueError:
    raise UserError(f"environment variable {name}={value!r} is not an "
                    f"integer; set it to a number or unset it") from None


def enabled_by_env() -> bool:
  return os.environ.get(ENV_ENABLE, "").lower() in ("1", "true", "yes")


def initialize(enabled: bool = False, coordinator_address: str | None = None,
               num_processes: int | None = None,
               process_id: int | None = None) -> bool:
  """Joins the processes of a multi-host run; a no-op unless enabled.

  Call before anything touches JAX devices. Arguments left as None fall back
  to the environment variables above; all three None lets JAX detect the
  cluster (TPU VM pod, SLURM, ...). Returns whether it initialised.
  """
  if not (enabled or enabled_by_env()):
    return False
  coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
  if num_processes is None:
    num_processes = _env_int(ENV_NUM_PROCESSES)
  if process_id is None:
    process_id = _env_int(ENV_PROCESS_ID)
  given = [coordinator_address, num_processes, process_id]
  if any(v is not None for v in given) and any(v is None for v in given):
    raise UserError(
        "multi-host run with a partial cluster spec (coordinator "
        f"{coordinator_address!r}, num_processes {num_processes}, process_id "
        f"{process_id}); pass all three of --coordinator_address, "
        "--num_processes, --process_id, or none to let JAX detect the cluster")
  if num_processes is not None and not 0 <= process_id < num_processes:
    raise UserError(f"process_id {process_id} is not in [0, {num_processes}); "
                    f"pass --process_id from 0 to {num_processes - 1}")
  try:
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
  except (ValueError, RuntimeError) as e:
    message = " ".join(str(e).split())[:300]
    raise UserError(
        f"could not start the multi-host run ({message}); on a TPU VM pod "
        "launch the same command on every worker (--worker=all), elsewhere "
        "pass --coordinator_address=HOST:PORT --num_processes=N "
        "--process_id=I") from e
  logging.info("Multi-host: process %d of %d", jax.process_index(),
               jax.process_count())
  return True


def gather(x: np.ndarray) -> np.ndarray:
  """Concatenates every process's rows along axis 0, in process order.

  x: [n, ...] this process's share (e.g. Inception features of its
  samples); every process must pass the same n. Returns [P * n, ...] on
  every process; `x` unchanged on a single process.
  """
  if jax.process_count() == 1:
    return np.asarray(x)
  from jax.experimental import multihost_utils  # Only needed multi-host.
  return np.asarray(multihost_utils.process_allgather(np.asarray(x), tiled=True))
