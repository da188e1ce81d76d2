"""What the training loop needs from a task beyond the family's step.

A family's `TASK` (`gan.steps.task`) picks one of:
  generation   noise -> image (DCGAN, StyleGAN2-ADA, FastGAN): the images
               and labels of `input_pipeline.load_split`, grids of fixed
               latents (one row per class), `periodic_eval` (FID... of
               samples against the training split);
  translation  image -> image (pix2pix, CycleGAN): pairs from
               `paired_data`, grids of source | translation | target,
               `translation.PeriodicTranslationEvaluator` (held-out
               PSNR/SSIM/MAE, FID/KID).
Each task: `load_split(config)`, `make_grid_fn(config, split, drawn,
generate) -> (state -> (uint8 grid, row names or None))`, `Evaluator`.
"""
from __future__ import annotations

import math

import jax
import numpy as np

from gan import input_pipeline
from gan import paired_data
from gan import periodic_eval
from gan import pixels
from gan import steps
from gan import translation


def grid_inputs(config, classes: list[int]):
  """Fixed latents (and labels: one row per class drawn) for sample grids.

  classes: the label of each row of a conditional model (the classes it
  trains on).
  """
  n = config.log.grid_size
  if config.data.conditional and classes:
    cols = max(1, n // len(classes))
    labels = np.repeat(np.asarray(classes, dtype=np.int32), cols)
    rows = len(classes)
  else:
    labels, rows = None, max(1, int(math.sqrt(n)))
  count = len(labels) if labels is not None else n
  z = jax.random.normal(jax.random.fold_in(jax.random.key(config.seed), 1),
                        (count, config.model.latent_dim))
  return z, labels, rows


class Generation:
  Evaluator = periodic_eval.PeriodicEvaluator

  @staticmethod
  def load_split(config):
    return input_pipeline.load_split(config.data)

  @staticmethod
  def make_grid_fn(config, split, drawn, generate):
    z, labels, rows = grid_inputs(
        config, [split.class_names.index(name) for name in drawn])

    def grid(state):
      images = generate(state.ema_params, state.g_batch_stats, z, labels)
      image = pixels.make_grid(pixels.to_uint8(jax.device_get(images)),
                               rows=rows)
      return image, (drawn if labels is not None else None)

    return grid


class Translation:
  Evaluator = translation.PeriodicTranslationEvaluator

  @staticmethod
  def load_split(config):
    return paired_data.load_pairs(config.data)

  @staticmethod
  def make_grid_fn(config, split, drawn, generate):
    """Up to `log.grid_size` // 4 training pairs, evenly spaced."""
    del drawn
    rows = translation.evenly_spaced(len(split),
                                     max(1, config.log.grid_size // 4))
    sources, targets = paired_data.split_channels(
        pixels.to_float(split.images[rows]),
        paired_data.num_source_channels(config))

    def grid(state):
      translated = np.asarray(jax.device_get(
          generate(state.ema_params, state.g_batch_stats, sources, None)))
      return translation.pair_grid(sources, translated, targets), None

    return grid


def get(config):
  """The task of `config.model.name`'s family."""
  return Translation if steps.task(config) == "translation" else Generation
