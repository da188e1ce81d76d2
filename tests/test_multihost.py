"""Multi-host training on one machine: 2 processes x 2 CPU devices (gloo).

The same global batch over 2 processes x 2 devices must train what 1 process
x 4 devices trains. On the way, a preemption notice (SIGTERM) to one process
stops both at one step with a checkpoint, both resume from it, and
TensorBoard events and sample grids are written once.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from configs import test as test_config
from gan import checkpoint
from gan import steps as families
from gan import train
from tests import conftest
from tests import helpers


def _env(devices: int, **extra) -> dict:
  return dict(
      os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
      TF_CPP_MIN_LOG_LEVEL="2", JAX_DISABLE_MOST_OPTIMIZATIONS="1",
      JAX_COMPILATION_CACHE_DIR=helpers.jax_cache_dir(),
      JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5", **extra)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _run_together(commands, envs, timeout=120):
  """Runs processes side by side; returns [(returncode, stdout, stderr)]."""
  procs = [subprocess.Popen(c, cwd=conftest.REPO_ROOT, env=e, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
           for c, e in zip(commands, envs)]
  results = []
  try:
    for p in procs:
      out, err = p.communicate(timeout=timeout)
      results.append((p.returncode, out, err))
  finally:
    for p in procs:  # A crashed peer leaves the other waiting on collectives.
      if p.poll() is None:
        p.kill()
        p.wait()
  return results


STEPS = 8


def _train_command(workdir, tfds_dir, *flags):
  # A console line every step; checkpoints and grids only at the end (and
  # on preemption).
  return [sys.executable, "-m", "gan.main", "--config=configs/test.py",
          f"--workdir={workdir}", f"--config.data.data_dir={tfds_dir}",
          f"--config.train.num_steps={STEPS}", "--config.log.every_steps=1",
          "--config.log.checkpoint_every_steps=1000",
          "--config.log.image_every_steps=1000", *flags]


def _start_multihost(workdir, tfds_dir):
  """Starts 2 processes; their logs go to files (pipes could fill and block)."""
  port = _free_port()
  procs = []
  for i in range(2):
    log = open(f"{workdir}.{len(glob.glob(f'{workdir}.*.log'))}.log", "w+")
    procs.append(subprocess.Popen(
        _train_command(workdir, tfds_dir, "--multihost",
                       f"--coordinator_address=localhost:{port}",
                       "--num_processes=2", f"--process_id={i}"),
        cwd=conftest.REPO_ROOT, env=_env(2), stdout=subprocess.DEVNULL,
        stderr=log))
    procs[-1].log = log
  return procs


def _read(proc) -> str:
  with open(proc.log.name) as f:
    return f.read()


def _finish(procs, timeout=300):
  """Waits for all; returns their logs; fails naming a process that failed."""
  try:
    for i, p in enumerate(procs):
      p.wait(timeout=timeout)
      assert p.returncode == 0, f"process {i}:\n{_read(p)[-3000:]}"
  finally:
    for p in procs:  # A crashed peer leaves the other waiting on collectives.
      if p.poll() is None:
        p.kill()
        p.wait()
      p.log.close()
  return [_read(p) for p in procs]


def _interrupt(procs, target=1, at_line="JAX process 1/2", timeout=300):
  """SIGTERM to one process (as a preemption notice) once it logs `at_line`.

  Sent as soon as JAX's preemption service has started (right after
  jax.distributed.initialize): the notice then reaches every process within
  the first steps, while the runs are still short enough to compare
  closely (GAN training amplifies summation-order differences over
  hundreds of steps).
  """
  deadline = time.time() + timeout
  while at_line not in _read(procs[target]):
    assert procs[target].poll() is None, _read(procs[target])[-3000:]
    assert time.time() < deadline, "no progress"
    time.sleep(0.05)
  procs[target].send_signal(signal.SIGTERM)


def _final_state(workdir):
  config = test_config.get_config()
  template = families.create_train_state(config, 1)
  ckpt = checkpoint.Checkpointer(str(workdir), read_only=True)
  return ckpt.all_steps(), ckpt.restore(template, config)


def test_two_processes_match_one_process_with_four_devices(tmp_path):
  tfds_dir = tmp_path / "tfds"  # Built once by the first run, then shared.
  single = subprocess.run(_train_command(tmp_path / "one", tfds_dir),
                          cwd=conftest.REPO_ROOT, env=_env(4),
                          capture_output=True, text=True, timeout=300)
  assert single.returncode == 0, single.stderr[-3000:]
  assert "over 4 devices" in single.stderr

  # Two processes; a preemption notice to process 1 only stops both at the
  # same step (Orbax/JAX preemption sync point) with a checkpoint there.
  procs = _start_multihost(tmp_path / "two", tfds_dir)
  _interrupt(procs)
  logs = _finish(procs)
  assert "JAX process 1/2" in logs[1]
  assert "global batch 8 over 4 devices" in logs[0]
  (reached,) = checkpoint.Checkpointer(str(tmp_path / "two")).all_steps()
  assert 1 <= reached < STEPS
  for log in logs:
    assert f"checkpoint saved at step {reached};" in log

  # Both resume from the multi-host checkpoint and finish.
  logs = _finish(_start_multihost(tmp_path / "two", tfds_dir))
  assert all(f"Resumed from step {reached}" in log for log in logs)

  steps_one, one = _final_state(tmp_path / "one")
  steps_two, two = _final_state(tmp_path / "two")
  assert steps_one == [STEPS] and steps_two == [reached, STEPS]
  assert int(one.step) == int(two.step) == STEPS
  # Same math; only the order of the cross-device sums differs.
  for a, b in zip(helpers.tree_leaves_np(one), helpers.tree_leaves_np(two)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  # Written once, by process 0: one events file per run, the final grid.
  assert len(list((tmp_path / "two").glob("events.out.tfevents.*"))) == 2
  assert os.listdir(tmp_path / "two" / "samples") == [f"step_{STEPS:07d}.png"]


_GATHER = """
import jax, numpy as np
from gan import distributed
assert distributed.initialize()
rows = np.full((2, 3), jax.process_index(), np.float32)
print(distributed.gather(rows)[:, 0].tolist())
"""


def test_gather_concatenates_features_of_all_processes():
  port = _free_port()
  envs = [_env(1, GAN_MULTIHOST="1", GAN_COORDINATOR_ADDRESS=f"localhost:{port}",
               GAN_NUM_PROCESSES="2", GAN_PROCESS_ID=str(i)) for i in range(2)]
  results = _run_together([[sys.executable, "-c", _GATHER]] * 2, envs)
  for code, out, err in results:
    assert code == 0, err[-2000:]
    assert out.strip().splitlines()[-1] == "[0.0, 0.0, 1.0, 1.0]"


def test_partial_cluster_spec_is_a_one_line_error(tmp_path):
  result = subprocess.run(
      _train_command(tmp_path / "run", tmp_path / "tfds", "--multihost",
                     "--coordinator_address=localhost:1"),
      cwd=conftest.REPO_ROOT, env=_env(2), capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: multi-host run with a partial cluster spec")
