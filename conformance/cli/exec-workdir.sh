#!/usr/bin/env bash
# docker exec -w: the command's directory; the default is the container's.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" -w /root "$IMAGE" sleep 300 >/dev/null
expect_eq default /root "$(docker exec "$(name c)" pwd)"
expect_eq "-w" /tmp "$(docker exec -w /tmp "$(name c)" pwd)"
