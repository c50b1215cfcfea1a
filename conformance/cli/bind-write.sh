#!/usr/bin/env bash
# A bind mount: what the container writes is on the host afterwards.
. "$(dirname "$0")/../lib.sh"

mkdir out
docker run --rm --name "$(name c)" -v "$PWD/out:/out" "$IMAGE" sh -c 'echo from-container > /out/result.txt; mkdir /out/sub; echo x > /out/sub/y'
expect_eq "file on the host" from-container "$(cat out/result.txt)"
expect_eq "nested file on the host" x "$(cat out/sub/y)"
