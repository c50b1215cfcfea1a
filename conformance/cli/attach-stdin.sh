#!/usr/bin/env bash
# docker attach: piped input reaches a running container, its output comes back, and attach returns its exit code.
. "$(dirname "$0")/../lib.sh"

# After its last line the container lingers 2 s before exiting: dockerd can
# end the attach stream at the exit before it has relayed the output written
# just before (seen on the engine about half the time without the pause).
docker run -d -i --name "$(name c)" "$IMAGE" \
  sh -c 'while read l; do echo "got:$l"; [ "$l" = quit ] && sleep 2 && exit 6; done' >/dev/null
# Stdin stays open until the container has exited: at its end dockerd
# detaches, dropping output not yet sent.
capture sh -c "(printf 'hello\nquit\n'; docker wait $(name c) >/dev/null) | timeout 120 docker attach $(name c)"
expect_eq "exit code" 6 "$RC"
expect_eq output "$(printf 'got:hello\ngot:quit')" "$OUT"
