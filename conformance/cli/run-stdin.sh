#!/usr/bin/env bash
# docker run -i: piped stdin reaches the container, and its end ends the container.
. "$(dirname "$0")/../lib.sh"

OUT=$(printf 'line one\nline two\n' | docker run -i --rm --name "$(name c)" "$IMAGE" sh -c 'cat; echo end')
expect_eq stdout "$(printf 'line one\nline two\nend')" "$OUT"
OUT=$(head -c 100000 /dev/zero | docker run -i --rm --name "$(name d)" "$IMAGE" wc -c)
expect_eq "bytes through stdin" 100000 "$(echo $OUT)"
