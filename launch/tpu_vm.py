#!/usr/bin/env python3
"""Trains on a Cloud TPU VM (a single host or a pod slice) with gcloud.

Steps, run in the order given:
  create   gcloud compute tpus tpu-vm create (optionally a spot VM)
  setup    on every worker: clone the repository, Python 3.11 venv, install
           the package and jax[tpu]
  prepare  on worker 0 only, on CPU: build the data set once into
           BUCKET/tensorflow_datasets
  run      on every worker: python -m gan.main --multihost, data from
           TFDS_DATA_DIR=BUCKET/tensorflow_datasets, workdir in the bucket
  delete   gcloud compute tpus tpu-vm delete

Example (prints the commands; drop --dry-run to run them):
  python launch/tpu_vm.py create setup prepare run delete --dry-run \\
      --name=gan-v4 --zone=us-central2-b --accelerator-type=v4-32 \\
      --repo=https://github.com/OWNER/gan-mri.git --bucket=gs://my-bucket \\
      --config=configs/mri_demo.py -- --config.train.batch_size=128

Arguments after `--` go to gan.main. Running `run` again resumes from the
latest checkpoint in the workdir, e.g. after a spot VM was preempted
(SIGTERM saves a checkpoint first) and re-created.
"""
from __future__ import annotations

import argparse
import shlex
import sys

import _commands

STEPS = ("create", "setup", "prepare", "run", "delete")
REPO_DIR = "~/gan-mri"
VENV = "~/venv"


def parse(argv):
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("steps", nargs="+", choices=STEPS, metavar="STEP",
                      help=f"one or more of {', '.join(STEPS)}")
  parser.add_argument("--name", required=True, help="TPU VM name")
  parser.add_argument("--zone", required=True)
  parser.add_argument("--project", default=None,
                      help="GCP project (default: gcloud's configured one)")
  parser.add_argument("--accelerator-type", default="v4-32",
                      help="v4-8 is one host; v4-32 and larger are pods")
  parser.add_argument("--version", default="tpu-ubuntu2204-base",
                      help="TPU VM software version")
  parser.add_argument("--spot", action="store_true",
                      help="a spot (preemptible) VM: cheaper, may be "
                      "preempted; rerun create, setup, run to resume")
  parser.add_argument("--repo", default=None,
                      help="git URL of this repository (for setup)")
  parser.add_argument("--branch", default="main")
  _commands.add_common_arguments(parser)
  own, extra = _commands.split_extra(argv)
  args = parser.parse_args(own)
  args.extra = extra
  if "setup" in args.steps and not args.repo:
    parser.error("setup needs --repo=GIT_URL (the VMs clone it)")
  if {"prepare", "run"} & set(args.steps) and not args.bucket:
    parser.error("prepare and run need --bucket=gs://BUCKET: every worker "
                 "reads the data from, and writes the workdir to, the bucket")
  return args


def _gcloud(args, verb: str, *rest: str) -> list[str]:
  command = ["gcloud", "compute", "tpus", "tpu-vm", verb, args.name,
             f"--zone={args.zone}"]
  if args.project:
    command.append(f"--project={args.project}")
  return command + list(rest)


def _ssh(args, worker: str, script: list[str]) -> str:
  return shlex.join(_gcloud(args, "ssh", f"--worker={worker}",
                            f"--command={' && '.join(script)}"))


def _in_repo() -> list[str]:
  return [f"cd {REPO_DIR}", f". {VENV}/bin/activate"]


def commands(args) -> list[tuple[str, str]]:
  tfds_dir = _commands.data_dir(args.bucket)
  steps = []
  for step in args.steps:
    if step == "create":
      create = _gcloud(args, "create",
                       f"--accelerator-type={args.accelerator_type}",
                       f"--version={args.version}")
      steps.append((step, shlex.join(create + (["--spot"] if args.spot else []))))
    elif step == "setup":
      steps.append((step, _ssh(args, "all", [
          "sudo apt-get update -q",
          "sudo apt-get install -y -q python3.11 python3.11-venv git",
          f"(test -d {REPO_DIR} || git clone {shlex.quote(args.repo)} {REPO_DIR})",
          f"cd {REPO_DIR}",
          f"git fetch -q origin {shlex.quote(args.branch)}",
          "git checkout -q FETCH_HEAD",
          f"python3.11 -m venv {VENV}",
          f". {VENV}/bin/activate",
          "pip install -q -U pip",
          'pip install -q -e . "jax[tpu]>=0.10.2,<0.11"',
      ])))
    elif step == "prepare":
      # CPU only: worker 0 alone must not claim a pod slice's TPUs.
      steps.append((step, _ssh(args, "0", _in_repo() + [
          _commands.env_prefix(TFDS_DATA_DIR=tfds_dir, JAX_PLATFORMS="cpu")
          + _commands.gan_main("python", args.config, _commands.PREPARE_WORKDIR,
                               "--config.train.num_steps=0", *args.extra)])))
    elif step == "run":
      steps.append((step, _ssh(args, "all", _in_repo() + [
          _commands.env_prefix(TFDS_DATA_DIR=tfds_dir)
          + _commands.gan_main("python", args.config,
                               _commands.workdir(args, args.name),
                               "--multihost", *args.extra)])))
    elif step == "delete":
      steps.append((step, shlex.join(_gcloud(args, "delete", "--quiet"))))
  return steps


def main(argv=None):
  args = parse(sys.argv[1:] if argv is None else argv)
  _commands.execute(commands(args), args.dry_run)


if __name__ == "__main__":
  main()
