"""Train-state creation and pure train steps per model family.

`gan/train.py` dispatches on `gan.models.family(config.model.name)`: the
DCGAN family lives in `gan/train.py` itself, StyleGAN2 in `stylegan2.py`.
"""
