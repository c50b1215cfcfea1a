#!/usr/bin/env bash
# docker exec -t: the command gets a terminal (and CRLF line ends); without -t, none.
. "$(dirname "$0")/../lib.sh"

docker run -d --name "$(name c)" "$IMAGE" sleep 300 >/dev/null
expect_eq "with -t" "$(printf 'tty\r')" "$(docker exec -t "$(name c)" sh -c 'test -t 1 && echo tty || echo notty')"
expect_eq "without -t" notty "$(docker exec "$(name c)" sh -c 'test -t 1 && echo tty || echo notty')"
