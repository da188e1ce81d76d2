"""The FastGAN family (Liu et al., ICLR 2021): state, optimizers, the step.

One step `(state, batch, rng, phase) -> (state, metrics)`:
  D: the configured loss (hinge in the reference) on D(augment(real)) and
     D(augment(G(z))), 50 patch logits per image (two branches, gan/models/
     fastgan.py), plus the self-supervised reconstruction loss on reals:
     three decoders rebuild the half-resolution real image (from the 8x8
     map and from the small branch) and a random quarter of it (from that
     quarter of the 16x16 map). The reference scores reconstructions with
     LPIPS, whose VGG weights are not available offline; here it is L1 plus
     L1 of the horizontal and vertical image differences (edges), weighted
     by `model.fastgan.reconstruction_weight`.
  G: the loss's generator term on D(augment(G(z))) against the updated D;
     G runs forward once per step (its vjp from the D phase is reused).
  EMA of G's weights with the DCGAN family's ramp-up (`train.ema_decay`).
Augmentation is DiffAugment (`augment.kind = "diffaugment"`, the FastGAN
configs' default; fill `augment.fill_value`, -1 = the MRI background), the
same transform for an image and its half-resolution copy.
Latents, noise-injection keys, augmentation keys and quarters are drawn for
the global batch and sliced per device; BatchNorm statistics, gradients and
metrics are averaged over `parallel.AXIS`: results do not depend on the
number of devices.
"""
from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan import augment as augment_lib
from gan import losses
from gan import parallel
from gan.augment import diffaugment
from gan.errors import UserError
from gan.models import fastgan as fastgan_models
from gan.steps import common

LOSSES = ("hinge", "nonsaturating")

# Config fields only other families read (beyond other families' model
# sections, which `gan.steps` ignores for every family).
IGNORED_FIELDS = ("model.g_base_channels", "model.d_base_channels",
                  "model.label_embed_dim", "train.gp_weight",
                  "train.r1_gamma", "train.r1_interval", "train.pl_",
                  "train.style_mixing_prob", "train.ema_kimg",
                  "train.ema_rampup", "augment.ada")


@flax.struct.dataclass
class FastGANState:
  """Everything needed to continue a run exactly (and nothing else)."""
  step: jax.Array            # int32 scalar: completed train steps.
  g_params: Any
  g_batch_stats: Any         # BatchNorm statistics and spectral-norm vectors.
  d_params: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any            # EMA of g_params: the generator that samples.
  rng: jax.Array             # uint32[2]: the run's base key (raw key data).


def validate(config) -> None:
  fastgan_models.check_resolution(config.data.resolution)
  kind = config.augment.kind
  if kind not in ("none", "diffaugment"):
    raise UserError(f"model 'fastgan' cannot run augment.kind={kind!r}; set "
                    f"--config.augment.kind to 'diffaugment' or 'none'")
  diffaugment.parse_policy(config.augment.diffaugment_policy)
  if config.model.fastgan.reconstruction_weight < 0:
    raise UserError("model.fastgan.reconstruction_weight must be >= 0")


def create_models(config, num_classes: int, bn_axis_name=None):
  return fastgan_models.create(
      config, num_classes if config.data.conditional else 0,
      bn_axis_name=bn_axis_name)


def create_optimizers(config):
  t = config.train
  return (optax.adam(t.g_learning_rate, b1=t.adam_b1, b2=t.adam_b2),
          optax.adam(t.d_learning_rate, b1=t.adam_b1, b2=t.adam_b2))


