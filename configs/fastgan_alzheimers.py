"""Class-conditional FastGAN on the Kaggle Alzheimer's MRI train split, 64 px, CPU.

  python -m gan.main --config=configs/fastgan_alzheimers.py \
      --workdir=workdirs/fastgan_alzheimers \
      --config.data.manual_dir=/path/to/dir/holding/archive.zip

Data: the published train split (5121 slices: Mild 717, Moderate 52, Non
2560, VeryMild 1792), padded from 208x176 to square and resized to 64x64,
random left-right flips. `data.class_balanced=True` (the default here) draws
every class equally often, so the 52 ModerateDemented slices are a quarter
of every batch instead of 1%: the generator sees the rare class as often as
the others (D can memorise it sooner; DiffAugment is the counterweight).
Set --config.data.class_balanced=False for the data's own frequencies.
Network: FastGAN (gan/models/fastgan.py) at the demo's CPU width (ngf = ndf =
decoder = 8), class-conditional BatchNorm in G, a projection head in D,
hinge loss, D's reconstruction self-supervision, DiffAugment (translation,
cutout; black fill: the MRI background), EMA.
Time: measured 16-18 img/s with pytest beside it and 28.5 img/s alone on 2
cores without AVX-512, and 23-29 img/s pinned to one core of an AVX-512 EPYC
(BENCHMARKS.md), i.e. 3,800-6,400 steps of 16 an hour;
each invocation stops after `train.time_budget_minutes` (60) with a
checkpoint; run the same command again to continue, up to 20,000 steps.
Expected (BENCHMARKS.md, "Quality per CPU-hour"): after 60 CPU-minutes
(5,375 steps, 86 kimg, one core) FID 56.7 and KID 0.058 against the train
split (real Inception features; the DCGAN at equal CPU: 125.0, 0.164), no
copies by the memorisation audit; `samples/step_*.png` shows sharp axial
slices with cortex and ventricles, alike in every class row (label
agreement 29%: the classes are not drawn apart yet).
Rare-class adaptation from this workdir: gan/transfer.py (e.g.
--config.transfer.from_workdir=workdirs/fastgan_alzheimers
--config.transfer.freeze_d_blocks=2 --config.data.classes=ModerateDemented).
"""
from configs import fastgan_mri_demo


def get_config():
  config = fastgan_mri_demo.get_config()
  config.data.name = "alzheimers_mri"
  config.data.split = "train"
  config.data.conditional = True
  config.data.class_balanced = True
  t = config.train
  t.num_steps = 20_000
  t.time_budget_minutes = 60.0
  config.log.image_every_steps = 250
  config.log.grid_size = 32         # 8 per class, one row each.
  config.log.checkpoint_every_steps = 250
  config.eval.at_end = False        # FID against 5121 slices: gan.evaluate.
  return config
