#!/usr/bin/env bash
# docker logs -f: streams while the container runs and returns when it exits.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sh -c 'for i in 1 2 3; do echo tick-$i; sleep 1; done; echo done >&2' >/dev/null
capture timeout 120 docker logs -f "$(name c)"
expect_eq "exit code" 0 "$RC"
expect_eq stdout "$(printf 'tick-1\ntick-2\ntick-3')" "$OUT"
expect_eq stderr done "$ERR"
