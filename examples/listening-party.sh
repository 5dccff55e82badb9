#!/usr/bin/env bash
# A listening party through echod's music API, against a real echod started from the build
# tree: alice starts a session in her voice channel, the host application tells echod that bob
# is in it too, both upload a track, they queue and vote (the queue reorders), an echosyncsrc receiver plays the
# session's audio sample-synced (recorded to a WAV file here), a WebSocket client
# (examples/music-client.py) follows the events and the server clock, and alice pauses,
# seeks and skips. Every request and response is printed; the script stops as soon as a
# status is not the expected one.
#
# Build first (meson setup build && ninja -C build), then, from anywhere:
#   examples/listening-party.sh
# Environment: ECHO_BUILD=DIR, the build directory (default: build, in the repository).
# Needs curl, gst-launch-1.0 and python3. Nothing is installed or left behind: echod gets a
# free port on 127.0.0.1 and a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${ECHO_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
echod=$build/orchestrator/server/echod
if [ ! -x "$echod" ]; then
  echo "no echod in $build: build first (meson setup build && ninja -C build)" >&2
  exit 2
fi
for tool in curl gst-launch-1.0 python3; do
  command -v "$tool" > /dev/null || { echo "$tool is needed" >&2; exit 2; }
done

# music.pipeline and radio.pipeline use sharerelay (radio.pipeline icymetademux too), and the receiver echosyncsrc: Echo's elements must be on
# GStreamer's plugin path.
export GST_PLUGIN_PATH_1_0=$build/plugins/sync:$build/plugins/icy${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}
# The host application's token (a Discord bot, a web backend): it vouches for its users
# with X-Echo-User.
export BEARER_TOKEN=party-host-token
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "start echod on a free port with a temporary data directory"
"$echod" --port 0 --data-dir "$work/data" --pipelines-dir "$root/pipelines" --no-discovery \
  > "$work/echod.out" 2> "$work/echod.log" &
pids+=($!)
for _ in $(seq 200); do
  [ -s "$work/echod.out" ] && break
  kill -0 "${pids[0]}" 2> /dev/null || { cat "$work/echod.log" >&2; fail "echod exited"; }
  sleep 0.1
