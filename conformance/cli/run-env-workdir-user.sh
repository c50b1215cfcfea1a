#!/usr/bin/env bash
# docker run -e, -w and -u set the process's environment, directory and identity.
. "$(dirname "$0")/../lib.sh"

OUT=$(docker run --rm --name "$(name c)" -e FOO=bar -e "SPACED=a b" -w /tmp -u 65534:65534 "$IMAGE" sh -c 'echo "$FOO|$SPACED|$(pwd)|$(id -u):$(id -g)"')
expect_eq output "bar|a b|/tmp|65534:65534" "$OUT"
