"""Writes a synthetic, labelled data set from a trained generator.

  python -m gan.sample --workdir=DIR --output=OUT --num=500 --seed=0
  python -m gan.sample --workdir=DIR --output=OUT --num=balance
  python -m gan.sample --workdir=DIR --output=OUT --num=ModerateDemented:1000

OUT/<class>/*.png plus OUT/manifest.json; OUT builds with the `mri_folder`
dataset (--config.data.name=mri_folder --config.data.folder=OUT).
"""
import collections

import tensorflow as tf
from absl import app
from absl import flags

from gan import input_pipeline
from gan import quiet_logging
from gan import sampling
from gan import synthetic_dataset
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
flags.DEFINE_string("output", None, "Folder to create.")
flags.DEFINE_string("num", "100", "Images per class: N, 'balance' (top every "
                    "class up to the largest real class), or name:N,name:N.")
flags.DEFINE_integer("seed", 0, "Sampling seed: same seed, same images.")
flags.DEFINE_integer("batch_size", 64, "Generation batch size.")
flags.DEFINE_bool("overwrite", False, "Replace --output if it exists.")
flags.mark_flags_as_required(["workdir", "output"])


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  generator = sampling.load_generator(FLAGS.workdir, FLAGS.step)
  names = synthetic_dataset.output_class_names(generator)
  real_counts = None
  if FLAGS.num.strip() == "balance" and generator.num_classes:
    split = input_pipeline.load_split(generator.config.data)
    tally = collections.Counter(split.labels.tolist())
    real_counts = {n: tally[i] for i, n in enumerate(split.class_names)}
  counts = synthetic_dataset.parse_counts(
      FLAGS.num, names, real_counts, conditional=bool(generator.num_classes))
  synthetic_dataset.write_dataset(
      generator, FLAGS.output, counts, seed=FLAGS.seed,
      batch_size=FLAGS.batch_size, overwrite=FLAGS.overwrite,
      workdir=FLAGS.workdir)


if __name__ == "__main__":
  app.run(main)
