"""Property: for random observation sets, the Oracle stores the medians computed in Python (DESIGN
"Oracle": middle value for odd n, floor of the mean of the middle two for even n, price and vol
independently), or, when an observation lies beyond the spread around them, reverts with exactly
the `ObservationSpread` a Python model predicts and stores nothing (SPEC §3 [v2])."""

import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fixtures.oracle import (
    BTC,
    FEED_BOUNDS,
    SIGNER_KEYS,
    WAD,
    feed_state,
    last_block_time,
    next_block_at,
)
from tests.support import reverts

MIN_P, MAX_P, MAX_V = FEED_BOUNDS[BTC]
MAX_SPREAD, MAX_VOL_SPREAD = WAD // 100, WAD // 10  # the defaults [wad]
EXAMPLES = {"ci": 25, "local": 300}[os.environ.get("KEEL_PROFILE", "ci")]


def py_median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2


def py_farthest(values, m):
    s = sorted(values)
    return s[-1] if s[-1] - m > m - s[0] else s[0]


def py_spread_ok(values, spread):
    m = py_median(values)
    return abs(py_farthest(values, m) - m) * WAD <= spread * m


# Centres near the bounds and anywhere in range; each observation is the centre moved by a relative
# offset drawn mostly inside the spread, sometimes just around its edge, sometimes far outside, then
# clamped to the feed's bounds (ties and equal values included).
st_centre_price = st.one_of(
    st.sampled_from([MIN_P, MIN_P + 1, MAX_P - 1, MAX_P]), st.integers(MIN_P, MAX_P)
)
st_centre_vol = st.one_of(st.sampled_from([1, 2, 100, MAX_V]), st.integers(1, MAX_V))
st_offset = st.one_of(  # [1e-6] of the centre
    st.integers(-4_000, 4_000),  # well inside 1% of a median
    st.integers(-11_000, 11_000),  # around the price edge
    st.integers(-120_000, 120_000),  # around the vol edge, far beyond the price one
    st.just(0),
)
# A quorum-or-more set of distinct signers, in any order.
st_signers = st.tuples(
    st.permutations(range(len(SIGNER_KEYS))), st.integers(3, len(SIGNER_KEYS))
).map(lambda pn: pn[0][: pn[1]])


def _around(centre, offsets, lo, hi):
    return [min(max(centre + centre * o // 1_000_000, lo), hi) for o in offsets]


st_observations = st.tuples(st_signers, st_centre_price, st_centre_vol).flatmap(
    lambda sc: st.tuples(
        st.just(sc[0]),
        st.lists(st_offset, min_size=len(sc[0]), max_size=len(sc[0])).map(
            lambda offs, c=sc[1]: _around(c, offs, MIN_P, MAX_P)
        ),
        st.lists(st_offset, min_size=len(sc[0]), max_size=len(sc[0])).map(
            lambda offs, c=sc[2]: _around(c, offs, 1, MAX_V)
        ),
    )
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(sample=st_observations)
def test_stored_medians_equal_python_medians_or_spread_rejects(oracle, report, sample):
    signers, prices, vols = sample
    before = feed_state(oracle, BTC)
    _, _, observed_at, rnd = before
    t = next_block_at(max(last_block_time(), observed_at) + 1)
    obs = [(SIGNER_KEYS[i], p, v) for i, p, v in zip(signers, prices, vols, strict=True)]
    price, vol = py_median(prices), py_median(vols)
    if py_spread_ok(prices, MAX_SPREAD) and py_spread_ok(vols, MAX_VOL_SPREAD):
        event("accepted")
        oracle.submit([report(BTC, rnd + 1, t, obs)])
        assert feed_state(oracle, BTC) == (price, vol, t, rnd + 1)
    else:
        event("ObservationSpread")
        far_p, far_v = py_farthest(prices, price), py_farthest(vols, vol)
        with reverts("ObservationSpread", BTC, far_p, price, far_v, vol):
            oracle.submit([report(BTC, rnd + 1, t, obs)])
        assert feed_state(oracle, BTC) == before
