#!/usr/bin/env bash
# `make test`: every tier, as two pytest sessions at once. The e2e tier spends most of its time waiting
# for pods, the operator and the API server (alone it took 18 minutes and kept about a fifth of the two
# cores busy); the other tiers are CPU-bound. Side by side they take little more than the longer of the
# two. Each session has its own random order and base temp; the e2e log is printed when it ends. Fails
# when either fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-.venv/bin}
logs=$(mktemp -d "${TMPDIR:-/tmp}/claude-code-operator-tiers.XXXXXX")
trap 'rm -rf "$logs"' EXIT

echo "tiers: e2e in the background (its output follows the other tiers'), unit, integration and images here"
"$bin/pytest" -m e2e -p no:cacheprovider "$@" >"$logs/e2e.log" 2>&1 &
e2e=$!
"$bin/pytest" -m "not e2e" "$@"
rest=$?
wait "$e2e"
e2e_status=$?
echo "---------------------------------------------------------------- e2e tier"
cat "$logs/e2e.log"
echo "tiers: unit, integration and images exited $rest; e2e exited $e2e_status"
((rest == 0 && e2e_status == 0))
