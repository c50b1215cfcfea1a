#!/usr/bin/env bash
# docker logs --since: a time before the run keeps every line, one after it keeps none.
. "$(dirname "$0")/../lib.sh"

before=$(( $(date +%s) - 60 ))
docker run -d --name "$(name c)" "$IMAGE" sh -c 'echo first; echo second >&2' >/dev/null
expect_eq wait 0 "$(docker wait "$(name c)")"
capture docker logs --since "$before" "$(name c)"
expect_eq "since before: stdout" first "$OUT"
expect_eq "since before: stderr" second "$ERR"
after=$(( $(date +%s) + 3600 ))
capture docker logs --since "$after" "$(name c)"
expect_eq "since after: exit code" 0 "$RC"
expect_eq "since after: output" "" "$OUT$ERR"