done
first=$(head -n 1 "$work/echod.out")
echo "$first"
base=${first#echod: listening on }
case $base in http://*:[0-9]*) ;; *) cat "$work/echod.log" >&2; fail "no port from echod" ;; esac

# call AS EXPECTED_STATUS METHOD PATH [JSON]: as user AS ("-": the host application itself),
# prints request and response, keeps the body in $reply, stops on any other status.
call() {
  local as=$1 expected=$2 method=$3 path=$4 body=${5:-} status
  local args=(-sS -o "$work/reply" -w '%{http_code}' -X "$method"
    -H "Authorization: Bearer $BEARER_TOKEN")
  local shown="curl -X $method '$base$path' -H 'Authorization: Bearer $BEARER_TOKEN'"
  if [ "$as" != - ]; then
    args+=(-H "X-Echo-User: $as")
    shown+=" -H 'X-Echo-User: $as'"
  fi
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' -d "$body")
    shown+=" -d '$body'"
  fi
  printf '\n$ %s\n' "$shown"
  status=$(curl "${args[@]}" "$base$path") || fail "curl could not reach echod"
  reply=$(cat "$work/reply")
  printf '%s %s\n' "$status" "$(printf '%s' "$reply" | cut -c1-400)"
  [ "$status" = "$expected" ] || fail "expected $expected, got $status"
}
# field JSON_PATH: a value of $reply (python3 reads it: a.b.0.c)
field() {
  printf '%s' "$reply" | python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"
}

step "alice starts the music session of her voice channel (create or get)"
call alice 201 POST /api/music/session/start '{"serverId":"guild-1","voiceChannelId":"lounge"}'
sid=$(field session.id)
call alice 200 POST /api/music/session/start '{"serverId":"guild-1","voiceChannelId":"lounge"}'

step "the host application says bob joined the voice channel; carol is not in it"
call - 200 PUT "/api/music/session/$sid/members/bob" '{"roles":[]}'

step "bob follows the party over the WebSocket (music-client.py: clock, events, heartbeats)"
python3 "$root/examples/music-client.py" "ws://${base#http://}/api/music/ws" "$sid" \
  --token "$BEARER_TOKEN" --user bob --seconds 40 > "$work/bob.log" 2>&1 &
pids+=($!)
sleep 1

step "two tracks: a 440 Hz and a 660 Hz tone, 8 s each, uploaded through signed URLs"
for freq in 440 660; do
  gst-launch-1.0 -q audiotestsrc num-buffers=375 freq=$freq volume=0.3 \
    ! audio/x-raw,rate=48000,channels=2 ! wavenc ! filesink location="$work/tone-$freq.wav"
done
upload() {   # upload AS FILE -> $track
  local as=$1 file=$2 size
  size=$(stat -c %s "$file")
  call "$as" 200 POST /api/music/upload \
    "{\"filename\":\"$(basename "$file")\",\"size\":$size,\"mimeType\":\"audio/wav\"}"
  local url
  url=$(field uploadUrl)
  printf '\n$ curl -X PUT --data-binary @%s %s\n' "$(basename "$file")" "$url"
  curl -sS -X PUT --data-binary "@$file" -o "$work/reply" "$url"
  reply=$(cat "$work/reply")
  echo "$reply" | cut -c1-300
  track=$(field track.id)
}
upload alice "$work/tone-440.wav"; t440=$track
upload bob "$work/tone-660.wav"; t660=$track

step "a PNG is not music: 415, nothing kept"
call alice 200 POST /api/music/upload '{"filename":"cover.png","size":68,"mimeType":"audio/mpeg"}'
url=$(field uploadUrl)
printf '\x89PNG\r\n\x1a\n%060d' 0 > "$work/cover.png"
status=$(curl -sS -o "$work/reply" -w '%{http_code}' -X PUT --data-binary "@$work/cover.png" "$url")
echo "$status $(cat "$work/reply")"
[ "$status" = 415 ] || fail "expected 415"

step "carol is not in the voice channel: 403"
call carol 403 POST "/api/music/session/$sid/queue/add" "{\"trackId\":\"$t440\"}"

step "alice turns voting on and queues three items; the idle session starts at once"
call alice 200 PATCH "/api/music/session/$sid/settings" '{"voting":true}'
call alice 200 POST "/api/music/session/$sid/queue/add" \
  "{\"trackIds\":[\"$t440\",\"$t660\",\"$t440\"]}"
last=$(field added.2.id)

step "bob votes the last item up: it moves ahead (order: -votes, then request time)"
call bob 200 POST "/api/music/session/$sid/queue/vote" "{\"itemId\":\"$last\",\"value\":1}"
[ "$(field queue.0.id)" = "$last" ] || fail "the vote did not reorder the queue"
call bob 200 POST "/api/music/session/$sid/queue/vote" "{\"itemId\":\"$last\",\"value\":1}"
[ "$(field queue.0.votes)" = 1 ] || fail "a repeated vote counted"
sleep 1
call bob 200 GET "/api/music/session/$sid/state"
port=$(field receivers.port)
[ "$port" != None ] || fail "no relay port"

step "an echosyncsrc receiver plays the session (recorded 6 s to receiver.wav)"
echo "\$ gst-launch-1.0 echosyncsrc uri=echo://127.0.0.1:$port/$sid ! audioconvert ! wavenc ! filesink"
gst-launch-1.0 -q echosyncsrc uri="echo://127.0.0.1:$port/$sid" ! audioconvert \
  ! audio/x-raw,format=S16LE ! wavenc ! filesink location="$work/receiver.wav" &
receiver=$!
pids+=($receiver)
sleep 6
kill -INT "$receiver" 2> /dev/null || true
sleep 1
python3 - "$work/receiver.wav" <<'EOF'
import struct, sys, math
data = open(sys.argv[1], "rb").read()[44:]
samples = struct.unpack("<%dh" % (len(data) // 2), data[: len(data) // 2 * 2])
loud = sum(1 for s in samples if abs(s) > 1000)
rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples))) / 32768
print(f"receiver recorded {len(samples) // 2 / 48000:.1f} s, RMS {rms:.3f}, "
      f"{100 * loud / max(1, len(samples)):.0f}% of samples audible")
sys.exit(0 if loud > 0 else 1)
EOF

step "alice pauses, seeks to 2 s and plays; bob turns it down; alice skips twice"
call alice 200 POST "/api/music/session/$sid/control" '{"action":"pause"}'
call alice 200 POST "/api/music/session/$sid/control" '{"action":"seek","value":2000}'
call alice 200 POST "/api/music/session/$sid/control" '{"action":"play"}'
call bob 200 PATCH "/api/music/session/$sid/settings" '{"volume":80}'
call alice 200 POST "/api/music/session/$sid/control" '{"action":"skip"}'
call alice 200 POST "/api/music/session/$sid/control" '{"action":"skip"}'
sleep 2

step "history and stats"
call bob 200 GET "/api/music/session/$sid/history"
call bob 200 GET "/api/music/session/$sid/stats"

step "what bob's client saw"
sleep 2
cat "$work/bob.log"
grep -q "music:now_playing" "$work/bob.log" || fail "bob saw no now_playing"
printf '\nThe party worked.\n'
