"""What one tunnel of the lab should be: daemons, proposals, NAT and an optional fault."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import faults, proposals
from .config import LabError

DAEMONS = ("strongswan", "libreswan")
SIDES = ("left", "right")


@dataclass(frozen=True)
class TunnelSpec:
    left: str = "strongswan"
    right: str = "strongswan"
    initiator: str = "left"
    ike: str = "aes256-sha256-modp2048"
    esp: str = "aes256gcm16"
    ike_version: int = 2
    sha256_96: bool = False  # both sides truncate HMAC-SHA-256 to 96 bits (a healthy, if odd, SA)
    nat: bool = False
    fault: str | None = None
    fault_side: str | None = None
    name: str | None = None  # a label for tests (`lab_session.tunnel(name)`); not used by the lab

    @classmethod
    def from_dict(cls, data: dict) -> "TunnelSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise LabError(f"tunnel spec: unknown keys {sorted(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data).resolved()

    def resolved(self) -> "TunnelSpec":
        """Apply the fault's requirements and defaults, then validate."""
        spec = self
        if spec.fault in (None, "none", ""):
            spec = dataclasses.replace(spec, fault=None, fault_side=None)
        else:
            fault = faults.get(spec.fault)
            side = spec.fault_side or fault.default_side
            if side not in fault.sides:
                raise LabError(f"fault {fault.name} can be applied to {' or '.join(fault.sides)}, not {side}")
            changes = dict(fault.requires)
            if fault.kind == "topology":
                changes.update(fault.apply["topology"])
            spec = dataclasses.replace(spec, fault_side=side, **changes)
        spec.validate()
        return spec

    def validate(self) -> None:
        for side in SIDES:
            if getattr(self, side) not in DAEMONS:
                raise LabError(f"tunnel spec: {side} must be one of {', '.join(DAEMONS)}, not {getattr(self, side)!r}")
        if self.initiator not in SIDES:
            raise LabError(f"tunnel spec: initiator must be left or right, not {self.initiator!r}")
        if self.ike_version not in (1, 2):
            raise LabError(f"tunnel spec: ike_version must be 1 or 2, not {self.ike_version!r}")
        proposals.parse(self.ike, "IKE")
        esp = proposals.parse(self.esp, "ESP")
        if self.sha256_96 and esp.integrity != "sha256":
            raise LabError(f"tunnel spec: sha256_96 needs an HMAC-SHA-256 ESP proposal, not {self.esp!r}")
        if self.nat and self.initiator != "left":
            raise LabError("tunnel spec: behind NAT only the left (NATed) gateway can initiate")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_specs(path: str | Path) -> list[TunnelSpec]:
    """Read a spec file: a YAML list of tunnel dicts, or {tunnels: [...]}."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"cannot read tunnel spec file {path}: {exc}") from None
    if isinstance(data, dict):
        data = data.get("tunnels")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise LabError(f"{path}: expected a list of tunnel dicts (or a mapping with key 'tunnels')")
    return [TunnelSpec.from_dict(item) for item in data]
