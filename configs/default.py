"""Default configuration: every field, commented. Experiments override it.

Run: python -m gan.main --config=configs/default.py --workdir=/tmp/gan
Any field can be overridden on the command line, e.g.
  --config.train.num_steps=100 --config.data.resolution=32
"""
import ml_collections


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
  data.data_dir = ml_collections.config_dict.placeholder(str)    # TFDS data dir (default ~/tensorflow_datasets or $TFDS_DATA_DIR).
  data.manual_dir = ml_collections.config_dict.placeholder(str)  # where alzheimers_mri finds archive.zip.
  # mri_folder only: the folder with one sub-folder per class.
  data.folder = ml_collections.config_dict.placeholder(str)
  data.slice_axis = 2                 # NIfTI volumes are sliced along this axis.
  data.skip_corrupt = False           # mri_folder: skip unreadable files (counted) instead of failing.
  data.conditional = False            # Feed class labels to G and D.
  data.class_balanced = False         # Sample every class equally often.
  data.random_flip = False            # Random left-right flips of real images.

  # ---- Model ----------------------------------------------------------------
  config.model = model = ml_collections.ConfigDict()
  model.name = "dcgan"                # See gan/models/__init__.py for names.
  model.latent_dim = 100              # z size.
  model.g_base_channels = 64          # ngf: channels of G's last hidden layer.
  model.d_base_channels = 64          # ndf: channels of D's first layer.
  model.label_embed_dim = 32          # Size of G's label embedding (conditional).

  # ---- Training -------------------------------------------------------------
  config.train = train = ml_collections.ConfigDict()
  train.num_steps = 10_000            # One step = one D update and one G update.
  train.batch_size = 64               # Global batch; split over all devices.
  # Loss by name: nonsaturating (logistic), hinge, wgan_gp.
  train.loss = "nonsaturating"
  train.gp_weight = 10.0              # wgan_gp: gradient-penalty weight.
  train.r1_gamma = 0.0                # R1 penalty gamma/2 |grad D(real)|^2; 0 = off.
  train.g_learning_rate = 2e-4
  train.d_learning_rate = 2e-4
  train.adam_b1 = 0.5
  train.adam_b2 = 0.999
  # EMA of G's weights (the generator that samples and is evaluated).
  train.ema_decay = 0.999
  # What to do with a non-finite loss: "stop" (keep the last good checkpoint)
  # or "skip" (drop the update).
  train.on_nonfinite = "stop"

  # ---- Logging, images, checkpoints ----------------------------------------
  config.log = log = ml_collections.ConfigDict()
  log.every_steps = 50                # Scalars to TensorBoard and console.
  log.image_every_steps = 500         # Sample grid of fixed latents (PNG + TensorBoard).
  log.grid_size = 64                  # Images per grid (one row per class if conditional).
  log.checkpoint_every_steps = 500
  log.keep_checkpoints = 3            # Most recent checkpoints kept.
  return config
