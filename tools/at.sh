#!/usr/bin/env bash
# Run ansible-test on a synced copy of the working tree (ansible-test needs the physical path to be
# under ansible_collections/netdoctor/ipsec). Example: tools/at.sh sanity --python 3.12 plugins/modules/x.py
# The environment defaults to --local; pass --venv (or another environment option) to override.
set -euo pipefail
# shellcheck source=tools/env.sh
. "$(dirname "$0")/env.sh"
copy=$ND_TOOLS/ansible-test/ansible_collections/netdoctor/ipsec
mkdir -p "$copy"
rsync -a --delete --exclude=/.git/ --exclude=/tests/output/ --filter=':- .gitignore' "$ND_REPO"/ "$copy"/
cd "$copy"
if [[ ${ND_AT_OLD:-} == 1 ]]; then
  # ansible-core 2.16's ansible-test: the last one that compiles for Python 2.7 and 3.6.
  PATH=$ND_TOOLS/pybin-old:$ND_TOOLS/venv-old/bin:$PATH exec "$ND_TOOLS/venv-old/bin/ansible-test" "$1" --local --color no "${@:2}"
fi
environment=--local
for arg in "${@:2}"; do [[ $arg == --venv || $arg == --docker* ]] && environment=; done
PATH=$ND_TOOLS/pybin:$PATH exec ansible-test "$1" $environment --color no "${@:2}"
