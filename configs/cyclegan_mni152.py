"""Demo: CycleGAN between grey/white-matter maps and T1, embedded MNI152.

  python -m gan.main --config=configs/cyclegan_mni152.py \
      --workdir=workdirs/cyclegan_mni152

The data, resolution and held-out slab of configs/pix2pix_mni152.py, but no
loss uses the pairing: G_ab (gm+wm -> t1) and G_ba (t1 -> gm+wm), U-Nets of
the pix2pix width; unconditional 70x70 PatchGANs D_a, D_b; least-squares
adversarial loss, cycle loss x 10, image pools of 50 fakes, Adam 2e-4
(0.5, 0.999), batch 8, left-right flips. The identity loss needs as many
source as target channels, so it is off here (identity_weight = 0: two
source channels, one target); tests run it on a one-to-one task.
Evaluation of G_ab on the held-out slab as in the pix2pix demo.
Time and result (RESULTS.md, "Translation"): 3000 steps, 68 minutes on
one core of a 2-core CPU machine (0.6-0.8 steps/s, evaluation included);
held-out PSNR 29.2 dB, SSIM 0.957, MAE 0.0154 (foreground 25.1 dB, 0.928):
level with the linear map (29.1 dB, 0.963) and the L1-only U-Net (29.1 dB,
0.969) on PSNR without ever seeing a pair, below both on SSIM.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mri_pairs"
  config.data.resolution = 64
  config.data.random_flip = True
  config.data.pairs.source = "gm,wm"
  config.data.pairs.target = "t1"
  config.model.name = "cyclegan"
  config.model.cyclegan.identity_weight = 0.0
  t = config.train
  t.loss = "least_squares"
  t.batch_size = 8
  t.num_steps = 3000
  t.ema_decay = 0.0
  t.time_budget_minutes = 75.0
  config.log.every_steps = 100
  config.log.image_every_steps = 500
  config.log.checkpoint_every_steps = 500
  config.log.grid_size = 32
  ev = config.eval
  ev.every_steps = 1000
  ev.metrics = "fid,kid"
  ev.require_weights = False
  return config
