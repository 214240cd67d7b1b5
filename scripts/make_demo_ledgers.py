"""Write the demo estates' ledgers: maintenance/demo/{sites,HT,JU,HY}.csv.

Deterministic (fixed seed): running it again gives byte-identical files, so the CSVs are
committed and reviewed like code. Run: ``.venv/bin/python scripts/make_demo_ledgers.py``.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facility.types import (  # noqa: E402
    DEVICE_CLASS_SYSTEM,
    Asset,
    AssetNo,
    AssetStatus,
    Criticality,
    DeviceClass,
    Endpoint,
    ModbusEndpoint,
    OpcuaEndpoint,
)
from maintenance.ledger_files import (  # noqa: E402
    DEMO_DIR,
    SITE_COLUMNS,
    read_ledger_file,
    write_csv,
)

SEED = 20261126
HOST = "127.0.0.1"
TIMEZONE = "Asia/Shanghai"

PROFILE = {
    DeviceClass.PMP: "vfd-booster-pump",
    DeviceClass.PDP: "pool-drainage-controller",
    DeviceClass.TNK: "water-tank-monitor",
    DeviceClass.LGT: "street-lighting-circuit",
    DeviceClass.FAP: "fire-alarm-panel",
}

PUMP_SETS = [
    ("Grundfos", "Hydro MPC-E 2 CRE 10-4", "GF"),
    ("Wilo", "COR-2 Helix VE 1605/SKw-EB", "WL"),
    ("CNP 南方泵业", "CDMF 10-6 + Danfoss FC 202 VFD", "CNP"),
    ("Xylem Lowara", "e-SV 10SV06 + Hydrovar HVL 3.075", "LW"),
]
TANK_MONITORS = [
    ("Hach", "SC200 + CL17sc chlorine + TU5300sc turbidity", "HC"),
    ("Endress+Hauser", "Liquiline CM444 + Waterpilot FMX21", "EH"),
]
LIGHTING_CONTROLLERS = [
    ("Schneider Electric", "Modicon M221 lighting control panel", "SE"),
    ("CHINT 正泰", "NXZ-LC street lighting cabinet", "CH"),
    ("Delixi 德力西", "CDKZ-8 lighting controller", "DL"),
]
FIRE_PANELS = [
    ("GST 海湾", "JB-QB-GST200", "GST"),
    ("TANDA 泰和安", "JB-QB-TX3016A", "TX"),
    ("Siemens", "Cerberus PRO FC724", "SI"),
]

# zone (en, zh, street lighting? else landscape, circuits)
Zone = tuple[str, str, bool, int]


@dataclass(frozen=True)
class Tank:
    en: str
    zh: str
    building: str
    zone: str
    fire: bool = False


@dataclass(frozen=True)
class Estate:
    code: str
    name_en: str
    name_zh: str
    pump_buildings: int
    tanks: tuple[Tank, ...]
    lighting: tuple[Zone, ...]
    fire_panels: tuple[tuple[str, str, str], ...]  # (building, en, zh)
    pmp_port: int
    pdp_port: int | None
    lgt_port: int
    tnk_port: int
    fap_port: int


ESTATES = (
    Estate(
        "HT",
        "Huating",
        "华庭",
        pump_buildings=6,
        tanks=(
            Tank("Basement domestic water tank 1#", "地下室生活水箱1#", "Basement", "Tank room"),
            Tank("Basement domestic water tank 2#", "地下室生活水箱2#", "Basement", "Tank room"),
            Tank("Building 2 roof water tank", "2栋屋顶水箱", "B2", "Roof"),
            Tank("Building 4 roof water tank", "4栋屋顶水箱", "B4", "Roof"),
            Tank("Building 6 roof water tank", "6栋屋顶水箱", "B6", "Roof"),
            Tank("Building 3 roof fire water tank", "3栋屋顶消防水箱", "B3", "Roof", fire=True),
        ),
        lighting=(
            ("North road", "北区路", True, 8),
            ("South road", "南区路", True, 8),
            ("Lake path", "湖畔小径", False, 6),
            ("Central garden", "中心花园", False, 6),
            ("East gate", "东门", True, 4),
            ("West road", "西区路", True, 4),
            ("Podium", "裙楼平台", False, 2),
            ("Car park entrance", "车库入口", True, 2),
        ),
        fire_panels=(
            ("B1", "Fire alarm panel, buildings 1-2", "1-2栋火灾报警控制器"),
            ("B3", "Fire alarm panel, buildings 3-4", "3-4栋火灾报警控制器"),
            ("B5", "Fire alarm panel, buildings 5-6", "5-6栋火灾报警控制器"),
            (
                "Clubhouse",
                "Fire alarm panel, clubhouse control room",
                "会所消防控制室火灾报警控制器",
            ),
        ),
        pmp_port=15021,
        pdp_port=15022,
        lgt_port=15023,
        tnk_port=14841,
        fap_port=14842,
    ),
    Estate(
        "JU",
        "Ju",
        "居",
        pump_buildings=4,
        tanks=(
            Tank("Basement domestic water tank 1#", "地下室生活水箱1#", "Basement", "Tank room"),
            Tank("Basement domestic water tank 2#", "地下室生活水箱2#", "Basement", "Tank room"),
            Tank("Building 2 roof water tank", "2栋屋顶水箱", "B2", "Roof"),
            Tank("Building 4 roof fire water tank", "4栋屋顶消防水箱", "B4", "Roof", fire=True),
        ),
        lighting=(
            ("North road", "北区路", True, 6),
            ("South road", "南区路", True, 6),
            ("Courtyard", "中庭", False, 6),
            ("Riverside walk", "滨河步道", False, 6),
            ("Main gate", "正门", True, 4),
            ("Car park ramp", "车库坡道", True, 2),
        ),
        fire_panels=(
            (
                "B1",
                "Fire alarm panel, buildings 1-2 (control room)",
                "1-2栋消防控制室火灾报警控制器",
            ),
            ("B3", "Fire alarm panel, building 3", "3栋火灾报警控制器"),
            ("B4", "Fire alarm panel, building 4", "4栋火灾报警控制器"),
        ),
        pmp_port=15031,
        pdp_port=None,
        lgt_port=15033,
        tnk_port=14851,
        fap_port=14852,
    ),
    Estate(
        "HY",
        "Garden",
        "花园",
        pump_buildings=5,
        tanks=(
            Tank("Basement domestic water tank 1#", "地下室生活水箱1#", "Basement", "Tank room"),
            Tank("Basement domestic water tank 2#", "地下室生活水箱2#", "Basement", "Tank room"),
            Tank("Building 1 roof water tank", "1栋屋顶水箱", "B1", "Roof"),
            Tank("Building 3 roof water tank", "3栋屋顶水箱", "B3", "Roof"),
            Tank("Building 5 roof fire water tank", "5栋屋顶消防水箱", "B5", "Roof", fire=True),
        ),
        lighting=(
            ("Garden path", "花园步道", False, 8),
            ("Lake path", "湖畔小径", False, 6),
            ("North road", "北区路", True, 6),
            ("South road", "南区路", True, 6),
            ("Children's playground", "儿童游乐区", False, 4),
            ("Main gate", "正门", True, 4),
            ("Car park entrance", "车库入口", True, 2),
        ),
        fire_panels=(
            (
                "B1",
                "Fire alarm panel, buildings 1-2 (control room)",
                "1-2栋消防控制室火灾报警控制器",
            ),
            ("B3", "Fire alarm panel, building 3", "3栋火灾报警控制器"),
            ("B4", "Fire alarm panel, building 4", "4栋火灾报警控制器"),
            ("B5", "Fire alarm panel, building 5", "5栋火灾报警控制器"),
        ),
        pmp_port=15041,
        pdp_port=None,
        lgt_port=15043,
        tnk_port=14861,
        fap_port=14862,
    ),
)


class Builder:
    """Numbers assets per class and fills in the columns every asset shares."""

    def __init__(self, estate: Estate, rng: random.Random) -> None:
        self.estate = estate
        self.rng = rng
        self.seq: dict[DeviceClass, int] = {}
        self.assets: list[Asset] = []

    def install_date(self) -> date:
        start, end = date(2012, 1, 1), date(2024, 12, 31)
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def serial(self, prefix: str, year: int) -> str:
        return f"{prefix}{year % 100:02d}{self.rng.randrange(10**7):07d}"

    def add(
        self,
        cls: DeviceClass,
        *,
        name_en: str,
        name_zh: str,
        building: str,
        zone: str,
        make: tuple[str, str, str],
        installed: date,
        criticality: Criticality,
        endpoint: Endpoint,
        system: str | None = None,
    ) -> Asset:
        self.seq[cls] = self.seq.get(cls, 0) + 1
        asset = Asset(
            asset_no=str(AssetNo(self.estate.code, cls, self.seq[cls])),
            site=self.estate.code,
            device_class=cls,
            name_en=name_en,
            name_zh=name_zh,
            building=building,
            zone=zone,
            system=system or DEVICE_CLASS_SYSTEM[cls],
            profile=PROFILE[cls],
            make=make[0],
            model=make[1],
            serial=self.serial(make[2], installed.year),
            install_date=installed,
            criticality=criticality,
            status=AssetStatus.IN_SERVICE,
            endpoint=endpoint,
        )
        self.assets.append(asset)
        return asset

    def opcua(self, port: int, cls: DeviceClass) -> OpcuaEndpoint:
        next_no = str(AssetNo(self.estate.code, cls, self.seq.get(cls, 0) + 1))
        return OpcuaEndpoint(f"opc.tcp://{HOST}:{port}/facility", next_no)


def build(estate: Estate, rng: random.Random) -> list[Asset]:
    b = Builder(estate, rng)
    unit = 0
    for building in range(1, estate.pump_buildings + 1):
        make = rng.choice(PUMP_SETS)
        installed = b.install_date()
        for pump, (duty_en, duty_zh, criticality) in enumerate(
            (("duty", "主用", Criticality.HIGH), ("standby", "备用", Criticality.MEDIUM)), start=1
        ):
            unit += 1
            b.add(
                DeviceClass.PMP,
                name_en=f"Building {building} domestic booster pump {pump}# ({duty_en})",
                name_zh=f"{building}栋生活水泵{pump}#({duty_zh})",
                building=f"B{building}",
                zone="Pump room",
                make=make,
                installed=installed,
                criticality=criticality,
                endpoint=ModbusEndpoint(HOST, estate.pmp_port, unit),
            )
    if estate.pdp_port is not None:
        b.add(
            DeviceClass.PDP,
            name_en="Swimming pool drainage system",
            name_zh="泳池排水系统",
            building="Clubhouse",
            zone="Pool plant room",
            make=("Siemens", "LOGO! 8 pool controller + Grundfos SEG 40 drain pump", "SL"),
            installed=b.install_date(),
            criticality=Criticality.MEDIUM,
            endpoint=ModbusEndpoint(HOST, estate.pdp_port, 1),
        )
    for tank in estate.tanks:
        b.add(
            DeviceClass.TNK,
            name_en=tank.en,
            name_zh=tank.zh,
            building=tank.building,
            zone=tank.zone,
            make=rng.choice(TANK_MONITORS),
            installed=b.install_date(),
            criticality=Criticality.HIGH,
            endpoint=b.opcua(estate.tnk_port, DeviceClass.TNK),
            system="fire" if tank.fire else None,
        )
    unit = 0
    for zone_en, zone_zh, street, circuits in estate.lighting:
        make = rng.choice(LIGHTING_CONTROLLERS)
        installed = b.install_date()
        kind_en, kind_zh = ("street", "路灯") if street else ("landscape", "景观灯")
        for circuit in range(1, circuits + 1):
            unit += 1
            b.add(
                DeviceClass.LGT,
                name_en=f"{zone_en} {kind_en} lighting circuit {circuit:02d}",
                name_zh=f"{zone_zh}{kind_zh}回路{circuit:02d}",
                building="Outdoor",
                zone=zone_en,
                make=make,
                installed=installed,
                criticality=Criticality.LOW,
                endpoint=ModbusEndpoint(HOST, estate.lgt_port, unit),
            )
    for panel_building, name_en, name_zh in estate.fire_panels:
        b.add(
            DeviceClass.FAP,
            name_en=name_en,
            name_zh=name_zh,
            building=panel_building,
            zone="Fire control room",
            make=rng.choice(FIRE_PANELS),
            installed=b.install_date(),
            criticality=Criticality.HIGH,
            endpoint=b.opcua(estate.fap_port, DeviceClass.FAP),
        )
    return b.assets


def main() -> None:
    rng = random.Random(SEED)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    with (DEMO_DIR / "sites.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(SITE_COLUMNS)
        for estate in ESTATES:
            writer.writerow([estate.code, estate.name_en, estate.name_zh, TIMEZONE])
    total = 0
    for estate in ESTATES:
        path = DEMO_DIR / f"{estate.code}.csv"
        assets = build(estate, rng)
        with path.open("w", encoding="utf-8", newline="") as stream:
            write_csv(assets, stream)
        checked = read_ledger_file(path, sites=[e.code for e in ESTATES])
        total += len(checked)
        print(f"{path.relative_to(ROOT)}: {len(checked)} assets")
    print(f"{total} assets in all")


if __name__ == "__main__":
    main()
