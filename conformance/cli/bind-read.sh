#!/usr/bin/env bash
# A bind mount: the container reads a host file; :ro refuses writes.
. "$(dirname "$0")/../lib.sh"

mkdir in
echo from-host > in/f.txt
expect_eq read from-host "$(docker run --rm --name "$(name c)" -v "$PWD/in:/in" "$IMAGE" cat /in/f.txt)"
capture docker run --rm --name "$(name r)" -v "$PWD/in:/in:ro" "$IMAGE" sh -c 'cat /in/f.txt; touch /in/new'
expect_eq "ro: exit code" 1 "$RC"
expect_eq "ro: read" from-host "$OUT"
expect_contains "ro: write refused" "Read-only file system" "$ERR"
[ ! -e in/new ] || fail "a file appeared through a :ro bind"
