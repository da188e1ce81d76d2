"""GAN-based augmentation of small medical-image datasets, in JAX/Flax."""

__version__ = "0.1.0"

from gan import quiet_logging as _quiet_logging

# Before any of our modules imports TensorFlow: its C++ import banner (the
# oneDNN and CPU-instruction notices) hidden; see gan.quiet_logging.
_quiet_logging.hide_tensorflow_banner()
