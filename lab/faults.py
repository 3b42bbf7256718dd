"""The fault catalogue (data in faults.yml) and the check of an observed state against it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from .config import LabError

CATALOGUE = Path(__file__).with_name("faults.yml")
CONFIG_SETTINGS = {"ike_version", "ike", "esp", "psk", "local_id", "remote_ts", "sha256_96"}

HEALTHY_EXPECT = {
    "ike_sa": {"fault": "up", "peer": "up"},
    "child_sa": {"fault": "up", "peer": "up"},
    "ping": "ok",
    "tcp": "ok",
    "esp": {"peer_to_fault": "yes", "fault_to_peer": "yes"},
    "clear": {"fault_to_peer": "no"},
}


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    finding: str
    sides: tuple[str, ...]
    apply: dict
    expect: dict
    requires: dict = field(default_factory=dict)
    reestablish: bool = False
    probe: str = "from_peer"

    @property
    def kind(self) -> str:
        return next(iter(self.apply))

    @property
    def default_side(self) -> str:
        return self.sides[0]

    @property
    def needs_reestablish(self) -> bool:
        return self.kind == "config" or self.reestablish


@cache
def catalogue() -> dict[str, Fault]:
    data = yaml.safe_load(CATALOGUE.read_text())
    faults = {}
    for name, entry in data.items():
        fault = Fault(name=name, title=entry["title"], finding=entry["finding"], sides=tuple(entry["sides"]),
                      apply=entry["apply"], expect=entry["expect"], requires=entry.get("requires", {}),
                      reestablish=entry.get("reestablish", False), probe=entry.get("probe", "from_peer"))
        if len(fault.apply) != 1 or fault.kind not in {"config", "firewall", "route", "daemon", "topology"}:
            raise LabError(f"faults.yml: {name}: apply needs exactly one of config/firewall/route/daemon/topology")
        if fault.probe not in ("from_peer", "from_fault"):
            raise LabError(f"faults.yml: {name}: probe must be from_peer or from_fault")
        if fault.kind == "config" and not set(fault.apply["config"]) <= CONFIG_SETTINGS:
            raise LabError(f"faults.yml: {name}: unknown config settings {set(fault.apply['config']) - CONFIG_SETTINGS}")
        faults[name] = fault
    return faults


def get(name: str) -> Fault:
    faults = catalogue()
    if name not in faults:
        raise LabError(f"unknown fault {name!r}; known faults: {', '.join(faults)}")
    return faults[name]


def _yes(value) -> str:
    """YAML 1.1 reads bare yes/no as booleans; accept both spellings."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def mismatches(expect: dict, observed: dict) -> list[str]:
    """Compare an observed tunnel state (see observe.py) with an expectation; [] when it matches."""
    problems = []

    def check(label: str, want, got) -> None:
        want = _yes(want)
        if want != "any" and want != got:
            problems.append(f"{label}: expected {want}, observed {got}")

    for key in ("ike_sa", "child_sa"):
        for role, want in expect.get(key, {}).items():
            check(f"{key} on {role} side", want, observed[key][role])
    for key in ("ping", "tcp"):
        if key in expect:
            check(key, expect[key], observed[key])
    for key in ("esp", "clear"):
        for direction, want in expect.get(key, {}).items():
            check(f"{key} {direction}", want, "yes" if observed[key][direction] > 0 else "no")
    for role, want in expect.get("daemon", {}).items():
        check(f"daemon on {role} side", want, observed["daemon"][role])
    return problems
