#!/usr/bin/env python3
"""Trains on one machine with one or more NVIDIA GPUs (run it on that machine,
from the repository root).

Steps, run in the order given:
  setup    Python 3.11 venv in .venv, the package and jax[cuda12]
  prepare  build the data set once, on CPU, into TFDS_DATA_DIR
           (BUCKET/tensorflow_datasets with --bucket, else the TFDS default)
  run      python -m gan.main on all visible GPUs (data-parallel; the global
           batch is split over them and must be divisible by their count)

Example (prints the commands; drop --dry-run to run them):
  python launch/gpu.py setup prepare run --dry-run --gpus=0,1,2,3 \\
      --bucket=gs://my-bucket --name=dcgan_4gpu -- --config.train.batch_size=256

Several GPU machines: run `run` on each with --num-processes=N,
--process-id=I (0 on the machine given in --coordinator) and
--coordinator=HOST:PORT. Arguments after `--` go to gan.main. Running `run`
again resumes from the latest checkpoint in the workdir.
"""
from __future__ import annotations

import argparse
import sys

import _commands

STEPS = ("setup", "prepare", "run")
PYTHON = ".venv/bin/python"


def parse(argv):
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("steps", nargs="+", choices=STEPS, metavar="STEP",
                      help=f"one or more of {', '.join(STEPS)}")
  parser.add_argument("--name", default="gpu_run",
                      help="run name: the workdir is BUCKET/workdirs/NAME")
  parser.add_argument("--gpus", default=None,
                      help="comma-separated GPU ids (CUDA_VISIBLE_DEVICES); "
                      "default all")
  parser.add_argument("--num-processes", type=int, default=1,
                      help="machines in a multi-machine run")
  parser.add_argument("--process-id", type=int, default=None)
  parser.add_argument("--coordinator", default=None,
                      help="HOST:PORT of process 0 (multi-machine)")
  _commands.add_common_arguments(parser)
  own, extra = _commands.split_extra(argv)
  args = parser.parse_args(own)
  args.extra = extra
  if args.num_processes > 1 and (args.process_id is None or not args.coordinator):
    parser.error("--num-processes > 1 needs --process-id and "
                 "--coordinator=HOST:PORT")
  return args


def commands(args) -> list[tuple[str, str]]:
  tfds_dir = _commands.data_dir(args.bucket)
  steps = []
  for step in args.steps:
    if step == "setup":
      steps.append((step, " && ".join([
          "python3.11 -m venv .venv",
          f"{PYTHON} -m pip install -q -U pip",
          f'{PYTHON} -m pip install -q -e . "jax[cuda12]>=0.10.2,<0.11"'])))
    elif step == "prepare":
      steps.append((step, _commands.env_prefix(
          TFDS_DATA_DIR=tfds_dir, JAX_PLATFORMS="cpu") + _commands.gan_main(
              PYTHON, args.config, _commands.PREPARE_WORKDIR,
              "--config.train.num_steps=0", *args.extra)))
    elif step == "run":
      flags = []
      if args.num_processes > 1:
        flags = ["--multihost", f"--coordinator_address={args.coordinator}",
                 f"--num_processes={args.num_processes}",
                 f"--process_id={args.process_id}"]
      steps.append((step, _commands.env_prefix(
          TFDS_DATA_DIR=tfds_dir, CUDA_VISIBLE_DEVICES=args.gpus)
                    + _commands.gan_main(PYTHON, args.config,
                                         _commands.workdir(args, args.name),
                                         *flags, *args.extra)))
  return steps


def main(argv=None):
  args = parse(sys.argv[1:] if argv is None else argv)
  _commands.execute(commands(args), args.dry_run)


if __name__ == "__main__":
  main()
