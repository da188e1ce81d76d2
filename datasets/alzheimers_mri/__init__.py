"""Importing this package registers the `alzheimers_mri` TFDS builder."""
from gan_datasets.alzheimers_mri import alzheimers_mri_dataset_builder  # Registers it.
