"""Downstream augmentation benchmark (see gan/downstream.py for the arms).

  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench

Every finished fit is stored under OUTPUT/fits/ (gan.fit_cache): with
--time_budget_minutes the run stops between fits, and the same command
continues it. Delete OUTPUT/fits/ to start afresh.
"""
import os

import tensorflow as tf
from absl import app
from absl import flags
from ml_collections import config_flags

from gan import downstream
from gan import downstream_report
from gan import errors
from gan import fit_cache
from gan import input_pipeline
from gan import quiet_logging
from gan import synthetic_sources
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Benchmark config file.",
                                lock_config=True)
flags.DEFINE_list("generator_workdir", None, "Workdir(s) of class-conditional "
                  "GANs (needed by the synthetic arms), each as DIR or "
                  "DIR@STEP; with several, every synthetic arm chooses its "
                  "generator (family, checkpoint) on validation.")
flags.DEFINE_integer("generator_step", None, "Checkpoint step of a workdir "
                     "given without @STEP (default: its latest).")
flags.DEFINE_string("output", None, "Folder for results.json/.md/.png; its "
                    "fits/ keeps every finished fit, so rerunning the same "
                    "command continues a stopped run.")
flags.DEFINE_float("time_budget_minutes", None, "Stop between fits after this "
                   "long (finished fits are kept; rerun to continue).")
flags.mark_flags_as_required(["config", "output"])


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  config = FLAGS.config
  train, test = input_pipeline.load_train_and_test(config.data,
                                                   config.test_split)
  sources, describe = synthetic_sources.benchmark_sources(
      config, train.class_names, synthetic_sources.parse_generator_specs(
          FLAGS.generator_workdir or [], FLAGS.generator_step))
  cache = fit_cache.FitCache(os.path.join(FLAGS.output, "fits"),
                             FLAGS.time_budget_minutes)
  try:
    result = downstream.run(config, train, test, sources, progress=print,
                            cache=cache)
  except fit_cache.OutOfTime as e:
    print(f"Stopped: {e}.")
    return
  print(f"{cache.stored} fits run, {cache.read_back} read back from "
        f"{cache.folder}")
  result["generators"] = describe
  filters = {name: s.acceptance_rates(train.class_names)
             for name, s in sources.items()
             if isinstance(s, synthetic_sources.ConfidenceFilter) and s.acceptance}
  if filters:
    result["filter_acceptance"] = filters
  downstream_report.write_results(result, FLAGS.output)
  print(downstream_report.markdown_table(result))


if __name__ == "__main__":
  app.run(main, flags_parser=errors.parse_flags)
