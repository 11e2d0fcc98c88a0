"""When to push a feed (SPEC §3): on a move of more than 0.5% since the last accepted price, when half
a heartbeat has passed since the last accepted observation, or when the feed was never reported.

All comparisons are exact (integers and Fractions), so a test at the threshold is not at the mercy of
float rounding: a move of exactly 0.5% does not push, one wei more does; an age of exactly half a
heartbeat pushes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

NEVER = "never-reported"
DEVIATION = "deviation"
HEARTBEAT = "heartbeat"
HOLD = "hold"
# Decided by the relayer beside the policy: a registered expiry is due (its settlement price needs a
# report within the Oracle's settlementWindow), or the tick's report was front-run and is re-signed.
EXPIRY = "expiry"
RESUBMIT = "resubmit"


@dataclass(frozen=True)
class PushPolicy:
    deviation: Fraction = Fraction(5, 1000)  # push when |dS/S| > this           [fraction]
    heartbeat: int = 3600  # the Oracle's staleness heartbeat                    [s]
    heartbeat_fraction: Fraction = Fraction(1, 2)  # push when age >= this * heartbeat

    def __post_init__(self) -> None:
        object.__setattr__(self, "deviation", Fraction(self.deviation))
        object.__setattr__(self, "heartbeat_fraction", Fraction(self.heartbeat_fraction))
        if self.deviation < 0 or self.heartbeat <= 0 or not 0 < self.heartbeat_fraction <= 1:
            raise ValueError("need deviation >= 0, heartbeat > 0, 0 < heartbeat_fraction <= 1")

    def decide(
        self, last_price: int, last_observed_at: int, last_round: int, new_price: int, now: int
    ) -> tuple[bool, str]:
        """(push?, reason) for a feed whose last accepted state is (price, observedAt, round)."""
        if last_round == 0 or last_price == 0:
            return True, NEVER
        if abs(new_price - last_price) > self.deviation * last_price:
            return True, DEVIATION
        if now - last_observed_at >= self.heartbeat_fraction * self.heartbeat:
            return True, HEARTBEAT
        return False, HOLD
