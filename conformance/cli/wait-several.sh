#!/usr/bin/env bash
# docker wait on several containers prints each exit code in order.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name a)" "$IMAGE" sh -c 'exit 4' >/dev/null
docker run -d --name "$(name b)" "$IMAGE" true >/dev/null
OUT=$(docker wait "$(name a)" "$(name b)")
expect_eq "exit codes" "$(printf '4\n0')" "$OUT"
