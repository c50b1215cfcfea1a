#!/usr/bin/env bash
# docker logs --tail N: the last N lines, in order.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sh -c 'for i in 1 2 3 4 5; do echo line-$i; done' >/dev/null
expect_eq wait 0 "$(docker wait "$(name c)")"
expect_eq "tail 2" "$(printf 'line-4\nline-5')" "$(docker logs --tail 2 "$(name c)")"
expect_eq "tail all" "$(printf 'line-1\nline-2\nline-3\nline-4\nline-5')" "$(docker logs --tail all "$(name c)")"
expect_eq "tail 0" "" "$(docker logs --tail 0 "$(name c)")"
