"""Property: for random observation sets, the stored price and vol are the medians computed in
Python (DESIGN "Oracle": middle value for odd n, floor of the mean of the middle two for even n,
price and vol independently)."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.oracle import (
    BTC,
    FEED_BOUNDS,
    SIGNER_KEYS,
    feed_state,
    last_block_time,
    next_block_at,
)

MIN_P, MAX_P, MAX_V = FEED_BOUNDS[BTC]
EXAMPLES = {"ci": 25, "local": 300}[os.environ.get("KEEL_PROFILE", "ci")]


def py_median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2


# Prices near the bounds and with ties are the interesting cases: mix edges, a narrow band and
# anything in range.
st_price = st.one_of(
    st.sampled_from([MIN_P, MIN_P + 1, MAX_P - 1, MAX_P]),
    st.integers(MIN_P, MIN_P + 10),
    st.integers(MIN_P, MAX_P),
)
st_vol = st.one_of(st.sampled_from([1, 2, MAX_V]), st.integers(1, MAX_V))
# A quorum-or-more set of distinct signers, in any order, and one (price, vol) per signer.
st_signers = st.tuples(
    st.permutations(range(len(SIGNER_KEYS))), st.integers(3, len(SIGNER_KEYS))
).map(lambda pn: pn[0][: pn[1]])
st_observations = st_signers.flatmap(
    lambda signers: st.tuples(
        st.just(signers),
        st.lists(st_price, min_size=len(signers), max_size=len(signers)),
        st.lists(st_vol, min_size=len(signers), max_size=len(signers)),
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
def test_stored_medians_equal_python_medians(oracle, report, sample):
    signers, prices, vols = sample
    _, _, observed_at, rnd = feed_state(oracle, BTC)
    t = next_block_at(max(last_block_time(), observed_at) + 1)
    obs = [(SIGNER_KEYS[i], p, v) for i, p, v in zip(signers, prices, vols, strict=True)]
    oracle.submit([report(BTC, rnd + 1, t, obs)])
    assert feed_state(oracle, BTC) == (py_median(prices), py_median(vols), t, rnd + 1)
