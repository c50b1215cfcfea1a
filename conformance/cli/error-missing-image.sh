#!/usr/bin/env bash
# docker run of an image the registry lacks: exit 125 and dockerd's message.
. "$(dirname "$0")/../lib.sh"

ref="$REGISTRY/$(name missing):latest"
capture docker run --rm "$ref" true
expect_eq "exit code" 125 "$RC"
expect_contains stderr "Unable to find image '$ref' locally" "$ERR"
expect_contains stderr "manifest for $ref not found: manifest unknown" "$ERR"
