"""Demo: FastGAN on the embedded MNI152 axial slices (no download), 64 px, CPU.

  python -m gan.main --config=configs/fastgan_mri_demo.py \
      --workdir=workdirs/fastgan_mri_demo

Data: the 137 axial slices of the MNI152 T1 template that nilearn ships
(`datasets/mni152_slices`), 64x64, random left-right flips, DiffAugment
(translation, cutout; black fill: the MRI background).
Network: FastGAN (gan/models/fastgan.py) at a CPU width (ngf = ndf = 8:
G 128 -> 16 channels from 4 to 64 px, D 16 -> 128 from 64 to 8 px),
spectral normalisation, hinge loss, D's reconstruction self-supervision.
Speed, measured on 2 cores without AVX-512: 18-19 img/s at batch 16
(FastGAN's full-resolution layers make it ~10x slower per image than the
DCGAN demo). The run stops after `train.time_budget_minutes` (30) with a
checkpoint; run the same command again to continue.
Measured (BENCHMARKS.md, "FastGAN demo"): after 25 minutes (1,250 steps)
the grids show axial brain slices (hemispheres, midline, ventricles) with a
regular grid artefact; FID 211.4, KID 0.160 of 500 EMA samples against the
137 slices (the DCGAN demo: 184.9 / 0.144 in 8 minutes).
TensorBoard: tensorboard --logdir=workdirs/fastgan_mri_demo
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mni152_slices"
  config.data.resolution = 64
  config.data.random_flip = True      # Axial brain slices are near-symmetric.
  config.model.name = "fastgan"
  config.model.latent_dim = 128
  f = config.model.fastgan
  f.ngf = 8
  f.ndf = 8
  f.decoder_channels = 8
  t = config.train
  t.loss = "hinge"
  t.batch_size = 16
  t.num_steps = 4000
  t.time_budget_minutes = 30.0
  t.g_learning_rate = t.d_learning_rate = 2e-4
  config.augment.kind = "diffaugment"
  config.augment.diffaugment_policy = "translation,cutout"
  config.augment.fill_value = -1.0    # Black: the MRI background.
  config.log.every_steps = 25
  config.log.image_every_steps = 100
  config.log.grid_size = 36
  config.log.checkpoint_every_steps = 100
  config.eval.at_end = True
  config.eval.require_weights = False
  config.eval.metrics = "fid,kid"
  config.eval.num_samples = 500
  return config
