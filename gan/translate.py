"""Translates a volume, or a subject folder, with a trained translation model.

  python -m gan.translate --workdir=W --input=subject_t1.nii.gz \
      --output=subject_t2_synth.nii.gz
  python -m gan.translate --workdir=W --input=gm.nii.gz,wm.nii.gz \
      --output=t1_synth.nii.gz              # several source modalities
  python -m gan.translate --workdir=W --input=subject_dir --output=OUT
      # subject_dir/<modality>.nii.gz -> OUT.nii.gz; <modality>/ slice
      # folders (DICOM, PNG) -> OUT/ of PNG slices

The output volume keeps the input's shape, affine and header (uint8, on the
0..255 window scale of the training target); see gan/volume_translation.py
for how slices are prepared exactly as in training. Written atomically.
"""
import os

import tensorflow as tf
from absl import app
from absl import flags

from gan import quiet_logging
from gan import translation
from gan import volume_translation
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir of a pix2pix or "
                    "CycleGAN model.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
flags.DEFINE_string("input", None, "A NIfTI volume, comma-separated volumes "
                    "(one per source modality, in the model's order), or a "
                    "subject folder.")
flags.DEFINE_string("output", None, "NIfTI file (.nii/.nii.gz) to write, or "
                    "a folder for slice-folder inputs.")
flags.DEFINE_bool("overwrite", False, "Replace --output if it exists.")
flags.mark_flags_as_required(["workdir", "input", "output"])


@exit_on_user_error
def main(argv):
  del argv
  tf.config.set_visible_devices([], "GPU")
  quiet_logging.install()
  translator = translation.load_translator(FLAGS.workdir, FLAGS.step)
  inputs = [p for p in FLAGS.input.split(",") if p]
  if len(inputs) == 1 and os.path.isdir(inputs[0]):
    result = volume_translation.translate_folder(
        translator, inputs[0], FLAGS.output, FLAGS.overwrite)
  else:
    result = volume_translation.translate_volume(
        translator, inputs, FLAGS.output, FLAGS.overwrite)
  print(f"Translated {'+'.join(translator.source)} -> {translator.target} "
        f"with {FLAGS.workdir} (step {translator.step}): {result['slices']} "
        f"slices, written to {result['output']}", flush=True)


if __name__ == "__main__":
  app.run(main)
