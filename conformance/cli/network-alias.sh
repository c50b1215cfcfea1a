#!/usr/bin/env bash
# Two containers on a user network: one reaches the other by its network alias and by its name.
. "$(dirname "$0")/../lib.sh"

n=$(name net)
docker network create "$n" >/dev/null
docker run -d --name "$(name server)" --network "$n" --network-alias "$(name svc)" "$IMAGE" \
  sh -c 'while true; do echo pong | nc -l -p 8080; done' >/dev/null
for host in "$(name svc)" "$(name server)"; do
  # Retried until the server listens (a hang guard, not a measurement).
  OUT=$(docker run --rm --name "$(name client)" --network "$n" "$IMAGE" \
    sh -c "for i in \$(seq 60); do r=\$(nc $host 8080 </dev/null 2>/dev/null) && [ -n \"\$r\" ] && echo \$r && exit 0; sleep 1; done; exit 1")
  expect_eq "reply via $host" pong "$OUT"
done
