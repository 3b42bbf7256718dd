"""IKE/ESP proposals: one spelling for the lab (strongSwan's), translated for libreswan.

The lab accepts a deliberately small vocabulary; anything else is refused with a clear message
rather than passed on to a daemon that would fail later and less clearly.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import LabError

ENCRYPTION = {
    "aes128": "aes128", "aes192": "aes192", "aes256": "aes256", "3des": "3des",
    "aes128gcm16": "aes_gcm128", "aes192gcm16": "aes_gcm192", "aes256gcm16": "aes_gcm256",
}
INTEGRITY = {"sha1": "sha1", "sha256": "sha2_256", "sha384": "sha2_384", "sha512": "sha2_512"}
PRF = {"prfsha1": "sha1", "prfsha256": "sha2_256", "prfsha384": "sha2_384", "prfsha512": "sha2_512"}
DH = {"modp2048": "modp2048", "modp3072": "modp3072", "modp4096": "modp4096",
      "ecp256": "dh19", "ecp384": "dh20"}


@dataclass(frozen=True)
class Proposal:
    text: str
    encryption: str
    integrity: str | None
    prf: str | None
    dh: str | None

    @property
    def aead(self) -> bool:
        return "gcm" in self.encryption


def parse(text: str, kind: str) -> Proposal:
    """Parse one strongSwan-style proposal ('aes256-sha256-modp2048', 'aes256gcm16', ...)."""
    tokens = text.strip().lower().split("-")
    enc = tokens.pop(0) if tokens else ""
    if enc not in ENCRYPTION:
        raise LabError(f"{kind} proposal {text!r}: unknown encryption {enc!r} (known: {', '.join(ENCRYPTION)})")
    integ = prf = dh = None
    for tok in tokens:
        if tok in INTEGRITY and integ is None:
            integ = tok
        elif tok in PRF and prf is None:
            prf = tok
        elif tok in DH and dh is None:
            dh = tok
        else:
            raise LabError(f"{kind} proposal {text!r}: unexpected {tok!r}")
    prop = Proposal(text, enc, integ, prf, dh)
    if prop.aead and integ:
        raise LabError(f"{kind} proposal {text!r}: an AEAD cipher takes no integrity algorithm")
    if not prop.aead and not integ:
        raise LabError(f"{kind} proposal {text!r}: needs an integrity algorithm")
    if kind == "IKE":
        if dh is None:
            raise LabError(f"IKE proposal {text!r}: needs a DH group")
        if prop.aead and prf is None:
            raise LabError(f"IKE proposal {text!r}: an AEAD IKE proposal needs a PRF (e.g. prfsha256)")
    elif prf:
        raise LabError(f"ESP proposal {text!r}: ESP has no PRF")
    return prop


def libreswan_ike(prop: Proposal) -> str:
    second = PRF[prop.prf] if prop.aead else INTEGRITY[prop.integrity]  # type: ignore[index]
    return f"{ENCRYPTION[prop.encryption]}-{second};{DH[prop.dh]}"  # type: ignore[index]


def libreswan_esp(prop: Proposal) -> str:
    text = ENCRYPTION[prop.encryption]
    if not prop.aead:
        text += f"-{INTEGRITY[prop.integrity]}"  # type: ignore[index]
    if prop.dh:
        text += f";{DH[prop.dh]}"
    return text


def disjoint(prop: Proposal, kind: str) -> str:
    """A proposal that shares no encryption, integrity or group with `prop` (for mismatch faults)."""
    candidates = (["aes128-sha1-modp3072", "aes256-sha512-modp4096"] if kind == "IKE"
                  else ["aes128-sha1", "aes256-sha512"])
    for text in candidates:
        other = parse(text, kind)
        if (other.encryption != prop.encryption and other.integrity != prop.integrity
                and (kind != "IKE" or other.dh != prop.dh)):
            return text
    raise LabError(f"no disjoint {kind} proposal for {prop.text!r}")
