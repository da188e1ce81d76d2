"""Class-conditional StyleGAN2-ADA on the Alzheimer's MRI data at 64 px, CPU-sized.

  python -m gan.main --config=configs/stylegan2_ada_alzheimers_64.py \
    --workdir=workdirs/sg2_alzheimers_64 \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip \
    --config.train.time_budget_minutes=40

The model of the equal-wall-clock comparison against configs/dcgan_alzheimers.py
(BENCHMARKS.md, "StyleGAN2-ADA vs DCGAN"). The `lowdata` preset (ADA, p capped
at 0.8, no path length) narrowed for a CPU: z = w = 256, 32 channels at 64 px
up to 256 at 8 and 4 px, batch 16 with gamma and EMA rescaled by the `auto`
rules (gamma = 0.0002 res^2 / batch, EMA = batch x 10 / 32 kimg). ADA moves p
5x faster than the reference (100 kimg per unit) because a CPU run sees only
tens of kimg. On a GPU use configs/stylegan2_ada_alzheimers_128.py instead.
"""
from configs import default
from configs import stylegan2_presets


def get_config():
  config = default.get_config()
  config.data.name = "alzheimers_mri"
  config.data.split = "train"
  config.data.resolution = 64
  config.data.conditional = True
  config.data.random_flip = True
  stylegan2_presets.apply(config, "lowdata")
  config.model.latent_dim = config.model.stylegan2.w_dim = 256
  config.model.stylegan2.channel_base = 2048
  config.model.stylegan2.channel_max = 256
  config.train.batch_size = 16
  config.model.stylegan2.mbstd_group_size = 4
  config.train.r1_gamma = 0.0002 * 64 ** 2 / 16
  config.train.ema_kimg = 16 * 10 / 32
  config.augment.ada_kimg = 100.0
  config.train.num_steps = 100_000
  config.log.every_steps = 50
  config.log.image_every_steps = 250
  config.log.checkpoint_every_steps = 250
  return config
