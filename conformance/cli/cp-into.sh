#!/usr/bin/env bash
# docker cp into a created container: the file is there when it starts (content and mode).
. "$(dirname "$0")/../lib.sh"

printf 'payload\n' > file.txt
chmod 0750 file.txt
mkdir -p dir/sub && echo nested > dir/sub/n.txt
docker create --name "$(name c)" "$IMAGE" sh -c 'cat /tmp/file.txt; stat -c %a /tmp/file.txt; cat /tmp/dir/sub/n.txt' >/dev/null
docker cp file.txt "$(name c):/tmp/file.txt"
docker cp dir "$(name c):/tmp/"
capture docker start -a "$(name c)"
expect_eq "exit code" 0 "$RC"
expect_eq output "$(printf 'payload\n750\nnested')" "$OUT"
