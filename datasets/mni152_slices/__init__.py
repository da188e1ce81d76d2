"""Importing this package registers the `mni152_slices` TFDS builder."""
from gan_datasets.mni152_slices import mni152_slices_dataset_builder  # Registers it.
