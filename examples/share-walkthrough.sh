#!/usr/bin/env bash
# A Music Share session with curl, against a real echod started from the build tree:
# start, metadata, audio chunks, status, a receiver polling metadata and audio (float and
# Opus), an echosyncsrc receiver playing the session in sync, stop, and the "ended" answers.
# Every request and response is printed; the script exits non-zero as soon as a status is
# not the expected one.
#
# Build first (meson setup build && ninja -C build), then, from anywhere:
#   examples/share-walkthrough.sh
# Environment:
#   ECHO_BUILD=DIR            the build directory (default: build, in the repository)
#   ECHO_WALKTHROUGH_MDNS=0|1 announce by mDNS and let echosyncsrc find the session by name
#                             (default: 1 when avahi-daemon runs, else 0: echo://HOST:PORT/ID)
# Needs curl, gst-launch-1.0 and python3 (or perl) to make the test tone. Nothing is
# installed or left behind: echod gets a free port on 127.0.0.1 and a temporary data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${ECHO_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
echod=$build/orchestrator/server/echod
if [ ! -x "$echod" ]; then
  echo "no echod in $build: build first (meson setup build && ninja -C build)," \
    "or set ECHO_BUILD to your build directory" >&2
  exit 2
fi
for tool in curl gst-launch-1.0; do
  command -v "$tool" > /dev/null || { echo "$tool is needed" >&2; exit 2; }
done
if [ -z "${ECHO_WALKTHROUGH_MDNS:-}" ]; then
  ECHO_WALKTHROUGH_MDNS=0
  [ -S /run/avahi-daemon/socket ] && ECHO_WALKTHROUGH_MDNS=1
fi

# echod checks its pipeline templates at start-up, and share.pipeline uses sharerelay:
# the Echo elements must be on GStreamer's plugin path (echosyncsrc, further down, too).
export GST_PLUGIN_PATH_1_0=$build/plugins/sync:$build/plugins/icy${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}
# The token the seed's client sends verbatim in its Authorization header.
export BEARER_TOKEN="Bearer Token"
# Loopback requests must not go through a proxy.
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

