"""Augmentation benchmark on the Alzheimer's MRI data (real test split).

  python -m gan.augment_benchmark --config=configs/augment_benchmark_alzheimers.py \
    --generator_workdir=workdirs/dcgan_alzheimers --output=workdirs/augment_bench \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip

Each arm trains the classifier of configs/classifier_alzheimers.py with the
same step budget and the same seeds. With several generators
(--generator_workdir=wd/fastgan,wd/sg2@4000), each synthetic arm chooses
among them on validation.
"""
import ml_collections

from configs import classifier_alzheimers


def get_config():
  config = classifier_alzheimers.get_config()
  # real+balanced and real+weighted: the classic imbalance remedies a GAN
  # must beat (gan/downstream.py).
  config.arms = ("real", "real+classic", "real+balanced", "real+weighted",
                 "real+synthetic", "real+synthetic@val", "synthetic")
  config.seeds = (0, 1, 2, 3, 4)  # >= 5 for a paired interval worth having.
  # The protocol: every choice on a stratified validation part of the train
  # split, the test split read once per final arm and seed (gan/downstream.py).
  config.validation = v = ml_collections.ConfigDict()
  v.fraction = 0.15
  v.seed = 1234
  v.metric = "balanced_accuracy"
  # Classifier fields each arm chooses on validation: field -> candidates.
  v.classifier_grid = ml_collections.ConfigDict()
  v.classifier_grid.num_steps = (600, 1200)
  # real+classic: augmentation strengths to choose among (gan.classifier
  # scales its affine and intensity ranges by it).
  v.classic_strengths = (0.5, 1.0, 2.0)
  # real+synthetic@val: synthetic:real ratios to choose among.
  v.synthetic_ratios = (0.25, 0.5, 1.0)
  # With config.filter.classifier: filter thresholds to choose among (empty:
  # filter.min_confidence). Several --generator_workdir entries (families,
  # DIR@STEP checkpoints) are chosen among the same way, per arm.
  v.filter_confidences = ()
  # Optional: keep only synthetic images that this classifier (trained on the
  # real train split, e.g. by gan.train_classifier) assigns to their intended
  # class with probability >= min_confidence.
  config.filter = ml_collections.ConfigDict()
  config.filter.classifier = ml_collections.config_dict.placeholder(str)
  config.filter.min_confidence = 0.9
  return config
