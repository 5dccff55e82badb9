#!/bin/bash
# test-radio-echod.sh: echod's Icecast front with real clients, TAP output.
#   sources:   ffmpeg icecast:// (MP3, Ogg Vorbis announced as audio/mpeg as ffmpeg does,
#              Ogg Opus), gst shout2send (libshout), curl for the refusals
#   listeners: icy-reader.py (in-band titles), ffprobe/ffmpeg decoding what listeners got
# Needs: ffmpeg, gstreamer1.0-plugins-good (lamemp3enc, shout2send), curl, python3.
# Runs the echod of this build ($ECHO_BUILD_ROOT); its exit status after SIGTERM must be 0
# (under the sanitizer build that includes LeakSanitizer's verdict).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ECHOD=${ECHO_BUILD_ROOT:?}/orchestrator/server/echod
READER="/usr/bin/python3 $HERE/icy-reader.py"
T=$(mktemp -d)
PIDS=()
n=0
failed=0

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP_T:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what" "failed: $*"; fi
}
wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.1 s
  local tenths=$(($1 * 10)); shift
  for _ in $(seq "$tenths"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# Child programs use the system's GStreamer plugins, not this build's (which may be sanitized).
gst_clean() {
  env -u GST_PLUGIN_PATH_1_0 -u GST_PLUGIN_SYSTEM_PATH_1_0 -u LD_PRELOAD \
    GST_REGISTRY_1_0="$T/gst-registry.bin" "$@"
}

SRC_PW=src-$RANDOM
ADMIN_PW=adm-$RANDOM
JAZZ_PW=jazz-$RANDOM
mkdir -p "$T/data"
cat > "$T/echod.conf" <<CONF
[radio]
source-password=$SRC_PW
mount-passwords=/jazz:$JAZZ_PW
admin-password=$ADMIN_PW
burst-bytes=16384
listener-max-lag-seconds=3
source-timeout-seconds=5
CONF
ECHO_PIPELINES_DIR=${ECHO_SOURCE_ROOT:?}/pipelines "$ECHOD" --config "$T/echod.conf" \
  --address 127.0.0.1 --port 0 --data-dir "$T/data" --no-discovery \
  > "$T/echod.out" 2> "$T/echod.err" &
ECHOD_PID=$!
if ! wait_for 30 grep -q "listening on" "$T/echod.out"; then
  echo "Bail out! echod did not start"; cat "$T/echod.err" >&2; exit 1
fi
PORT=$(head -1 "$T/echod.out" | sed 's/.*://')
BASE=http://127.0.0.1:$PORT
echo "# echod on port $PORT"

metric() { curl -s "$BASE/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
has_source() { [ "$(status_of -r 0-0 "$BASE/radio/$1" --max-time 1)" = 200 ]; }
updinfo() {  # updinfo AUTH QUERY -> status
  status_of -u "$1" "$BASE/admin/metadata?$2"
}

# --- an MP3 source from ffmpeg ---
ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -c:a libmp3lame -b:a 128k -content_type audio/mpeg -ice_name "Echo Test FM" \
  -ice_genre Jazz -f mp3 "icecast://source:$SRC_PW@127.0.0.1:$PORT/live" \
  > "$T/ff-live.out" 2>&1 &
FF_LIVE=$!; PIDS+=($FF_LIVE)
check "ffmpeg (PUT, Expect: 100-continue) broadcasts MP3 on /live" wait_for 10 has_source live
check "the source counts in /metrics" test "$(metric echo_radio_sources)" = 1

# a listener with in-band metadata, while the title changes; ffmpeg and GStreamer
# (souphttpsrc iradio-mode ! icydemux) read the same stream as players do
$READER "$PORT" /radio/live 7 "$T/live.mp3" > "$T/live.txt" &
R1=$!
timeout 20 ffmpeg -nostdin -loglevel debug -i "$BASE/radio/live" -t 8 -f null - \
  > "$T/ffplayer.txt" 2>&1 &
R2=$!
gst_clean timeout 7 gst-launch-1.0 -t souphttpsrc location="$BASE/radio/live" iradio-mode=true \
  ! icydemux ! fakesink > "$T/gstplayer.txt" 2>&1 &
R3=$!
sleep 2
check "updinfo with the admin credentials: 200" \
  test "$(updinfo "admin:$ADMIN_PW" "mount=%2Flive&mode=updinfo&song=Artist%20-%20It%27s%20%C3%A9t%C3%A9&charset=UTF-8")" = 200
wait $R1 $R2 $R3
check "the listener got 200 audio/mpeg with icy-metaint and the station name" \
  grep -q "status 200" "$T/live.txt"
check "  content type" grep -qx "header content-type: audio/mpeg" "$T/live.txt"
# derived from the stream's byte rate so a title lands within 50 ms of audio after its first
# byte: 800 for 128 kbit/s (measured on the frames, or assumed before enough are in), not
# Icecast's 16000 (1 s)
METAINT=$(sed -n 's/^header icy-metaint: //p' "$T/live.txt")
check "  icy-metaint $METAINT: at most 50 ms of the stream's audio" \
  test "${METAINT:-0}" -ge 256 -a "${METAINT:-0}" -le 800
check "  icy-name" grep -qx "header icy-name: Echo Test FM" "$T/live.txt"
check "  icy-genre" grep -qx "header icy-genre: Jazz" "$T/live.txt"
check "the new title arrived in-band (apostrophe, UTF-8)" \
  grep -q "^title [0-9.]* StreamTitle='Artist - It's été';$" "$T/live.txt"
check "every metadata block was well formed" bash -c "! grep -q bad-block '$T/live.txt'"
check "ffmpeg (as ffplay, mpv) reads the new title in-band" \
  grep -q "Metadata update for StreamTitle: Artist - It's été" "$T/ffplayer.txt"
check "GStreamer souphttpsrc iradio-mode + icydemux reads it too" \
  grep -q "title: Artist - It's été" "$T/gstplayer.txt"
AUDIO=$(awk '$1 == "audio" { print $2 }' "$T/live.txt")
check "the listener got the burst and ~7 s of 128 kbit/s audio ($AUDIO bytes)" \
  test "${AUDIO:-0}" -gt 60000
check "what the listener got decodes as MP3 without errors" \
  bash -c "ffmpeg -nostdin -v error -i '$T/live.mp3' -f null - 2> '$T/dec.err' && ! test -s '$T/dec.err'"
check "  and starts on a frame (ffprobe: mp3, 44100 Hz)" \
  bash -c "ffprobe -v error -show_entries stream=codec_name,sample_rate -of csv=p=0 '$T/live.mp3' | grep -qx 'mp3,44100'"

# ISO-8859-1 by default, as Icecast; the mount's source credentials work too
check "updinfo without charset is read as ISO-8859-1, source credentials accepted" \
  test "$(updinfo "source:$SRC_PW" "mount=/live&mode=updinfo&song=Caf%E9")" = 200
$READER "$PORT" /radio/live 2.5 "$T/late.mp3" > "$T/late.txt"
check "a new listener gets the current title at its first metadata point" \
  grep -q "^title [0-9.]* StreamTitle='Café';$" "$T/late.txt"

UPDATES=$(metric echo_radio_metadata_updates_total)
BIG=$(head -c 1025 /dev/zero | tr '\0' 'x')
check "oversize metadata (1025 bytes): 400" \
  test "$(updinfo "admin:$ADMIN_PW" "mount=/live&mode=updinfo&song=$BIG")" = 400
check "control-character garbage: 400" \
  test "$(updinfo "admin:$ADMIN_PW" "mount=/live&mode=updinfo&song=%01%85%9Fab%0D%0Ac")" = 400
check "invalid UTF-8 with charset=UTF-8: 400" \
  test "$(updinfo "admin:$ADMIN_PW" "mount=/live&mode=updinfo&song=%FF%FE&charset=UTF-8")" = 400
check "wrong admin password: 401" \
  test "$(updinfo "admin:wrong" "mount=/live&mode=updinfo&song=x")" = 401
check "another mount's source password: 401" \
  test "$(updinfo "source:$JAZZ_PW" "mount=/live&mode=updinfo&song=x")" = 401
check "a mount without a source: 400 (as Icecast)" \
  test "$(updinfo "admin:$ADMIN_PW" "mount=/nothing&mode=updinfo&song=x")" = 400
check "refused updates changed nothing" test "$(metric echo_radio_metadata_updates_total)" = "$UPDATES"
$READER "$PORT" /radio/live 2.5 "$T/after.mp3" > "$T/after.txt"
check "  the title is still the last accepted one" \
  grep -q "^title [0-9.]* StreamTitle='Café';$" "$T/after.txt"

# a legacy SOURCE request (HTTP/1.0, no Expect), its body what the first listener got
curl -s -o /dev/null --http1.0 -X SOURCE -u "source:$SRC_PW" -H 'Content-Type: audio/mpeg' \
  -H 'ice-name: Legacy' --data-binary @"$T/live.mp3" --max-time 4 "$BASE/legacy" &
LEGACY=$!
check "a legacy SOURCE request broadcasts on /legacy" wait_for 3 has_source legacy
$READER "$PORT" /radio/legacy 1 "$T/legacy.mp3" > "$T/legacy.txt"
check "  its listener gets icy-name from the SOURCE request's ice-name" \
  grep -qx "header icy-name: Legacy" "$T/legacy.txt"
wait $LEGACY

# refusals of sources
WRONG=$(timeout 10 ffmpeg -nostdin -loglevel error -f lavfi -i sine -t 2 -c:a libmp3lame \
  -f mp3 "icecast://source:wrong@127.0.0.1:$PORT/other" 2>&1)
check "ffmpeg with a wrong password is refused with 401" grep -q 401 <<< "$WRONG"
TAKEN=$(timeout 10 ffmpeg -nostdin -loglevel error -f lavfi -i sine -t 2 -c:a libmp3lame \
  -f mp3 "icecast://source:$SRC_PW@127.0.0.1:$PORT/live" 2>&1)
check "ffmpeg on a mount that has a source is refused with 403" grep -q 403 <<< "$TAKEN"
curl -s -o "$T/403.txt" -D "$T/403.h" -X PUT -u "source:$SRC_PW" -H 'Content-Type: audio/mpeg' \
  --data-binary x "$BASE/live"
check "  its reply says \"Mountpoint in use\"" grep -q "Mountpoint in use" "$T/403.txt"
curl -s -D "$T/401.h" -o /dev/null -X PUT -H 'Content-Type: audio/mpeg' --data-binary x "$BASE/other"
check "no credentials: 401 with WWW-Authenticate: Basic" grep -qi "^WWW-Authenticate: Basic" "$T/401.h"
check "a mount's own password is needed when mount-passwords names it" \
  test "$(status_of -X PUT -u "source:$SRC_PW" -H 'Content-Type: audio/mpeg' --data-binary x "$BASE/jazz")" = 401
check "an unsupported content type: 415" \
  test "$(status_of -X PUT -u "source:$SRC_PW" -H 'Content-Type: video/mp4' --data-binary x "$BASE/other")" = 415
check "a missing content type: 415" \
  test "$(status_of -X PUT -u "source:$SRC_PW" --data-binary x "$BASE/other")" = 415
check "a listener of a mount without a source: 404" test "$(status_of "$BASE/radio/nothing")" = 404
check "other paths keep their 404" test "$(status_of "$BASE/nothing")" = 404
check "  and other methods on known paths their 405" test "$(status_of -X PUT "$BASE/health")" = 405
check "/health still answers" test "$(status_of "$BASE/health")" = 200

# --- Ogg Vorbis from ffmpeg, announced as audio/mpeg (ffmpeg's default) ---
ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=330:sample_rate=44100" \
  -c:a libvorbis -f ogg "icecast://source:$JAZZ_PW@127.0.0.1:$PORT/jazz" \
  > "$T/ff-jazz.out" 2>&1 &
FF_JAZZ=$!; PIDS+=($FF_JAZZ)
check "ffmpeg broadcasts Ogg Vorbis on /jazz with the mount's password" wait_for 10 has_source jazz
sleep 4   # past the 16 KB burst: a listener now needs the header pages from the start
$READER "$PORT" /radio/jazz 3 "$T/jazz.ogg" > "$T/jazz.txt"
check "the Ogg listener gets Content-Type audio/ogg (the bytes, not the announcement)" \
  grep -qx "header content-type: audio/ogg" "$T/jazz.txt"
check "  and no icy-metaint (Ogg carries no ICY metadata)" bash -c "! grep -q icy-metaint '$T/jazz.txt'"
check "a late Ogg listener decodes Vorbis (header pages first, then live pages)" \
  bash -c "ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '$T/jazz.ogg' | grep -qx vorbis"
check "  without decoding errors" \
  bash -c "ffmpeg -nostdin -v error -i '$T/jazz.ogg' -f null - 2> '$T/jdec.err' && ! test -s '$T/jdec.err'"

# --- Ogg Opus ---
ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=550:sample_rate=48000" \
  -c:a libopus -b:a 64k -content_type audio/ogg -f ogg \
  "icecast://source:$SRC_PW@127.0.0.1:$PORT/opus" > "$T/ff-opus.out" 2>&1 &
FF_OPUS=$!; PIDS+=($FF_OPUS)
check "ffmpeg broadcasts Ogg Opus on /opus" wait_for 10 has_source opus
sleep 3
$READER "$PORT" /radio/opus 3 "$T/opus.ogg" > "$T/opus.txt"
check "a late Opus listener decodes Opus without errors" \
  bash -c "ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '$T/opus.ogg' | grep -qx opus && ffmpeg -nostdin -v error -i '$T/opus.ogg' -f null - 2> '$T/odec.err' && ! test -s '$T/odec.err'"

# --- libshout (gst shout2send): OPTIONS *, then PUT, then its own metadata POST ---
gst_clean timeout 20 gst-launch-1.0 -q audiotestsrc is-live=true ! audioconvert ! lamemp3enc ! \
  shout2send ip=127.0.0.1 port="$PORT" password="$SRC_PW" mount=/shout.mp3 \
  > "$T/shout.out" 2>&1 &
SHOUT=$!; PIDS+=($SHOUT)
check "gst shout2send broadcasts on /shout.mp3" wait_for 15 has_source shout.mp3
$READER "$PORT" /radio/shout.mp3 3 "$T/shout.mp3" > "$T/shout.txt"
check "  a listener decodes it" \
  bash -c "ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '$T/shout.mp3' | grep -qx mp3"
check "  and gets libshout's title (its POST /admin/metadata)" \
  grep -q "^title [0-9.]* StreamTitle='Unknown - Unknown';$" "$T/shout.txt"
kill "$SHOUT" 2>/dev/null

# --- a listener that stops reading is dropped, the others go on ---
DROPPED=$(metric echo_radio_listeners_dropped_total)
$READER "$PORT" /radio/live 45 /dev/null --rcvbuf 1024 --no-read &
SLOW=$!; PIDS+=($SLOW)
$READER "$PORT" /radio/live 8 "$T/steady.mp3" > "$T/steady.txt" &
STEADY=$!
slow_dropped() { [ "$(metric echo_radio_listeners_dropped_total)" -gt "${DROPPED:-0}" ]; }
check "a listener that reads nothing is dropped once 3 s behind" wait_for 40 slow_dropped
wait $STEADY
STEADY_AUDIO=$(awk '$1 == "audio" { print $2 }' "$T/steady.txt")
check "  while another listener kept getting audio ($STEADY_AUDIO bytes in 8 s)" \
  test "${STEADY_AUDIO:-0}" -gt 100000
kill "$SLOW" 2>/dev/null

# --- the source leaves: the mount ends, its listeners are closed ---
$READER "$PORT" /radio/live 10 "$T/end.mp3" > "$T/end.txt" &
R_END=$!
sleep 1
kill "$FF_LIVE"
no_source() { ! has_source live; }
check "the mount is gone once its source disconnects" wait_for 10 no_source
wait $R_END
check "  its listener's connection was closed" grep -qx "closed yes" "$T/end.txt"
check "a source may take the mount again" \
  bash -c "timeout 20 ffmpeg -nostdin -loglevel error -re -f lavfi -i sine -t 1 -c:a libmp3lame -f mp3 'icecast://source:$SRC_PW@127.0.0.1:$PORT/live'"

kill "$FF_JAZZ" "$FF_OPUS" 2>/dev/null
kill -TERM "$ECHOD_PID"
wait "$ECHOD_PID"
STATUS=$?
if [ "$STATUS" = 0 ]; then ok "echod stops cleanly (exit 0)"; else
  not_ok "echod stops cleanly (exit $STATUS)" "$(tail -30 "$T/echod.err")"; fi
echo "1..$n"
exit $((failed > 0))
