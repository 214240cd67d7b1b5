"""``facility probe``: find how a device encodes a value you can see on its display."""

from __future__ import annotations

import asyncio

import click

from facility.errors import ConfigError


@click.group()
def group() -> None:
    """Probe a device to work out a point's type, byte/word order and scale."""


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split("..", 1))
    except ValueError:
        raise ConfigError(f"--expect {text!r}: expected LOW..HIGH, e.g. 3.5..4.5") from None
    if low > high:
        raise ConfigError(f"--expect {text!r}: LOW is above HIGH")
    return low, high


@group.command()
@click.argument("endpoint")
@click.option("--unit", "unit_id", type=click.IntRange(0, 255), default=1, show_default=True)
@click.option(
    "--address",
    type=click.IntRange(0, 65535),
    required=True,
    help="0-based register address of the value.",
)
@click.option("--count", type=click.IntRange(1, 4), default=4, show_default=True)
@click.option(
    "--table", type=click.Choice(["holding", "input"]), default="holding", show_default=True
)
@click.option(
    "--expect",
    "expect",
    required=True,
    help="The range the value should be in, e.g. 3.5..4.5 (read it off the display).",
)
@click.option("--top", type=click.IntRange(1, 50), default=8, show_default=True)
def modbus(
    endpoint: str, unit_id: int, address: int, count: int, table: str, expect: str, top: int
) -> None:
    """Read COUNT registers at ADDRESS of ENDPOINT (host:port) and rank the decodings that
    fall in the expected range: type, byte/word order and power-of-ten scale."""
    from collectors.modbus.transport import ModbusConnection
    from collectors.probe import rank_decodings
    from device_profiles.models import Table

    host, _, port_text = endpoint.rpartition(":")
    if not host or not port_text.isdigit():
        raise ConfigError(f"endpoint {endpoint!r}: expected HOST:PORT, e.g. 192.168.1.20:502")
    low, high = _range(expect)

    async def read() -> list[int]:
        connection = ModbusConnection(host, int(port_text), timeout_s=2.0)
        try:
            return await connection.read(unit_id, Table(table), address, count)
        finally:
            connection.close()

    registers = asyncio.run(read())
    click.echo(
        f"{table} {address}..{address + count - 1} unit {unit_id}: "
        + " ".join(f"0x{r:04X}" for r in registers)
    )
    ranked = rank_decodings(registers, low, high, limit=top)
    if not ranked:
        click.echo(
            f"no decoding lands in {low:g}..{high:g}: check the address (0-based; "
            "40001 is holding 0) and the unit id"
        )
        raise SystemExit(1)
    click.echo(f"{'rank':>4}  {'type':8} {'order':5} {'scale':>6}  {'value':>14}")
    for rank, d in enumerate(ranked, 1):
        click.echo(
            f"{rank:>4}  {d.data_type.value:8} {d.order.value:5} {d.scale:>6g}  {d.value:>14.6g}"
        )
    click.echo(f"profile: {ranked[0].profile_snippet(address).replace('holding', table)}")
