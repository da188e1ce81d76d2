"""Demo: StyleGAN2-ADA on the embedded MNI152 axial slices, 64 px, CPU.

  python -m gan.main --config=configs/stylegan2_ada_mri_demo.py \
    --workdir=workdirs/sg2_mri_demo

Data: the 137 axial slices of the MNI152 T1 template (no download), padded to
square and resized to 64x64. A narrow StyleGAN2 (z = w = 128, 2 mapping
layers, 16 to 128 channels), ADA with a fast-moving p (137 images: D
overfits within a few hundred steps), R1 gamma 0.5, no path-length term.
Measured (2026-11-26, the full 2000 steps = 32 kimg in 42 minutes on 2 CPU
cores shared with three other jobs; 16-20 img/s, about 2 minutes to
compile; that was before R1 steps stopped running inside a lax.cond, which
made them ~10x faster, see BENCHMARKS.md): the grids in workdirs/sg2_mri_demo/samples/ show one collapsed
shape at step 500, head silhouettes at 750 and, at step 2000, axial slices
at every level: small low slices (temporal lobes, cerebellum), mid slices
with the dark ventricles, large upper slices, still smooth inside (StyleGAN2
needs far more images than DCGAN before fine detail appears). ada_p in
TensorBoard (tensorboard --logdir=workdirs/sg2_mri_demo) rises from 0 to
~0.15 by step 750 as D starts to overfit, then settles near 0.11 with r_t
near the 0.6 target.
"""
from configs import default
from configs import stylegan2_presets


def get_config():
  config = default.get_config()
  config.data.name = "mni152_slices"
  config.data.resolution = 64
  stylegan2_presets.apply(config, "lowdata")
  config.model.latent_dim = config.model.stylegan2.w_dim = 128
  # 64 px: 16, 32 px: 32, 16 px: 64, 8 and 4 px: 128 channels. StyleGAN2's
  # cost is in its high-resolution convolutions; this keeps a step ~15x
  # cheaper than channel_base 4096.
  config.model.stylegan2.channel_base = 1024
  config.model.stylegan2.channel_max = 128
  config.train.batch_size = 16
  config.model.stylegan2.mbstd_group_size = 4
  config.train.r1_gamma = 0.5
  config.train.ema_kimg = 2.0
  config.augment.ada_kimg = 50.0      # Short run: let p move 10x faster.
  config.train.num_steps = 2000
  config.log.every_steps = 50
  config.log.image_every_steps = 250
  config.log.checkpoint_every_steps = 250
  config.log.grid_size = 64
  return config
