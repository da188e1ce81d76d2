"""GAN families as plug-ins (gan/steps): the registry, the protocol every
family meets, and validation of what a family cannot run or never reads."""
import jax
import pytest

from configs import default
from configs import fastgan_test
from configs import stylegan2_test
from configs import translation_test
from gan import losses
from gan import steps
from gan import train
from gan.errors import UserError
from tests import helpers

_PROTOCOL = ("LOSSES", "IGNORED_FIELDS", "validate", "create_train_state",
             "step_phase", "make_train_step", "make_generate_fn")
_STATE_FIELDS = {"step", "g_params", "g_batch_stats", "d_params",
                 "d_batch_stats", "g_opt_state", "d_opt_state", "ema_params",
                 "rng"}


@pytest.mark.parametrize("name", steps.names())
def test_every_family_meets_the_protocol(name):
  config = {"stylegan2": stylegan2_test.get_config,
            "fastgan": fastgan_test.get_config,
            "pix2pix": translation_test.get_config}.get(
                name, helpers.tiny_config)()
  if name == "cyclegan":
    config = translation_test.get_config()
    config.model.name = "cyclegan"
  assert config.model.name == name
  family = steps.get(config)
  missing = [a for a in _PROTOCOL if not hasattr(family, a)]
  assert not missing, f"gan.steps.{name} lacks {missing}"
  assert set(family.LOSSES) <= set(losses.names())
  state = jax.eval_shape(lambda: steps.create_train_state(config, 2))
  assert _STATE_FIELDS <= set(vars(state)), sorted(vars(state))
  hash(steps.step_phase(config, 0))  # Static: a jit/pmap argument.


def test_unknown_model_is_one_line():
  config = helpers.tiny_config()
  config.model.name = "biggan"
  with pytest.raises(UserError, match=r"unknown model 'biggan'; set "
                     r"--config.model.name to one of \['cyclegan', 'dcgan', "
                     r"'fastgan', 'pix2pix', 'stylegan2'\]"):
    train.validate_config(config)


def test_a_loss_the_family_cannot_run_is_refused():
  config = stylegan2_test.get_config()
  config.train.loss = "wgan_gp"  # Its gradient penalty is a DCGAN step's.
  with pytest.raises(UserError, match=(
      r"model 'stylegan2' cannot train with loss 'wgan_gp' .* set "
      r"--config.train.loss to one of \['nonsaturating', 'hinge'\]")):
    train.validate_config(config)
  config.train.loss = "hinge"
  train.validate_config(config)
  dcgan = helpers.tiny_config()
  dcgan.train.loss = "wgan_gp"
  train.validate_config(dcgan)


def test_fields_the_family_never_reads_are_named_when_set():
  config = stylegan2_test.get_config()
  defaults = default.get_config()
  before = steps.ignored_fields_set(config, defaults)
  config.train.gp_weight = 5.0           # A DCGAN (WGAN-GP) field.
  config.model.g_base_channels = 16      # DCGAN widths.
  config.train.r1_gamma = 3.0            # Read by StyleGAN2: not named.
  named = steps.ignored_fields_set(config, defaults)
  assert sorted(set(named) - set(before)) == [
      "model.g_base_channels=16", "train.gp_weight=5.0"]
  dcgan = default.get_config()
  assert steps.ignored_fields_set(dcgan, defaults) == []
  dcgan.model.stylegan2.w_dim = 64
  dcgan.train.pl_weight = 2.0
  dcgan.model.g_base_channels = 32       # Read by DCGAN: not named.
  assert steps.ignored_fields_set(dcgan, defaults) == [
      "model.stylegan2.w_dim=64", "train.pl_weight=2.0"]
