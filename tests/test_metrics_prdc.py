"""Precision/recall/density/coverage and the blocked distances behind them.

Parity: values equal the `prdc` package (strict `<`) and torch-fidelity's PRC
(`<=`) on the same float64 inputs, exactly (both sides compute float64
distances). Exact ties d == r (duplicates, integer-lattice features) must be
decided on exact distances: the lattice tests compare with `==`.
"""
import numpy as np
import pytest

from gan.errors import UserError
from gan.metrics import balls
from gan.metrics import distances
from gan.metrics import prdc as ours

prdc = pytest.importorskip("prdc")


def _sets(seed=0, n_real=230, n_fake=190, dim=24):
  rng = np.random.default_rng(seed)
  real = rng.standard_normal((n_real, dim))
  fake = rng.standard_normal((n_fake, dim)) * 1.1 + 0.2
  return real, fake


def _brute_knn(x, y, k):
  d = distances.pairwise_distances(x, y)
  if y is x:
    np.fill_diagonal(d, np.inf)
  order = np.argsort(d, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(d, order, 1), order


@pytest.mark.parametrize("block_size", [64, 1024])
def test_nearest_neighbours_match_brute_force(block_size):
  real, fake = _sets(n_real=150, n_fake=130)
  for refs in (None, fake):
    d, i = distances.nearest_neighbours(real, refs, k=4, block_size=block_size)
    bd, bi = _brute_knn(real, real if refs is None else refs, 4)
    np.testing.assert_allclose(d, bd, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(i, bi)


def test_nearest_neighbours_fallback_rows_are_exact():
  # margin=0 leaves nothing to prove the candidates with: every row is redone
  # in float64, which must give the same answer.
  real, _ = _sets(n_real=80)
  d, i = distances.nearest_neighbours(real, k=3, block_size=32, margin=0)
  bd, bi = _brute_knn(real, real, 3)
  np.testing.assert_allclose(d, bd, rtol=1e-12)
  np.testing.assert_array_equal(i, bi)


@pytest.mark.parametrize("window,margin", [(6, 8), (1, 1)])
def test_kth_neighbour_distances_match_brute_force(window, margin):
  # (1, 1): a window too small for (3, 5) sends every row to the full
  # recompute, whose margin of 1 then fails for most rows: exact row path.
  real, _ = _sets(n_real=140)
  px, _ = distances.prepare(real, None, 64)
  got = distances.kth_neighbour_distances(px, (3, 5), margin=margin,
                                          window=window)
  bd, _ = _brute_knn(real, real, 5)
  np.testing.assert_allclose(got[3], bd[:, 2], rtol=1e-12)
  np.testing.assert_allclose(got[5], bd[:, 4], rtol=1e-12)


def test_kth_neighbour_distances_when_every_point_is_a_candidate():
  # 10 points, k + margin >= 9 others: the candidate lists hold everything.
  real, _ = _sets(n_real=10)
  px, _ = distances.prepare(real, None, 16)
  got = distances.kth_neighbour_distances(px, (3, 5))
  bd, _ = _brute_knn(real, real, 5)
  np.testing.assert_allclose(got[3], bd[:, 2], rtol=1e-12)
  np.testing.assert_allclose(got[5], bd[:, 4], rtol=1e-12)
  small = ours.precision_recall_density_coverage(real, real[::-1] + 0.1, 5, 5)
  want = prdc.compute_prdc(real, real[::-1] + 0.1, 5)
  for key in ("precision", "recall", "density", "coverage"):
    assert small[key] == pytest.approx(float(want[key]), rel=1e-12), key


@pytest.mark.parametrize("k", [3, 5])
def test_matches_prdc_package(k):
  real, fake = _sets()
  got = ours.precision_recall_density_coverage(real, fake, k, k,
                                               block_size=64)
  want = prdc.compute_prdc(real, fake, k)
  for key in ("precision", "recall", "density", "coverage"):
    assert got[key] == pytest.approx(float(want[key]), rel=1e-12), key


def test_default_ks_match_prdc_package_per_metric():
  real, fake = _sets(seed=1)
  got = ours.precision_recall_density_coverage(real, fake, block_size=96)
  pr = prdc.compute_prdc(real, fake, 3)
  dc = prdc.compute_prdc(real, fake, 5)
  assert got["precision"] == pytest.approx(pr["precision"], rel=1e-12)
  assert got["recall"] == pytest.approx(pr["recall"], rel=1e-12)
  assert got["density"] == pytest.approx(dc["density"], rel=1e-12)
  assert got["coverage"] == pytest.approx(dc["coverage"], rel=1e-12)
  assert (got["k_precision_recall"], got["k_density_coverage"]) == (3, 5)


def test_block_fallback_matches_prdc():
  # capacity=0 sends every block with an undecided pair to the float64 path.
  real, fake = _sets(seed=2, n_real=120, n_fake=110)
  px, py = distances.prepare(real, fake, 32)
  rk, _ = distances.nearest_neighbours(real, k=5)
  fk, _ = distances.nearest_neighbours(fake, k=5)
  a = balls.ball_counts(real, fake, rk[:, 4], fk[:, 4], block_size=32,
                            capacity=0)
  b = balls.ball_counts(real, fake, rk[:, 4], fk[:, 4], block_size=32,
                            prepared=(px, py))
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  want = prdc.compute_prdc(real, fake, 5)
  assert a["y_in_x_balls"].mean() / 5 == pytest.approx(want["density"],
                                                       rel=1e-12)


def test_grouped_candidate_blocks_match_prdc():
  # Blocks of 264 columns (>= 2 (k + margin) groups of 8): candidates are
  # selected through group minima (`_merge_smallest`).
  real, fake = _sets(seed=3, n_real=520, n_fake=480)
  px, _ = distances.prepare(real, None, 512)
  assert px.block == 264 and px.num_blocks == 2  # Balanced: 2 x 260 rows.
  got = distances.kth_neighbour_distances(px, (3, 5))
  bd, _ = _brute_knn(real, real, 5)
  np.testing.assert_allclose(got[5], bd[:, 4], rtol=1e-12)
  for k in (3, 5):
    ours_k = ours.precision_recall_density_coverage(real, fake, k, k,
                                                    block_size=512)
    want = prdc.compute_prdc(real, fake, k)
    for key in ("precision", "recall", "density", "coverage"):
      assert ours_k[key] == float(want[key]), (k, key)


def test_ball_counts_row_overflow_reruns_block():
  # max_rows=1: every block with undecided pairs in two or more rows is rerun
  # with room for all rows; the counts must not change.
  real, fake = _sets(seed=4, n_real=200, n_fake=180, dim=256)
  rk, _ = distances.nearest_neighbours(real, k=5)
  fk, _ = distances.nearest_neighbours(fake, k=5)
  a = balls.ball_counts(real, fake, rk[:, 4], fk[:, 4], block_size=64,
                            max_rows=1)
  b = balls.ball_counts(real, fake, rk[:, 4], fk[:, 4], block_size=64)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  want = prdc.compute_prdc(real, fake, 5)
  assert a["y_in_x_balls"].mean() / 5 == float(want["density"])
  assert a["x_covered"].mean() == float(want["coverage"])


def test_precision_recall_match_torch_fidelity_non_strict():
  torch = pytest.importorskip("torch")
  from torch_fidelity import metric_prc
  real, fake = _sets(seed=3)
  got = ours.precision_recall(real, fake, k=3, strict=False, block_size=64)
  # torch-fidelity's convention: features_1 generated, features_2 real.
  p, r = metric_prc.calculate_precision_recall_full(
      torch.from_numpy(fake), torch.from_numpy(real), neighborhood=3)
  # torch-fidelity averages in float32: compare the counts exactly.
  assert round(got["precision"] * len(fake)) == round(p * len(fake))
  assert round(got["recall"] * len(real)) == round(r * len(real))
  assert got["precision"] == pytest.approx(p, rel=1e-6)


def _duplicates():
  # Four exact copies of p (far from the cloud): with k = 3 their radius is 0.
  rng = np.random.default_rng(4)
  p = np.zeros(8)
  p[0] = 100.0
  real = np.concatenate([rng.standard_normal((40, 8)), np.tile(p, (4, 1))])
  fake = np.concatenate([p[None], rng.standard_normal((39, 8))])
  return real, fake


def test_strict_inequality_ignores_copies_of_zero_radius_samples():
  """`<` (default, prdc): a copy of a zero-radius real sample is outside."""
  torch = pytest.importorskip("torch")
  from torch_fidelity import metric_prc
  real, fake = _duplicates()
  strict = ours.precision_recall(real, fake, k=3, strict=True)
  loose = ours.precision_recall(real, fake, k=3, strict=False)
  # Exactly the copy p flips between the two conventions.
  assert loose["precision"] - strict["precision"] == pytest.approx(1 / 40)
  assert strict["precision"] == pytest.approx(
      prdc.compute_prdc(real, fake, 3)["precision"], rel=1e-12)
  p, _ = metric_prc.calculate_precision_recall_full(
      torch.from_numpy(fake), torch.from_numpy(real), neighborhood=3)
  assert round(loose["precision"] * len(fake)) == round(p * len(fake))
  dc = ours.density_coverage(real, fake, k=3)
  assert dc["density"] == pytest.approx(
      prdc.compute_prdc(real, fake, 3)["density"], rel=1e-12)


# (seed, n_real, n_fake, dim, levels, block_size, duplicates): integer
# features in [0, levels) have many exact ties d == r. The first is the
# reported case (2 x 260 real rows, one 480-row fake block); 70 rows at 32 are
# 3 blocks of 24 (2 padding rows).
_LATTICE_CASES = [(3, 520, 480, 12, 3, 512, False),
                  (0, 70, 60, 4, 2, 32, True),
                  (1, 90, 110, 12, 3, 64, True),
                  (2, 45, 40, 30, 5, 1024, True)]


def _lattice(seed, n_real, n_fake, dim, levels, duplicates):
  rng = np.random.default_rng(seed)
  real = rng.integers(0, levels, (n_real, dim)).astype(np.float64)
  fake = rng.integers(0, levels, (n_fake, dim)).astype(np.float64)
  if duplicates:
    real[10:16] = real[3]  # Seven copies: radius 0 for every k <= 6.
    fake[:4] = real[3]  # Copies of a zero-radius real sample.
    fake[6:9] = fake[5]
    real[30] = fake[20]
  return real, fake


def _exact_distances(a, b):
  return np.sqrt(np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1))


def _exact_radii(x, k):
  d = _exact_distances(x, x)
  np.fill_diagonal(d, np.inf)  # The point itself, by index: copies count.
  return np.sort(d, axis=1)[:, k - 1]


def _brute_prdc(real, fake, k_pr, k_dc, strict):
  """The four metrics from the full exact float64 distance matrices."""
  inside = np.less if strict else np.less_equal
  d = _exact_distances(real, fake)
  in_pr = inside(d, _exact_radii(real, k_pr)[:, None])
  in_dc = inside(d, _exact_radii(real, k_dc)[:, None])
  return dict(
      precision=in_pr.any(0).mean(),
      recall=inside(d, _exact_radii(fake, k_pr)[None, :]).any(1).mean(),
      density=(1.0 / k_dc) * in_dc.sum(0).mean(),
      coverage=in_dc.any(1).mean())


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", _LATTICE_CASES)
def test_lattice_ties_are_decided_exactly(case, strict):
  seed, n_real, n_fake, dim, levels, block_size, duplicates = case
  real, fake = _lattice(seed, n_real, n_fake, dim, levels, duplicates)
  got = ours.precision_recall_density_coverage(real, fake, 3, 5,
                                               strict=strict,
                                               block_size=block_size)
  want = _brute_prdc(real, fake, 3, 5, strict)
  for key in want:
    assert got[key] == want[key], key
  if strict:  # prdc's sklearn distances are exact on small integers.
    pr = prdc.compute_prdc(real, fake, 3)
    dc = prdc.compute_prdc(real, fake, 5)
    for key, src in (("precision", pr), ("recall", pr), ("density", dc),
                     ("coverage", dc)):
      assert got[key] == float(src[key]), key
  else:
    torch = pytest.importorskip("torch")
    from torch_fidelity import metric_prc
    got3 = ours.precision_recall(real, fake, k=3, strict=False,
                                 block_size=block_size)
    p, r = metric_prc.calculate_precision_recall_full(
        torch.from_numpy(fake), torch.from_numpy(real), neighborhood=3)
    # torch-fidelity averages in float32: compare the counts.
    assert round(got3["precision"] * n_fake) == round(p * n_fake)
    assert round(got3["recall"] * n_real) == round(r * n_real)
    assert got3["precision"] == got["precision"]


@pytest.mark.parametrize("strict", [True, False])
def test_ball_counts_lattice_ties_on_every_path(strict):
  # capacity 0: every block with a near-tie goes to the float64 block path;
  # 8: some do; 64 (>= a block's width): every undecided pair is decided
  # pairwise. All must equal exact float64 distances compared with < / <=.
  real, fake = _lattice(1, 90, 110, 12, 3, duplicates=True)
  rr, fr = _exact_radii(real, 5), _exact_radii(fake, 3)
  rra = _exact_radii(real, 3)
  inside = np.less if strict else np.less_equal
  d = _exact_distances(real, fake)
  want = dict(y_in_x_balls=inside(d, rr[:, None]).sum(0),
              x_covered=inside(d, rr[:, None]).any(1),
              x_in_y_balls=inside(d, fr[None, :]).any(1),
              y_in_any_x_ball=inside(d, rra[:, None]).any(0))
  for capacity in (0, 8, 64):
    got = balls.ball_counts(real, fake, rr, fr, rra, strict=strict,
                                block_size=64, capacity=capacity)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_identical_distributions_are_near_one():
  rng = np.random.default_rng(5)
  real = rng.standard_normal((400, 16))
  fake = rng.standard_normal((400, 16))
  got = ours.precision_recall_density_coverage(real, fake, 5, 5)
  assert 0.6 < got["precision"] <= 1 and 0.6 < got["recall"] <= 1
  assert 0.7 < got["density"] < 1.3 and 0.8 < got["coverage"] <= 1


def test_bad_inputs_are_one_line_user_errors():
  real, fake = _sets(n_real=20, n_fake=20)
  with pytest.raises(UserError, match="feature dimension 24 .* 23"):
    ours.precision_recall_density_coverage(real, fake[:, :23])
  with pytest.raises(UserError, match="at least 6 samples"):
    ours.precision_recall_density_coverage(real[:5], fake)
  with pytest.raises(UserError, match="2-D"):
    ours.precision_recall_density_coverage(real[0], fake)
  try:
    ours.density_coverage(real, fake[:3])
  except UserError as e:
    assert "\n" not in str(e) and "smaller k" in str(e)
