"""The SPEC §6 scenario grid: scan range clamps, spot points, vol states, weights and index order."""

import math

import numpy as np
import pytest

from keel.risk import (
    MarginParams,
    scan_range,
    scenario_vols,
    scenario_weights,
    spot_moves,
    vol_states,
)
from keel.risk.scenarios import scenario_label

SQ = math.sqrt(2 / 365)


@pytest.mark.parametrize(
    "vol,expected",
    [
        (0.6, 0.16),  # 2.576·0.6·√(2/365) = 0.1144 → clamped up to R_min
        (1.0, 2.576 * SQ),  # 0.19069: inside the clamps
        (3.0, 0.50),  # 0.5720 → clamped down to R_max
    ],
)
def test_scan_range_is_clamped_at_both_ends(vol, expected):
    assert float(scan_range(vol)) == pytest.approx(expected, rel=1e-15)


def test_spot_points_follow_the_design_index_order():
    """j = 9v + i: x = R(i − 4)/4 for each vol state, then +2R, +3R, −min(2R,.9), −min(3R,.9)."""
    r = 2.576 * SQ  # vol 100%
    x = spot_moves(r)
    quarter = [r * k / 4 for k in range(-4, 5)]
    assert x.shape == (31,)
    for v in range(3):
        assert np.allclose(x[9 * v : 9 * v + 9], quarter, rtol=0, atol=1e-16)
    assert np.allclose(x[27:], [2 * r, 3 * r, -2 * r, -3 * r], rtol=1e-15)
    assert x[4] == x[13] == x[22] == 0.0


def test_extended_down_moves_are_capped_at_90_percent():
    x = spot_moves(0.40)  # 2R = 0.8, 3R = 1.2
    assert x[27:].tolist() == pytest.approx([0.8, 1.2, -0.8, -0.9])
    assert spot_moves(0.5)[27:].tolist() == pytest.approx([1.0, 1.5, -0.9, -0.9])


def test_weights_are_one_then_thirty_percent():
    w = scenario_weights()
    assert w[:27].tolist() == [1.0] * 27 and w[27:].tolist() == [0.3] * 4
    assert scenario_weights(MarginParams(extended_weight=0.5))[27:].tolist() == [0.5] * 4


@pytest.mark.parametrize(
    "vol,days,up,down",
    [
        # τ ≤ 30 d: p = 0.30; m(7 d) = (30/7)^0.3 = 1.54707…
        (0.60, 7, 0.60 * (1 + 0.5 * (30 / 7) ** 0.3), 0.60 * (1 - 0.25 * (30 / 7) ** 0.3)),
        # exactly 30 d: m = 1 for either exponent
        (0.75, 30, 1.125, 0.5625),
        # τ > 30 d: p = 0.13; σ_up would be 0.2·(1 + 0.5·0.8667) = 0.287 → floored at 50%
        (0.20, 90, 0.50, 0.20 * (1 - 0.25 * (1 / 3) ** 0.13)),
        # under a day: τ_days floored at 1 → m = 30^0.3
        (1.00, 0.25, 1 + 0.5 * 30**0.3, 1 - 0.25 * 30**0.3),
    ],
)
def test_vol_states_by_hand(vol, days, up, down):
    states = vol_states(vol, days / 365)
    assert states.tolist() == pytest.approx([vol, up, down], rel=1e-14)


def test_scenario_vols_use_state_none_up_down_then_up_for_extended():
    """Known σ = 60%, τ = 7 days: σ_j by index block."""
    s = scenario_vols(0.6, 7 / 365)
    none, up, down = vol_states(0.6, 7 / 365)
    assert (s[:9] == none).all() and (s[9:18] == up).all() and (s[18:27] == down).all()
    assert (s[27:] == up).all()


@pytest.mark.parametrize(
    "j,label",
    [(0, "−R σ"), (4, "0 σ"), (5, "+0.25R σ"), (9, "−R σ_up"), (19, "−0.75R σ_dn"),
     (26, "+R σ_dn"), (27, "+2R σ_up ×w"), (30, "−min(3R, cap) σ_up ×w")],
)  # fmt: skip
def test_scenario_labels_follow_the_design_index_order(j, label):
    assert scenario_label(j) == label


@pytest.mark.parametrize("j", [-1, 31])
def test_scenario_label_refuses_an_index_off_the_grid(j):
    with pytest.raises(ValueError, match=r"scenario index must lie in \[0, 30\]"):
        scenario_label(j)
