# Sourced by scripts/demo and examples/: a private Icecast server on loopback with ffmpeg
# broadcasting a sine to it, torn down on exit. After `icecast_sandbox_start MOUNT`:
#   ICECAST_PORT, ICECAST_PASSWORD, ICECAST_URL (the mount's URL), SANDBOX (a temp dir)
#   icecast_set_title URL_ENCODED_TITLE [EXTRA_QUERY]
SANDBOX=$(mktemp -d)
sandbox_pids=()
icecast_sandbox_stop() {
  for p in "${sandbox_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SANDBOX"
}
trap icecast_sandbox_stop EXIT

sandbox_wait_for() {  # $1: what, then a command that succeeds once it is ready
  local what=$1; shift
  for _ in $(seq 150); do "$@" && return 0; sleep 0.1; done
  echo "$what did not come up" >&2
  exit 1
}

icecast_sandbox_start() {
  local mount=$1 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  ICECAST_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ICECAST_PASSWORD=pw$RANDOM
  ICECAST_URL=http://127.0.0.1:$ICECAST_PORT$mount
  chmod 0755 "$SANDBOX"   # Icecast drops root and becomes nobody: it must reach its logs
  mkdir -p "$SANDBOX/log" && chown nobody:nogroup "$SANDBOX/log"
  local security="<security><chroot>0</chroot><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>"
  sed -e "s|@PORT@|$ICECAST_PORT|g" -e "s|@SOURCE_PASSWORD@|$ICECAST_PASSWORD|g" \
    -e "s|@ADMIN_PASSWORD@|$ICECAST_PASSWORD|g" -e "s|@LOGDIR@|$SANDBOX/log|g" \
    -e "s|@SECURITY@|$security|" -e "s|@MOUNTS@||" \
    "$root/tests/data/icecast.xml.in" > "$SANDBOX/icecast.xml"
  icecast2 -c "$SANDBOX/icecast.xml" > "$SANDBOX/icecast.out" 2>&1 & sandbox_pids+=($!)
  sandbox_wait_for Icecast curl -sf -o /dev/null "http://127.0.0.1:$ICECAST_PORT/status-json.xsl"

  ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" \
    -c:a libmp3lame -b:a 128k -content_type audio/mpeg -ice_name "Echo Demo Radio" \
    -f mp3 "icecast://source:$ICECAST_PASSWORD@127.0.0.1:$ICECAST_PORT$mount" \
    > "$SANDBOX/ffmpeg.out" 2>&1 & sandbox_pids+=($!)
  sandbox_mount_live() { curl -sf "http://127.0.0.1:$ICECAST_PORT/status-json.xsl" | grep -q "$mount"; }
  sandbox_wait_for "the $mount mount" sandbox_mount_live
  ICECAST_MOUNT=$mount
}

icecast_set_title() {
  curl -sf -u "admin:$ICECAST_PASSWORD" \
    "http://127.0.0.1:$ICECAST_PORT/admin/metadata?mount=$ICECAST_MOUNT&mode=updinfo&song=$1${2:-}" >/dev/null
}
