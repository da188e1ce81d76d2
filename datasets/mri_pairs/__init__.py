"""Importing this package registers the `mri_pairs` TFDS builder."""
from gan_datasets.mri_pairs import mri_pairs_dataset_builder  # Registers it.
