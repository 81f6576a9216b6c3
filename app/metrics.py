"""Prometheus metrics in the text exposition format, kept in process memory."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request counts and latency histograms by route and status class."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        route = path if path in {"/graphql", "/healthz", "/readyz", "/metrics", "/webhooks/livekit"} else "other"
        with self._lock:
            self._requests[(route, f"{status // 100}xx")] += 1
            buckets = self._buckets[route]
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def render(self) -> str:
        lines = [
            "# HELP journeys_http_requests_total HTTP requests served.",
            "# TYPE journeys_http_requests_total counter",
        ]
        with self._lock:
            for (route, status), count in sorted(self._requests.items()):
                lines.append(f'journeys_http_requests_total{{route="{route}",status="{status}"}} {count}')
            lines += [
                "# HELP journeys_http_request_seconds HTTP request latency.",
                "# TYPE journeys_http_request_seconds histogram",
            ]
            for route in sorted(self._count):
                for bound, count in zip(BUCKETS, self._buckets[route], strict=True):
                    lines.append(f'journeys_http_request_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
                lines.append(f'journeys_http_request_seconds_bucket{{route="{route}",le="+Inf"}} {self._count[route]}')
                lines.append(f'journeys_http_request_seconds_sum{{route="{route}"}} {self._sum[route]:.6f}')
                lines.append(f'journeys_http_request_seconds_count{{route="{route}"}} {self._count[route]}')
        return "\n".join(lines) + "\n"


METRICS = Metrics()
