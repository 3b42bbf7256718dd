#!/usr/bin/env bash
# Bootstrap the tool-chain on a fresh Debian 12 machine (root). Idempotent: a stamp keyed on the
# inputs skips work already done. Everything lands in $ND_TOOLS, never in the checkout.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${ND_TOOLS:-$HOME/.cache/netdoctor}
stamp="$tools/bootstrap.stamp"
key=$(cat "$0" "$repo/tests/requirements-dev.txt" "$repo/tests/requirements-old.txt" | sha256sum | cut -c1-16)

if [[ -f $stamp && $(cat "$stamp") == "$key" && -L $tools/collections/ansible_collections/netdoctor/ipsec ]] \
   && [[ $(readlink "$tools/collections/ansible_collections/netdoctor/ipsec") == "$repo" ]]; then
  exit 0
fi

log() { printf '[bootstrap] %s\n' "$*"; }

apt_packages=(
  strongswan-charon strongswan-swanctl tcpdump tshark iptables nftables openssh-server
  iputils-ping kmod iproute2 shellcheck procps psmisc rsync libnss3-tools python3-venv
  # libreswan's run-time libraries: the package itself conflicts with strongSwan, so it is
  # unpacked below instead of installed.
  libcurl3-nss libevent-core-2.1-7 libevent-pthreads-2.1-7 libldns3 libunbound8 libcap-ng0
  libnss3 libnspr4 libaudit1 libldap-2.5-0
  # headless browser for the HTML report test
  chromium
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1; }
  log "apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$tools/debs"
unpack() {  # unpack PACKAGE into $tools/debs/DIR without installing it
  local pkg=$1 dir=$2
  [[ -d $tools/debs/$dir/usr ]] && return 0
  log "fetching $pkg (unpacked, not installed)"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$tmp"; echo "bootstrap: apt-get download $pkg failed" >&2; exit 1; }
  rm -rf "$tools/debs/$dir.tmp"
  dpkg -x "$tmp"/*.deb "$tools/debs/$dir.tmp"
  mv "$tools/debs/$dir.tmp" "$tools/debs/$dir"
  rm -rf "$tmp"
}
unpack user-mode-linux uml
unpack libreswan libreswan

find_python() {  # find_python MAJOR.MINOR -> path of an interpreter of that version, or nothing
  local v=$1 c
  for c in "$HOME"/.pyenv/versions/"$v".*/bin/python"$v" "$(command -v "python$v" 2>/dev/null || true)"; do
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  done
  return 1
}

py312=$(find_python 3.12) || py312=$(find_python 3.13) || {
  echo "bootstrap: no Python >= 3.12 found (ansible-core 2.21 needs it). Install one, e.g. pyenv install 3.12" >&2
  exit 1
}
if [[ ! -x $tools/venv/bin/ansible-test ]] || [[ $(cat "$tools/venv/.req" 2>/dev/null) != "$key" ]]; then
  log "controller venv on $py312"
  rm -rf "$tools/venv"
  "$py312" -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check -r "$repo/tests/requirements-dev.txt"
  echo "$key" > "$tools/venv/.req"
fi

py311=$(find_python 3.11) || py311=/usr/bin/python3
if [[ ! -x $tools/venv-old/bin/ansible-test ]] || [[ $(cat "$tools/venv-old/.req" 2>/dev/null) != "$key" ]]; then
  log "old-gateway compile venv on $py311"
  rm -rf "$tools/venv-old"
  "$py311" -m venv "$tools/venv-old"
  "$tools/venv-old/bin/pip" install -q --disable-pip-version-check -r "$repo/tests/requirements-old.txt"
  echo "$key" > "$tools/venv-old/.req"
fi

# Interpreters for ansible-test: it scrubs the environment, so pyenv shims do not work; symlinks do.
rm -rf "$tools/pybin" "$tools/pybin-old"
mkdir -p "$tools/pybin" "$tools/pybin-old"
for v in 3.9 3.10 3.11 3.12 3.13; do
  p=$(find_python "$v") && ln -s "$p" "$tools/pybin/python$v"
done
for v in 2.7 3.6 3.7 3.8 3.9 3.10 3.11 3.12; do
  p=$(find_python "$v") && ln -s "$p" "$tools/pybin-old/python$v"
done

# ansible-test downloads a pip bootstrap script from a host this machine cannot reach: give it a
# stand-in under the name it looks for (pip version pinned inside each ansible-test).
for venv in venv venv-old; do
  pipv=$("$tools/$venv/bin/python" - <<'PY'
import pathlib, re, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$repo/tests/utils/get_pip_shim.py" "$HOME/.ansible/test/cache/get_pip_${pipv//./_}.py"
done

# ansible-test wants the collection under ansible_collections/NS/NAME.
mkdir -p "$tools/collections/ansible_collections/netdoctor"
ln -sfn "$repo" "$tools/collections/ansible_collections/netdoctor/ipsec"

echo "$key" > "$stamp"
log "done: tools in $tools"
