"""Demo: pix2pix from grey/white-matter maps to T1 on the embedded MNI152 set.

  python -m gan.main --config=configs/pix2pix_mni152.py \
      --workdir=workdirs/pix2pix_mni152

Data: `mri_pairs/mni152` (datasets/mri_pairs, no download): the MNI152
2009a T1 template with its GM and WM probability maps (nilearn), axial
slices at 64 px; source channels gm, wm; target t1. 113 training slices;
the held-out `test` split is the axial slab z = 80..95 (16 slices) with a
4-slice guard band either side (its leakage: the same average brain).
Network: U-Net G (32 -> 256 channels, 5 halvings, nearest upsampling +
3x3 convolutions), 70x70 PatchGAN D on (source, image), instance norm;
BCE adversarial loss + 100 x L1, Adam 2e-4 (0.5, 0.999), batch 8, left-right
flips (the template is symmetric). No EMA (`train.ema_decay = 0`): the
generator that trained is the one evaluated.
Evaluation: held-out PSNR/SSIM/MAE (whole slice and inside the T1
foreground, intensities in [0, 1]) and, with the FID Inception weights,
FID/KID of the 16 translations against the 16 real slices, at the end.
Time and result (RESULTS.md, "Translation"): 8000 steps, 47 minutes on
one core of a 2-core CPU machine (2.4-3.3 steps/s, periodic evaluation
included); held-out PSNR 31.4 dB, SSIM 0.980, MAE 0.0115 (foreground 27.3
dB, 0.967), above the linear map (29.1 dB, 0.963) and the L1-only U-Net
(29.1 dB, 0.969). It passes the linear map after about 4000 steps.
The L1-only baseline is the same config with
--config.model.pix2pix.adversarial_weight=0; the linear baseline is
`python -m gan.evaluate_translation --baseline=linear --config=...`.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mri_pairs"
  config.data.resolution = 64
  config.data.random_flip = True
  config.data.pairs.source = "gm,wm"
  config.data.pairs.target = "t1"
  config.model.name = "pix2pix"
  t = config.train
  t.loss = "nonsaturating"
  t.batch_size = 8
  t.num_steps = 8000
  t.ema_decay = 0.0
  t.time_budget_minutes = 60.0
  config.log.every_steps = 100
  config.log.image_every_steps = 500
  config.log.checkpoint_every_steps = 500
  config.log.grid_size = 32
  ev = config.eval
  ev.every_steps = 1000
  ev.metrics = "fid,kid"
  ev.require_weights = False          # Paired metrics alone without them.
  return config
