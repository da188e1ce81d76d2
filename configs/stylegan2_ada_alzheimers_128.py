"""Class-conditional StyleGAN2-ADA on the Kaggle Alzheimer's MRI dataset, 128 px.

  python -m gan.main --config=configs/stylegan2_ada_alzheimers_128.py \
    --workdir=workdirs/sg2_alzheimers_128 \
    --config.data.manual_dir=/path/to/dir/holding/archive.zip
  # On a GPU/TPU, optionally: --config.model.stylegan2.dtype=bfloat16
  # Samples per class, truncated:
  python -m gan.generate --workdir=workdirs/sg2_alzheimers_128 \
    --out=moderate.png --classes=ModerateDemented --per_class=16 --truncation=0.7

Data: the published train split (5121 slices, 4 classes, ModerateDemented has
52), letterboxed from 208x176 to square (black fill, aspect kept) and resized
to 128x128; labels go into G's mapping network and D's projection.
Hyper-parameters: the reference's `auto` preset at 128 px on one GPU (batch
32, gamma 0.1024, EMA 10 kimg with ramp-up 0.05, 2 mapping layers,
channel_base 16384: 128 channels at 128 px up to 512 at 16 px and below,
lr 0.0025, Adam (0, 0.99), path length 2, style mixing 0.9) with ADA (target
0.6). The reference Kaggle run used paper512 (gamma 0.5) with stretched
images.
Time: the reference implementation runs this at ~13 s/kimg on a V100 and
~88 s/kimg (paper512) on a T4; this port's GPU speed is not measured yet (no
GPU was available). On a 2-core CPU it runs ~2,500 s/kimg (0.4 img/s, see
BENCHMARKS.md): far too slow for CPU training, use
configs/stylegan2_ada_alzheimers_64.py or configs/stylegan2_ada_mri_demo.py
there. 50,000 steps are 1,600 kimg.
Expected: ada_p rises to ~0.2-0.5 within a few hundred kimg on 5k images
(watch it in TensorBoard); per-class rows of samples/step_*.png.
"""
from configs import default
from configs import stylegan2_presets


def get_config():
  config = default.get_config()
  config.data.name = "alzheimers_mri"
  config.data.split = "train"
  config.data.resolution = 128
  config.data.conditional = True
  config.data.random_flip = True      # The reference run's --mirror=1.
  stylegan2_presets.apply(config, "auto")
  config.train.num_steps = 50_000
  config.log.every_steps = 100
  config.log.image_every_steps = 1000
  config.log.checkpoint_every_steps = 1000
  return config
