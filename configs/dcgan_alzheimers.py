"""Class-conditional DCGAN on the Kaggle Alzheimer's MRI dataset, 64 px.

  python -m gan.main --config=configs/dcgan_alzheimers.py \
    --workdir=workdirs/dcgan_alzheimers \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip

Data: the published train split (5121 slices, 4 classes), padded from 208x176
to square and resized to 64x64. G gets a label embedding, D a projection
head, so `gan.evaluate`/sampling can ask for any class (ModerateDemented has
only 52 training images). Network: pytorch/examples' DCGAN widths (ngf = ndf
= 64).
Time: on 2 CPU cores this trains at about 60-70 img/s (see BENCHMARKS.md),
so 10,000 steps of batch 64 take about 3 hours; a single GPU does it in
minutes. Expected: by ~2,000 steps the per-class rows of
`samples/step_*.png` show axial slices with ventricles; see BENCHMARKS.md for
measured runs.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "alzheimers_mri"
  config.data.split = "train"
  config.data.resolution = 64
  config.data.conditional = True
  config.data.random_flip = True
  config.train.batch_size = 64
  config.train.num_steps = 10_000
  config.log.every_steps = 100
  config.log.image_every_steps = 500
  config.log.checkpoint_every_steps = 500
  return config
