"""Reads every checkpoint of a training workdir back, fully, and says which
are intact.

  python -m gan.check_workdir --workdir=DIR

Each checkpoint's meta item, every array of its train state (into the shapes
its own config gives) and the SHA-256 recorded when it was saved are checked;
unfinished saves of a killed run and checkpoints moved aside earlier are
listed. Nothing is changed. Exit status: 0 when every checkpoint is intact, 1
when one is not, 2 when there is none.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import sys

import jax
import ml_collections
import tensorflow as tf
from absl import app
from absl import flags

from gan import checkpoint as checkpoint_lib
from gan import quiet_logging
from gan import storage
from gan import steps
from gan.errors import UserError
from gan.errors import exit_on_user_error

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir to check.")
flags.mark_flags_as_required(["workdir"])


@dataclasses.dataclass
class Report:
  step: int
  size_bytes: int
  problem: str | None  # None: intact.


def check_step(checkpointer: checkpoint_lib.Checkpointer, step: int) -> Report:
  """Restores checkpoint `step` completely; its problem, if any, in words."""
  size = (0 if storage.is_remote(checkpointer.directory) else
          storage.tree_bytes(os.path.join(checkpointer.directory, str(step))))
  try:
    meta = checkpointer.restore_meta(step)
    config = ml_collections.ConfigDict(meta["config"])
    template = jax.eval_shape(
        lambda: steps.create_train_state(config, len(meta["class_names"])))
    checkpointer.restore(template, config, step)
  except checkpoint_lib.CorruptCheckpoint as e:
    return Report(step, size, e.kind)
  except (UserError, KeyError, TypeError, ValueError) as e:
    # Readable, but not a train state this code can rebuild (another
    # version of the project, a meta item without its config).
    return Report(step, size, f"not a train state of this version "
                  f"({type(e).__name__}: {str(e).splitlines()[0][:160]})")
  return Report(step, size, None)


def check_workdir(workdir: str, out=sys.stdout) -> list[Report]:
  """Prints one line per checkpoint and a verdict; returns the reports."""
  checkpointer = checkpoint_lib.Checkpointer(workdir, read_only=True)
  saved_steps = sorted(checkpointer.all_steps())
  print(f"{len(saved_steps)} checkpoint(s) in {checkpointer.directory}", file=out)
  reports = []
  for step in saved_steps:
    report = check_step(checkpointer, step)
    reports.append(report)
    verdict = "intact" if report.problem is None else f"DAMAGED: {report.problem}"
    print(f"  step {step:>9}  {storage.human(report.size_bytes):>9}  {verdict}",
          file=out)
  if not storage.is_remote(checkpointer.directory):
    for orphan in sorted(glob.glob(os.path.join(checkpointer.directory,
                                                "*.orbax-checkpoint-tmp*"))):
      print(f"  unfinished save {os.path.basename(orphan)} (a run killed while "
            f"saving); the next training run removes it", file=out)
    moved = checkpointer.corrupt_directory()
    if os.path.isdir(moved):
      for name in sorted(os.listdir(moved)):
        print(f"  moved aside earlier: {os.path.join(moved, name)}", file=out)
  intact = [r.step for r in reports if r.problem is None]
  if not reports:
    print("no checkpoints to check", file=out)
  elif len(intact) == len(reports):
    print(f"all {len(reports)} intact; training resumes from step "
          f"{saved_steps[-1]}", file=out)
  elif intact and intact[-1] == saved_steps[-1]:
    print(f"{len(intact)} of {len(reports)} intact; the latest (step "
          f"{saved_steps[-1]}) is, so training resumes from it", file=out)
  elif intact:
    print(f"{len(intact)} of {len(reports)} intact; the latest intact one is "
          f"step {intact[-1]}. Training with "
          f"--config.train.on_corrupt_checkpoint=previous resumes from it and "
          f"moves the damaged later ones aside (never deleted)", file=out)
  else:
    print("none is intact: train again in a new --workdir (the damaged "
          "checkpoints stay here for inspection)", file=out)
  checkpointer.close()
  return reports


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  reports = check_workdir(_WORKDIR.value)
  if not reports:
    sys.exit(2)
  sys.exit(0 if all(r.problem is None for r in reports) else 1)


if __name__ == "__main__":
  app.run(main)
