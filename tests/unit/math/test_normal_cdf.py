"""NormalCDF: N(x) against mpmath over a dense range and the tails; exact symmetry."""

import mpmath as mp

from tests.unit.math.mp_exact import DEEP, WAD, chunks, ncdf

SCALE = 10**36
STEP = WAD // 2000 if DEEP else WAD // 250  # grid step on [-10, 10]


def _cdf36(bs, xs):
    out = []
    for part in chunks(xs, 1000):
        out += list(bs.cdf36Many(part))
    return out


def test_cdf_matches_mpmath_within_1e_18_on_dense_grid(bs):
    xs = list(range(-10 * WAD, 10 * WAD + 1, STEP))
    # also the interval ends and points just beside them
    xs += [k * WAD // 2 + d for k in range(-19, 20) for d in (-1, 0, 1)]
    got = _cdf36(bs, xs)
    worst = max(abs(mp.mpf(g) / SCALE - ncdf(x)) for x, g in zip(xs, got, strict=True))
    print(f"\nN(x): max |N_chain - N_exact| = {float(worst):.3e} over {len(xs)} points")
    assert worst < mp.mpf("2e-19")


def test_cdf_in_wad_is_rounded_to_nearest(bs):
    for x in [-7 * WAD, -WAD, -123456789, 0, WAD // 3, 2 * WAD, 8 * WAD + 1]:
        assert abs(mp.mpf(bs.cdf(x)) - ncdf(x) * WAD) <= mp.mpf("0.5") + mp.mpf("0.01")


def test_cdf_tails_and_extremes(bs):
    xs = [9 * WAD, 9 * WAD - 1, 12 * WAD, 40 * WAD, 10**40, 2**255 - 1]
    xs += [-x for x in xs] + [-(2**255)]
    for x, g in zip(xs, _cdf36(bs, xs), strict=True):
        assert abs(mp.mpf(g) / SCALE - ncdf(x)) < mp.mpf("2e-19")
    assert bs.cdf(-(2**255)) == 0
    assert bs.cdf(2**255 - 1) == WAD


def test_cdf_at_zero_is_one_half(bs):
    assert bs.cdf(0) == WAD // 2


def test_cdf_symmetry_is_exact(bs):
    xs = list(range(1, 10 * WAD, WAD // 37 + 12345))
    pos = _cdf36(bs, xs)
    neg = _cdf36(bs, [-x for x in xs])
    assert all(p + n == SCALE for p, n in zip(pos, neg, strict=True))


def test_cdf_is_monotone_on_the_core_range(bs):
    # beyond |x| ~ 6 the density times the step falls below the 1e-19 fit error
    xs = list(range(-6 * WAD, 6 * WAD + 1, WAD // 500))
    got = _cdf36(bs, xs)
    assert all(b >= a for a, b in zip(got, got[1:], strict=False))


def test_deployed_polynomials_are_the_generators_and_match_its_model_bit_for_bit(bs):
    """NormalCDF.sol is what gen_normal_cdf.py writes, and the chain's integer arithmetic is the
    generator's model exactly: so the generator's dense error measurement applies to the chain."""
    from tests.unit.math import gen_normal_cdf as gen

    coeffs = [gen.fit_interval(i) for i in range(gen.INTERVALS)]
    assert gen.tree_yul(0, gen.INTERVALS, coeffs, " " * 16) in gen.OUT.read_text()
    xs = [k * WAD // 7 + 13 for k in range(-70, 70)] + [0, 1, -1, 9 * WAD - 1]
    got = _cdf36(bs, xs)
    model = [SCALE - gen.q36_chain(x, coeffs) if x > 0 else gen.q36_chain(-x, coeffs) for x in xs]
    assert got == model
