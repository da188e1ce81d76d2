"""KID (Binkowski et al. 2018): unbiased MMD^2 over subsets, torch-fidelity's
convention; the better number for small sets."""
from __future__ import annotations

from gan.evaluation import spec
from gan.metrics import kid as kid_lib

OPTIONS = (
    spec.Option("kid_subset_size", kid_lib.DEFAULT_SUBSET_SIZE,
                "KID subset size (shrinks to fit small N)."),
    spec.Option("kid_subsets", kid_lib.DEFAULT_NUM_SUBSETS, "KID subsets."),
    spec.Option("kid_seed", kid_lib.DEFAULT_SEED,
                "Seed of the KID subsets (torch-fidelity's rng_seed)."),
)


def compute(inputs: spec.Inputs) -> list[spec.Result]:
  o = inputs.options
  fa, fb = inputs.features_a, inputs.features_b
  kid = kid_lib.kernel_inception_distance(
      fa, fb, num_subsets=o.kid_subsets, subset_size=o.kid_subset_size,
      seed=o.kid_seed)
  num_a, num_b = int(fa.shape[0]), int(fb.shape[0])
  if kid.subset_size < o.kid_subset_size:
    same = (" and every subset is the whole set, so its std is 0"
            if kid.subset_size == num_a == num_b else "")
    inputs.warn(f"KID subsets of {kid.subset_size} images (fewer images than "
                f"--kid_subset_size={o.kid_subset_size}){same}; the spread of "
                f"KID grows as N shrinks")
  return [spec.Result("kid", {
      "mean": kid.mean, "std": kid.std, "subset_size": kid.subset_size,
      "num_subsets": kid.num_subsets, "seed": o.kid_seed, "num_a": num_a,
      "num_b": num_b})]


def summary(name: str, v: dict) -> str:
  del name
  return (f"KID {v['mean']:.6f} ± {v['std']:.6f}  (N_a={v['num_a']}, "
          f"N_b={v['num_b']}, {v['num_subsets']} subsets of "
          f"{v['subset_size']})")


SPEC = spec.MetricSpec(
    name="kid", help="Kernel Inception Distance", default=True,
    needs=spec.FEATURES, compute=compute, summary=summary, options=OPTIONS,
    scalars={"mean": "kid_mean", "std": "kid_std"},
    skipped_against_statistics=True)
