#!/usr/bin/env bash
# The step_* functions are called indirectly, by name.
# shellcheck disable=SC2317
# The whole test suite: every step runs, each is timed, the exit code says whether all passed.
# Usage: tools/test.sh [step...]   (steps: sanity units compile-old smoke-old lint docs lab molecule)
set -uo pipefail
# shellcheck source=tools/env.sh
. "$(dirname "$0")/env.sh"
# ansible-test runs through tools/at.sh, on a synced copy of the tree (see there why).
cd "$ND_REPO" || exit 1

steps=("$@")
((${#steps[@]})) || steps=(sanity units compile-old smoke-old lint docs lab molecule)

step_sanity() { tools/at.sh sanity; }
step_units() { tools/at.sh units --venv; }
step_compile-old() { ND_AT_OLD=1 tools/at.sh sanity --test compile plugins/modules/ plugins/module_utils/; }
step_smoke-old() {
  local py rc=0
  for py in "$ND_TOOLS"/pybin-old/python2.7 "$ND_TOOLS"/pybin-old/python3.6; do
    [[ -x $py ]] || { echo "missing $py"; rc=1; continue; }
    "$py" tests/old_python/smoke.py || rc=1
  done
  return "$rc"
}
step_lint() { ansible-lint; }
step_docs() {
  antsibull-changelog lint && antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=all .
}
step_lab() { python -m pytest -p no:cacheprovider -v --durations=20 tests/lab; }
step_molecule() { molecule test --all; }

declare -A result took
overall=0
for step in "${steps[@]}"; do
  echo "=================== $step ==================="
  start=$SECONDS
  if "step_$step"; then result[$step]=PASS; else result[$step]=FAIL; overall=1; fi
  took[$step]=$((SECONDS - start))
done
echo "=================== summary ==================="
for step in "${steps[@]}"; do printf '%-12s %s  %4ss\n' "$step" "${result[$step]}" "${took[$step]}"; done
exit $overall
