"""The relay's figures from two readings of its Prometheus metrics (oms/relay_metrics.py):
events published per second from the counter's delta, and the lag from the journal append to
the broker's acknowledgement at p50 and p99 from the histogram's delta, each interpolated
linearly within its bucket as Prometheus's `histogram_quantile` does. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PUBLISHED = "oms_relay_published_total"
LAG_BUCKET = "oms_relay_publish_lag_seconds_bucket"

Buckets = tuple[tuple[float, float], ...]  # (upper bound `le`, cumulative count), ascending


@dataclass(frozen=True)
class RelaySample:
    """One reading of the relay's metrics: events published so far and the lag histogram."""

    published: float
    buckets: Buckets


def parse(text: str) -> RelaySample:
    """The counter and the histogram's buckets from the text exposition."""
    published = 0.0
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        if name_labels == PUBLISHED:
            published = float(value)
        elif name_labels.startswith(LAG_BUCKET + "{"):
            le = name_labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(le)] = float(value)  # float("+Inf") is inf
    return RelaySample(published, tuple(sorted(buckets.items())))


def bucket_delta(before: RelaySample, after: RelaySample) -> Buckets:
    """The cumulative counts observed between the two readings, bucket by bucket."""
    earlier = dict(before.buckets)
    return tuple((le, count - earlier.get(le, 0.0)) for le, count in after.buckets)


def quantile(q: float, buckets: Buckets) -> float | None:
    """The `q` quantile (0..1) of cumulative `buckets`, interpolated linearly within the
    bucket it falls in (from 0 in the first); in the `+Inf` bucket, the last finite bound.
    None when no observation was made."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank and count > below:
            if math.isinf(le):
                return lower
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def relay_figures(
    before: RelaySample,
    after: RelaySample,
    drained: RelaySample,
    seconds: float,
    appended: int,
) -> dict[str, Any]:
    """The orders phase's figures: `before` and `after` read at its start and end, `seconds`
    apart, `appended` journal events in between; `drained` read once the outbox emptied, so
    the lag covers every event of the phase, the last ones too."""
    published = after.published - before.published
    lag = bucket_delta(before, drained)
    return {
        "relay_events_per_s": published / seconds,
        "journal_events_per_s": appended / seconds,
        "relay_lag_p50_ms": _ms(quantile(0.5, lag)),
        "relay_lag_p99_ms": _ms(quantile(0.99, lag)),
        "relay_events_published": int(published),
        "journal_events_appended": appended,
        "relay_lag_events": int(lag[-1][1]) if lag else 0,
    }


def headroom(alone_per_s: float | None, journal_per_s: float | None) -> float | None:
    """How many times the journal's rate in the orders phase the relay publishes alone."""
    return alone_per_s / journal_per_s if alone_per_s is not None and journal_per_s else None
