"""Importing this package registers the `mri_folder` TFDS builder."""
from gan_datasets.mri_folder import mri_folder_dataset_builder  # Registers it.
from gan_datasets.mri_folder.mri_folder_dataset_builder import make_config
from gan_datasets.mri_folder.mri_folder_dataset_builder import MriFolderConfig
