"""Tiny StyleGAN2-ADA config for tests: 16 px, narrow, a few steps.

python -m gan.main --config=configs/stylegan2_test.py --workdir=/tmp/sg2_test
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.resolution = 16
  config.model.name = "stylegan2"
  config.model.latent_dim = 16
  s = config.model.stylegan2
  s.w_dim = 16
  s.mapping_layers = 2
  s.channel_base = 128                # 16 px: 8, 8 px: 16, 4 px: 32 channels.
  s.channel_max = 32
  s.mbstd_group_size = 2
  t = config.train
  t.num_steps = 4
  t.batch_size = 8
  t.adam_b1, t.adam_b2 = 0.0, 0.99
  t.g_learning_rate = t.d_learning_rate = 0.0025
  t.r1_gamma = 1.0
  t.r1_interval = 2
  t.pl_weight = 2.0
  t.pl_interval = 2
  t.ema_kimg = 0.01
  config.augment.kind = "ada"
  config.augment.ada_kimg = 1.0       # p moves 8 * 4 / 1000 per adjustment.
  config.augment.ada_initial_p = 0.3  # Exercise the augmentations at once.
  config.log.every_steps = 2
  config.log.image_every_steps = 4
  config.log.grid_size = 8
  config.log.checkpoint_every_steps = 2
  return config
