#!/usr/bin/env bash
# docker run: the container's exit code becomes the CLI's.
. "$(dirname "$0")/../lib.sh"

capture docker run --rm --name "$(name c)" "$IMAGE" sh -c 'exit 3'
expect_eq "exit code" 3 "$RC"
