"""Evaluation: FID, KID and Inception Score between two image sources.

`evaluate(source_a, source_b, ...)` compares any two of: a training workdir
(samples of its EMA generator), a folder of images, a TFDS split, or a
pytorch-fid statistics `.npz` (see `gan.image_sources` for the spec strings).
It streams images through the feature extractor (`gan.features`, sharded
over local devices), computes the metrics as pure functions of the features
(`gan.metrics`), and writes

  * a JSON file with every number, the N it was computed from, the sources,
    the preprocessing convention and the weights' hash;
  * TensorBoard scalars (`eval/fid`, `eval/kid_mean`, ...) at the checkpoint's
    step, through `gan.metric_writers`,

under `<workdir>/eval/` of a workdir source, or under `output`.

Which metrics apply:
  FID  any two sources (statistics files included);
  KID  both sources have images (it needs features, not statistics);
  IS   each source that has images (`is_a`, `is_b`).
Small N is flagged: FID with N < 2048 (the 2048-d covariance is then
rank-deficient and FID is biased upward) gets a warning in the log and in
`warnings`; KID is unbiased and is the better number for small sets.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any, Sequence

from absl import logging
import numpy as np

from gan import features as features_lib
from gan import image_sources
from gan.errors import UserError
from gan.metrics import fid as fid_lib
from gan.metrics import inception_score as is_lib
from gan.metrics import kid as kid_lib
from gan.metrics import statistics as statistics_lib

METRICS = ("fid", "kid", "is")


def _slug(text: str, limit: int = 60) -> str:
  text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
  return text[-limit:] or "source"


def _short_name(source) -> str:
  """A file-name-friendly name of a source: its folder, file or split."""
  if isinstance(source, image_sources.TfdsSource):
    text = f"{source.name}_{source.split}"
  elif isinstance(source, image_sources.StatisticsSource):
    text = os.path.splitext(os.path.basename(source.path))[0]
  elif isinstance(source, image_sources.WorkdirSource):
    text = os.path.basename(os.path.normpath(source.workdir))
  else:
    text = os.path.basename(os.path.normpath(source.folder))
  class_name = getattr(source, "class_name", None)
  return _slug(text + (f"_{class_name}" if class_name else ""))


def _parse_metrics(metrics: Sequence[str]) -> list[str]:
  chosen = [m.strip().lower() for m in metrics if m.strip()]
  unknown = [m for m in chosen if m not in METRICS]
  if unknown or not chosen:
    raise UserError(f"unknown metrics {unknown or metrics}; choose from "
                    f"{', '.join(METRICS)} (e.g. --metrics=fid,kid,is)")
  return chosen


class _Side:
  """One source with what was computed from it."""

  def __init__(self, label: str, source):
    self.label = label
    self.source = source
    self.features: dict[str, np.ndarray] = {}
    self.images_per_second: float | None = None
    self.from_cache = False

  @property
  def has_images(self) -> bool:
    return not isinstance(self.source, image_sources.StatisticsSource)

  @property
  def num(self) -> int | None:
    if self.has_images:
      return next(iter(self.features.values())).shape[0]
    return self.source.statistics.num_samples

  def describe(self) -> dict:
    description = {"spec": self.source.spec, **self.source.describe(),
                   "num_images": self.num}
    if self.images_per_second is not None:
      description["images_per_second"] = round(self.images_per_second, 2)
    if self.from_cache:
      description["features_from_cache"] = True
    return description


def _cache_path(cache_dir: str, side: _Side, networks: dict,
                names) -> str | None:
  key = side.source.cache_key()
  if key is None:
    return None
  digest = hashlib.sha256(key.encode())
  for name in sorted(networks):
    digest.update(f"\0{name}\0{networks[name].info.get('fingerprint', '')}\0"
                  f"{networks[name].convention}".encode())
  digest.update(("\0" + ",".join(sorted(names))).encode())
  return os.path.join(cache_dir, f"features_{digest.hexdigest()[:32]}.npz")


def _extract(side: _Side, names: list[str], networks: dict, batch_size: int,
             cache_dir: str | None, progress: bool) -> None:
  cache = _cache_path(cache_dir, side, networks, names) if cache_dir else None
  if cache and os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as data:
      side.features = {name: data[name] for name in names}
    side.from_cache = True
    logging.info("%s: features of %d images from cache %s", side.source.spec,
                 side.num, cache)
    return
  side.features, side.images_per_second = features_lib.extract_features(
      side.source.batches(batch_size), names, networks,
      total=side.source.num_images(), description=f"{side.label}: "
      f"{side.source.spec}", progress=progress)
  count = side.features[names[0]].shape[0]
  logging.info("%s: %d images at %.1f img/s", side.source.spec, count,
               side.images_per_second)
  if count < 2:
    raise UserError(f"source {side.source.spec} has {count} image(s); the "
                    f"metrics need at least 2")
  if cache:
    os.makedirs(cache_dir, exist_ok=True)
    temporary = cache + ".tmp.npz"
    np.savez(temporary, **side.features)
    os.replace(temporary, cache)


def _statistics_of(side: _Side, feature: features_lib.FeatureSpec):
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


def _fid(a, b) -> float:
  """FID between features [N, d] and/or Statistics, by the cheapest form."""
  try:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
      return fid_lib.frechet_distance_from_features(a, b)
    if isinstance(a, np.ndarray):
      return fid_lib.frechet_distance_features_to_statistics(a, b.mu, b.sigma)
    if isinstance(b, np.ndarray):
      return fid_lib.frechet_distance_features_to_statistics(b, a.mu, a.sigma)
    return fid_lib.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
  except ValueError as e:  # E.g. NaN in a statistics file.
    raise UserError(f"cannot compute FID: {e}") from None


def _output_location(output: str | None, sides: list[_Side]
                     ) -> tuple[str | None, str | None, int]:
  """(JSON path, TensorBoard dir, step) for the results."""
  workdir_sides = [s for s in sides
                   if isinstance(s.source, image_sources.WorkdirSource)]
  step = (int(workdir_sides[0].source.generator.step) if workdir_sides
          else 0)
  names = "__vs__".join(_short_name(s.source) for s in sides)
  if output:
    if output.endswith(".json"):
      return output, os.path.dirname(os.path.abspath(output)), step
    return os.path.join(output, f"evaluation_{names}.json"), output, step
  if workdir_sides:
    directory = os.path.join(workdir_sides[0].source.workdir, "eval")
    others = [s for s in sides if s is not workdir_sides[0]]
    other = _short_name(others[0].source) if others else "self"
    return (os.path.join(directory, f"step_{step:09d}__vs__{other}.json"),
            directory, step)
  return None, None, step


def _write_tensorboard(directory: str, step: int, results: dict) -> None:
  scalars = {}
  for name, value in results["metrics"].items():
    if "value" in value:
      scalars[f"eval/{name}"] = value["value"]
    if "mean" in value:
      scalars[f"eval/{name}_mean"] = value["mean"]
      scalars[f"eval/{name}_std"] = value["std"]
  if not scalars:
    return
  from gan import metric_writers  # pylint: disable=g-import-not-at-top
  writer = metric_writers.create_writer(directory)
  try:
    writer.write_scalars(step, scalars)
    writer.flush()
  finally:
    writer.close()


def evaluate(source_a: str, source_b: str | None = None, *,
             metrics: Sequence[str] = METRICS,
             feature: str = "inception",
             logits_feature: str = "inception_logits",
             inception_weights: str | None = None,
             batch_size: int = 50,
             num_samples: int = 10_000,
             seed: int = 0,
             data_dir: str | None = None,
             kid_subset_size: int = kid_lib.DEFAULT_SUBSET_SIZE,
             kid_subsets: int = kid_lib.DEFAULT_NUM_SUBSETS,
             kid_seed: int = kid_lib.DEFAULT_SEED,
             is_splits: int = is_lib.DEFAULT_NUM_SPLITS,
             is_seed: int = is_lib.DEFAULT_SEED,
             save_statistics: str | None = None,
             cache_dir: str | None = None,
             output: str | None = None,
             tensorboard: bool = True,
             progress: bool = True) -> dict[str, Any]:
  """Compares two image sources; see the module docstring.

  Args:
    source_a, source_b: source specs (`gan.image_sources`). `source_b` may be
      None to only write `save_statistics` (and IS) of `source_a`.
    metrics: any of 'fid', 'kid', 'is'.
    feature: feature for FID and KID (default pool3 of the FID Inception).
    logits_feature: feature for IS (logits without the fc bias).
    inception_weights: converted weights (default: $GAN_INCEPTION_WEIGHTS).
    batch_size: images per extraction step (all local devices together).
    num_samples: images generated from a workdir source (per class for a
      conditional model).
    seed: seed of the generated latents.
    data_dir: TFDS data directory.
    kid_subset_size, kid_subsets, kid_seed: KID subsets (size adapts to N).
    is_splits, is_seed: Inception Score splits and shuffle seed.
    save_statistics: write `source_a`'s statistics (pytorch-fid `.npz`).
    cache_dir: cache of extracted features for folder and TFDS sources.
    output: JSON file or directory (default `<workdir>/eval/` of a workdir
      source; with neither, results are only returned and logged).
    tensorboard: also write TensorBoard scalars next to the JSON.
    progress: show a progress bar with img/s.
  Returns:
    The results (what the JSON file holds).
  """
  started = time.time()
  chosen = _parse_metrics(metrics)
  fid_feature = features_lib.get_feature(feature)
  is_feature = features_lib.get_feature(logits_feature)
  if batch_size < 1:
    raise UserError(f"--batch_size must be positive, got {batch_size}")
  specs = [source_a] + ([source_b] if source_b else [])
  sides = [_Side(label, image_sources.parse_source(
      spec, data_dir=data_dir, num_samples=num_samples, seed=seed))
           for label, spec in zip("ab", specs)]
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

  if save_statistics and not sides[0].has_images:
    raise UserError(f"--save_statistics needs images in source_a, not the "
                    f"statistics file {sides[0].source.spec}")
  if not comparing and not save_statistics:
    raise UserError("give a second source (--source_b) to compare with, or "
                    "--save_statistics to only write statistics")
  if "kid" in chosen and comparing and not all(s.has_images for s in sides):
    warn("KID skipped: it needs images on both sides, and a statistics file "
         "holds only mean and covariance")
    chosen.remove("kid")

  # Features each side needs.
  needed: dict[str, list[str]] = {}
  for side in sides:
    if not side.has_images:
      continue
    names = []
    if ((save_statistics and side is sides[0])
        or (comparing and {"fid", "kid"} & set(chosen))):
      names.append(fid_feature.name)
    if "is" in chosen:
      names.append(is_feature.name)
    needed[side.label] = names or [fid_feature.name]

  networks = {}
  for name in {features_lib.get_feature(n).network
               for names in needed.values() for n in names}:
    if name == features_lib.FIDInceptionNetwork.name:
      networks[name] = features_lib.create_network(
          name, weights=inception_weights, batch_size=batch_size)
    else:
      networks[name] = features_lib.create_network(name, batch_size=batch_size)
  for side in sides:
    if side.has_images:
      _extract(side, needed[side.label], networks, batch_size, cache_dir,
               progress)

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

  if comparing and "fid" in chosen:
    a, b = (_statistics_of(s, fid_feature) for s in sides)
    num_a, num_b = sides[0].num, sides[1].num
    results["metrics"]["fid"] = {"value": _fid(a, b), "num_a": num_a,
                                 "num_b": num_b}
    for side, num in ((sides[0], num_a), (sides[1], num_b)):
      if num is None:
        warn(f"FID: the statistics file {side.source.spec} does not record "
             f"its N; FID depends on N, compare only at equal N")
      elif num < fid_lib.MIN_STABLE_SAMPLES:
        warn(f"FID with N={num} images in {side.source.spec} (< "
             f"{fid_lib.MIN_STABLE_SAMPLES}): the covariance is rank-deficient "
             f"and FID is biased upward; compare only at equal N, or use KID")
  if comparing and "kid" in chosen:
    kid = kid_lib.kernel_inception_distance(
        sides[0].features[fid_feature.name],
        sides[1].features[fid_feature.name], num_subsets=kid_subsets,
        subset_size=kid_subset_size, seed=kid_seed)
    results["metrics"]["kid"] = {
        "mean": kid.mean, "std": kid.std, "subset_size": kid.subset_size,
        "num_subsets": kid.num_subsets, "seed": kid_seed,
        "num_a": sides[0].num, "num_b": sides[1].num}
    if kid.subset_size < kid_subset_size:
      same = (" and every subset is the whole set, so its std is 0"
              if kid.subset_size == sides[0].num == sides[1].num else "")
      warn(f"KID subsets of {kid.subset_size} images (fewer images than "
           f"--kid_subset_size={kid_subset_size}){same}; the spread of KID "
           f"grows as N shrinks")
  if "is" in chosen:
    for side in sides:
      if not side.has_images:
        continue
      logits = side.features[is_feature.name]
      if logits.shape[0] < is_splits:
        warn(f"IS of {side.source.spec} skipped: {logits.shape[0]} images for "
             f"{is_splits} splits")
        continue
      score = is_lib.inception_score(logits, num_splits=is_splits,
                                     seed=is_seed)
      results["metrics"][f"is_{side.label}"] = {
          "mean": score.mean, "std": score.std, "splits": score.num_splits,
          "seed": is_seed, "num": int(logits.shape[0])}
  results["seconds"] = round(time.time() - started, 1)

  path, tensorboard_dir, step = _output_location(output, sides)
  results["step"] = step
  if path:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
      json.dump(results, f, indent=2, sort_keys=True)
    results["output"] = os.path.abspath(path)
    logging.info("results written to %s", path)
  if tensorboard and tensorboard_dir:
    _write_tensorboard(tensorboard_dir, step, results)
  return results


def summary(results: dict) -> str:
  """A few human-readable lines: every number with its N."""
  lines = []
  for name, value in results["metrics"].items():
    if name == "fid":
      lines.append(f"FID {value['value']:.4f}  (N_a={value['num_a']}, "
                   f"N_b={value['num_b']})")
    elif name == "kid":
      lines.append(f"KID {value['mean']:.6f} ± {value['std']:.6f}  "
                   f"(N_a={value['num_a']}, N_b={value['num_b']}, "
                   f"{value['num_subsets']} subsets of {value['subset_size']})")
    else:
      lines.append(f"IS({name[-1]}) {value['mean']:.4f} ± {value['std']:.4f}  "
                   f"(N={value['num']}, {value['splits']} splits)")
  lines.extend(f"warning: {w}" for w in results["warnings"])
  if "output" in results:
    lines.append(f"results: {results['output']}")
  return "\n".join(lines)
