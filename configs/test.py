"""Tiny configuration for tests: 32 px, narrow networks, a few steps.

python -m gan.main --config=configs/test.py --workdir=/tmp/gan_test
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.resolution = 32
  config.model.latent_dim = 16
  config.model.g_base_channels = 8
  config.model.d_base_channels = 8
  config.model.label_embed_dim = 4
  config.train.num_steps = 4
  config.train.batch_size = 8
  config.log.every_steps = 2
  config.log.image_every_steps = 4
  config.log.grid_size = 8
  config.log.checkpoint_every_steps = 2
  return config
