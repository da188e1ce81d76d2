"""GAN-based augmentation of small medical-image datasets, in JAX/Flax."""

__version__ = "0.1.0"
