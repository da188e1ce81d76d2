"""Downstream augmentation benchmark (see gan/downstream.py for the arms).

  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench
"""
import tensorflow as tf
from absl import app
from absl import flags
from ml_collections import config_flags

from gan import classifier
from gan import downstream
from gan import downstream_report
from gan import errors
from gan import input_pipeline
from gan import quiet_logging
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Benchmark config file.",
                                lock_config=True)
flags.DEFINE_string("generator_workdir", None, "Workdir of a class-conditional "
                    "GAN (needed by the synthetic arms).")
flags.DEFINE_integer("generator_step", None, "Checkpoint step (default latest).")
flags.DEFINE_string("output", None, "Folder for results.json/.md/.png.")
flags.mark_flags_as_required(["config", "output"])


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  config = FLAGS.config
  train, test = input_pipeline.load_train_and_test(config.data,
                                                   config.test_split)
  source = None
  if FLAGS.generator_workdir:
    source = downstream.GeneratorSource(FLAGS.generator_workdir,
                                        train.class_names,
                                        config.data.resolution,
                                        FLAGS.generator_step)
    if config.filter.classifier:
      source = downstream.ConfidenceFilter(
          source, classifier.load(config.filter.classifier),
          config.filter.min_confidence)
  result = downstream.run(config, train, test, source, progress=print)
  result["generator_workdir"] = FLAGS.generator_workdir
  if isinstance(source, downstream.ConfidenceFilter):
    result["filter"] = {"classifier": config.filter.classifier,
                        "min_confidence": config.filter.min_confidence,
                        "acceptance": source.acceptance_rates(train.class_names)}
  downstream_report.write_results(result, FLAGS.output)
  print(downstream_report.markdown_table(result))


if __name__ == "__main__":
  app.run(main, flags_parser=errors.parse_flags)
