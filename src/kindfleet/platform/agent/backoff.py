"""How long to wait before trying the hub again: capped exponential with full jitter, so a
fleet of spokes that lost the hub at the same moment does not hammer it in lockstep when it
comes back. Pure; the caller supplies the random number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    base: float = 0.5
    cap: float = 10.0
    attempt: int = 0

    def next_delay(self, rand: float | None = None) -> float:
        """The delay for this failure (and count it): uniform in [cap_n / 2, cap_n]."""
        ceiling: float = min(self.cap, self.base * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        r: float = random.random() if rand is None else rand
        return ceiling / 2 + ceiling / 2 * r

    def reset(self) -> None:
        self.attempt = 0
