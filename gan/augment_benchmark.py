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

from gan import classifier
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


def _generator_specs(entries, default_step):
  """[(workdir, step or None)] from DIR / DIR@STEP entries."""
  specs = []
  for entry in entries:
    workdir, _, step = entry.partition("@")
    if step and not step.isdigit():
      raise errors.UserError(f"--generator_workdir entry {entry!r}: the part "
                             f"after @ must be a checkpoint step, e.g. "
                             f"{workdir}@5000")
    specs.append((workdir, int(step) if step else default_step))
  return specs


def _sources(config, class_names, specs):
  """({name: synthetic source}, {name: what it is}): one per generator
  checkpoint of `specs` ([(workdir, step or None)]) and filter threshold
  (validation.filter_confidences, else filter.min_confidence)."""
  sources, describe = {}, {}
  judge = (classifier.load(config.filter.classifier)
           if config.filter.classifier else None)
  confidences = ()
  if judge is not None:
    validation = config.get("validation")
    confidences = tuple((validation.get("filter_confidences", ()) if validation
                         else ()) or (config.filter.min_confidence,))
  for workdir, step in specs:
    source = synthetic_sources.GeneratorSource(workdir, class_names,
                                               config.data.resolution, step)
    gen, name = source.generator, source.name
    if any(d["workdir"] == workdir and d["step"] == gen.step
           for d in describe.values()):
      raise errors.UserError(f"--generator_workdir names {name} twice; drop "
                             f"one")
    info = {"workdir": workdir, "step": gen.step,
            "family": gen.config.model.name}
    if judge is None:
      sources[name], describe[name] = source, info
      continue
    for confidence in confidences:
      filtered = synthetic_sources.ConfidenceFilter(source, judge, confidence)
      sources[filtered.name] = filtered
      describe[filtered.name] = {
          **info, "filter_classifier": config.filter.classifier,
          "min_confidence": confidence}
  return sources, describe


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  config = FLAGS.config
  train, test = input_pipeline.load_train_and_test(config.data,
                                                   config.test_split)
  sources, describe = _sources(
      config, train.class_names,
      _generator_specs(FLAGS.generator_workdir or [], FLAGS.generator_step))
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
