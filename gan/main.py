"""Trains a GAN: python -m gan.main --config=configs/mri_demo.py --workdir=DIR.

Re-running the same command resumes from the latest checkpoint in DIR.
"""
import sys

import jax
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from gan import distributed
from gan import errors
from gan import quiet_logging
from gan import steps
from gan import train
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Output root: checkpoints, TensorBoard "
                    "events, sample grids. Re-use it to resume.")
config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])
flags.DEFINE_bool("multihost", False, "Join a multi-process run (TPU VM pod, "
                  "several GPU nodes); also enabled by GAN_MULTIHOST=1. "
                  "Launch the same command on every host.")
flags.DEFINE_string("coordinator_address", None, "Multi-host without cluster "
                    "detection: HOST:PORT of process 0 (or "
                    "GAN_COORDINATOR_ADDRESS).")
flags.DEFINE_integer("num_processes", None, "Multi-host without cluster "
                     "detection: number of processes (or GAN_NUM_PROCESSES).")
flags.DEFINE_integer("process_id", None, "Multi-host without cluster "
                     "detection: this process, 0..N-1 (or GAN_PROCESS_ID).")


@exit_on_user_error
def main(argv):
  if len(argv) > 1:
    raise app.UsageError("Too many command-line arguments.")
  # TensorFlow only feeds data: keep it off the accelerators JAX uses.
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  # Before anything touches JAX devices.
  distributed.initialize(FLAGS.multihost, FLAGS.coordinator_address,
                         FLAGS.num_processes, FLAGS.process_id)
  logging.info("JAX process %d/%d, local devices: %s", jax.process_index(),
               jax.process_count(), jax.local_devices())
  _name_ignored_fields(FLAGS.config)
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except train.TrainingFault as e:
    sys.exit(f"error: {e}")


def _name_ignored_fields(config) -> None:
  """Warns, in one line, about fields set away from configs/default.py that
  the chosen model's family never reads (e.g. train.gp_weight for a
  StyleGAN2). Skipped where the repository's configs/ is not importable."""
  try:
    from configs import default  # pylint: disable=g-import-not-at-top
  except ImportError:
    return
  ignored = steps.ignored_fields_set(config, default.get_config())
  if ignored:
    logging.warning("model %r ignores %s (set away from configs/default.py); "
                    "they change nothing in this run", config.model.name,
                    ", ".join(ignored))


if __name__ == "__main__":
  app.run(main, flags_parser=errors.parse_flags)
