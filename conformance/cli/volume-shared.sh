#!/usr/bin/env bash
# A named volume: what one container writes, a later one reads; an anonymous volume for -v /path.
. "$(dirname "$0")/../lib.sh"

v=$(name data)
docker volume create "$v" >/dev/null
docker run --rm --name "$(name w)" -v "$v:/data" "$IMAGE" sh -c 'echo shared > /data/f; mkdir /data/d'
expect_eq "read back" shared "$(docker run --rm --name "$(name r)" -v "$v:/data:ro" "$IMAGE" cat /data/f)"
capture docker run --rm --name "$(name ro)" -v "$v:/data:ro" "$IMAGE" touch /data/g
expect_ne_rc=$RC
[ "$expect_ne_rc" -ne 0 ] || fail "writing to a :ro volume succeeded"
expect_contains "ro write: stderr" "Read-only file system" "$ERR"
