#!/usr/bin/env bash
# docker exec -e: variables added to the container's own.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" -e FROM_RUN=one "$IMAGE" sleep 300 >/dev/null
expect_eq env "one|two|" "$(docker exec -e FROM_EXEC=two "$(name c)" sh -c 'echo "$FROM_RUN|$FROM_EXEC|$UNSET"')"
expect_eq "overridden" three "$(docker exec -e FROM_RUN=three "$(name c)" sh -c 'echo $FROM_RUN')"
