"""GAN losses by name.

Each loss maps discriminator logits to scalar losses:
  d_loss(real_logits, fake_logits) -> scalar, minimised by D
  g_loss(fake_logits) -> scalar, minimised by G
Penalties that need the discriminator itself (gradient penalty, R1) live in
the families' steps (`gan/steps/`), which know how to call D; each family
lists the losses its step can run (`LOSSES`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from gan.errors import UserError


@dataclasses.dataclass(frozen=True)
class Loss:
  d_loss: Callable[[jax.Array, jax.Array], jax.Array]
  g_loss: Callable[[jax.Array], jax.Array]
  # Whether D's gradient-norm penalty on real/fake interpolates (WGAN-GP).
  needs_gradient_penalty: bool = False


def _nonsaturating_d(real, fake):
  # BCE with D(real)=1, D(fake)=0, written on logits for numerical stability:
  # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f).
  return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))


def _nonsaturating_g(fake):
  return jnp.mean(jax.nn.softplus(-fake))


def _hinge_d(real, fake):
  return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def _hinge_g(fake):
  return -jnp.mean(fake)


def _least_squares_d(real, fake):
  # LSGAN (Mao et al. 2017) with targets 1/0, halved as in CycleGAN.
  return 0.5 * (jnp.mean(jnp.square(real - 1.0)) + jnp.mean(jnp.square(fake)))


def _least_squares_g(fake):
  return jnp.mean(jnp.square(fake - 1.0))


def _wasserstein_d(real, fake):
  return jnp.mean(fake) - jnp.mean(real)


_REGISTRY = {
    "nonsaturating": Loss(_nonsaturating_d, _nonsaturating_g),
    "hinge": Loss(_hinge_d, _hinge_g),
    "least_squares": Loss(_least_squares_d, _least_squares_g),
    "wgan_gp": Loss(_wasserstein_d, _hinge_g, needs_gradient_penalty=True),
}


def names() -> list[str]:
  return sorted(_REGISTRY)


def get(name: str) -> Loss:
  if name not in _REGISTRY:
    raise UserError(f"unknown loss {name!r}; set --config.train.loss to one of "
                    f"{sorted(_REGISTRY)}")
  return _REGISTRY[name]
