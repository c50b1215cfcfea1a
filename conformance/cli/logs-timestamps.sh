#!/usr/bin/env bash
# docker logs -t: each line starts with an RFC 3339 UTC timestamp with nanoseconds.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sh -c 'echo alpha; echo beta' >/dev/null
expect_eq wait 0 "$(docker wait "$(name c)")"
OUT=$(docker logs -t "$(name c)")
echo "$OUT"
expect_eq lines 2 "$(echo "$OUT" | wc -l)"
echo "$OUT" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,9}Z alpha$' || fail "first line: $OUT"
echo "$OUT" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,9}Z beta$' || fail "second line: $OUT"
