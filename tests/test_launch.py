"""Launch scripts: their --dry-run prints the complete command sequence."""
import os
import shlex
import subprocess
import sys

import pytest

from tests import conftest

LAUNCH = os.path.join(conftest.REPO_ROOT, "launch")


def _dry_run(script, *args):
  result = subprocess.run(
      # Before any `--`: what follows it is passed on to gan.main.
      [sys.executable, os.path.join(LAUNCH, script), "--dry-run", *args],
      capture_output=True, text=True, timeout=60, cwd=conftest.REPO_ROOT)
  return result


def _steps(output):
  """'# name' / command pairs -> [(name, argv)]."""
  lines = output.strip().splitlines()
  assert len(lines) % 2 == 0, output
  pairs = list(zip(lines[::2], lines[1::2]))
  assert all(name.startswith("# ") for name, _ in pairs), output
  return [(name[2:], shlex.split(command)) for name, command in pairs]


def _remote(argv):
  """The --command=... script of a gcloud ssh, split at '&&'."""
  (command,) = [a for a in argv if a.startswith("--command=")]
  return [part.strip() for part in command[len("--command="):].split("&&")]


TPU = ["--name=gan-pod", "--zone=us-central2-b", "--project=my-proj",
       "--accelerator-type=v4-32", "--repo=https://github.com/o/gan-mri.git",
       "--branch=dev", "--bucket=gs://bkt/gan", "--config=configs/mri_demo.py"]


def test_tpu_vm_full_sequence():
  result = _dry_run("tpu_vm.py", "create", "setup", "prepare", "run", "delete",
                    *TPU, "--spot", "--", "--config.train.batch_size=128")
  assert result.returncode == 0, result.stderr
  steps = _steps(result.stdout)
  assert [name for name, _ in steps] == ["create", "setup", "prepare", "run",
                                         "delete"]
  vm = ["gcloud", "compute", "tpus", "tpu-vm"]
  where = ["gan-pod", "--zone=us-central2-b", "--project=my-proj"]
  create, setup, prepare, run, delete = [argv for _, argv in steps]
  assert create == vm + ["create", *where, "--accelerator-type=v4-32",
                         "--version=tpu-ubuntu2204-base", "--spot"]
  assert delete == vm + ["delete", *where, "--quiet"]

  assert setup[:9] == vm + ["ssh", *where, "--worker=all"]
  script = _remote(setup)
  assert "git clone https://github.com/o/gan-mri.git ~/gan-mri)" in script[2]
  assert "git fetch -q origin dev" in script
  assert script[-1] == 'pip install -q -e . "jax[tpu]>=0.10.2,<0.11"'

  # Data once, from worker 0, on CPU, into the bucket.
  assert prepare[:9] == vm + ["ssh", *where, "--worker=0"]
  assert _remote(prepare)[-1] == (
      "TFDS_DATA_DIR=gs://bkt/gan/tensorflow_datasets JAX_PLATFORMS=cpu "
      "python -m gan.main --config=configs/mri_demo.py "
      "--workdir=/tmp/gan_prepare --config.train.num_steps=0 "
      "--config.train.batch_size=128")

  # Training on every worker, multi-host, data and workdir in the bucket.
  assert run[:9] == vm + ["ssh", *where, "--worker=all"]
  assert _remote(run) == [
      "cd ~/gan-mri", ". ~/venv/bin/activate",
      "TFDS_DATA_DIR=gs://bkt/gan/tensorflow_datasets python -m gan.main "
      "--config=configs/mri_demo.py --workdir=gs://bkt/gan/workdirs/gan-pod "
      "--multihost --config.train.batch_size=128"]


def test_tpu_vm_single_step_and_defaults():
  result = _dry_run("tpu_vm.py", "delete", "--name=t", "--zone=z")
  assert result.returncode == 0, result.stderr
  assert _steps(result.stdout) == [
      ("delete", ["gcloud", "compute", "tpus", "tpu-vm", "delete", "t",
                  "--zone=z", "--quiet"])]


@pytest.mark.parametrize("args,message", [
    (["run", "--name=t", "--zone=z"], "--bucket=gs://BUCKET"),
    (["setup", "--name=t", "--zone=z"], "--repo=GIT_URL"),
    (["resize", "--name=t", "--zone=z"], "invalid choice"),
])
def test_tpu_vm_missing_arguments(args, message):
  result = _dry_run("tpu_vm.py", *args)
  assert result.returncode == 2
  assert message in result.stderr


def test_gpu_single_node_sequence():
  result = _dry_run("gpu.py", "setup", "prepare", "run", "--gpus=0,1,2,3",
                    "--bucket=gs://bkt", "--name=dcgan4",
                    "--config=configs/dcgan_alzheimers.py", "--",
                    "--config.train.batch_size=256")
  assert result.returncode == 0, result.stderr
  assert _steps(result.stdout) == [
      ("setup", shlex.split(
          "python3.11 -m venv .venv && .venv/bin/python -m pip install -q -U "
          "pip && .venv/bin/python -m pip install -q -e . "
          "'jax[cuda12]>=0.10.2,<0.11'")),
      ("prepare", [
          "TFDS_DATA_DIR=gs://bkt/tensorflow_datasets", "JAX_PLATFORMS=cpu",
          ".venv/bin/python", "-m", "gan.main",
          "--config=configs/dcgan_alzheimers.py", "--workdir=/tmp/gan_prepare",
          "--config.train.num_steps=0", "--config.train.batch_size=256"]),
      ("run", [
          "TFDS_DATA_DIR=gs://bkt/tensorflow_datasets",
          "CUDA_VISIBLE_DEVICES=0,1,2,3", ".venv/bin/python", "-m", "gan.main",
          "--config=configs/dcgan_alzheimers.py",
          "--workdir=gs://bkt/workdirs/dcgan4",
          "--config.train.batch_size=256"]),
  ]


def test_gpu_several_machines():
  result = _dry_run("gpu.py", "run", "--workdir=/data/run", "--num-processes=2",
                    "--process-id=1", "--coordinator=gpu0:1234")
  assert result.returncode == 0, result.stderr
  assert _steps(result.stdout) == [("run", [
      ".venv/bin/python", "-m", "gan.main", "--config=configs/mri_demo.py",
      "--workdir=/data/run", "--multihost", "--coordinator_address=gpu0:1234",
      "--num_processes=2", "--process_id=1"])]
  result = _dry_run("gpu.py", "run", "--workdir=/w", "--num-processes=2")
  assert result.returncode == 2 and "--process-id" in result.stderr


def test_run_without_dry_run_executes_and_stops_at_first_failure(tmp_path):
  # `prepare` then `run` on a config file that does not exist: the first
  # step fails with gan.main's one-line error, the second never starts.
  result = subprocess.run(
      [sys.executable, os.path.join(LAUNCH, "gpu.py"), "prepare", "run",
       f"--workdir={tmp_path}", "--config=configs/missing.py"],
      capture_output=True, text=True, timeout=120, cwd=conftest.REPO_ROOT)
  assert result.returncode == 1
  assert "error: step 'prepare' failed" in result.stderr
  assert "+ JAX_PLATFORMS=cpu .venv/bin/python -m gan.main" in result.stderr
  assert f"--workdir={tmp_path}" not in result.stderr
