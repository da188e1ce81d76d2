"""Tiny FastGAN config for tests: 64 px (its smallest), narrow, a few steps.

python -m gan.main --config=configs/fastgan_test.py --workdir=/tmp/fastgan_test
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.resolution = 64
  config.model.name = "fastgan"
  config.model.latent_dim = 16
  f = config.model.fastgan
  f.ngf = 2                           # G: 32, 16, 8, 8, 8 channels at 4..64 px.
  f.ndf = 2                           # D: 8 channels throughout.
  f.decoder_channels = 2
  t = config.train
  t.loss = "hinge"
  t.num_steps = 4
  t.batch_size = 4
  config.augment.kind = "diffaugment"
  config.augment.diffaugment_policy = "color,translation,cutout"
  config.log.every_steps = 2
  config.log.image_every_steps = 4
  config.log.grid_size = 8
  config.log.checkpoint_every_steps = 2
  return config
