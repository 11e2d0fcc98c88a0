"""BlackScholes (r = 0) against mpmath: SPEC §4 accuracy, parity, limits, monotonicity, scenarios."""

import mpmath as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import reverts
from tests.unit.math.mp_exact import DEEP, WAD, YEAR, bs_exact, chunks

HOUR, DAY = 3600, 86400
SPEC_TOL = mp.mpf("1e-12")  # SPEC §4: |V_chain - V_exact| <= 1e-12 S
SPOT = 2_345_678_901_234_567_890_123  # $2345.67..., not a round number

# the SPEC §4 domain, gridded: K/S in [1/3, 3], sigma in [5%, 500%], tau in [1 h, 2 y]
MONEYNESS = [1 / 3, 0.5, 0.7, 0.85, 0.95, 1.0, 1.05, 1.2, 1.5, 2.0, 3.0]
SIGMAS = [0.05, 0.1, 0.25, 0.5, 0.8, 1.5, 3.0, 5.0]
TAUS = [HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 91 * DAY, YEAR, 2 * YEAR]
if DEEP:
    MONEYNESS += [0.4, 0.6, 0.9, 0.99, 1.01, 1.1, 1.3, 1.75, 2.5]
    SIGMAS += [0.075, 0.15, 0.35, 0.65, 1.0, 2.0, 4.0]
    TAUS += [2 * HOUR, 3 * DAY, 14 * DAY, 182 * DAY, 547 * DAY]


def _rows(points):
    return [[s, k, sig, tau] for s, k, sig, tau in points]


def _price_many(bs, points):
    out = []
    for part in chunks(_rows(points), 150):
        out += [tuple(r) for r in bs.priceMany(part)]
    return out


def _max_rel_error(points, got):
    """max over points of |V_chain - V_exact| / S, for call and put."""
    worst = mp.mpf(0)
    for (s, k, sig, tau), (c, p) in zip(points, got, strict=True):
        ce, pe = bs_exact(s, k, sig, tau)
        worst = max(worst, abs(c - ce) / s, abs(p - pe) / s)
    return worst


def _grid(spot, moneyness, sigmas, taus):
    return [
        (spot, int(spot * mp.mpf(m)), int(mp.mpf(sig) * WAD), tau)
        for m in moneyness
        for sig in sigmas
        for tau in taus
    ]


def test_price_within_spec_tolerance_on_grid_over_spec_domain(bs):
    """SPEC §4: |V_chain - V_exact| <= 1e-12 S on a grid over K/S, sigma, tau."""
    points = _grid(SPOT, MONEYNESS, SIGMAS, TAUS)
    worst = _max_rel_error(points, _price_many(bs, points))
    print(
        f"\nBS SPEC domain grid: max |V - V_exact| / S = {float(worst):.3e} ({len(points)} points)"
    )
    assert worst <= SPEC_TOL


st_spot = st.integers(min_value=10**12, max_value=10**26)  # $1e-6 .. $1e8
st_moneyness = st.floats(min_value=1 / 3, max_value=3.0)
st_sigma = st.integers(min_value=5 * 10**16, max_value=5 * WAD)
st_tau = st.integers(min_value=HOUR, max_value=2 * YEAR)


@settings(max_examples=300 if DEEP else 30)
@given(spot=st_spot, m=st_moneyness, sigma=st_sigma, tau=st_tau)
def test_price_within_spec_tolerance_at_random_points(bs, spot, m, sigma, tau):
    """SPEC §4 on hypothesis-random points of the domain."""
    strike = max(1, int(spot * m))
    c, p = bs.price(spot, strike, sigma, tau)
    ce, pe = bs_exact(spot, strike, sigma, tau)
    assert abs(c - ce) <= SPEC_TOL * spot
    assert abs(p - pe) <= SPEC_TOL * spot
    # the library's own bound is far tighter: a few 1e-18 S plus a wei
    assert abs(c - ce) <= mp.mpf("1e-16") * spot + 2
    assert abs(p - pe) <= mp.mpf("1e-16") * spot + 2


@settings(max_examples=300 if DEEP else 30)
@given(spot=st_spot, m=st.floats(min_value=0.01, max_value=100.0), sigma=st_sigma, tau=st_tau)
def test_put_call_parity_is_exact_unless_clamped(bs, spot, m, sigma, tau):
    strike = max(1, int(spot * m))
    c, p = bs.price(spot, strike, sigma, tau)
    if c > 0 and p > 0:
        assert c - p == spot - strike
    else:
        assert abs((c - p) - (spot - strike)) <= 4


