r"""Evaluates generated images: FID, KID and Inception Score.

  python -m gan.evaluate --source_a=workdir:runs/alz \
      --source_b=tfds:alzheimers_mri/test
  python -m gan.evaluate --source_a=samples/ --source_b=real/ --output=eval/
  python -m gan.evaluate --source_a=tfds:alzheimers_mri/train \
      --save_statistics=alzheimers_train.npz

Sources: a folder of images, a statistics .npz (pytorch-fid format),
tfds:NAME/SPLIT[#CLASS], workdir:PATH[@STEP][#CLASS]. The FID Inception
weights come from --inception_weights or $GAN_INCEPTION_WEIGHTS (see
docs/evaluation.md to download and convert them). Thin wrapper over
`gan.evaluation.evaluate`.
"""
from absl import app
from absl import flags
from absl import logging
import jax

from gan import evaluation
from gan import inception
from gan.errors import exit_on_user_error

_A = flags.DEFINE_string("source_a", None, "First source (for a generator: "
                         "workdir:PATH[@STEP][#CLASS]).")
_B = flags.DEFINE_string("source_b", None, "Second source (e.g. "
                         "tfds:alzheimers_mri/test, a folder, a .npz).")
_METRICS = flags.DEFINE_list("metrics", list(evaluation.METRICS),
                             "Metrics: fid, kid, is.")
_FEATURE = flags.DEFINE_string("feature", "inception",
                               "Feature for FID and KID.")
_WEIGHTS = flags.DEFINE_string(
    inception.WEIGHTS_FLAG.lstrip("-"), None,
    f"Converted FID Inception weights (.msgpack from gan.convert_inception, "
    f"or pytorch-fid's {inception.WEIGHTS_FILE}); default "
    f"${inception.WEIGHTS_ENV}.")
_BATCH = flags.DEFINE_integer("batch_size", 50, "Images per step.")
_NUM = flags.DEFINE_integer("num_samples", 10_000, "Images generated from a "
                            "workdir (per class for a conditional model).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the generated latents.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_KID_SIZE = flags.DEFINE_integer("kid_subset_size", 1000,
                                 "KID subset size (shrinks to fit small N).")
_KID_SUBSETS = flags.DEFINE_integer("kid_subsets", 100, "KID subsets.")
_IS_SPLITS = flags.DEFINE_integer("is_splits", 10, "Inception Score splits.")
_SAVE_STATS = flags.DEFINE_string("save_statistics", None, "Write source_a's "
                                  "statistics here (pytorch-fid .npz).")
_CACHE = flags.DEFINE_string("cache_dir", None, "Cache of folder/TFDS "
                             "features, reused while the files are unchanged.")
_OUTPUT = flags.DEFINE_string("output", None, "JSON file or directory for the "
                              "results (default: <workdir>/eval/).")


@exit_on_user_error
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.info("JAX devices: %s", jax.local_devices())
  if not _A.value:
    raise app.UsageError("--source_a is required")
  results = evaluation.evaluate(
      _A.value, _B.value, metrics=_METRICS.value, feature=_FEATURE.value,
      inception_weights=_WEIGHTS.value, batch_size=_BATCH.value,
      num_samples=_NUM.value, seed=_SEED.value, data_dir=_DATA_DIR.value,
      kid_subset_size=_KID_SIZE.value, kid_subsets=_KID_SUBSETS.value,
      is_splits=_IS_SPLITS.value, save_statistics=_SAVE_STATS.value,
      cache_dir=_CACHE.value, output=_OUTPUT.value)
  print(evaluation.summary(results))


if __name__ == "__main__":
  app.run(main)
