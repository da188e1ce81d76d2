"""The training binary end to end, as a user runs it."""
import os
import subprocess
import sys

from tests import conftest

ENV = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
           TF_CPP_MIN_LOG_LEVEL="2")


def _main(workdir, *overrides, timeout=600):
  return subprocess.run(
      [sys.executable, "-m", "gan.main", "--config=configs/test.py",
       f"--workdir={workdir}", *overrides],
      cwd=conftest.REPO_ROOT, env=ENV, capture_output=True, text=True,
      timeout=timeout)


def test_trains_on_embedded_data_then_resumes(tmp_path):
  workdir = tmp_path / "run"
  tfds_dir = f"--config.data.data_dir={tmp_path / 'tfds'}"
  first = _main(workdir, tfds_dir, "--config.train.num_steps=2")
  assert first.returncode == 0, first.stderr[-3000:]
  assert "step 2/2" in first.stderr
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2"]
  second = _main(workdir, tfds_dir, "--config.train.num_steps=4")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from step 2" in second.stderr
  assert "step 4/4" in second.stderr
  assert sorted(os.listdir(workdir / "samples")) == ["step_0000002.png",
                                                     "step_0000004.png"]


def test_user_error_is_one_line_without_traceback(tmp_path):
  result = _main(tmp_path / "run", "--config.train.loss=l2")
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: unknown loss 'l2'; set --config.train.loss")
