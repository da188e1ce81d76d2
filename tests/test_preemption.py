"""The training binary under faults.

SIGTERM (sent before preemption): save at the current step, exit cleanly,
and resume to exactly the parameters of an uninterrupted run. A non-finite
loss afterwards: stop with a one-line message, good checkpoints untouched.
SIGKILL in the middle of a save: the rerun removes the unfinished save,
resumes from the checkpoint before it and ends bit-identical too.
(Multi-host preemption: tests/test_multihost.py.)
"""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from configs import test as test_config
from gan import checkpoint
from gan import steps as families
from gan import train
from tests import conftest
from tests import helpers

STEPS = 30
ENV = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
           TF_CPP_MIN_LOG_LEVEL="2", JAX_DISABLE_MOST_OPTIMIZATIONS="1",
           JAX_COMPILATION_CACHE_DIR=helpers.jax_cache_dir(),
           JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5")


def _command(workdir, tfds_dir, *flags, module="gan.main"):
  # A console line every step (to know when to interrupt); no periodic
  # checkpoints or grids, so the only checkpoint before the end is the one
  # SIGTERM makes.
  return [sys.executable, "-m", module, "--config=configs/test.py",
          f"--workdir={workdir}", f"--config.data.data_dir={tfds_dir}",
          f"--config.train.num_steps={STEPS}", "--config.log.every_steps=1",
          "--config.log.checkpoint_every_steps=1000",
          "--config.log.image_every_steps=1000", *flags]


def _run(workdir, tfds_dir):
  result = subprocess.run(_command(workdir, tfds_dir), cwd=conftest.REPO_ROOT,
                          env=ENV, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stderr


def _run_and_interrupt(workdir, tfds_dir, at_line=f"step 3/{STEPS} "):
  """Sends SIGTERM as soon as `at_line` is logged; returns (code, stderr)."""
  proc = subprocess.Popen(_command(workdir, tfds_dir), cwd=conftest.REPO_ROOT,
                          env=ENV, text=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
  lines = []
  try:
    for line in proc.stderr:
      lines.append(line)
      if at_line in line:
        proc.send_signal(signal.SIGTERM)
        break
    lines.extend(proc.stderr)
    proc.wait(timeout=120)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  return proc.returncode, "".join(lines)


def _final_state(workdir):
  config = test_config.get_config()
  template = families.create_train_state(config, 1)
  return checkpoint.Checkpointer(str(workdir), read_only=True).restore(
      template, config)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """(final state of an uninterrupted run, its TFDS data dir)."""
  root = tmp_path_factory.mktemp("straight")
  tfds_dir = root / "tfds"
  log = _run(root / "run", tfds_dir)
  assert f"step {STEPS}/{STEPS}" in log
  return _final_state(root / "run"), tfds_dir


def test_sigterm_resume_equals_uninterrupted_run_then_nan_keeps_checkpoints(
    tmp_path, straight):
  straight, tfds_dir = straight

  code, log = _run_and_interrupt(tmp_path / "resumed", tfds_dir)
  assert code == 0, log[-3000:]
  assert "SIGTERM received" in log
  steps = checkpoint.Checkpointer(str(tmp_path / "resumed")).all_steps()
  assert len(steps) == 1 and 3 <= steps[0] < STEPS, (steps, log[-2000:])
  reached = steps[0]
  assert f"checkpoint saved at step {reached}" in log
  assert f"step {reached + 1}/{STEPS}" not in log  # Stopped where it saved.

  resumed_log = _run(tmp_path / "resumed", tfds_dir)
  assert f"Resumed from step {reached}" in resumed_log
  resumed = _final_state(tmp_path / "resumed")
  assert int(straight.step) == int(resumed.step) == STEPS
  for a, b in zip(helpers.tree_leaves_np(straight),
                  helpers.tree_leaves_np(resumed)):
    np.testing.assert_array_equal(a, b)

  # Resumed again for 4 more steps with a D learning rate that overflows:
  # the first step is non-finite, the run stops with a one-line message
  # naming it, and the checkpoints are exactly the good ones.
  fault = subprocess.run(
      _command(tmp_path / "resumed", tfds_dir,
               f"--config.train.num_steps={STEPS + 4}",
               "--config.train.d_learning_rate=1e37"),
      cwd=conftest.REPO_ROOT, env=ENV, capture_output=True, text=True,
      timeout=300)
  assert fault.returncode == 1, fault.stderr[-3000:]
  assert "Traceback" not in fault.stderr
  last = fault.stderr.strip().splitlines()[-1]
  assert last.startswith(
      f"error: non-finite loss or gradient at step {STEPS + 1} "), last
  assert f"the last good checkpoint (step {STEPS}) is intact" in last
  assert checkpoint.Checkpointer(str(tmp_path / "resumed")).all_steps() == [
      reached, STEPS]
  for a, b in zip(helpers.tree_leaves_np(straight),
                  helpers.tree_leaves_np(_final_state(tmp_path / "resumed"))):
    np.testing.assert_array_equal(a, b)


def test_sigkill_during_a_save_resumes_bit_identical(tmp_path, straight):
  straight, tfds_dir = straight
  workdir = tmp_path / "killed"
  every = ["--config.log.checkpoint_every_steps=10"]
  killed = subprocess.run(
      _command(workdir, tfds_dir, *every, module="tests.kill_during_save"),
      cwd=conftest.REPO_ROOT, env=dict(ENV, KILL_AT_STEP="20"),
      capture_output=True, text=True, timeout=300)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  checkpoints = workdir / "checkpoints"
  left = sorted(p.name for p in checkpoints.iterdir())
  assert left[0] == "10" and left[1].startswith("20.orbax-checkpoint-tmp"), left

  log = _run(workdir, tfds_dir)  # gan.main again, in the same workdir.
  assert f"Removed {checkpoints / left[1]}: a save that an interrupted run " \
         "left unfinished" in log, log[-3000:]
  assert "Resumed from step 10" in log
  assert "Traceback" not in log
  resumed = _final_state(workdir)
  assert int(resumed.step) == STEPS
  for a, b in zip(helpers.tree_leaves_np(straight),
                  helpers.tree_leaves_np(resumed)):
    np.testing.assert_array_equal(a, b)
