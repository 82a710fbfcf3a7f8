#!/usr/bin/env bash
# Runs one phase of `make test` and prints how many minutes it took; `phase.sh --total`
# prints the sum of the phases run since the first (kept in a small file under .build).
#   Tests/phase.sh "NAME" COMMAND [ARG ...]   exit status is the command's
set -u
ledger="${PHASE_LEDGER:-.build/test-phases.tsv}"
mkdir -p "$(dirname "$ledger")"
if [ "${1-}" = --total ]; then
    awk -F'\t' '{ s += $2; printf "make test: %-60s %6.1f min\n", $1, $2 / 60 } END { printf "make test: %-60s %6.1f min\n", "total", s / 60 }' "$ledger"
    rm -f "$ledger"
    exit 0
fi
name="$1"
shift
start=$(date +%s)
echo "make test: -- $name"
status=0
"$@" || status=$?
seconds=$(( $(date +%s) - start ))
printf '%s\t%s\n' "$name" "$seconds" >>"$ledger"
awk -v n="$name" -v s="$seconds" -v st="$status" 'BEGIN { printf "make test: -- %s took %.1f min%s\n", n, s / 60, (st ? " (failed)" : "") }'
exit "$status"
