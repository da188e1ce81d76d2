"""TFDS builders of the project (installed as `gan_datasets`); see README.md.

Import `gan_datasets.<builder>` to register a builder with TFDS.
"""
