#!/usr/bin/env bash
# docker attach to a running container started with -i: stdin reaches it, its output comes back, the CLI exits with its exit code.
. "$(dirname "$0")/../lib.sh"

# The container says "ready" each second until its first line: input is
# sent only once the attach is known to carry output. Input piped in as the
# attach connects loses the output on dockerd about half the time (moby
# #12974, seen on the engine with `echo | docker attach`). After its last
# line the container lingers 2 s: dockerd can end the attach stream at the
# exit before relaying what was written just before.
docker run -d -i --name "$(name c)" "$IMAGE" sh -c \
  'until read -t 1 l; do echo ready; done; echo "got:$l"; while read l; do echo "got:$l"; [ "$l" = quit ] && sleep 2 && exit 6; done' >/dev/null
mkfifo in
# Read-write: the attach's stdin stays open (no EOF) until the container has
# exited; at EOF dockerd detaches, dropping output not yet sent.
exec 3<>in
set +e
timeout 120 docker attach "$(name c)" <in >out 2>err &
attach=$!
set -e
until_true "attach carries output" grep -q ready out
printf 'hello\nquit\n' >&3
set +e
wait "$attach"
RC=$?
set -e
exec 3>&-
echo "attach output:" >&2
sed 's/^/  stdout| /' out >&2
sed 's/^/  stderr| /' err >&2
expect_eq "exit code" 6 "$RC"
expect_eq output "$(printf 'got:hello\ngot:quit')" "$(grep -v '^ready$' out)"
