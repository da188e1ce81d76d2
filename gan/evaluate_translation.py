"""Held-out evaluation of a translation model, or of the linear baseline.

  python -m gan.evaluate_translation --workdir=W [--step=S] \
      [--metrics=fid,kid] [--output=RESULT.json] [--grid=GRID.png \
      [--grid_rows=4]]
  python -m gan.evaluate_translation --baseline=linear \
      --config=configs/pix2pix_mni152.py --output=linear.json

Reports MAE, PSNR and SSIM of the translations of the held-out split
(`test`) against their real targets, on the whole slice and inside the
target's foreground (intensities mapped from [-1, 1] to [0, 1]: MAE is a
fraction of the range, PSNR at data range 1; gan/metrics/paired.py), and
FID/KID of the translations against the real targets (FID Inception;
N = the held-out size, so compare only at equal N). The linear baseline
fits target ~ w . sources + c by least squares on the training pairs.
"""
import os

import tensorflow as tf
from absl import app
from absl import flags
from ml_collections import config_flags

from gan import paired_data
from gan import pixels
from gan import quiet_logging
from gan import storage
from gan import translation
from gan.errors import UserError
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Workdir of a pix2pix or CycleGAN run.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
flags.DEFINE_enum("baseline", None, ["linear"], "Evaluate a baseline fitted "
                  "on the training pairs of --config instead of a workdir.")
config_flags.DEFINE_config_file("config", None, "Config of the data (with "
                                "--baseline).", lock_config=False)
flags.DEFINE_string("split", "test", "Held-out split to evaluate on.")
flags.DEFINE_string("metrics", "fid,kid", "Distribution metrics besides the "
                    "paired ones: fid, kid, or empty.")
flags.DEFINE_string("inception_weights", None, "FID Inception weights file.")
flags.DEFINE_string("output", None, "JSON file to write (default: "
                    "<workdir>/eval/step_<STEP>__vs__<split>.json).")
flags.DEFINE_string("grid", None, "PNG of source | translation | target rows.")
flags.DEFINE_integer("grid_rows", None, "Rows of --grid: that many held-out "
                     "examples, evenly spaced (default: all of them).")


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  if bool(FLAGS.workdir) == bool(FLAGS.baseline):
    raise UserError("pass one of --workdir=W (a trained model) or "
                    "--baseline=linear --config=CONFIG")
  if FLAGS.baseline:
    if FLAGS.config is None:
      raise UserError("--baseline needs --config (the data to fit it on)")
    config = FLAGS.config
    num_source = paired_data.num_source_channels(config)
    translate = translation.LinearBaseline(paired_data.load_pairs(
        config.data, "train"), num_source)
    name, output = "linear baseline", FLAGS.output
    if not output:
      raise UserError("--baseline needs --output=RESULT.json")
  else:
    translate = translation.load_translator(FLAGS.workdir, FLAGS.step)
    config, num_source = translate.config, len(translate.source)
    name = f"{FLAGS.workdir} (step {translate.step})"
    output = FLAGS.output or os.path.join(
        FLAGS.workdir, "eval",
        f"step_{translate.step:09d}__vs__{FLAGS.split}.json")
  held_out = paired_data.load_pairs(config.data, FLAGS.split)
  metrics = [m.strip() for m in FLAGS.metrics.split(",") if m.strip()]
  unknown = sorted(set(metrics) - set(translation.DISTRIBUTION_METRICS))
  if unknown:
    raise UserError(f"--metrics: {unknown} do not apply to translations; "
                    f"choose from {list(translation.DISTRIBUTION_METRICS)}")
  results = translation.evaluate_pairs(translate, held_out, num_source,
                                       metrics, FLAGS.inception_weights)
  record = dict(translation.json_ready(results), evaluated=name,
                split=FLAGS.split,
                source=list(paired_data.modalities(config.data)[0]),
                target=paired_data.modalities(config.data)[1],
                resolution=config.data.resolution)
  storage.write_json(output, record, "the evaluation", indent=1)
  if FLAGS.grid:
    sources, targets = paired_data.split_channels(
        pixels.to_float(held_out.images), num_source)
    rows = translation.evenly_spaced(len(targets), FLAGS.grid_rows)
    pixels.save_png(translation.pair_grid(
        sources[rows], results["translated"][rows], targets[rows]),
                    FLAGS.grid)
  print(f"{name} on {config.data.name}/{FLAGS.split}:\n"
        f"{translation.summary(results)}\nwritten to {output}", flush=True)


if __name__ == "__main__":
  app.run(main)
