"""Feature extractors, chosen by name from a small registry.

A *feature* names one output of one *network*:

  inception         pool3 of the FID Inception v3, 2048-d (FID, KID)
  inception_logits  its 1008-way logits without the fc bias (Inception
                    Score; torch-fidelity's 'logits_unbiased')

Features of the same network are computed in one pass. Adding an extractor
(e.g. an encoder trained on the user's own MRI, which medical studies found
can rank generators differently from ImageNet Inception) is adding a network
factory with `register_network` and its outputs with `register_feature`.

A network takes float32 [B, H, W, C] images in [-1, 1] and returns numpy
float32 outputs [B, dims]. Extraction is sharded over all local devices
(`gan.parallel.batched_inference`) and streamed: images are dropped as soon
as their features are computed.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Iterable, Protocol

from absl import logging
import jax
import numpy as np

from gan import inception
from gan import parallel
from gan.errors import UserError


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
  name: str
  network: str
  output: str
  dims: int
  description: str


class Network(Protocol):
  """Maps images to named outputs."""
  name: str
  convention: str     # Preprocessing and weights, for results.
  info: dict          # JSON-able details (weights file, hash...).

  def __call__(self, images: np.ndarray) -> dict[str, jax.Array]:
    """float32 [B, H, W, C] in [-1, 1] -> {output: [B, dims]} (async)."""


_NETWORKS: dict[str, Callable[..., Network]] = {}
_FEATURES: dict[str, FeatureSpec] = {}


def register_network(name: str, factory: Callable[..., Network]) -> None:
  """`factory(**options) -> Network`; options come from the caller."""
  _NETWORKS[name] = factory


def register_feature(spec: FeatureSpec) -> None:
  _FEATURES[spec.name] = spec


def feature_names() -> list[str]:
  return sorted(_FEATURES)


def get_feature(name: str) -> FeatureSpec:
  if name not in _FEATURES:
    raise UserError(f"unknown feature {name!r}; choose one of "
                    f"{', '.join(feature_names())}")
  return _FEATURES[name]


def create_network(name: str, **options) -> Network:
  if name not in _NETWORKS:
    raise UserError(f"unknown network {name!r}; registered: "
                    f"{', '.join(sorted(_NETWORKS))}")
  return _NETWORKS[name](**options)


# ---------------------------------------------------------------------------
# The FID Inception.


def _bucket(size: int, batch_size: int, multiple: int) -> int:
  """Smallest power of two >= size (a multiple of `multiple`), capped.

  Batches are padded to a few fixed sizes so that a partial last batch costs
  at most one more compilation and at most twice its own compute.
  """
  bucket = multiple
  while bucket < size:
    bucket *= 2
  return min(bucket, -(-batch_size // multiple) * multiple)


class FIDInceptionNetwork:
  """pytorch-fid's FID Inception v3 (`gan.inception`) on all local devices.

  Outputs 'pool3', 'logits' and 'logits_unbiased'. Weights: a converted
  `.msgpack` (or pytorch-fid's `.pth`) from `weights`, else from the
  environment variable GAN_INCEPTION_WEIGHTS.
  """
  name = "fid_inception_v3"

  def __init__(self, weights: str | None = None, batch_size: int = 50):
    path = weights or os.environ.get(inception.WEIGHTS_ENV)
    variables, weights_info = inception.load_variables(path)
    self.variables = jax.device_put(variables)
    self.batch_size = batch_size
    self.info = dict(weights_info)
    self.info["fingerprint"] = inception.fingerprint(variables)
    official = weights_info["official"] == "yes"
    weights_name = (inception.WEIGHTS_FILE if official else
                    f"weights that are NOT {inception.WEIGHTS_FILE} (values "
                    f"not comparable to published FIDs)")
    sha256 = weights_info["source_sha256"][:16] or "unknown"
    self.convention = (f"FID Inception v3 ({inception.PREPROCESSING}); "
                       f"{weights_name}, source sha256 {sha256}")
    if not official:
      logging.warning("FID Inception weights %s are not pytorch-fid's release "
                      "file: values are not comparable to published FIDs.",
                      path)
    self._resize = jax.jit(inception.preprocess)
    self._network = parallel.batched_inference(inception.apply)

  def __call__(self, images: np.ndarray) -> dict[str, jax.Array]:
    num = images.shape[0]
    padded = _bucket(num, self.batch_size, jax.local_device_count())
    if padded > num:
      images = np.concatenate([images, np.repeat(images[-1:], padded - num,
                                                 axis=0)])
    outputs = self._network(self.variables, self._resize(images))
    return {k: v[:num] for k, v in outputs.items()}


register_network(FIDInceptionNetwork.name, FIDInceptionNetwork)
register_feature(FeatureSpec(
    "inception", FIDInceptionNetwork.name, "pool3", inception.POOL3_DIMS,
    "FID Inception v3 pool3 (FID, KID)"))
register_feature(FeatureSpec(
    "inception_logits", FIDInceptionNetwork.name, "logits_unbiased",
    inception.NUM_CLASSES,
    "FID Inception v3 logits without the fc bias (Inception Score)"))


# ---------------------------------------------------------------------------
# Extraction.


def _progress(total: int | None, description: str, enabled: bool):
  if not enabled:
    return None
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, desc=description, unit="img", dynamic_ncols=True,
              smoothing=0.1)


def extract_features(batches: Iterable[np.ndarray], features: list[str],
                     networks: dict[str, Network], *, total: int | None = None,
                     description: str = "features", progress: bool = True
                     ) -> tuple[dict[str, np.ndarray], float]:
  """Runs the networks over a stream of image batches.

  Args:
    batches: float32 [B, H, W, C] in [-1, 1] batches (e.g. a source's).
    features: names of registered features.
    networks: network name -> Network, for every feature's network.
    total: number of images, for the progress bar.
    description: progress bar label.
    progress: whether to show progress (img/s) on stderr.
  Returns:
    ({feature: float32 [N, dims]}, images per second).
  """
  specs = [get_feature(name) for name in features]
  collected: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
  bar = _progress(total, description, progress)
  start = time.perf_counter()
  count = 0
  in_flight = None  # Dispatch the next batch before reading this one back.

  def collect(outputs, size):
    nonlocal count
    for spec in specs:
      collected[spec.name].append(
          np.asarray(outputs[spec.network][spec.output], np.float32))
    count += size
    if bar is not None:
      bar.update(size)

  try:
    for images in batches:
      if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise UserError(f"{description}: images must be [B, H, W, 1 or 3], "
                        f"got {images.shape}")
      outputs = {name: networks[name](images)
                 for name in {s.network for s in specs}}
      if in_flight is not None:
        collect(*in_flight)
      in_flight = (outputs, images.shape[0])
    if in_flight is not None:
      collect(*in_flight)
  finally:
    if bar is not None:
      bar.close()
  seconds = time.perf_counter() - start
  result = {}
  for spec in specs:
    parts = collected[spec.name]
    result[spec.name] = (np.concatenate(parts) if parts
                         else np.zeros((0, spec.dims), np.float32))
  return result, count / max(seconds, 1e-9)
