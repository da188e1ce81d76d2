"""Augmentation benchmark on the Alzheimer's MRI data (real test split).

  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip

Each arm trains the classifier of configs/classifier_alzheimers.py with the
same step budget and the same seeds.
"""
import ml_collections

from configs import classifier_alzheimers


def get_config():
  config = classifier_alzheimers.get_config()
  # real+balanced and real+weighted: the classic imbalance remedies a GAN
  # must beat (gan/downstream.py).
  config.arms = ("real", "real+classic", "real+balanced", "real+weighted",
                 "real+synthetic", "real+synthetic@0.5", "synthetic")
  config.seeds = (0, 1, 2)
  # Optional: keep only synthetic images that this classifier (trained on the
  # real train split, e.g. by gan.train_classifier) assigns to their intended
  # class with probability >= min_confidence.
  config.filter = ml_collections.ConfigDict()
  config.filter.classifier = ml_collections.config_dict.placeholder(str)
  config.filter.min_confidence = 0.9
  return config
