"""Where the lab lives: work folder, slot (host link and management subnet) and tool paths."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLOTS = range(4)
MGMT_SUPERNET = ipaddress.IPv4Network("198.51.100.0/24")
AGENT_PORT = 4747


class LabError(Exception):
    """A failure with a message meant for the user (no traceback)."""


@dataclass(frozen=True)
class LabConfig:
    lab_dir: Path
    slot: int | None  # None: "auto", the first free slot when the lab comes up
    tools: Path
    repo: Path = REPO

    @classmethod
    def from_env(cls, lab_dir: str | os.PathLike | None = None, slot: int | str | None = None) -> "LabConfig":
        env = os.environ
        lab_dir = Path(lab_dir or env.get("ND_LAB_DIR") or REPO / ".lab").absolute()
        raw = env.get("ND_LAB_SLOT", "0") if slot is None else slot
        if raw == "auto":
            slot = None
        else:
            try:
                slot = int(raw)
            except ValueError:
                raise LabError(f"ND_LAB_SLOT must be one of 0..3 or auto, not {raw!r}") from None
            if slot not in SLOTS:
                raise LabError(f"lab slot must be one of 0..3 or auto, not {slot}")
        tools = Path(env.get("ND_TOOLS") or Path.home() / ".cache/netdoctor")
        for forbidden in ("/run", "/proc", "/sys", "/dev"):
            if lab_dir == Path(forbidden) or Path(forbidden) in lab_dir.parents:
                raise LabError(f"ND_LAB_DIR may not be under {forbidden}: {lab_dir}")
        return cls(lab_dir=lab_dir, slot=slot, tools=tools)

    # ---- host link and management network (one /26 per slot) ---------------------------------

    def with_slot(self, slot: int) -> "LabConfig":
        return dataclasses.replace(self, slot=slot)

    @property
    def _slot(self) -> int:
        if self.slot is None:
            raise LabError("internal: the lab slot is not chosen yet (ND_LAB_SLOT=auto)")
        return self.slot

    @property
    def host_link(self) -> str:
        return f"ndlab{self._slot}"

    @property
    def mgmt_net(self) -> ipaddress.IPv4Network:
        return list(MGMT_SUPERNET.subnets(new_prefix=26))[self._slot]

    def mgmt_ip(self, offset: int) -> ipaddress.IPv4Address:
        return self.mgmt_net.network_address + offset

    @property
    def host_ip(self) -> ipaddress.IPv4Address:
        return self.mgmt_ip(1)

    @property
    def bridge_ip(self) -> ipaddress.IPv4Address:
        return self.mgmt_ip(62)

    @property
    def max_gateways(self) -> int:
        return 60  # .2 .. .61

    def gateway_mgmt_ip(self, index: int) -> ipaddress.IPv4Address:
        if index >= self.max_gateways:
            raise LabError(f"at most {self.max_gateways} gateways fit in the management subnet {self.mgmt_net}")
        return self.mgmt_ip(2 + index)

    # ---- tools ----------------------------------------------------------------------------------

    @property
    def uml_root(self) -> Path:
        return self.tools / "debs/uml"

    @property
    def uml_kernel(self) -> Path:
        return self.uml_root / "usr/bin/linux.uml"

    @property
    def uml_modules(self) -> Path:
        versions = sorted((self.uml_root / "usr/lib/uml/modules").glob("*"))
        if not versions:
            raise LabError(f"no UML kernel modules under {self.uml_root}: run tools/bootstrap.sh")
        return versions[-1]

    @property
    def libreswan_root(self) -> Path:
        return self.tools / "debs/libreswan"

    # ---- files in the lab folder ----------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.lab_dir / "state.json"

    @property
    def inventory(self) -> Path:
        return self.lab_dir / "inventory.yml"

    @property
    def ansible_cfg(self) -> Path:
        return self.lab_dir / "ansible.cfg"

    @property
    def ssh_key(self) -> Path:
        return self.lab_dir / "keys/id_ed25519"

    @property
    def host_key(self) -> Path:
        return self.lab_dir / "keys/ssh_host_ed25519_key"

    @property
    def token_file(self) -> Path:
        return self.lab_dir / "agent.token"

    def gw_dir(self, name: str) -> Path:
        return self.lab_dir / "gw" / name
