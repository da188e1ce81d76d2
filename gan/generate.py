"""Writes a PNG grid of samples from a trained workdir.

  python -m gan.generate --workdir=workdirs/sg2_alz --out=grid.png \
    --classes=ModerateDemented --per_class=16 --truncation=0.7

--classes: class indices or names; each gets a row of --per_class images.
Without it a conditional model gets one row per class, an unconditional one
--num images. --truncation: StyleGAN2's psi (1 = none).
"""
import numpy as np
from absl import app
from absl import flags

from gan import checkpoint
from gan import image_sources
from gan import quiet_logging
from gan import sampling
from gan.errors import exit_on_user_error

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Workdir with checkpoints.")
flags.DEFINE_string("out", None, "Output PNG path.")
flags.DEFINE_list("classes", None, "Class indices or names (one row each).")
flags.DEFINE_integer("per_class", 8, "Images per class row.")
flags.DEFINE_integer("num", 16, "Images for an unconditional model.")
flags.DEFINE_float("truncation", 1.0, "StyleGAN2 truncation psi (1 = none).")
flags.DEFINE_integer("seed", 0, "Latent seed.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
flags.mark_flags_as_required(["workdir", "out"])


@exit_on_user_error
def main(argv):
  del argv
  quiet_logging.install()
  meta = checkpoint.Checkpointer(FLAGS.workdir, read_only=True).restore_meta(
      FLAGS.step)
  names = list(meta["class_names"])
  labels, rows = None, None
  classes = FLAGS.classes or (list(range(len(names))) if meta["num_classes"]
                              else None)
  if classes is not None:
    indices = [image_sources.class_index(c, names, FLAGS.workdir) for c in classes]
    labels = list(np.repeat(indices, FLAGS.per_class))
    rows = len(indices)
  sampling.write_grid(FLAGS.workdir, FLAGS.out, labels=labels, num=FLAGS.num,
                      truncation=FLAGS.truncation, seed=FLAGS.seed,
                      step=FLAGS.step, rows=rows)
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
