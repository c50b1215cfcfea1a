#!/usr/bin/env bash
# docker cp out of a stopped container: a file and a directory, to the host and as a tar to stdout.
. "$(dirname "$0")/../lib.sh"

docker run --name "$(name c)" "$IMAGE" sh -c 'mkdir -p /data/sub && echo hello > /data/a.txt && echo deep > /data/sub/b.txt' >/dev/null
docker cp "$(name c):/data/a.txt" ./a.txt
expect_eq file hello "$(cat a.txt)"
docker cp "$(name c):/data" ./copied
expect_eq "directory" deep "$(cat copied/sub/b.txt)"
expect_eq "tar to stdout" "$(printf 'a.txt\n')" "$(docker cp "$(name c):/data/a.txt" - | tar -t)"
capture docker cp "$(name c):/no/such/path" ./x
expect_eq "missing path: exit code" 1 "$RC"
expect_contains "missing path: stderr" "Could not find the file /no/such/path in container $(name c)" "$ERR"
