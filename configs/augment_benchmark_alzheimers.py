"""Augmentation benchmark on the Alzheimer's MRI data (real test split).

  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip

Each arm trains the classifier of configs/classifier_alzheimers.py with the
same step budget and the same seeds.
"""
from configs import classifier_alzheimers


def get_config():
  config = classifier_alzheimers.get_config()
  config.arms = ("real", "real+classic", "real+synthetic",
                 "real+synthetic@0.5", "synthetic")
  config.seeds = (0, 1, 2)
  return config
