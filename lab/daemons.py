"""IKE daemons of the lab gateways: configuration files, commands and status parsing.

Each gateway runs one daemon with its own /etc and /run (bind mounts inside the gateway's mount
namespace, see guest/agent.py), so the same commands a user would type work over SSH.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from . import proposals

GUEST_RUN = "/run/lab/gw"  # per-gateway /run directories, on the lab's tmpfs


@dataclass(frozen=True)
class Settings:
    """Everything one side's daemon configuration says."""

    conn: str
    ike_version: int
    ike: str
    esp: str
    psk: str
    local_id: str
    remote_id: str
    local_addr: str
    remote_addr: str
    local_ts: str
    remote_ts: str
    sourceip: str
    nexthop: str | None
    sha256_96: bool

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SaState:
    ike: str  # up | down
    child: str  # up | down
    states: tuple[str, ...]  # the daemon's own state names, e.g. ESTABLISHED, STATE_V2_PARENT_I1


class Daemon:
    name = ""
    log_file = ""
    ready_file = ""  # socket path inside the gateway's /run
    route_table = "main"

    def files(self, s: Settings) -> dict[str, str]:
        raise NotImplementedError

    def etc_binds(self) -> list[str]:
        raise NotImplementedError

    def extra_binds(self, gw_dir: Path, libreswan_root: Path) -> list[tuple[str, str]]:
        return []

    def start_argv(self) -> list[str]:
        raise NotImplementedError

    def load_argv(self, s: Settings) -> list[str]:
        raise NotImplementedError

    def initiate_argv(self, s: Settings, timeout: int) -> list[str]:
        """Initiate and block until the CHILD SA is up or the attempt failed (or timeout seconds)."""
        raise NotImplementedError

    def terminate_argv(self, s: Settings) -> list[str]:
        raise NotImplementedError

    def status_argv(self) -> list[str]:
        raise NotImplementedError

    def parse_status(self, text: str) -> SaState:
        raise NotImplementedError

    def stop_argv(self) -> list[str] | None:
        """A graceful stop command, or None to signal the process."""
        return None