work=$(mktemp -d)
echod_pid=
feeder_pid=
cleanup() {
  if [ -n "$feeder_pid" ]; then kill "$feeder_pid" 2> /dev/null || true; fi
  if [ -n "$echod_pid" ]; then
    kill "$echod_pid" 2> /dev/null || true
    wait "$echod_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

# --- 1. echod -------------------------------------------------------------------------

step "start echod on a free port with a temporary data directory"
flags=(--port 0 --data-dir "$work/data" --pipelines-dir "$root/pipelines")
[ "$ECHO_WALKTHROUGH_MDNS" = 1 ] || flags+=(--no-discovery)
echo "\$ BEARER_TOKEN='Bearer Token' ${echod#"$root"/} ${flags[*]}"
"$echod" "${flags[@]}" > "$work/echod.out" 2> "$work/echod.log" &
echod_pid=$!
# The first stdout line, once requests are served: "echod: listening on http://ADDR:PORT".
for _ in $(seq 200); do
  [ -s "$work/echod.out" ] && break
  kill -0 "$echod_pid" 2> /dev/null || { cat "$work/echod.log" >&2; fail "echod exited"; }
  sleep 0.1
done
first=$(head -n 1 "$work/echod.out")
echo "$first"
base=${first#echod: listening on }
case $base in http://*:[0-9]*) ;; *) cat "$work/echod.log" >&2; fail "no port from echod" ;; esac
id=123456

# [NOAUTH=1] call EXPECTED_STATUS METHOD PATH [JSON_BODY|@FILE]: prints the request and the response
# (base64 audio shortened), keeps the body in $reply, and stops the script on any other
# status.
call() {
  local expected=$1 method=$2 path=$3 body=${4:-} shown status
  local args=(-sS -o "$work/reply" -w '%{http_code}' -X "$method")
  shown="curl -X $method '$base$path'"
  # /health is public; everything under /api/share needs the token (NOAUTH=1: leave it out)
  if [ "$path" != /health ] && [ -z "${NOAUTH:-}" ]; then
    args+=(-H "Authorization: $BEARER_TOKEN")
    shown+=" -H 'Authorization: $BEARER_TOKEN'"
  fi
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
    if [ "${body:0:1}" = @ ]; then
      shown+=" -H 'Content-Type: application/json' --data-binary $body"
    else
      shown+=" -H 'Content-Type: application/json' -d '$body'"
    fi
  fi
  printf '\n$ %s\n' "$shown"
  status=$(curl "${args[@]}" "$base$path") || fail "curl could not reach echod"
  reply=$(cat "$work/reply")
  printf '%s %s\n' "$status" \
    "$(printf '%s' "$reply" | sed -E 's/("data":"[A-Za-z0-9+\/]{16})[A-Za-z0-9+\/=]*"/\1..."/g')"
  [ "$status" = "$expected" ] || fail "$method $path: expected $expected, got $status"
}

# --- 2. a test tone: 4096-frame chunks of 44.1 kHz stereo float, the seed's ~93 ms -------

rate=44100 channels=2 frames=4096 n_chunks=60
mkdir "$work/chunks"
if command -v python3 > /dev/null; then
  python3 -c '
import base64, math, struct, sys
rate, channels, frames, n, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for c in range(n):
    samples = []
    for i in range(c * frames, (c + 1) * frames):
        v = 0.25 * math.sin(2 * math.pi * 440 * i / rate)
        samples += [v] * channels
    with open("%s/%03d" % (out, c), "w") as f:
        f.write(base64.b64encode(struct.pack("<%df" % len(samples), *samples)).decode())
' "$rate" "$channels" "$frames" "$n_chunks" "$work/chunks"
else
  for c in $(seq 0 $((n_chunks - 1))); do
    perl -e '($r, $ch, $n, $c) = @ARGV;
      for $i ($c * $n .. ($c + 1) * $n - 1) {
        print pack("f<", 0.25 * sin(2 * 3.14159265358979 * 440 * $i / $r)) x $ch }' \
      "$rate" "$channels" "$frames" "$c" | base64 -w 0 > "$(printf '%s/%03d' "$work/chunks" "$c")"
  done
fi
# chunk_body SEQ [SAMPLE_RATE]: writes the POST body of chunk SEQ to $work/body-SEQ.json
chunk_body() {
  printf '{"data":"%s","sampleRate":%s,"channels":%s,"timestamp":%s,"sequenceNumber":%s}' \
    "$(cat "$(printf '%s/%03d' "$work/chunks" "$1")")" "${2:-$rate}" "$channels" \
    "$(date +%s%3N)" "$1" > "$work/body-$1.json"
}

# --- 3. the sharer ------------------------------------------------------------------------

step "the daemon is up (no credential needed)"
call 200 GET /health

if [ "$ECHO_WALKTHROUGH_MDNS" = 1 ] && command -v avahi-browse > /dev/null; then
  step "echod announces its API by mDNS (_echo-api._tcp, TXT version and path)"
  echo "\$ avahi-browse -rpt _echo-api._tcp"
  avahi-browse -rpt _echo-api._tcp | grep '^=' || echo "(not announced yet)"
fi

step "the share API needs the bearer token"
NOAUTH=1 call 401 POST /api/share/start "{\"sessionId\":\"$id\"}"

step "the sharer starts session $id; starting it again is refused"
call 200 POST /api/share/start "{\"sessionId\":\"$id\"}"
call 409 POST /api/share/start "{\"sessionId\":\"$id\"}"

step "the sharer posts what is playing (receivers see it for 30 s)"
call 200 POST "/api/share/$id/metadata" \
  '{"title":"Song Title","artist":"Artist Name","lyrics":"[00:12.50]Lyrics line 1\n[00:15.80]Lyrics line 2","hasSyncedLyrics":true,"elapsedSeconds":45.2,"totalSeconds":180.5,"thumbnailData":null,"timestamp":'"$(date +%s%3N)"'}'

step "the sharer posts 5 audio chunks (sequenceNumber 0..4); the first fixes the format"
for seq in 0 1 2 3 4; do
  chunk_body "$seq"
  call 200 POST "/api/share/$id/audio" "@$work/body-$seq.json"
done
echo "(each body: {\"data\":\"<base64 of $frames x $channels little-endian float32>\",\"sampleRate\":$rate,\"channels\":$channels,\"timestamp\":<ms>,\"sequenceNumber\":N})"

step "a retry of chunk 4 is answered again, not buffered twice; a new sample rate is refused"
call 200 POST "/api/share/$id/audio" "@$work/body-4.json"
chunk_body 5 48000
call 400 POST "/api/share/$id/audio" "@$work/body-5.json"

# --- 4. receivers that poll ---------------------------------------------------------------

step "a receiver checks the session (syncPort: where echosyncsrc receives it)"
call 200 GET "/api/share/$id/status"
sync_port=$(printf '%s' "$reply" | sed -nE 's/.*"syncPort":([0-9]+).*/\1/p')

step "it reads the metadata, exactly as posted"
call 200 GET "/api/share/$id/metadata"

step "its first audio request (since=-1): the newest chunks, oldest first"
call 200 GET "/api/share/$id/audio?since=-1"
step "then only what follows the last chunk it has; nothing new yet: 204"
call 200 GET "/api/share/$id/audio?since=2"
call 204 GET "/api/share/$id/audio?since=4"

step "the same audio as Opus (48 kHz, 20 ms packets, own numbering): about a tenth of the bytes"
# The session's pipeline encodes Opus only while someone asks for it (a receiver's first
# format=opus request opens the encoder), from the chunks that arrive after that.
call 204 GET "/api/share/$id/audio?since=-1&format=opus&limit=3"
for seq in 6 7 8; do
  chunk_body "$seq"
  call 200 POST "/api/share/$id/audio" "@$work/body-$seq.json"
done
# the encoder works as the chunks arrive: allow it a moment
for _ in $(seq 50); do
  status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: $BEARER_TOKEN" \
    "$base/api/share/$id/audio?since=-1&format=opus&limit=3")
  [ "$status" = 200 ] && break
  sleep 0.1
done
call 200 GET "/api/share/$id/audio?since=-1&format=opus&limit=3"

# --- 5. a receiver in sync: echosyncsrc ---------------------------------------------------

step "echosyncsrc plays the session from the daemon's sharerelay, in sync with every other receiver"
[ -n "$sync_port" ] || fail "the status had no syncPort: the session's pipeline is not running (see $work/echod.log)"
# the relay's token is the bearer token without its "Bearer " word
token=${BEARER_TOKEN#Bearer }
if [ "$ECHO_WALKTHROUGH_MDNS" = 1 ]; then
  receiver=(echosyncsrc "session=$id" "token=$token")
else
  receiver=(echosyncsrc "uri=echo://127.0.0.1:$sync_port/$id?token=$token")
fi
cat << EOF
A receiver needs the Echo plugins on its plugin path and the session's token:
  export GST_PLUGIN_PATH_1_0=${build#"$root"/}/plugins/sync:${build#"$root"/}/plugins/icy
  gst-launch-1.0 echosyncsrc session=$id token=$token ! echoclocksink       # found by mDNS
  gst-launch-1.0 echosyncsrc uri="echo://127.0.0.1:$sync_port/$id?token=$token" ! echoclocksink
(echoclocksink plays on the default sound card, correcting its drift.) Here the sharer keeps
posting chunks in real time while a receiver runs for 4 s into a fakesink, printing its
statistics:
\$ gst-launch-1.0 -m ${receiver[*]} ! fakesink sync=true
EOF
# the sharer, in the background: one chunk every 93 ms, as the seed's client does
(
  t0=$(date +%s%N)
  for seq in $(seq 5 $((n_chunks - 1))); do
    chunk_body "$seq"
    curl -sS -o /dev/null -X POST -H "Authorization: $BEARER_TOKEN" \
      -H 'Content-Type: application/json' --data-binary "@$work/body-$seq.json" \
      "$base/api/share/$id/audio" || true
    next=$((t0 + (seq - 4) * frames * 1000000000 / rate))
    now=$(date +%s%N)
    [ "$next" -gt "$now" ] && sleep "$(printf '0.%09d' $((next - now)))"
  done
) &
feeder_pid=$!
timeout -s INT 4 gst-launch-1.0 -m "${receiver[@]}" ! fakesink sync=true > "$work/receiver.log" 2>&1 || true
stats=$(grep -o 'echo-receiver-stats.*' "$work/receiver.log" | tail -n 1)
printf '%s\n' "${stats:-(no statistics)}" | cut -c 1-300
received=$(printf '%s' "$stats" | sed -nE 's/.*[ ,]received=\(guint64\)([0-9]+).*/\1/p')
if [ -z "$received" ] || [ "$received" -eq 0 ]; then
  tail -n 20 "$work/receiver.log" >&2
  fail "echosyncsrc received no audio"
fi
echo "echosyncsrc received $received Opus frames"
wait "$feeder_pid" || true
feeder_pid=

# --- 6. the end ---------------------------------------------------------------------------

step "the sharer stops: duration and decoded audio bytes received"
call 200 POST "/api/share/$id/stop"

step "for 5 minutes the session answers \"ended\"; then \"not found\""
call 404 GET "/api/share/$id/status"
call 404 GET "/api/share/$id/audio?since=-1"

step "echod stops cleanly on SIGTERM (exit status 0)"
echo "\$ kill -TERM $echod_pid"
kill -TERM "$echod_pid"
status=0
wait "$echod_pid" || status=$?
echod_pid=
echo "echod exited with status $status"
[ "$status" = 0 ] || { cat "$work/echod.log" >&2; fail "echod exited with status $status"; }
echo
echo "echod's log (logfmt on stderr):"
sed 's/^/  /' "$work/echod.log" | cut -c 1-200
echo
echo "walkthrough complete"
