"""CPU autoscaling of an exposed service, as a Kubernetes HorizontalPodAutoscaler does it.

The Manager creates an ``autoscaling/v1`` HPA per exposed service:
``minReplicas: min_scale``, ``maxReplicas: max_scale``,
``targetCPUUtilizationPercentage: cpu_threshold`` (utilisation is a pod's CPU
use against its request, the service's ``cpu``). The HPA's rule:

    desired = ceil(ready_replicas * mean_utilisation / target)

no change within a 10 % tolerance of the target, scale-up at once (at most
doubling, at least +4, per step), scale-down only to the highest
recommendation of the last stabilisation window (5 minutes by default), so
a brief lull does not remove replicas. Here utilisation is measured with
psutil over each ready replica's process tree.
"""
from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass
from typing import Deque, Sequence

TOLERANCE = 0.1


@dataclass(frozen=True)
class ScalingTimings:
    period: float = 15.0                 # the HPA controller's sync period
    downscale_window: float = 300.0      # --horizontal-pod-autoscaler-downscale-stabilization


class Autoscaler:
    """Recommendations from CPU samples, with the scale-down stabilisation window."""

    def __init__(self, min_scale: int, max_scale: int, threshold_percent: int, cpu_request: float,
                 timings: ScalingTimings | None = None) -> None:
        self.min_scale = min_scale
        self.max_scale = max(max_scale, min_scale)
        self.target = max(1, threshold_percent) / 100.0
        self.request = cpu_request
        self.timings = timings or ScalingTimings()
        self._history: Deque[tuple[float, int]] = collections.deque()
        self.last_utilisation: float | None = None

    def configure(self, min_scale: int, max_scale: int, threshold_percent: int, cpu_request: float) -> None:
        self.min_scale, self.max_scale = min_scale, max(max_scale, min_scale)
        self.target, self.request = max(1, threshold_percent) / 100.0, cpu_request

    def reset(self) -> None:
        self._history.clear()

    def recommend(self, current: int, samples: Sequence[float], now: float | None = None) -> int:
        """The replica count to run, given ``current`` and each ready replica's cores in use."""
        now = time.monotonic() if now is None else now
        if not samples or current <= 0:
            raw = max(current, self.min_scale)
        else:
            utilisation = (sum(samples) / len(samples)) / self.request
            self.last_utilisation = utilisation
            ratio = utilisation / self.target
            if abs(ratio - 1.0) <= TOLERANCE:
                raw = current
            else:
                raw = math.ceil(len(samples) * ratio)
                if raw > current:
                    raw = min(raw, max(current * 2, current + 4))
        raw = min(max(raw, self.min_scale), self.max_scale)
        self._history.append((now, raw))
        while self._history and now - self._history[0][0] > self.timings.downscale_window:
            self._history.popleft()
        if raw >= current:
            return raw
        return max(raw, min(current, max(r for _, r in self._history)))
