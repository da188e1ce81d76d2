"""StyleGAN2-ADA training: state, optimizers and the pure train step.

One step `(state, batch, rng, phase) -> (state, metrics)` does, as in
StyleGAN2-ADA:
  D main:  non-saturating logistic loss on augment(reals) and augment(fakes);
  D reg:   every `r1_interval` steps, R1 = gamma/2 |grad_x D(augment(x))|^2 on
           reals, weighted by the interval (lazy regularisation), its own Adam
           update;
  G main:  non-saturating loss on D(augment(G(z))) against the updated D;
  G reg:   every `pl_interval` steps (if `pl_weight` > 0), path-length
           regularisation on a batch shrunk by `pl_batch_shrink`;
  EMA of G with half-life `ema_kimg` and ramp-up `ema_rampup`;
  ADA:     sign(D(augment(real))) is accumulated and p moves every
           `ada_interval` steps (gan/augment/ada.py).
The generator runs forward once for the D and G main phases (its vjp is
reused, as in the DCGAN step). Whether a step runs the lazy regularisers is
its `Phase`, decided on the host from the step number (`step_phase`) and
compiled into the step (static), not a `lax.cond` on the device: XLA:CPU
runs convolution gradients inside a conditional tens of times slower than
outside (the 128 px path-length step took 190 s instead of 12 s;
benchmarks/xla_cpu_cond.py). Lazy regularisation corrects Adam: lr * c and
betas ** c with c = k / (k + 1).

Latents, style-mixing cut-offs, augmentation keys and path-length noise are
drawn for the global batch and sliced per device. Two things follow the
reference's per-GPU behaviour and so depend on the per-device batch:
minibatch-std groups and the per-layer noise maps.

State (all of it in the checkpoint): G/D params, Adam states, EMA params,
the generator's running w average (`g_batch_stats`, used for truncation),
ADA p, the accumulated overfitting signal and its last value r_t, the
path-length running mean, step and rng.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan import augment as augment_lib
from gan import losses
from gan import models
from gan import parallel
from gan.augment import ada
from gan.augment import diffaugment
from gan.errors import UserError
from gan.models import stylegan2 as sg2
from gan.steps import common

# The reference's losses; WGAN-GP's gradient penalty is not applied here.
LOSSES = ("nonsaturating", "hinge")

# Config fields only the DCGAN family reads: named by `gan.steps.validate`
# when set, never compared on resume.
IGNORED_FIELDS = ("model.g_base_channels", "model.d_base_channels",
                  "model.label_embed_dim", "train.gp_weight",
                  "train.ema_decay")


@flax.struct.dataclass
class StyleGAN2State:
  step: jax.Array            # int32 scalar: completed train steps.
  g_params: Any
  g_batch_stats: Any         # {"mapping": {"w_avg": [w_dim]}}: not trained.
  d_params: Any
  d_batch_stats: Any         # {} (no BatchNorm); kept for a uniform interface.
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Any            # EMA of g_params: the generator that samples.
  ada_p: jax.Array           # float32: current augmentation probability.
  ada_signal: jax.Array      # float32[2]: sum of E[sign D(real)] and count.
  ada_rt: jax.Array          # float32: the last overfitting signal r_t.
  pl_mean: jax.Array         # float32: running mean of path lengths.
  rng: jax.Array             # uint32[2]: the run's base key (raw key data).


class Phase(NamedTuple):
  """Which lazy regularisers a step runs; static (one compilation each)."""
  r1: bool
  pl: bool


def step_phase(config, step: int) -> Phase:
  """The phase of the step that starts with `step` completed steps."""
  t = config.train
  return Phase(r1=bool(t.r1_gamma > 0 and step % t.r1_interval == 0),
               pl=bool(t.pl_weight > 0 and step % t.pl_interval == 0))


def validate(config) -> None:
  sg2.check_resolution(config.data.resolution)
  a = config.augment
  if a.kind not in ("none", "ada", "diffaugment"):
    raise UserError(f"augment.kind must be 'none', 'ada' or 'diffaugment', "
                    f"got {a.kind!r}")
  ada.validate(a)
  diffaugment.parse_policy(a.diffaugment_policy)
  t = config.train
  if t.r1_interval < 1 or t.pl_interval < 1:
    raise UserError("train.r1_interval and train.pl_interval must be >= 1")


def _lazy_adam(lr, b1, b2, interval, active):
  c = interval / (interval + 1) if active else 1.0
  return optax.adam(lr * c, b1=b1 ** c, b2=b2 ** c, eps=1e-8)


def create_optimizers(config):
  t = config.train
  g_tx = _lazy_adam(t.g_learning_rate, t.adam_b1, t.adam_b2, t.pl_interval,
                    t.pl_weight > 0)
  d_tx = _lazy_adam(t.d_learning_rate, t.adam_b1, t.adam_b2, t.r1_interval,
                    t.r1_gamma > 0)
  return g_tx, d_tx


def create_train_state(config, num_classes: int) -> StyleGAN2State:
  generator, discriminator = models.create(
      config, num_classes if config.data.conditional else 0)
  g_tx, d_tx = create_optimizers(config)
  res, ch = config.data.resolution, config.data.channels

  @jax.jit
  def init(key):
    g_key, d_key, n_key = jax.random.split(jax.random.fold_in(key, 0), 3)
    g_vars = generator.init({"params": g_key, "noise": n_key},
                            jnp.zeros((2, config.model.latent_dim)),
                            common.dummy_labels(config, 2))
    d_vars = discriminator.init(d_key, jnp.zeros((2, res, res, ch)),
                                common.dummy_labels(config, 2))
    return StyleGAN2State(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_batch_stats=g_vars["batch_stats"],
        d_params=d_vars["params"], d_batch_stats={},
        g_opt_state=g_tx.init(g_vars["params"]),
        d_opt_state=d_tx.init(d_vars["params"]),
        ema_params=g_vars["params"],
        ada_p=jnp.asarray(config.augment.ada_initial_p, jnp.float32),
        ada_signal=jnp.zeros((2,), jnp.float32),
        ada_rt=jnp.zeros((), jnp.float32),
        pl_mean=jnp.zeros((), jnp.float32),
        rng=jax.random.key_data(key))

  return init(jax.random.key(config.seed))


def make_augment_fn(config):
  """`(images, keys, p) -> images` for config.augment.kind (keys: [B] keys)."""
  a = config.augment
  if a.kind == "ada":
    spec = ada.spec_from_config(a)
    return lambda x, keys, p: ada.augment(x, keys, p, spec)
  if a.kind == "diffaugment":
    policy = diffaugment.parse_policy(a.diffaugment_policy)
    fill = float(a.fill_value)
    return lambda x, keys, p: diffaugment.augment(x, keys, policy, fill)
  return lambda x, keys, p: x


def make_train_step(config, num_classes: int):
  """The pure step `(state, batch, rng, phase) -> (state, metrics)` (see the
  module doc); `phase` is static: `step_phase(config, int(state.step))`.

  batch: {"image": [b, R, R, C] float32 in [-1, 1], "label": [b] int32}.
  """
  conditional = config.data.conditional
  generator, discriminator = models.create(
      config, num_classes if conditional else 0)
  g_tx, d_tx = create_optimizers(config)
  loss = losses.get(config.train.loss)
  augment = make_augment_fn(config)
  t, a, s = config.train, config.augment, config.model.stylegan2
  global_batch = t.batch_size
  n_ws = sg2.num_ws(config.data.resolution)
  z_dim = config.model.latent_dim
  w_avg_beta = 0.995
  pl_global = max(1, global_batch // t.pl_batch_shrink)
  w_avg_stats = {"mapping": {"w_avg": jnp.zeros((s.w_dim,), jnp.float32)}}

  def g_map(g_params, z, labels):
    # w_avg is only read when truncating (never in training).
    return generator.apply({"params": g_params, "batch_stats": w_avg_stats},
                           z, labels, method="map")

  def g_synth(g_params, ws, noise_key):
    return generator.apply({"params": g_params}, ws, method="synthesize",
                           rngs={"noise": noise_key})

  def d_logits(d_params, images, labels):
    return discriminator.apply({"params": d_params}, images, labels)

  def step(state: StyleGAN2State, batch, rng, phase: Phase):
    real = batch["image"]
    labels = batch["label"] if conditional else None
    b = real.shape[0]
    keys = jax.random.split(rng, 12)
    gslice = lambda x: parallel.global_slice(x, b)
    # Per-layer noise maps are per device (see the module docstring).
    noise_key = jax.random.fold_in(keys[0], jax.lax.axis_index(parallel.AXIS))
    z = gslice(jax.random.normal(keys[1], (global_batch, z_dim)))
    z_mix = gslice(jax.random.normal(keys[2], (global_batch, z_dim)))
    mix_u, mix_k = jax.random.split(keys[3])
    cutoff = jnp.where(jax.random.uniform(mix_u) < t.style_mixing_prob,
                       jax.random.randint(mix_k, (), 1, n_ws), n_ws)
    aug_keys = [augment_lib.keys_for_batch(k, global_batch, b)
                for k in keys[4:8]]   # D real, D fake, G fake, R1 real
    p = state.ada_p

    def g_forward(g_params):
      ws = g_map(g_params, z, labels)
      if t.style_mixing_prob > 0:
        ws_mix = g_map(g_params, z_mix, labels)
        ws = jnp.where((jnp.arange(n_ws) < cutoff)[None, :, None], ws, ws_mix)
      return g_synth(g_params, ws, noise_key), ws

    fake, g_vjp, ws = jax.vjp(g_forward, state.g_params, has_aux=True)

    # ---- D main ----
    real_aug = augment(real, aug_keys[0], p)
    fake_aug = augment(jax.lax.stop_gradient(fake), aug_keys[1], p)

    def d_objective(d_params):
      real_logits = d_logits(d_params, real_aug, labels)
      fake_logits = d_logits(d_params, fake_aug, labels)
      d_loss = loss.d_loss(real_logits, fake_logits)
      return d_loss, {"d_loss": d_loss, "d_real": jnp.mean(real_logits),
                      "d_fake": jnp.mean(fake_logits),
                      "real_sign": jnp.mean(jnp.sign(real_logits))}

    (_, metrics), d_grads = jax.value_and_grad(
        d_objective, has_aux=True)(state.d_params)
    d_params, d_opt_state = common.apply_mean_gradients(
        d_tx, d_grads, state.d_opt_state, state.d_params)

    # ---- D reg: lazy R1 on augmented reals (gradient w.r.t. the reals) ----
    r1_metric = jnp.zeros(())
    if phase.r1:
      def r1_objective(dp):
        pen = common.r1_penalty(
            lambda x: d_logits(dp, augment(x, aug_keys[3], p), labels), real)
        return jnp.mean(pen) * (0.5 * t.r1_gamma * t.r1_interval), pen

      (_, pen), r1_grads = jax.value_and_grad(r1_objective, has_aux=True)(
          d_params)
      d_params, d_opt_state = common.apply_mean_gradients(
          d_tx, r1_grads, d_opt_state, d_params)
      # Weighted by the interval so that a log window's mean is the penalty.
      r1_metric = jax.lax.pmean(jnp.mean(pen), parallel.AXIS) * t.r1_interval

    # ---- G main, against the updated D ----
    def g_objective(fake_images):
      logits = d_logits(d_params, augment(fake_images, aug_keys[2], p), labels)
      return loss.g_loss(logits)

    g_loss, fake_grad = jax.value_and_grad(g_objective)(fake)
    (g_grads,) = g_vjp(fake_grad)
    g_params, g_opt_state = common.apply_mean_gradients(
        g_tx, g_grads, state.g_opt_state, state.g_params)

    # ---- G reg: path-length regularisation ----
    pl_mean, pl_metric = state.pl_mean, jnp.zeros(())
    if phase.pl:
      pl_b = max(1, b // t.pl_batch_shrink)
      pl_slice = lambda x: parallel.global_slice(x, pl_b)
      pl_z = pl_slice(jax.random.normal(keys[8], (pl_global, z_dim)))
      pl_labels = None if labels is None else labels[:pl_b]
      res, ch = config.data.resolution, config.data.channels
      pl_noise = pl_slice(jax.random.normal(keys[9], (pl_global, res, res, ch))
                          ) / math.sqrt(res * res)

      def pl_objective(gp):
        ws = g_map(gp, pl_z, pl_labels)
        _, synth_vjp = jax.vjp(lambda w: g_synth(gp, w, noise_key), ws)
        (pl_grads,) = synth_vjp(pl_noise)
        lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(pl_grads), axis=2),
                                    axis=1))
        mean_len = jax.lax.pmean(jnp.mean(lengths), parallel.AXIS)
        new_mean = jax.lax.stop_gradient(
            state.pl_mean + t.pl_decay * (mean_len - state.pl_mean))
        penalty = jnp.mean(jnp.square(lengths - new_mean))
        return penalty * t.pl_weight * t.pl_interval, (new_mean, penalty)

      (_, (pl_mean, penalty)), pl_grads = jax.value_and_grad(
          pl_objective, has_aux=True)(g_params)
      g_params, g_opt_state = common.apply_mean_gradients(
          g_tx, pl_grads, g_opt_state, g_params)
      pl_metric = jax.lax.pmean(penalty, parallel.AXIS) * t.pl_interval

    # ---- Running w average (for truncation), EMA ----
    w_mean = jax.lax.pmean(jnp.mean(jax.lax.stop_gradient(ws)[:, 0], axis=0),
                           parallel.AXIS)
    w_avg = state.g_batch_stats["mapping"]["w_avg"]
    g_batch_stats = {"mapping": {"w_avg": w_mean + w_avg_beta * (w_avg - w_mean)}}

    cur_nimg = (state.step + 1).astype(jnp.float32) * global_batch
    ema_nimg = t.ema_kimg * 1000.0
    if t.ema_rampup:
      ema_nimg = jnp.minimum(ema_nimg, cur_nimg * t.ema_rampup)
    beta = 0.5 ** (global_batch / jnp.maximum(ema_nimg, 1e-8))
    ema_params = common.ema(state.ema_params, g_params, beta)

    # ---- ADA: accumulate sign(D(real)); adjust p every ada_interval ----
    metrics = jax.lax.pmean(metrics, parallel.AXIS)
    signal = state.ada_signal + jnp.stack([metrics.pop("real_sign"), 1.0])
    ada_p, ada_rt = state.ada_p, state.ada_rt
    if a.kind == "ada":
      new_p, new_rt = ada.update_p(
          ada_p, signal[0], signal[1], target=a.ada_target,
          batch_size=global_batch, interval=a.ada_interval, kimg=a.ada_kimg,
          max_p=a.ada_max_p)
      adjust = (state.step + 1) % a.ada_interval == 0
      ada_p = jnp.where(adjust, new_p, ada_p)
      ada_rt = jnp.where(adjust, new_rt, ada_rt)
      signal = jnp.where(adjust, jnp.zeros_like(signal), signal)

    metrics.update(g_loss=jax.lax.pmean(g_loss, parallel.AXIS),
                   r1_penalty=r1_metric, pl_penalty=pl_metric,
                   pl_mean=pl_mean, ada_p=ada_p, ada_rt=ada_rt)
    new_state = StyleGAN2State(
        step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
        d_params=d_params, d_batch_stats=state.d_batch_stats,
        g_opt_state=g_opt_state, d_opt_state=d_opt_state,
        ema_params=ema_params, ada_p=ada_p, ada_signal=signal, ada_rt=ada_rt,
        pl_mean=pl_mean, rng=state.rng)
    return common.keep_if_finite(new_state, state, metrics)

  return step


def make_generate_fn(config, num_classes: int):
  """jit'd `(params, batch_stats, z, labels, truncation=1.0) -> images`.

  images: [B, R, R, C] float32, clipped to [-1, 1]. truncation: psi in
  w = w_avg + psi (w - w_avg). Noise maps are drawn from a key derived from
  z, so a given (z, labels, psi) always gives the same image.
  """
  generator, _ = models.create(config, num_classes if config.data.conditional
                               else 0)

  @jax.jit
  def _generate(params, batch_stats, z, labels, truncation):
    seed = jax.lax.bitcast_convert_type(z[0, 0].astype(jnp.float32), jnp.uint32)
    key = jax.random.fold_in(jax.random.key(0), seed)
    images = generator.apply({"params": params, "batch_stats": batch_stats},
                             z, labels, truncation, rngs={"noise": key})
    return jnp.clip(images, -1.0, 1.0)

  def generate(params, batch_stats, z, labels, truncation=1.0):
    return _generate(params, batch_stats, z, labels,
                     jnp.asarray(truncation, jnp.float32))

  return generate
