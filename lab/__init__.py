"""netdoctor's disposable IPsec lab: real gateways (namespaces, real kernel xfrm, real IKE daemons,
sshd) for the demo, the integration tests and the benchmarks. See lab/README.md."""

from .config import LabConfig, LabError
from .core import Lab
from .spec import TunnelSpec, load_specs

__all__ = ["Lab", "LabConfig", "LabError", "TunnelSpec", "load_specs"]