class StrongSwan(Daemon):
    name = "strongswan"
    log_file = "charon.log"
    ready_file = "charon.vici"
    route_table = "220"

    def files(self, s: Settings) -> dict[str, str]:
        child = "\n".join([
            f"                local_ts = {s.local_ts}",
            f"                remote_ts = {s.remote_ts}",
            f"                esp_proposals = {s.esp}",
            f"                sha256_96 = {'yes' if s.sha256_96 else 'no'}",
            "                mode = tunnel",
            "                start_action = none",
        ])
        swanctl = f"""# netdoctor lab: {s.conn}
connections {{
    {s.conn} {{
        version = {s.ike_version}
        local_addrs = {s.local_addr}
        remote_addrs = {s.remote_addr}
        proposals = {s.ike}
        local {{
            auth = psk
            id = {s.local_id}
        }}
        remote {{
            auth = psk
            id = {s.remote_id}
        }}
        children {{
            {s.conn} {{
{child}
            }}
        }}
    }}
}}
secrets {{
    ike-{s.conn} {{
        id-local = {s.local_id}
        id-remote = {s.remote_id}
        secret = "{s.psk}"
    }}
}}
"""
        conf = """# netdoctor lab: Debian's defaults plus a log file (no syslog in the lab), without stroke
charon {
    load_modular = yes
    plugins {
        include strongswan.d/charon/*.conf
        stroke {
            load = no
        }
    }
    filelog {
        lab {
            path = /var/log/charon.log
            time_format = %b %e %T
            ike_name = yes
            append = yes
            default = 1
            flush_line = yes
        }
    }
}
include strongswan.d/*.conf
swanctl {
    load = pem pkcs1 pkcs8 x509 revocation constraints pubkey random
}
"""
        files = {"etc/strongswan.conf": conf, "etc/swanctl/swanctl.conf": swanctl}
        for sub in ("conf.d", "x509", "x509ca", "x509aa", "x509ocsp", "x509crl", "x509ac", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"):
            files[f"etc/swanctl/{sub}/"] = ""
        return files

    def etc_binds(self) -> list[str]:
        return ["strongswan.conf", "swanctl"]

    def start_argv(self) -> list[str]:
        return ["/usr/lib/ipsec/charon"]

    def load_argv(self, s: Settings) -> list[str]:
        return ["swanctl", "--load-all", "--noprompt"]

    def initiate_argv(self, s: Settings, timeout: int) -> list[str]:
        return ["swanctl", "--initiate", "--child", s.conn, "--timeout", str(timeout)]

    def terminate_argv(self, s: Settings) -> list[str]:
        return ["swanctl", "--terminate", "--ike", s.conn, "--timeout", "5"]

    def status_argv(self) -> list[str]:
        return ["swanctl", "--list-sas", "--raw"]

    def parse_status(self, text: str) -> SaState:
        ike_states = re.findall(r"\{uniqueid=\d+ version=\d state=(\w+)", text)
        child_states = re.findall(r"\{name=\S+ uniqueid=\d+ reqid=\d+ state=(\w+)", text)
        return SaState(ike="up" if "ESTABLISHED" in ike_states else "down",
                       child="up" if "INSTALLED" in child_states else "down",
                       states=tuple(ike_states + child_states))


class Libreswan(Daemon):
    name = "libreswan"
    log_file = "pluto.log"
    ready_file = "pluto/pluto.ctl"
    route_table = "main"
    IKE_UP = re.compile(r"ESTABLISHED_IKE_SA|STATE_MAIN_[IR][34]\b|STATE_AGGR_[IR][23]\b")
    CHILD_UP = re.compile(r"ESTABLISHED_CHILD_SA|STATE_QUICK_[IR]2\b")

    def files(self, s: Settings) -> dict[str, str]:
        ike = proposals.libreswan_ike(proposals.parse(s.ike, "IKE"))
        esp_prop = proposals.parse(s.esp, "ESP")
        lines = [
            f"# netdoctor lab: {s.conn}",
            "config setup",
            "    logfile=/var/log/pluto.log",
            "    logtime=yes",
            "    logappend=yes",
        ]
        if s.ike_version == 1:
            lines.append("    ikev1-policy=accept")
        lines += [
            "",
            f"conn {s.conn}",
            "    authby=secret",
            f"    ikev2={'yes' if s.ike_version == 2 else 'no'}",
            f"    left={s.local_addr}",
            f"    leftid=@{s.local_id}",
            f"    leftsubnet={s.local_ts}",
            f"    leftsourceip={s.sourceip}",
        ]
        if s.nexthop:
            lines.append(f"    leftnexthop={s.nexthop}")
        lines += [
            f"    right={s.remote_addr}",
            f"    rightid=@{s.remote_id}",
            f"    rightsubnet={s.remote_ts}",
            f"    ike={ike}",
            f"    esp={proposals.libreswan_esp(esp_prop)}",
            f"    pfs={'yes' if esp_prop.dh else 'no'}",
            f"    sha2-truncbug={'yes' if s.sha256_96 else 'no'}",
            "    auto=add",
            "",
        ]
        secrets = f'@{s.local_id} @{s.remote_id} : PSK "{s.psk}"\n'
        return {"etc/ipsec.conf": "\n".join(lines), "etc/ipsec.secrets": secrets, "nss/": ""}

    def etc_binds(self) -> list[str]:
        return ["ipsec.conf", "ipsec.secrets"]

    def extra_binds(self, gw_dir: Path, libreswan_root: Path) -> list[tuple[str, str]]:
        return [(str(libreswan_root / "usr/libexec/ipsec"), "/usr/libexec/ipsec"),
                (str(libreswan_root / "usr/sbin/ipsec"), "/usr/sbin/ipsec"),
                (str(gw_dir / "nss"), "/var/lib/ipsec/nss")]

    def start_argv(self) -> list[str]:
        return ["/usr/libexec/ipsec/pluto", "--config", "/etc/ipsec.conf", "--nofork"]

    def load_argv(self, s: Settings) -> list[str]:
        return ["ipsec", "auto", "--add", s.conn]

    def initiate_argv(self, s: Settings, timeout: int) -> list[str]:
        return ["ipsec", "auto", "--up", s.conn]  # the caller kills it after timeout seconds

    def terminate_argv(self, s: Settings) -> list[str]:
        return ["ipsec", "auto", "--down", s.conn]

    def status_argv(self) -> list[str]:
        return ["ipsec", "whack", "--showstates"]

    def stop_argv(self) -> list[str] | None:
        return ["ipsec", "whack", "--shutdown"]

    def parse_status(self, text: str) -> SaState:
        states = re.findall(r'^(?:\d{3} )?#\d+: "[^"]*"\S* (STATE_\w+)', text, re.M)
        return SaState(ike="up" if any(self.IKE_UP.search(s) for s in states) else "down",
                       child="up" if any(self.CHILD_UP.search(s) for s in states) else "down",
                       states=tuple(states))


DAEMONS: dict[str, Daemon] = {"strongswan": StrongSwan(), "libreswan": Libreswan()}


def file_items(gw_dir: Path, files: dict[str, str]) -> list[dict]:
    """files() as the agent's write_files items (secrets 0600)."""
    items = []
    for rel, content in files.items():
        path = str(gw_dir / rel)
        if rel.endswith("/"):
            items.append({"path": path.rstrip("/"), "dir": True})
        else:
            mode = 0o600 if "secrets" in rel or rel.endswith("swanctl.conf") else 0o644
            items.append({"path": path, "data": base64.b64encode(content.encode()).decode(), "mode": mode})
    return items


def write_files(gw_dir: Path, files: dict[str, str]) -> None:
    """Write a gateway's files from the host (only before the lab boots, see file_items)."""
    for item in file_items(gw_dir, files):
        path = Path(item["path"])
        if item.get("dir"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(item["data"]))
        path.chmod(item["mode"])
