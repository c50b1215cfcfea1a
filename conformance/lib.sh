# Helpers for the shell scenarios (conformance/README.md): source it first,
#   . "$(dirname "$0")/../lib.sh"
# It stops at the first failing command, and on exit removes every
# container, network, volume and image tag whose name starts with
# $CONFORMANCE_PREFIX (compose's names start with the project name, the
# prefix without its dash), so a scenario only names what it creates.
set -euo pipefail

: "${DOCKER_HOST:?set by the harness}"
: "${CONFORMANCE_PREFIX:?set by the harness}"
IMAGE=${CONFORMANCE_IMAGE:-busybox:latest}
REGISTRY=${CONFORMANCE_REGISTRY:-127.0.0.1:5000}
PROJECT=${CONFORMANCE_PREFIX%-}

# name SUFFIX: a name of ours (prefixed).
name() { printf '%s%s' "$CONFORMANCE_PREFIX" "$1"; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" != "$3" ]; then
    fail "$1: expected [$2], got [$3]"
  fi
  echo "ok: $1 = [$3]"
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  case "$3" in
    *"$2"*) echo "ok: $1 contains [$2]" ;;
    *) fail "$1: expected it to contain [$2], got [$3]" ;;
  esac
}

# capture CMD...: runs CMD, sets OUT, ERR (trailing newlines stripped) and RC.
capture() {
  local o e
  o=$(mktemp) e=$(mktemp)
  set +e
  "$@" >"$o" 2>"$e"
  RC=$?
  set -e
  OUT=$(cat "$o") ERR=$(cat "$e")
  rm -f "$o" "$e"
  echo "ran: $* -> rc $RC" >&2
  [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  stdout| /' >&2
  [ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/  stderr| /' >&2
}

# until_true WHAT CMD...: retries CMD once a second for up to 60 s (a hang
# guard for asynchronous state, not a timing assertion).
until_true() {
  local what=$1 i
  shift
  for i in $(seq 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  fail "$what: still false after 60 s"
}

_ours() { grep -E "^(${CONFORMANCE_PREFIX}|${PROJECT}_)" || true; }

cleanup() {
  local rc=$? ids
  set +e
  ids=$(docker ps -a --format '{{.Names}}' 2>/dev/null | _ours)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  ids=$(docker network ls --format '{{.Name}}' 2>/dev/null | _ours)
  [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
  ids=$(docker volume ls --format '{{.Name}}' 2>/dev/null | _ours)
  [ -n "$ids" ] && docker volume rm -f $ids >/dev/null 2>&1
  ids=$(docker image ls --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -E "(^|/)(${CONFORMANCE_PREFIX}|${PROJECT}_)" || true)
  [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  if [ "$rc" -eq 0 ]; then echo "PASS"; else echo "FAIL (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
