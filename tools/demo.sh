#!/usr/bin/env bash
# The main job against the built-in lab: bring the lab up with a broken tunnel (FAULT, default
# fw-esp; "none" for a healthy one), diagnose it from both of its gateways with the diagnose
# playbook (the summary prints, the reports go to reports/tunnel_a/), remove the lab.
# Usage: tools/demo.sh [FAULT]   (python -m lab faults lists them)
set -euo pipefail
fault=${1:-fw-esp}
# shellcheck source=tools/env.sh
. "$(dirname "$0")/env.sh"
cd "$ND_REPO"
export ND_LAB_DIR=${ND_LAB_DIR:-$ND_REPO/.lab}
export ND_LAB_SLOT=${ND_LAB_SLOT:-auto}
exec python -m lab run --fault "$fault" -- \
  env ANSIBLE_CONFIG="$ND_LAB_DIR/ansible.cfg" \
  ansible-playbook -i "$ND_LAB_DIR/inventory.yml" netdoctor.ipsec.diagnose -l tunnel_a \
    -e ipsec_report_dir="$ND_REPO/reports" -e ipsec_fail_on=never
