"""ResNet classifier on the Alzheimer's MRI train split, tested on its test split.

  python -m gan.train_classifier --config=configs/classifier_alzheimers.py \
    --workdir=workdirs/classifier_alz \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip

The trained network is the downstream model of the augmentation benchmark and
the `encoder:workdirs/classifier_alz` feature extractor of the evaluation
metrics. Results (test accuracy, balanced accuracy) are in BENCHMARKS.md.
"""
import ml_collections

from configs import default


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = default.get_config().data
  config.data.name = "alzheimers_mri"
  config.data.resolution = 64
  config.test_split = "test"
  config.classifier = c = ml_collections.ConfigDict()
  c.widths = (16, 32, 64, 128)     # ResNet stage widths (BatchNorm, 1 block each).
  c.stem_strides = 2               # First stage at 32x32: ~125 img/s on 2 CPU cores.
  c.num_steps = 600                # 7.5 epochs of the 5121 training images, ~5 min.
  c.batch_size = 64
  c.learning_rate = 1e-3           # AdamW, cosine decay to 0.
  c.weight_decay = 1e-4
  c.class_balanced = False         # Draw every class equally often.
  c.class_weighted = False         # Weigh the loss by n / (K n_c) instead.
  c.augment = False                # Classic augmentation (flip, affine, intensity).
  c.augment_strength = 1.0         # Scales its affine and intensity ranges.
  c.log_every_steps = 100
  return config
