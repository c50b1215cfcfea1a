#!/usr/bin/env bash
# -p 127.0.0.1::8080: docker port names the host port, and a client on the host gets the reply.
. "$(dirname "$0")/../lib.sh"

n=$(name net)
# A user network: the engine under test has no default bridge.
docker network create "$n" >/dev/null
docker run -d --name "$(name c)" --network "$n" -p 127.0.0.1::8080 "$IMAGE" \
  sh -c 'while true; do echo pong | nc -l -p 8080; done' >/dev/null
mapping=$(docker port "$(name c)" 8080/tcp)
echo "mapping: $mapping"
case "$mapping" in 127.0.0.1:[0-9]*) ;; *) fail "docker port: $mapping" ;; esac
port=${mapping#127.0.0.1:}
expect_eq "inspect HostPort" "$port" "$(docker inspect -f '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}' "$(name c)")"
reply=""
for i in $(seq 60); do
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && timeout 10 cat <&3) 2>/dev/null || true)
  [ -n "$reply" ] && break
  sleep 1
done
expect_eq "reply from the host" pong "$reply"
