#!/usr/bin/env bash
# docker build (classic builder): ARG, COPY, RUN and LABEL, the steps streamed; the image runs and carries its labels; a failing RUN exits with its code and tags nothing.
. "$(dirname "$0")/../lib.sh"
export DOCKER_BUILDKIT=0

mkdir -p app bad
printf 'hello\n' >app/hello.txt
# A label naming the run first: no build cache is shared with a build
# running at the same time (the other side may share the engine).
{
  printf 'ARG BASE=busybox\nFROM ${BASE}\nLABEL conformance.run=%s\n' "$CONFORMANCE_PREFIX"
  cat <<'EOF'
ARG X=unset
COPY hello.txt /
RUN echo built >/b && echo "x is $X"
LABEL org.example.app=conformance
EOF
} >app/Dockerfile
tag="$(name app):1"
capture docker build -t "$tag" --build-arg BASE="$IMAGE" --build-arg X=y --label extra=yes app
expect_eq "build exit code" 0 "$RC"
expect_contains "build output: a step" " : RUN echo built" "$OUT"
expect_contains "build output: the RUN's output" "x is y" "$OUT"
expect_contains "build output: tagged" "Successfully tagged $tag" "$OUT"
expect_eq "run" "hello built" "$(docker run --rm "$tag" cat /hello.txt /b | tr '\n' ' ' | sed 's/ $//')"
expect_eq "labels" "conformance yes" "$(docker image inspect -f '{{index .Config.Labels "org.example.app"}} {{index .Config.Labels "extra"}}' "$tag")"
capture docker build -q -t "$tag" --build-arg BASE="$IMAGE" --build-arg X=y --label extra=yes app
expect_eq "quiet build: the ID alone" "$(docker image inspect -f '{{.Id}}' "$tag")" "$OUT"

{
  printf 'ARG BASE=busybox\nFROM ${BASE}\nLABEL conformance.run=%s\n' "$CONFORMANCE_PREFIX"
  echo 'RUN echo oops && exit 3'
} >bad/Dockerfile
bad="$(name bad):1"
capture docker build -t "$bad" --build-arg BASE="$IMAGE" bad
expect_eq "failing build exit code" 3 "$RC"
expect_contains "failing build: the command's output" "oops" "$OUT"
expect_contains "failing build: Docker's error line" "The command '/bin/sh -c echo oops && exit 3' returned a non-zero code: 3" "$ERR"
capture docker image inspect "$bad"
expect_eq "nothing tagged" 1 "$RC"
