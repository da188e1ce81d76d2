"""A small ResNet classifier for MRI slices: the downstream task and the encoder.

Used three ways:
* `python -m gan.classifier --config=configs/classifier_alzheimers.py
  --workdir=DIR` trains it on a TFDS split and reports test accuracy,
  balanced accuracy, macro-F1 and per-class recall;
* its penultimate features are a domain-specific feature space for the
  evaluation metrics (`encoder:<workdir>`);
* the augmentation benchmark trains it under several data arms.

Functions work on in-memory arrays (images: [N, R, R, C] uint8) so the same
code trains on real, synthetic or mixed sets.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging

from gan import checkpoint as checkpoint_lib
from gan import input_pipeline
from gan import parallel
from gan import pixels
from gan.errors import UserError


def _norm(train: bool, **kwargs):
  # BatchNorm, not a per-image norm: absolute intensity carries information
  # in MRI. Training statistics are those of the global batch.
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      axis_name=parallel.AXIS if train else None, **kwargs)


class ResidualBlock(nn.Module):
  features: int
  strides: int = 1

  @nn.compact
  def __call__(self, x, train: bool):
    residual = x
    y = nn.Conv(self.features, (3, 3), strides=self.strides, use_bias=False)(x)
    y = nn.relu(_norm(train)(y))
    y = nn.Conv(self.features, (3, 3), use_bias=False)(y)
    y = _norm(train, scale_init=nn.initializers.zeros)(y)
    if residual.shape != y.shape:
      residual = nn.Conv(self.features, (1, 1), strides=self.strides,
                         use_bias=False)(residual)
    return nn.relu(residual + y)


class ResNet(nn.Module):
  """images: [B, R, R, C] in [-1, 1] -> (logits [B, K], features [B, F])."""
  num_classes: int
  widths: Sequence[int] = (32, 64, 128, 256)
  # A stride-2 stem halves the first stage's resolution: about 3x fewer
  # FLOPs at 64 px, which is what makes CPU training of many arms affordable.
  stem_strides: int = 1

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(self.widths[0], (3, 3), strides=self.stem_strides,
                use_bias=False)(x)
    x = nn.relu(_norm(train)(x))
    for i, width in enumerate(self.widths):
      x = ResidualBlock(width, strides=1 if i == 0 else 2)(x, train)
    features = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes)(features), features


@flax.struct.dataclass
class ClassifierState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


def _augment_classic(images, key, strength: float = 1.0):
  """Flips, small affine (shift/scale), intensity jitter; images in [-1, 1].

  images: [B, R, R, C]. Background is -1, so shifts fill with -1. `strength`
  scales every range but the flip's (1: scale and gain within e^+-0.1,
  shifts within +-6% of the side, bias within +-0.05), so that the benchmark
  can choose it on validation.
  """
  b, r = images.shape[0], images.shape[1]
  k_flip, k_scale, k_shift, k_gain, k_bias = jax.random.split(key, 5)
  flip = jax.random.bernoulli(k_flip, 0.5, (b, 1, 1, 1))
  images = jnp.where(flip, images[:, :, ::-1], images)

  def uniform(k, shape, half_width):  # U(-w, w), w scaled by the strength.
    return jax.random.uniform(k, shape, minval=-half_width * strength,
                              maxval=half_width * strength)

  scale = jnp.exp(uniform(k_scale, (b,), 0.1))
  shift = uniform(k_shift, (b, 2), 0.06) * r
  coords = jnp.arange(r, dtype=jnp.float32) - (r - 1) / 2

  def warp(image, s, t):
    ys = coords[:, None] / s + (r - 1) / 2 - t[0]
    xs = coords[None, :] / s + (r - 1) / 2 - t[1]
    ys, xs = jnp.broadcast_to(ys, (r, r)), jnp.broadcast_to(xs, (r, r))
    channels = [jax.scipy.ndimage.map_coordinates(
        image[..., c], [ys, xs], order=1, mode="constant", cval=-1.0)
                for c in range(image.shape[-1])]
    return jnp.stack(channels, axis=-1)

  images = jax.vmap(warp)(images, scale, shift)
  gain = jnp.exp(uniform(k_gain, (b, 1, 1, 1), 0.1))
  bias = uniform(k_bias, (b, 1, 1, 1), 0.05)
  # Intensity jitter on the tissue only: the background stays at -1.
  tissue = images > -0.99
  return jnp.where(tissue, jnp.clip((images + 1) * gain - 1 + bias, -1, 1), images)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
  """[K] weights n / (K n_c) (scikit-learn's "balanced"): each class's
  examples weigh as much in total as any other class's; 0 for a class
  without examples."""
  counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
  return np.divide(len(labels), num_classes * counts, out=np.zeros(num_classes),
                   where=counts > 0).astype(np.float32)


def weighted_cross_entropy(logits, labels, class_weights=None):
  """Mean softmax cross-entropy; with [K] class_weights, PyTorch's
  CrossEntropyLoss(weight=...) convention: sum(w_y ce) / sum(w_y)."""
  ce = optax.softmax_cross_entropy(
      logits, jax.nn.one_hot(labels, logits.shape[-1]))
  if class_weights is None:
    return jnp.mean(ce)
  w = jnp.asarray(class_weights)[labels]
  return jnp.sum(w * ce) / jnp.sum(w)


def make_train_step(model, tx, augment: bool, class_weights=None,
                    augment_strength: float = 1.0):
  """class_weights: None, or [K] per-class loss weights (class-weighted loss;
  see weighted_cross_entropy); augment_strength: see _augment_classic."""
  def step(state, batch, rng):
    images = batch["image"]
    if augment:
      images = _augment_classic(images, jax.random.fold_in(
          rng, jax.lax.axis_index(parallel.AXIS)), augment_strength)

    def loss_fn(params):
      (logits, _), mutated = model.apply(
          {"params": params, "batch_stats": state.batch_stats}, images,
          train=True, mutable=["batch_stats"])
      return (weighted_cross_entropy(logits, batch["label"], class_weights),
              mutated["batch_stats"])

    (loss, batch_stats), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, parallel.AXIS)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return (state.replace(step=state.step + 1, params=params,
                          batch_stats=batch_stats, opt_state=opt_state),
            {"loss": jax.lax.pmean(loss, parallel.AXIS)})
  return step


def classification_metrics(labels: np.ndarray, predictions: np.ndarray,
                           class_names: Sequence[str]) -> dict[str, Any]:
  """Accuracy, balanced accuracy, macro-F1, per-class recall and the
  confusion matrix (rows: true class, columns: predicted) (numpy)."""
  k = len(class_names)
  confusion = np.zeros((k, k), np.int64)
  np.add.at(confusion, (labels, predictions), 1)
  support = confusion.sum(axis=1)
  predicted = confusion.sum(axis=0)
  tp = np.diag(confusion).astype(np.float64)
  recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
  precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
  f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k),
                 where=(precision + recall) > 0)
  present = support > 0
  return {
      "accuracy": float(tp.sum() / max(1, confusion.sum())),
      "balanced_accuracy": float(recall[present].mean()),
      "macro_f1": float(f1[present].mean()),
      "recall": {name: float(r) for name, r in zip(class_names, recall)},
      "num_examples": int(confusion.sum()),
      "confusion": confusion.tolist(),
  }


@dataclasses.dataclass
class TrainedClassifier:
  model: ResNet
  variables: Any           # {"params": ..., "batch_stats": ...}
  class_names: list[str]

  @property
  def _apply(self):
    return _inference_program(self.model.num_classes, tuple(self.model.widths),
                              self.model.stem_strides)

  def logits_and_features(self, images: np.ndarray, batch_size: int = 256):
    """images: [N, R, R, C] uint8 -> (logits [N, K], features [N, F])."""
    logits, features = [], []
    for start in range(0, len(images), batch_size):
      x = pixels.to_float(images[start:start + batch_size])
      out = self._apply(self.variables, x)
      logits.append(np.asarray(out[0]))
      features.append(np.asarray(out[1]))
    return np.concatenate(logits), np.concatenate(features)

  def evaluate(self, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    logits, _ = self.logits_and_features(images)
    return classification_metrics(labels, logits.argmax(-1), self.class_names)


def _model(config: ml_collections.ConfigDict, num_classes: int) -> ResNet:
  return ResNet(num_classes=num_classes, widths=tuple(config.widths),
                stem_strides=config.get("stem_strides", 1))


# One set of programs per configuration: the benchmark's seeds and arms, and
# the tests, fit the same configuration many times, and each new function
# object would be compiled again.
@functools.lru_cache(maxsize=16)
def _training_programs(num_classes, widths, stem_strides, learning_rate,
                       weight_decay, num_steps, augment, class_weights,
                       augment_strength):
  """(model, optimizer, jitted init, data-parallel train step)."""
  model = ResNet(num_classes=num_classes, widths=widths,
                 stem_strides=stem_strides)
  tx = optax.adamw(optax.cosine_decay_schedule(learning_rate, num_steps),
                   weight_decay=weight_decay)
  weights = None if class_weights is None else np.asarray(class_weights,
                                                          np.float32)
  step = parallel.data_parallel_step(make_train_step(
      model, tx, augment, weights, augment_strength=augment_strength))
  return model, tx, jax.jit(model.init), step


@functools.lru_cache(maxsize=16)
def _inference_program(num_classes, widths, stem_strides):
  """Data-parallel `(variables, images) -> (logits, features)` of one model
  shape, shared by every classifier of that shape."""
  model = ResNet(num_classes=num_classes, widths=widths,
                 stem_strides=stem_strides)
  return parallel.batched_inference(
      lambda variables, x: model.apply(variables, x, train=False))


def fit(config: ml_collections.ConfigDict, images: np.ndarray,
        labels: np.ndarray, class_names: Sequence[str], seed: int,
        augment: bool = False) -> TrainedClassifier:
  """Trains a fresh classifier for `config.num_steps` steps on the arrays.

  config.class_balanced draws every class equally often; config.class_weighted
  (default False) weighs the loss by balanced_class_weights instead;
  config.augment_strength (default 1) scales the classic augmentation's ranges.
  """
  if len(images) < 2:
    raise UserError(f"the classifier needs training images; got {len(images)}")
  strength = float(config.get("augment_strength", 1.0))
  if augment and not strength > 0:
    raise UserError(f"classifier.augment_strength must be > 0; got {strength} "
                    f"(turn augmentation off with --config.classifier.augment=False)")
  class_weights = None
  if config.get("class_weighted", False):
    class_weights = tuple(balanced_class_weights(
        np.asarray(labels), len(class_names)).tolist())
  model, tx, init, p_step = _training_programs(
      len(class_names), tuple(config.widths), config.get("stem_strides", 1),
      float(config.learning_rate), float(config.weight_decay),
      int(config.num_steps), bool(augment), class_weights,
      strength if augment else 1.0)
  variables = init(jax.random.key(seed), jnp.zeros((1,) + images.shape[1:]))
  state = ClassifierState(step=jnp.zeros((), jnp.int32),
                          params=variables["params"],
                          batch_stats=variables["batch_stats"],
                          opt_state=tx.init(variables["params"]))
  parallel.check_global_batch(config.batch_size)
  sampler = input_pipeline.BatchSampler(labels, config.batch_size, seed,
                                        class_balanced=config.class_balanced)
  key = jax.random.key(seed + 1)
  start = time.time()
  for step in range(config.num_steps):
    idx, _ = sampler.indices(step)
    batch = {"image": pixels.to_float(images[idx]), "label": labels[idx]}
    state, metrics = p_step(state, parallel.shard(batch),
                            jax.random.fold_in(key, step))
    if (step + 1) % config.log_every_steps == 0 or step + 1 == config.num_steps:
      logging.info("classifier step %d/%d loss %.4f (%.0f img/s)", step + 1,
                   config.num_steps, float(metrics["loss"]),
                   (step + 1) * config.batch_size / (time.time() - start))
  return TrainedClassifier(
      model, {"params": state.params, "batch_stats": state.batch_stats},
      list(class_names))


def save(classifier: TrainedClassifier, config: ml_collections.ConfigDict,
         workdir: str, test_metrics: dict | None = None) -> None:
  checkpointer = checkpoint_lib.Checkpointer(workdir, keep=1)
  meta = {"config": config.to_dict(), "class_names": classifier.class_names,
          "test_metrics": test_metrics}
  checkpointer.save(0, classifier.variables,
                    meta, force=True)
  checkpointer.wait_until_finished()


def to_bytes(classifier: TrainedClassifier) -> bytes:
  """The trained variables, serialised (msgpack); see `from_bytes`."""
  return flax.serialization.to_bytes(jax.device_get(classifier.variables))


def from_bytes(config: ml_collections.ConfigDict, class_names: Sequence[str],
               image_shape: tuple[int, ...], data: bytes) -> TrainedClassifier:
  """The classifier `to_bytes` wrote, for images of `image_shape` (R, R, C)
  and the classifier config it was trained with."""
  model, template = _model_and_template(config, len(class_names), image_shape)
  variables = flax.serialization.from_bytes(template, data)
  return TrainedClassifier(model, variables, list(class_names))


def _model_and_template(config, num_classes: int, image_shape):
  """The model of a classifier config and its variables' shapes for images
  of `image_shape` (R, R, C), without computing any weights."""
  model = _model(config, num_classes)
  template = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1,) + tuple(image_shape))))
  return model, template


def load(workdir: str) -> TrainedClassifier:
  """The classifier saved by `python -m gan.classifier` in `workdir`."""
  checkpointer = checkpoint_lib.Checkpointer(workdir, read_only=True)
  meta = checkpointer.restore_meta()
  config = ml_collections.ConfigDict(meta["config"])
  model, template = _model_and_template(
      config.classifier, len(meta["class_names"]),
      (config.data.resolution, config.data.resolution, config.data.channels))
  variables = checkpointer.restore(dict(template), config)
  return TrainedClassifier(model, variables, list(meta["class_names"]))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains on `config.data.split`, evaluates on `config.test_split`, saves."""
  train_split, test_split = input_pipeline.load_train_and_test(
      config.data, config.test_split)
  classifier = fit(config.classifier, train_split.images, train_split.labels,
                   train_split.class_names, config.seed,
                   augment=config.classifier.augment)
  metrics = classifier.evaluate(test_split.images, test_split.labels)
  logging.info("test accuracy %.4f, balanced accuracy %.4f, macro-F1 %.4f, "
               "recall %s", metrics["accuracy"], metrics["balanced_accuracy"],
               metrics["macro_f1"], metrics["recall"])
  save(classifier, config, workdir, metrics)
  return metrics
