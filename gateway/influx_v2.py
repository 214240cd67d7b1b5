"""InfluxDB 2.x / Cloud set-up with ``influxdb-client``: buckets, DBRP mappings, tasks.

2.x has no retention policies or continuous queries; the v1 compatibility API the gateway
writes and reads through finds buckets by DBRP mappings (database + retention policy →
bucket). This module creates, idempotently, what the 1.x set-up (gateway/retention.py)
creates there: a bucket per retention policy (``<database>/raw``, ``/agg_1m``, ``/agg_1h``)
with its retention, the DBRP mappings, and two Flux tasks doing what the continuous queries
do, with the same output field names (``mean_<field>``; an hour is ``mean_mean_<field>``),
so ``gateway.history`` reads 1.x and 2.x alike.

Documented, not tested here: only InfluxDB 1.6.7 can be installed on this machine, so this
path is exercised by unit tests of the plan and the Flux text only (docs/historian.md).
This is the one module importing ``influxdb_client``.
"""

from __future__ import annotations

from dataclasses import dataclass

from facility.errors import CommError, ConfigError
from facility.redact import redact_url
from gateway.retention import RetentionPlan

FUNCTIONS = ("mean", "min", "max", "last")


@dataclass(frozen=True)
class BucketSpec:
    retention_policy: str
    bucket: str
    retention_s: int
    default: bool


@dataclass(frozen=True)
class TaskSpec:
    name: str
    every: str
    flux: str


def buckets(database: str, plan: RetentionPlan) -> list[BucketSpec]:
    """One bucket per 1.x retention policy, named ``<database>/<rp>`` (the 2.x convention)."""
    day = 86_400
    return [
        BucketSpec(plan.raw_rp, f"{database}/{plan.raw_rp}", plan.raw_days * day, True),
        BucketSpec(
            plan.minute_rp, f"{database}/{plan.minute_rp}", plan.aggregate_days * day, False
        ),
        BucketSpec(plan.hour_rp, f"{database}/{plan.hour_rp}", plan.aggregate_days * day, False),
    ]


def downsample_flux(
    source: str, target: str, every: str, measurements: list[str], *, from_aggregates: bool
) -> str:
    """Flux for one downsampling step: every ``every``, each function over the window,
    written with the function name prefixed to the field (as InfluxQL's CQ names them)."""
    pattern = "|".join(measurements)
    lines = [
        'import "types"',
        "",
        f'data = from(bucket: "{source}")',
        "    |> range(start: -task.every * 2)",
        f"    |> filter(fn: (r) => r._measurement =~ /^({pattern})$/)",
    ]
    for function in FUNCTIONS:
        selected = "data"
        if from_aggregates:
            # the hour reduces the minute's field of the same function (mean of means, ...)
            selected += f"\n    |> filter(fn: (r) => r._field =~ /^{function}_/)"
        elif function != "last":
            selected += "\n    |> filter(fn: (r) => types.isNumeric(v: r._value))"
        lines += [
            "",
            selected,
            f"    |> aggregateWindow(every: {every}, fn: {function}, createEmpty: false)",
            f'    |> map(fn: (r) => ({{r with _field: "{function}_" + r._field}}))',
            f'    |> to(bucket: "{target}")',
        ]
    return "\n".join(lines) + "\n"


def tasks(database: str, plan: RetentionPlan) -> list[TaskSpec]:
    raw, minute, hour = (b.bucket for b in buckets(database, plan))
    measurements = plan.measurements()
    return [
        TaskSpec(
            f"{database}_agg_1m",
            "1m",
            downsample_flux(raw, minute, "1m", measurements, from_aggregates=False),
        ),
        TaskSpec(
            f"{database}_agg_1h",
            "1h",
            downsample_flux(minute, hour, "1h", measurements, from_aggregates=True),
        ),
    ]


def setup_v2(
    url: str, token: str | None, org: str, database: str, plan: RetentionPlan
) -> list[str]:
    """Create what is missing (buckets, DBRP mappings, tasks); returns what was created."""
    if not token:
        raise ConfigError("InfluxDB 2.x set-up needs a token: set $FACILITY_INFLUXDB__TOKEN")
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
    from influxdb_client.domain.dbrp_create import DBRPCreate
    from influxdb_client.rest import ApiException
    from influxdb_client.service.dbr_ps_service import DBRPsService
    from urllib3.exceptions import HTTPError

    created: list[str] = []
    try:
        with InfluxDBClient(url=url, token=token, org=org) as client:
            orgs = client.organizations_api().find_organizations(org=org)
            if not orgs:
                raise ConfigError(f"InfluxDB organisation {org!r} not found at {redact_url(url)}")
            org_id = orgs[0].id
            buckets_api = client.buckets_api()
            dbrps = DBRPsService(client.api_client)
            existing = {
                (m.database, m.retention_policy)
                for m in (dbrps.get_dbr_ps(org_id=org_id).content or [])
            }
            for spec in buckets(database, plan):
                bucket = buckets_api.find_bucket_by_name(spec.bucket)
                if bucket is None:
                    rules = BucketRetentionRules(type="expire", every_seconds=spec.retention_s)
                    bucket = buckets_api.create_bucket(
                        bucket_name=spec.bucket, retention_rules=rules, org_id=org_id
                    )
                    created.append(f"bucket {spec.bucket}")
                if (database, spec.retention_policy) not in existing:
                    dbrps.post_dbrp(
                        DBRPCreate(
                            org_id=org_id,
                            bucket_id=bucket.id,
                            database=database,
                            retention_policy=spec.retention_policy,
                            default=spec.default,
                        )
                    )
                    created.append(f"dbrp {database}/{spec.retention_policy}")
            tasks_api = client.tasks_api()
            for task in tasks(database, plan):
                if not tasks_api.find_tasks(name=task.name):
                    tasks_api.create_task_every(task.name, task.flux, task.every, orgs[0])
                    created.append(f"task {task.name}")
    except ApiException as exc:
        raise ConfigError(
            f"InfluxDB 2.x at {redact_url(url)} refused the set-up: {exc.status} {exc.reason}"
        ) from None
    except (OSError, HTTPError) as exc:
        raise CommError(f"InfluxDB 2.x at {redact_url(url)} not reachable: {exc}") from None
    return created
