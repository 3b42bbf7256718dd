# shellcheck shell=bash
# Source me: puts the bootstrapped tool-chain on PATH and the collection on Ansible's search path.
ND_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ND_TOOLS=${ND_TOOLS:-$HOME/.cache/netdoctor}
ND_COLLECTION=$ND_TOOLS/collections/ansible_collections/netdoctor/ipsec
export ND_REPO ND_TOOLS ND_COLLECTION
export VIRTUAL_ENV=$ND_TOOLS/venv
export PATH=$ND_TOOLS/venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$ND_TOOLS/collections
export PYTHONPATH=$ND_TOOLS/collections:$ND_REPO${PYTHONPATH:+:$PYTHONPATH}