def create_train_state(config, num_classes: int) -> FastGANState:
  """Initial state for `config`; a pure function of config.seed."""
  generator, discriminator = create_models(config, num_classes)
  g_tx, d_tx = create_optimizers(config)
  res, ch = config.data.resolution, config.data.channels

  @jax.jit
  def init(key):
    g_key, d_key = jax.random.split(jax.random.fold_in(key, 0))
    labels = common.dummy_labels(config, 2)
    # Two examples so that BatchNorm's variance is defined at init.
    g_vars = generator.init(g_key, jnp.zeros((2, config.model.latent_dim)),
                            labels)
    d_vars = discriminator.init(
        d_key, jnp.zeros((2, res, res, ch)),
        jnp.zeros((2, res // 2, res // 2, ch)), labels,
        jnp.zeros((2,), jnp.int32))
    return FastGANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_batch_stats=g_vars["batch_stats"],
        d_params=d_vars["params"], d_batch_stats=d_vars["batch_stats"],
        g_opt_state=g_tx.init(g_vars["params"]),
        d_opt_state=d_tx.init(d_vars["params"]),
        ema_params=g_vars["params"],
        rng=jax.random.key_data(key))

  return init(jax.random.key(config.seed))


def step_phase(config, step: int) -> None:
  """FastGAN steps have one phase."""
  del config, step
  return None


def reconstruction_loss(reconstruction, target) -> jax.Array:
  """Mean |r - t| plus mean |grad r - grad t| (forward differences along
  both image axes): pixels and edges, in place of LPIPS."""
  loss = jnp.mean(jnp.abs(reconstruction - target))
  for axis in (1, 2):
    loss += jnp.mean(jnp.abs(jnp.diff(reconstruction, axis=axis)
                             - jnp.diff(target, axis=axis)))
  return loss


def make_augment_fn(config):
  """`(images, keys) -> images`: DiffAugment or the identity."""
  a = config.augment
  if a.kind != "diffaugment":
    return lambda x, keys: x
  policy = diffaugment.parse_policy(a.diffaugment_policy)
  fill = float(a.fill_value)
  return lambda x, keys: diffaugment.augment(x, keys, policy, fill)


def make_train_step(config, num_classes: int):
  """The pure step `(state, batch, rng, phase=None) -> (state, metrics)`.

  batch: {"image": [b, R, R, C] float32 in [-1, 1], "label": [b] int32}.
  """
  generator, discriminator = create_models(config, num_classes,
                                           bn_axis_name=parallel.AXIS)
  g_tx, d_tx = create_optimizers(config)
  loss = losses.get(config.train.loss)
  augment = make_augment_fn(config)
  t = config.train
  conditional = config.data.conditional
  half_size = config.data.resolution // 2
  recon_weight = config.model.fastgan.reconstruction_weight

  def d_apply(d_params, batch_stats, images, half, labels, part=None):
    out, mutated = discriminator.apply(
        {"params": d_params, "batch_stats": batch_stats}, images, half,
        labels, part, mutable=["batch_stats"])
    return out, mutated["batch_stats"]

  def step(state: FastGANState, batch, rng, phase=None):
    del phase  # One phase.
    real = batch["image"]
    labels = batch["label"] if conditional else None
    b = real.shape[0]
    keys = jax.random.split(rng, 6)
    gslice = lambda x: parallel.global_slice(x, b)
    z = gslice(jax.random.normal(keys[0], (t.batch_size,
                                           config.model.latent_dim)))
    noise_keys = augment_lib.keys_for_batch(keys[1], t.batch_size, b)
    real_keys, fake_keys, g_keys = [
        augment_lib.keys_for_batch(k, t.batch_size, b) for k in keys[2:5]]
    part = gslice(jax.random.randint(keys[5], (t.batch_size,), 0, 4))

    def g_forward(g_params):
      images, mutated = generator.apply(
          {"params": g_params, "batch_stats": state.g_batch_stats}, z, labels,
          noise_keys, mutable=["batch_stats"])
      return images, mutated["batch_stats"]

    fake, g_vjp, g_batch_stats = jax.vjp(g_forward, state.g_params,
                                         has_aux=True)

    # ---- Discriminator update ----
    real_aug = augment(real, real_keys)
    real_half = fastgan_models.downsample_to(real_aug, half_size)
    fake_big, fake_half = (augment(jax.lax.stop_gradient(x), fake_keys)
                           for x in fake)
    targets = {"big": real_half, "small": real_half,
               "part": fastgan_models.quarter(real_aug, part)}

    def d_objective(d_params):
      (real_logits, recon), stats = d_apply(
          d_params, state.d_batch_stats, real_aug, real_half, labels, part)
      fake_logits, stats = d_apply(d_params, stats, fake_big, fake_half,
                                   labels)
      d_loss = loss.d_loss(real_logits, fake_logits)
      recon_loss = sum(reconstruction_loss(recon[k], targets[k])
                       for k in sorted(targets))
      aux = {"d_loss": d_loss, "reconstruction_loss": recon_loss,
             "d_real": jnp.mean(real_logits), "d_fake": jnp.mean(fake_logits)}
      return d_loss + recon_weight * recon_loss, (stats, aux)

    (_, (d_batch_stats, metrics)), d_grads = jax.value_and_grad(
        d_objective, has_aux=True)(state.d_params)
    d_params, d_opt_state = common.apply_mean_gradients(
        d_tx, d_grads, state.d_opt_state, state.d_params)

    # ---- Generator update, against the updated D ----
    def g_objective(fake_images):
      big, half = (augment(x, g_keys) for x in fake_images)
      logits, stats = d_apply(d_params, d_batch_stats, big, half, labels)
      return loss.g_loss(logits), stats

    (g_loss, d_batch_stats), fake_grad = jax.value_and_grad(
        g_objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_params, g_opt_state = common.apply_mean_gradients(
        g_tx, g_grads, state.g_opt_state, state.g_params)

    ema_params = common.ema(state.ema_params, g_params,
                            common.ema_decay_with_rampup(state.step,
                                                         t.ema_decay))

    metrics["g_loss"] = g_loss
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    new_state = FastGANState(
        step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
        d_params=d_params, d_batch_stats=d_batch_stats,
        g_opt_state=g_opt_state, d_opt_state=d_opt_state,
        ema_params=ema_params, rng=state.rng)
    return common.keep_if_finite(new_state, state, metrics)

  return step


def make_generate_fn(config, num_classes: int):
  """`(params, batch_stats, z, labels, truncation=1.0) -> images [B, R, R, C]`
  in [-1, 1].

  As in training (and the DCGAN family), BatchNorm normalises with the
  statistics of the batch being generated: generate in batches of a fixed
  size for reproducible results. Each image's injected noise is drawn from a
  key derived from its z. There is no truncation.
  """
  generator, _ = create_models(config, num_classes)

  @jax.jit
  def _generate(params, batch_stats, z, labels):
    seeds = jax.lax.bitcast_convert_type(z[:, 0].astype(jnp.float32),
                                         jnp.uint32)
    noise_keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(
        seeds)
    (images, _), _ = generator.apply(
        {"params": params, "batch_stats": batch_stats}, z, labels, noise_keys,
        update_stats=False, mutable=["batch_stats"])
    return images

  return common.without_truncation(config, _generate)
