"""Shared by the launch scripts: build shell commands, print or run them.

Every script turns its arguments into a list of shell commands, one per
step. `--dry-run` prints exactly those commands (a runnable shell script:
`#` lines name the steps); otherwise each is run with bash, in order, and
the first failure stops the sequence.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

# gan.main with zero steps builds the data set (TFDS, into TFDS_DATA_DIR)
# with exactly the builders and options training uses, then stops.
PREPARE_WORKDIR = "/tmp/gan_prepare"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--dry-run", action="store_true",
                      help="print the commands instead of running them")
  parser.add_argument("--config", default="configs/mri_demo.py",
                      help="experiment config, relative to the repository")
  parser.add_argument("--bucket", default=None,
                      help="gs://BUCKET[/prefix]: data in "
                      "BUCKET/tensorflow_datasets, workdirs in BUCKET/workdirs")
  parser.add_argument("--workdir", default=None,
                      help="training workdir (default BUCKET/workdirs/NAME)")


def split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
  """Arguments after `--` go to gan.main unchanged."""
  if "--" in argv:
    i = argv.index("--")
    return argv[:i], argv[i + 1:]
  return argv, []


def data_dir(bucket: str | None) -> str | None:
  return f"{bucket.rstrip('/')}/tensorflow_datasets" if bucket else None


def workdir(args, name: str) -> str:
  if args.workdir:
    return args.workdir
  if not args.bucket:
    sys.exit("error: pass --workdir, or --bucket=gs://... for the default "
             f"workdir BUCKET/workdirs/{name}")
  return f"{args.bucket.rstrip('/')}/workdirs/{name}"


def env_prefix(**env: str | None) -> str:
  """`K=V ` assignments for the variables that are set."""
  return "".join(f"{k}={shlex.quote(v)} " for k, v in env.items() if v)


def gan_main(python: str, config: str, workdir_: str, *flags: str) -> str:
  return shlex.join([python, "-m", "gan.main", f"--config={config}",
                     f"--workdir={workdir_}", *flags])


def execute(steps: list[tuple[str, str]], dry_run: bool) -> None:
  """steps: (name, shell command) pairs, run in order."""
  for name, command in steps:
    if dry_run:
      print(f"# {name}")
      print(command)
      continue
    print(f"+ {command}", file=sys.stderr, flush=True)
    result = subprocess.run(command, shell=True, executable="/bin/bash")
    if result.returncode:
      sys.exit(f"error: step {name!r} failed (exit {result.returncode}): "
               f"{command}")
