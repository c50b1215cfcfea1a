#!/usr/bin/env bash
# docker exec -i: piped stdin reaches the command and its end ends it.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sleep 300 >/dev/null
expect_eq output "$(printf 'A\nB')" "$(printf 'a\nb\n' | docker exec -i "$(name c)" tr a-z A-Z)"
