"""The InfluxDB 2.x set-up plan (buckets, DBRP, Flux tasks): what can be checked without a
2.x server, which this machine cannot install."""

from __future__ import annotations

from gateway.influx_v2 import buckets, downsample_flux, tasks
from gateway.retention import RetentionPlan


def test_one_bucket_per_retention_policy_with_its_lifetime() -> None:
    specs = buckets("facility", RetentionPlan(raw_days=30, aggregate_days=3650))
    assert [(s.retention_policy, s.bucket, s.default) for s in specs] == [
        ("raw", "facility/raw", True),
        ("agg_1m", "facility/agg_1m", False),
        ("agg_1h", "facility/agg_1h", False),
    ]
    assert specs[0].retention_s == 30 * 86_400
    assert specs[2].retention_s == 3650 * 86_400


def test_minute_task_names_fields_as_the_continuous_query_does() -> None:
    flux = downsample_flux(
        "facility/raw", "facility/agg_1m", "1m", ["pmp", "tnk"], from_aggregates=False
    )
    assert 'from(bucket: "facility/raw")' in flux
    assert "r._measurement =~ /^(pmp|tnk)$/" in flux
    for function in ("mean", "min", "max", "last"):
        assert f"fn: {function}," in flux
        assert f'_field: "{function}_" + r._field' in flux
    # mean/min/max only over numbers; last over everything (states, text)
    assert flux.count("types.isNumeric") == 3
    assert flux.count('to(bucket: "facility/agg_1m")') == 4


def test_hour_task_reduces_each_minute_function_by_itself() -> None:
    (minute, hour) = tasks("facility", RetentionPlan())
    assert (minute.every, hour.every) == ("1m", "1h")
    assert 'from(bucket: "facility/agg_1m")' in hour.flux
    assert "r._field =~ /^max_/" in hour.flux  # max of the minute maxima -> max_max_<field>
    assert "isNumeric" not in hour.flux
