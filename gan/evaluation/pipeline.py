"""`evaluate(source_a, source_b)`: the steps of one evaluation, metric-blind.

Parse the sources, decide which of the chosen metrics the sources can serve
(from each spec's `needs`), check the counts, load the networks, extract the
features (and keep the pixels the metrics read), compute each spec, and hand
the results to `gan.evaluation.reporting`.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Sequence

from absl import logging

from gan import features as features_lib
from gan import image_sources
from gan import inception_weights as inception_weights_lib
from gan import pixels
from gan.errors import UserError
from gan.evaluation import networks as networks_lib
from gan.evaluation import registry
from gan.evaluation import reporting
from gan.evaluation import sides as sides_lib
from gan.evaluation import spec
from gan.metrics import statistics as statistics_lib


def _statistics_of(side: sides_lib.Side, feature: features_lib.FeatureSpec):
  """Features [N, d] or Statistics of a side, checked against the feature."""
  if side.has_images:
    return side.features[feature.name]
  stats = side.source.statistics
  if stats.dims != feature.dims:
    raise UserError(f"statistics file {side.source.path} holds {stats.dims}-d "
                    f"features but --feature={feature.name} is "
                    f"{feature.dims}-d; recompute the statistics with it")
  if stats.feature and stats.feature != feature.name:
    raise UserError(f"statistics file {side.source.path} was computed with "
                    f"feature {stats.feature!r}, not {feature.name!r}; pass "
                    f"--feature={stats.feature} or recompute it")
  return stats


def compute_metrics(chosen: Sequence[str], inputs: spec.Inputs,
                    comparing: bool = True) -> list[spec.Result]:
  """Each chosen metric's results (a one-line UserError, naming the metric
  and its flags, for inputs a metric cannot take)."""
  out = []
  for name in chosen:
    s = registry.get(name)
    if s.compares and not comparing:
      continue
    with s.errors():
      out.extend(s.compute(inputs))
  return out


def feature_metrics(chosen: Sequence[str], fake, real, options=None, *,
                    fake_images=None, real_images=None,
                    plot_prefix: str | None = None,
                    fake_label: str = "generated") -> dict[str, dict]:
  """The extended metrics of generated vs real features, without sources.

  chosen: any of prdc, prd, lid, geometry_score, ms_ssim, memorization
    (others are ignored). fake, real: features [M, D], [N, D];
  fake_images: uint8 [M, H, W, C] (ms_ssim; the memorization grid);
  real_images: uint8 [N, H', W', C'] (the memorization grid).
  plot_prefix: PNGs go to `<plot_prefix>_<metric>.png` (None: no plots).
  """
  inputs = spec.Inputs(options or registry.MetricOptions(), features_a=fake,
                       features_b=real, images_a=fake_images,
                       images_b=real_images, short_a=fake_label,
                       names={"a": "source_a", "b": "source_b"})
  extended = [m for m in chosen if m in registry.METRICS
              and m not in registry.DEFAULT_METRICS]
  metrics: dict[str, dict] = {}
  reporting.add_results(metrics, compute_metrics(extended, inputs),
                        plot_prefix)
  return metrics


def _preprocessing_mismatch(sides) -> str | None:
  """A warning when a generator is compared with raw files: folder and TFDS
  sources keep each image's own size and colour (pytorch-fid's convention),
  while the generator learnt them preprocessed (grayscale, padded, resized);
  `data:WORKDIR/SPLIT` reads them as training did."""
  generators = [s for s in sides
                if isinstance(s.source, image_sources.WorkdirSource)]
  raw = [s for s in sides if isinstance(
      s.source, (image_sources.FolderSource, image_sources.TfdsSource))]
  if not generators or not raw:
    return None
  workdir = generators[0].source.workdir
  data = generators[0].source.generator.config.data
  split = (raw[0].source.split.split("[")[0]
           if isinstance(raw[0].source, image_sources.TfdsSource) else "train")
  steps = "; ".join(pixels.describe_preprocessing(data)["steps"])
  return (f"source_{raw[0].label} {raw[0].source.spec} is read as its files "
          f"are (own size and colour: pytorch-fid's convention), but the "
          f"generator of {workdir} learnt images preprocessed ({steps}); "
          f"--source_{raw[0].label}=data:{workdir}/{split} compares against "
          f"them as training read them")


def _applicable(chosen: list[str], everything: bool, sides, comparing: bool,
                save_statistics, inception_weights, feature: str,
                logits_feature: str, warn) -> list[str]:
  """The chosen metrics the sources can serve: a metric named that a source
  cannot serve is a one-line error; under `all` it is skipped with a
  warning."""
  if not comparing:
    if everything:
      chosen = [m for m in chosen if registry.get(m).single_source]
    elif not save_statistics and any(registry.get(m).compares
                                     for m in chosen):
      raise UserError("give a second source (--source_b) to compare with, or "
                      "--save_statistics to only write statistics")
  all_images = all(s.has_images for s in sides)
  for metric in list(chosen):
    s = registry.get(metric)
    if s.skipped_against_statistics and comparing and not all_images:
      warn(f"{metric.upper()} skipped: it needs images on both sides, and a "
           f"statistics file holds only mean and covariance")
      chosen.remove(metric)
      continue
    needs = (list(sides) if comparing and s.compares else []) + (
        sides[:1] if s.needs == spec.IMAGES_A else [])
    lacking = [side for side in needs if not side.has_images]
    if s.needs == spec.FEATURES_OR_STATISTICS or not lacking:
      continue
    what = (f"{metric} needs the images of source_a"
            if s.needs == spec.IMAGES_A
            else f"{metric} needs the features of both sources")
    message = (f"{what}, but {lacking[0].source.spec} is a statistics file "
               f"(mean and covariance only)")
    if not everything:
      raise UserError(f"{message}; pass its images instead (a folder, "
                      f"tfds:NAME/SPLIT or workdir:PATH), or leave {metric} "
                      f"out of --metrics")
    warn(f"{message}: skipped")
    chosen.remove(metric)
  logits_metrics = [m for m in chosen if registry.get(m).needs == spec.LOGITS]
  if (everything and logits_metrics
      and not inception_weights_lib.available(inception_weights)
      and features_lib.get_feature(feature).network
      != features_lib.get_feature(logits_feature).network):
    for metric in logits_metrics:
      warn(f"{metric.upper()} skipped: it needs the FID Inception weights "
           f"({inception_weights_lib.WEIGHTS_FLAG} or "
           f"${inception_weights_lib.WEIGHTS_ENV}), and none were given or "
           f"installed")
      chosen.remove(metric)
  return chosen


def evaluate(source_a, source_b=None, *,
             metrics: Sequence[str] | str = registry.DEFAULT_METRICS,
             feature: str = "inception",
             logits_feature: str = "inception_logits",
             inception_weights: str | None = None,
             batch_size: int = 50,
             num_samples: int = 10_000,
             seed: int = 0,
             data_dir: str | None = None,
             options=None,
             save_statistics: str | None = None,
             cache_dir: str | None = None,
             output: str | None = None,
             tensorboard: bool | Callable[[str], Any] = True,
             progress: bool = True,
             network_cache: dict | None = None,
             **option_values) -> dict[str, Any]:
  """Compares two image sources; see the package docstring.

  Args:
    source_a, source_b: source specs (`gan.image_sources`) or source objects
      (`ArraySource`, `GeneratorSource`, ...). `source_b` may be None to only
      write `save_statistics`, IS or ms_ssim of `source_a`.
    metrics: names from `METRICS`, or 'all' (a list or a comma-separated
      string).
    feature: feature of every feature-based metric (default pool3 of the FID
      Inception; `encoder:WORKDIR` for a trained classifier's features).
    logits_feature: feature for IS (logits without the fc bias).
    inception_weights: weights file (default: $GAN_INCEPTION_WEIGHTS, else
      found by `gan.inception_weights.find_weights`).
    batch_size: images per extraction step (all local devices together).
    num_samples: images generated from a workdir source (per class for a
      conditional model).
    seed: seed of the generated latents.
    data_dir: TFDS data directory.
    options: the metrics' parameters (`MetricOptions`).
    save_statistics: write `source_a`'s statistics (pytorch-fid `.npz`).
    cache_dir: cache of extracted features for folder, TFDS and array
      sources.
    output: JSON file or directory (default `<workdir>/eval/` of a workdir
      source; with neither, results are only returned and logged, and no
      plots are written).
    tensorboard: also write TensorBoard scalars next to the JSON; a callable
      `directory -> writer` (write_scalars, flush, close) writes through
      that writer instead (e.g. a test's).
    progress: show a progress bar with img/s.
    network_cache: a dict that keeps the feature networks between calls
      (loaded and compiled once; the periodic evaluation during training).
    **option_values: single `MetricOptions` fields set over `options` (e.g.
      kid_subset_size=100, is_splits=2).
  Returns:
    The results (what the JSON file holds).
  """
  started = time.time()
  options = dataclasses.replace(options or registry.MetricOptions(),
                                **option_values)
  chosen, everything = registry.parse_metrics(metrics)
  fid_feature = features_lib.get_feature(feature)
  is_feature = features_lib.get_feature(logits_feature)
  if batch_size < 1:
    raise UserError(f"--batch_size must be positive, got {batch_size}")
  specs = [source_a] + ([source_b] if source_b is not None else [])
  sides = [sides_lib.Side(label, image_sources.parse_source(
      s, data_dir=data_dir, num_samples=num_samples, seed=seed)
                          if isinstance(s, str) else s)
           for label, s in zip("ab", specs)]
  comparing = len(sides) == 2
  warnings: list[str] = []
  for side in sides:  # Before loading weights and compiling anything.
    known = side.source.num_images() if side.has_images else None
    if known is not None and known < 2:
      raise UserError(f"source {side.source.spec} has {known} image(s); the "
                      f"metrics need at least 2")

  def warn(message: str) -> None:
    warnings.append(message)
    logging.warning("%s", message)

  mismatch = _preprocessing_mismatch(sides)
  if mismatch:
    warn(mismatch)
  if save_statistics and not sides[0].has_images:
    raise UserError(f"--save_statistics needs images in source_a, not the "
                    f"statistics file {sides[0].source.spec}")
  chosen = _applicable(chosen, everything, sides, comparing, save_statistics,
                       inception_weights, feature, logits_feature, warn)

  def counts_check():
    registry.check_sample_counts(
        chosen, options, sides[0].num, sides[1].num if comparing else None,
        sides[0].source.spec, sides[1].source.spec if comparing else "")

  registry.check_sample_counts(
      chosen, options,
      sides[0].source.num_images() if sides[0].has_images else None,
      (sides[1].source.num_images() if comparing and sides[1].has_images
       else None),
      sides[0].source.spec, sides[1].source.spec if comparing else "")

  path, tensorboard_dir, step = reporting.output_location(output, sides)
  plot_prefix = os.path.splitext(path)[0] if path else None
  # Pixels each side keeps in memory (uint8): what the metrics read.
  keep = {side.label: any(side.label in registry.get(m).keeps_images(
      plot_prefix is not None) for m in chosen) for side in sides}

  # Features each side needs.
  compares = comparing and any(registry.get(m).compares for m in chosen)
  logits = any(registry.get(m).needs == spec.LOGITS for m in chosen)
  needed: dict[str, list[str]] = {}
  for side in sides:
    if side.has_images:
      needed[side.label] = (
          ([fid_feature.name] if compares or (save_statistics
                                               and side is sides[0]) else [])
          + ([is_feature.name] if logits else []))

  networks = networks_lib.create_networks(
      sorted({features_lib.get_feature(n).network
              for names in needed.values() for n in names}),
      inception_weights, batch_size, network_cache)
  # IS is an error only when asked for, not when part of the defaults.
  if networks_lib.drop_is_without_logits(
      chosen, networks, is_feature,
      lenient=everything or sorted(chosen) == sorted(registry.DEFAULT_METRICS),
      warn=warn):
    for names in needed.values():
      if is_feature.name in names:
        names.remove(is_feature.name)
  for side in sides:
    if side.has_images:
      sides_lib.extract(side, needed[side.label], networks, batch_size,
                        cache_dir, progress, keep_images=keep[side.label])
  for side in sides:
    if side.resized_note:
      warn(side.resized_note)
  counts_check()  # Counts known only now (a TFDS class, a cache).

  results: dict[str, Any] = {
      "sources": {side.label: side.describe() for side in sides},
      "feature": fid_feature.name,
      "metrics": {},
      "warnings": warnings,
  }
  if networks:
    results["conventions"] = {name: net.convention
                              for name, net in networks.items()}
    results["weights"] = {name: net.info for name, net in networks.items()}
  stats_conventions = {s.source.statistics.convention for s in sides
                       if not s.has_images and s.source.statistics.convention}
  for convention in stats_conventions - set(results.get("conventions",
                                                        {}).values()):
    if networks:
      warn(f"a statistics file was computed under another convention "
           f"({convention}); FID is only comparable under the same one")

  if save_statistics:
    stats = statistics_lib.compute_statistics(
        sides[0].features[fid_feature.name], feature=fid_feature.name,
        convention=networks[fid_feature.network].convention)
    statistics_lib.save_statistics(save_statistics, stats)
    results["saved_statistics"] = os.path.abspath(save_statistics)
    logging.info("wrote statistics of %s (N=%d) to %s", sides[0].source.spec,
                 stats.num_samples, save_statistics)

  inputs = spec.Inputs(
      options,
      features_a=_statistics_of(sides[0], fid_feature) if compares else None,
      features_b=_statistics_of(sides[1], fid_feature) if compares else None,
      logits={s.label: s.features[is_feature.name] for s in sides
              if is_feature.name in s.features},
      images_a=sides[0].images,
      images_b=sides[1].images if comparing else None,
      names={s.label: s.source.spec for s in sides},
      short_a=reporting.short_name(sides[0].source), warn=warn)
  computed = compute_metrics(chosen, inputs, comparing)
  if not plot_prefix and any(r.draw for r in computed):
    logging.info("no --output and no workdir source: plots are not written")
  reporting.add_results(results["metrics"], computed, plot_prefix)
  if any(m not in registry.DEFAULT_METRICS for m in chosen):
    results["metric_options"] = dataclasses.asdict(options)
  results["seconds"] = round(time.time() - started, 1)

  results["step"] = step
  if path:
    reporting.write_json(path, results)
    results["output"] = os.path.abspath(path)
  if tensorboard and tensorboard_dir:
    reporting.write_tensorboard(tensorboard_dir, step, results,
                                tensorboard if callable(tensorboard) else None)
  return results
