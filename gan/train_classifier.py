"""Trains the ResNet classifier/encoder: python -m gan.train_classifier
--config=configs/classifier_alzheimers.py --workdir=DIR."""
import json
import os

import tensorflow as tf
from absl import app
from absl import flags
from ml_collections import config_flags

from gan import classifier
from gan import errors
from gan import quiet_logging
from gan import storage
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Where the classifier and results go.")
config_flags.DEFINE_config_file("config", None, "Classifier config file.",
                                lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  metrics = classifier.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  path = os.path.join(FLAGS.workdir, "test_metrics.json")
  storage.write_json(path, metrics, "the test metrics", indent=1)
  print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
  app.run(main, flags_parser=errors.parse_flags)
