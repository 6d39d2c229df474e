"""The relay's figures from given metric samples: rates from the counter's delta over the
phase, p50 and p99 of the lag interpolated within the buckets of the histogram's delta."""

from __future__ import annotations

import math

import pytest

from bench.relay_figures import (
    RelaySample,
    bucket_delta,
    headroom,
    parse,
    quantile,
    relay_figures,
)

INF = math.inf
EXPOSITION = """\
# HELP oms_relay_published_total Journal events JetStream acknowledged and stored
# TYPE oms_relay_published_total counter
oms_relay_published_total 1200.0
oms_relay_published_created 1.7e+09
oms_relay_duplicates_total 3.0
# TYPE oms_relay_publish_lag_seconds histogram
oms_relay_publish_lag_seconds_bucket{le="0.005"} 100.0
oms_relay_publish_lag_seconds_bucket{le="0.01"} 600.0
oms_relay_publish_lag_seconds_bucket{le="0.025"} 1100.0
oms_relay_publish_lag_seconds_bucket{le="+Inf"} 1200.0
oms_relay_publish_lag_seconds_count 1200.0
oms_relay_publish_lag_seconds_sum 14.2
oms_outbox_backlog 7.0
"""


def sample(published: float, *buckets: tuple[float, float]) -> RelaySample:
    return RelaySample(published, tuple(buckets))


def test_the_exposition_is_read_to_the_counter_and_the_buckets() -> None:
    read = parse(EXPOSITION)
    assert read.published == 1200
    assert read.buckets == ((0.005, 100), (0.01, 600), (0.025, 1100), (INF, 1200))


def test_a_quantile_is_interpolated_within_its_bucket() -> None:
    buckets = ((0.005, 100.0), (0.01, 600.0), (0.025, 1100.0), (INF, 1200.0))
    # p50: rank 600, the end of the second bucket.
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    # p25: rank 300, 200 of the second bucket's 500, so 0.4 of the way from 5 to 10 ms.
    assert quantile(0.25, buckets) == pytest.approx(0.007)
    # In the first bucket, from 0: rank 60 of its 100.
    assert quantile(0.05, buckets) == pytest.approx(0.003)
    # Beyond the last finite bound: that bound, as Prometheus answers.
    assert quantile(0.99, buckets) == pytest.approx(0.025)
    assert quantile(0.5, ((0.005, 0.0), (INF, 0.0))) is None


def test_the_figures_come_from_the_deltas_over_the_phase() -> None:
    before = sample(1000, (0.005, 50), (0.01, 50), (0.1, 1000), (1.0, 1000), (INF, 1000))
    after = sample(3000, (0.005, 50), (0.01, 50), (0.1, 2500), (1.0, 2900), (INF, 2900))
    drained = sample(3100, (0.005, 50), (0.01, 50), (0.1, 2500), (1.0, 3000), (INF, 3000))
    assert bucket_delta(before, drained) == (
        (0.005, 0),
        (0.01, 0),
        (0.1, 1500),
        (1.0, 2000),
        (INF, 2000),
    )
    figures = relay_figures(before, after, drained, seconds=10.0, appended=2100)
    assert figures["relay_events_per_s"] == pytest.approx(200.0)
    assert figures["journal_events_per_s"] == pytest.approx(210.0)
    # 2000 lags: p50 rank 1000 of the 10 to 100 ms bucket's 1500, from 10 ms.
    assert figures["relay_lag_p50_ms"] == pytest.approx(10 + 90 * 1000 / 1500)
    # p99 rank 1980: 480 of the 100 ms to 1 s bucket's 500.
    assert figures["relay_lag_p99_ms"] == pytest.approx(100 + 900 * 480 / 500)
    assert figures["relay_events_published"] == 2000
    assert figures["journal_events_appended"] == 2100
    assert figures["relay_lag_events"] == 2000


def test_headroom_is_the_relay_alone_over_the_journal_rate() -> None:
    assert headroom(5000.0, 250.0) == pytest.approx(20.0)
    assert headroom(5000.0, 0.0) is None
    assert headroom(None, 250.0) is None