def test_extended_domain_is_sane(bs):
    """K/S in [1/100, 100], sigma to 1000%, tau 1 s .. 5 y: no revert, bounded error, bounds."""
    moneyness = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
    sigmas = [0.01, 0.05, 1.0, 5.0, 10.0]
    taus = [1, 60, HOUR, 30 * DAY, 5 * YEAR]
    points = _grid(SPOT, moneyness, sigmas, taus)
    got = _price_many(bs, points)
    for (s, k, _, _), (c, p) in zip(points, got, strict=True):
        assert c <= s and p <= k
        assert c + 4 >= max(s - k, 0) and p + 4 >= max(k - s, 0)
    worst = _max_rel_error(points, got)
    print(f"\nBS extended domain: max |V - V_exact| / S = {float(worst):.3e}")
    assert worst <= SPEC_TOL


def test_intrinsic_value_when_tau_or_sigma_is_zero(bs):
    for k in [SPOT // 2, SPOT, SPOT * 2]:
        intrinsic = (max(SPOT - k, 0), max(k - SPOT, 0))
        assert tuple(bs.price(SPOT, k, WAD // 2, 0)) == intrinsic
        assert tuple(bs.price(SPOT, k, 0, 30 * DAY)) == intrinsic


def test_value_tends_to_intrinsic_as_tau_tends_to_zero(bs):
    k = SPOT * 99 // 100
    c, p = bs.price(SPOT, k, WAD // 2, 1)
    assert c == SPOT - k and p == 0


def test_call_increases_and_put_decreases_with_spot(bs):
    k, sigma, tau = SPOT, 8 * WAD // 10, 30 * DAY
    spots = [SPOT * (50 + i) // 100 for i in range(0, 201, 2)]
    got = _price_many(bs, [(s, k, sigma, tau) for s in spots])
    calls, puts = [c for c, _ in got], [p for _, p in got]
    assert all(b >= a for a, b in zip(calls, calls[1:], strict=False))
    assert all(b <= a for a, b in zip(puts, puts[1:], strict=False))


def test_values_increase_with_sigma(bs):
    k, tau = SPOT * 11 // 10, 7 * DAY
    sigmas = [WAD * i // 100 for i in range(1, 1001, 5)]
    got = _price_many(bs, [(SPOT, k, s, tau) for s in sigmas])
    for a, b in zip(got, got[1:], strict=False):
        assert b[0] + 2 >= a[0] and b[1] + 2 >= a[1]


def test_price_ln_equals_price(bs):
    for k in [SPOT // 3, SPOT, 3 * SPOT]:
        ln_sk = bs.lnWad(SPOT) - bs.lnWad(k)
        v = bs.totalVol(WAD, 30 * DAY)
        assert bs.priceLn(ln_sk, v, SPOT, k) == bs.price(SPOT, k, WAD, 30 * DAY)


def test_sqrt_years_is_within_a_wei(bs):
    for tau in [0, 1, HOUR, YEAR, 2 * YEAR, 5 * YEAR, 2**64 - 1]:
        exact = mp.sqrt(mp.mpf(tau) / YEAR) * WAD
        assert exact - 1 < bs.sqrtYears(tau) <= exact


def test_out_of_range_inputs_revert_with_values(bs):
    with reverts("BSPriceOutOfRange", 0, WAD):
        bs.price(0, WAD, WAD, DAY)
    with reverts("BSPriceOutOfRange", WAD, 2**128 + 1):
        bs.price(WAD, 2**128 + 1, WAD, DAY)
    with reverts("BSTauOutOfRange", 2**64):
        bs.price(WAD, WAD, WAD, 2**64)
    with reverts("BSLogMoneynessOutOfRange", 2**128 + 1):
        bs.priceLn(2**128 + 1, WAD, WAD, WAD)
    with reverts("BSTotalVolOutOfRange", 2**128 + 1):
        bs.priceLn(0, 2**128 + 1, WAD, WAD)


# --- scenario API ---


def _moves(r):
    """The 13 spot moves of DESIGN "Margin" for scan range r (wad)."""
    std = [r * (i - 4) // 4 for i in range(9)]
    return std + [2 * r, 3 * r, -min(2 * r, 9 * WAD // 10), -min(3 * r, 9 * WAD // 10)]


def _scenario_case(bs, spot, r, sigmas, tau, strikes, is_call):
    moves = _moves(r)
    values, gas_grid, gas_strikes = bs.gasScenarios(spot, moves, sigmas, tau, strikes, is_call)
    g = bs.grid(spot, moves, sigmas, tau)
    spots = list(g[0])
    for k, strike in enumerate(strikes):
        assert list(bs.scenarioValues(g, strike, is_call)) == list(values[k])
        rows = []
        for j in range(31):
            i, v = (j % 9, j // 9) if j < 27 else (j - 18, 1)
            rows.append((spots[i], strike, sigmas[v], tau))
        single = _price_many(bs, rows)
        assert [c if is_call else p for c, p in single] == list(values[k])
    return gas_grid, gas_strikes


def test_scenario_values_equal_single_evaluations_exactly(bs):
    sigmas = [WAD * 6 // 10, WAD * 9 // 10, WAD * 45 // 100]
    strikes = [SPOT // 2, SPOT * 95 // 100, SPOT, SPOT * 13 // 10]
    for tau in [HOUR, 30 * DAY, 2 * YEAR]:
        for is_call in (True, False):
            _scenario_case(bs, SPOT, WAD // 2, sigmas, tau, strikes, is_call)


@settings(max_examples=100 if DEEP else 10)
@given(
    spot=st_spot,
    r=st.integers(min_value=16 * 10**16, max_value=5 * 10**17),
    sigma=st_sigma,
    tau=st.integers(min_value=0, max_value=5 * YEAR),
    m=st.floats(min_value=0.01, max_value=100.0),
    is_call=st.booleans(),
)
def test_scenario_values_equal_single_evaluations_at_random_points(
    bs, spot, r, sigma, tau, m, is_call
):
    sigmas = [sigma, max(sigma * 3 // 2, WAD // 2), sigma * 3 // 4]
    _scenario_case(bs, spot, r, sigmas, tau, [max(1, int(spot * m))], is_call)


def test_grid_rejects_moves_out_of_range(bs):
    moves = _moves(WAD // 2)
    moves[12] = -WAD
    with reverts("BSMoveOutOfRange", 12, -WAD):
        bs.grid(SPOT, moves, [WAD, WAD, WAD], DAY)
    moves[12] = 100 * WAD + 1
    with reverts("BSMoveOutOfRange", 12, 100 * WAD + 1):
        bs.grid(SPOT, moves, [WAD, WAD, WAD], DAY)


def test_report_gas(bs):
    """Gas of one (call, put) evaluation and of one option in 31 scenarios (printed, not asserted)."""
    k, sigma, tau = SPOT * 11 // 10, 8 * WAD // 10, 30 * DAY
    g_cdf, g_ln, g_exp, g_sqrt = bs.gasPrimitives(WAD * 7 // 10)
    *_, g_price = bs.gasPrice(SPOT, k, sigma, tau)
    *_, g_price_ln = bs.gasPriceLn(bs.lnWad(SPOT) - bs.lnWad(k), bs.totalVol(sigma, tau), SPOT, k)
    sigmas = [sigma, sigma * 3 // 2, sigma * 3 // 4]
    strikes = [SPOT * (70 + 3 * i) // 100 for i in range(20)]
    gas_grid, gas_strikes = _scenario_case(bs, SPOT, WAD // 4, sigmas, tau, strikes, True)
    # worst case: near-the-money strikes and a large sigma sqrt(tau), so that every d1, d2 lands in
    # the central intervals of N (highest degree)
    near = [SPOT * (98 + i) // 100 for i in range(5)]
    big = [3 * WAD // 2, 2 * WAD, WAD]
    _, gas_worst = _scenario_case(bs, SPOT, WAD // 4, big, YEAR, near, False)
    print(
        f"\nGAS N(x) {g_cdf}, lnWad {g_ln}, expWad {g_exp}, sqrtWad {g_sqrt}"
        f"\nGAS price (ln S, ln K, sqrt, 2 N) {g_price}; priceLn (2 N) {g_price_ln}"
        f"\nGAS grid per (underlying, expiry) {gas_grid}; per option x 31 scenarios "
        f"{gas_strikes / len(strikes):.0f} (mean of {len(strikes)} strikes), "
        f"worst case {gas_worst / len(near):.0f}"
    )
