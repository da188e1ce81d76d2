"""Tiny translation config for tests: 32 px pairs, narrow U-Net and PatchGAN.

python -m gan.main --config=configs/translation_test.py --workdir=/tmp/t
(model.name pix2pix; tests switch it to cyclegan.)
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mri_pairs"
  config.data.resolution = 32
  config.data.pairs.source = "gm,wm"
  config.data.pairs.target = "t1"
  config.model.name = "pix2pix"
  for section in (config.model.pix2pix, config.model.cyclegan):
    section.ngf = 4
    section.ndf = 4
    section.unet_depth = 3
    section.d_layers = 2
  config.model.cyclegan.identity_weight = 0.0
  config.model.cyclegan.pool_size = 3
  t = config.train
  t.num_steps = 4
  t.batch_size = 4
  t.ema_decay = 0.9
  config.log.every_steps = 2
  config.log.image_every_steps = 4
  config.log.grid_size = 8
  config.log.checkpoint_every_steps = 2
  return config
