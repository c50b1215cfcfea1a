#!/usr/bin/env bash
# docker restart: the container runs its command again, keeps its id and logs, and is running.
. "$(dirname "$0")/../lib.sh"

id=$(docker run -d --name "$(name c)" "$IMAGE" sh -c 'echo started; trap "exit 0" TERM; while true; do sleep 1; done')
until_true "first start logged" sh -c "docker logs $(name c) | grep -q started"
expect_eq restart "$(name c)" "$(docker restart -t 30 "$(name c)")"
until_true "second start logged" sh -c "[ \$(docker logs $(name c) | grep -c started) = 2 ]"
expect_eq running true "$(docker inspect -f '{{.State.Running}}' "$(name c)")"
expect_eq "same id" "$id" "$(docker inspect -f '{{.Id}}' "$(name c)")"
