#!/usr/bin/env bash
# docker create -i + docker start -ai: stdin in, output out, exit code back.
. "$(dirname "$0")/../lib.sh"

docker create -i --name "$(name c)" "$IMAGE" sh -c 'read l; echo "read:$l"; exit 2' >/dev/null
capture sh -c "echo hello | timeout 120 docker start -ai $(name c)"
expect_eq "exit code" 2 "$RC"
expect_eq output "read:hello" "$OUT"
