"""SHA-256 fingerprints of pytrees of arrays.

One rule for "are these the same numbers": results name the weights they
were computed with by it (`gan.features`), the feature cache is keyed by it,
and checkpoints record it at save and check it at restore
(`gan.checkpoint`), since small arrays are stored without a compression
checksum and flipped bytes in them would otherwise restore silently.
"""
from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np


def tree_sha256(tree: Any) -> str:
  """SHA-256 (hex) of every leaf's path, dtype, shape and bytes, in tree
  order (dict keys sorted, as JAX flattens them). Device arrays are copied
  to the host."""
  digest = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]
  for path, leaf in leaves:
    array = np.ascontiguousarray(np.asarray(leaf))
    digest.update(f"{jax.tree_util.keystr(path)}|{array.dtype}|"
                  f"{array.shape}|".encode())
    digest.update(array.tobytes())
  return digest.hexdigest()
