"""WadMath: rounding of the wad products and quotients, and exp, ln, sqrt against mpmath."""

import math

import mpmath as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import reverts
from tests.unit.math.mp_exact import DEEP, WAD, chunks

EXAMPLES = 400 if DEEP else 40
U128 = st.integers(min_value=0, max_value=2**128)
I128 = st.integers(min_value=-(2**127), max_value=2**127)


def _floor_div(a, b):
    return a // b


def _ceil_div(a, b):
    return -((-a) // b)


# --- products and quotients ---


@settings(max_examples=EXAMPLES)
@given(x=U128, y=U128)
def test_unsigned_mul_rounding(bs, x, y):
    assert bs.mulWadDown(x, y) == _floor_div(x * y, WAD)
    assert bs.mulWadUp(x, y) == _ceil_div(x * y, WAD)


@settings(max_examples=EXAMPLES)
@given(x=U128, y=st.integers(min_value=1, max_value=2**128))
def test_unsigned_div_rounding(bs, x, y):
    assert bs.divWadDown(x, y) == _floor_div(x * WAD, y)
    assert bs.divWadUp(x, y) == _ceil_div(x * WAD, y)


@settings(max_examples=EXAMPLES)
@given(x=I128, y=I128)
def test_signed_mul_rounds_toward_minus_and_plus_infinity(bs, x, y):
    assert bs.sMulWadDown(x, y) == _floor_div(x * y, WAD)
    assert bs.sMulWadUp(x, y) == _ceil_div(x * y, WAD)


@settings(max_examples=EXAMPLES)
@given(x=I128, y=I128.filter(lambda v: v != 0))
def test_signed_div_rounds_toward_minus_and_plus_infinity(bs, x, y):
    assert bs.sDivWadDown(x, y) == _floor_div(x * WAD, y)
    assert bs.sDivWadUp(x, y) == _ceil_div(x * WAD, y)


def test_mul_overflow_reverts_with_operands(bs):
    with reverts("MulWadOverflow", 2**255, 2):
        bs.mulWadDown(2**255, 2)
    with reverts("SMulWadOverflow", -(2**255), -1):
        bs.sMulWadDown(-(2**255), -1)
    with reverts("SMulWadOverflow", 2**200, -(2**60)):
        bs.sMulWadUp(2**200, -(2**60))


def test_div_by_zero_and_overflow_revert_with_operands(bs):
    with reverts("DivWadByZero", 5):
        bs.divWadDown(5, 0)
    with reverts("SDivWadByZero", -5):
        bs.sDivWadUp(-5, 0)
    with reverts("DivWadOverflow", 2**250, 3):
        bs.divWadUp(2**250, 3)
    with reverts("SDivWadOverflow", -(2**250), 3):
        bs.sDivWadDown(-(2**250), 3)


# --- ln ---


def test_ln_within_half_a_wei_over_the_whole_range(bs):
    n = 3000 if DEEP else 600
    xs = sorted({int(mp.nint(mp.power(10, mp.mpf(k) * 76 / n))) for k in range(n + 1)})
    xs += [1, 2, 3, WAD - 1, WAD, WAD + 1, 2 * WAD, 2**255 - 1]
    xs += [int(mp.sqrt(2) * 2**k) for k in range(60, 200, 7)]
    got = []
    for part in chunks(xs, 500):
        got += list(bs.lnWadMany(part))
    worst = max(
        abs(mp.mpf(g) - mp.log(mp.mpf(x) / WAD) * WAD) for x, g in zip(xs, got, strict=True)
    )
    print(f"\nlnWad: max |error| = {float(worst):.4f} wei over {len(xs)} points")
    assert worst <= mp.mpf("0.5") + mp.mpf("1e-3")  # nearest, up to the 2e-22 series tail


def test_ln36_error_below_2e_22(bs):
    for x in [1, 7, WAD // 3, WAD, 3 * WAD, 10**30, 2**254 + 12345]:
        assert abs(mp.mpf(bs.ln36(x)) - mp.log(mp.mpf(x) / WAD) * 10**36) < 2 * 10**14


def test_ln_of_non_positive_reverts(bs):
    with reverts("LnNonPositive", 0):
        bs.lnWad(0)
    with reverts("LnNonPositive", -1):
        bs.lnWad(-1)


# --- exp ---


def test_exp_rounds_down_within_1e_30_relative(bs):
    n = 3000 if DEEP else 500
    lo, hi = -42 * WAD, 135 * WAD
    xs = [lo + (hi - lo) * k // n for k in range(n + 1)] + [0, 1, -1, WAD, -WAD]
    got = []
    for part in chunks(xs, 500):
        got += list(bs.expWadMany(part))
    worst = mp.mpf(0)
    for x, g in zip(xs, got, strict=True):
        exact = mp.exp(mp.mpf(x) / WAD) * WAD
        err = exact - g  # rounded down: 0 <= err < 1 up to the relative error
        assert -exact * mp.mpf("1e-30") <= err < 1 + exact * mp.mpf("1e-30"), x
        if exact > WAD:
            worst = max(worst, abs(err) / exact)
    print(f"\nexpWad: max |error| / value = {float(worst):.3e} (values > 1)")


def test_exp_limits(bs):
    assert bs.expWad(-43 * WAD) == 0
    assert bs.expWad(-(2**255)) == 0
    big = 135305999368893231588
    assert bs.expWad(big) < 2**255
    with reverts("ExpOverflow", big + 1):
        bs.expWad(big + 1)


# --- sqrt ---


@settings(max_examples=EXAMPLES)
@given(x=st.integers(min_value=0, max_value=(2**256 - 1) // WAD))
def test_sqrt_is_exact_floor(bs, x):
    assert bs.sqrtWad(x) == math.isqrt(x * WAD)


def test_sqrt_overflow_reverts(bs):
    x = (2**256 - 1) // WAD + 1
    with reverts("SqrtOverflow", x):
        bs.sqrtWad(x)
