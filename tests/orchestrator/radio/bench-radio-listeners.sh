#!/bin/bash
# bench-radio-listeners.sh: how many ICY listeners one echod serves from one pushed mount,
# next to a real icecast2 in the same run (the alternative an operator would pick).
#
#   bench-radio-listeners.sh [BUILD_DIR] [N ...]     (default: 500 1000 2000)
#
# Per server and N: ffmpeg pushes a 128 kbit/s MP3 (icecast://), bench-radio-listeners runs
# N listeners with Icy-MetaData for SECONDS, a title "mark-<ns>" is set through
# /admin/metadata halfway, and the server's CPU time over the run is read from /proc.
# Prints listeners with an underrun (a modelled player with 1 s of buffer), the metadata
# delay (updinfo -> in-band title at each listener), and server CPU (% of one core).
# Figures only: nothing here passes or fails. Needs ffmpeg, icecast2, curl; run as root
# (Icecast then drops to nobody).
set -eu
BUILD=${1:-$(cd "$(dirname "$0")/../../.." && pwd)/build}
shift || true
COUNTS=("${@:-500}")
[ $# -eq 0 ] && COUNTS=(500 1000 2000)
SECONDS_RUN=${SECONDS_RUN:-20}
RATE=16000   # 128 kbit/s
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
CLIENT=$BUILD/tests/orchestrator/radio/bench-radio-listeners
ECHOD=$BUILD/orchestrator/server/echod
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
ulimit -n "$(ulimit -Hn)"   # a descriptor per listener

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; echo "timed out: $*" >&2; exit 1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

PW=pw$RANDOM
# --- echod ---
EPORT=$(free_port)
mkdir -p "$T/data"
GST_PLUGIN_PATH_1_0=$BUILD/plugins ECHO_PIPELINES_DIR=$ROOT/pipelines "$ECHOD" --port "$EPORT" \
  --data-dir "$T/data" --no-discovery --log-level warning --set radio.source-password=$PW \
  --set radio.admin-password=$PW --set radio.max-listeners=100000 > "$T/echod.out" 2>&1 &
ECHOD_PID=$!; PIDS+=($ECHOD_PID)
wait_for grep -q listening "$T/echod.out"

# --- icecast2 ---
IPORT=$(free_port)
mkdir -p "$T/log"; chmod 0755 "$T"; chown nobody:nogroup "$T/log"
cat > "$T/icecast.xml" <<XML
<icecast>
  <limits><clients>100000</clients><sources>4</sources><queue-size>1048576</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout><burst-on-connect>1</burst-on-connect>
    <burst-size>65536</burst-size></limits>
  <authentication><source-password>$PW</source-password><admin-user>admin</admin-user>
    <admin-password>$PW</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$IPORT</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>$T/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>1</loglevel></logging>
  <security><chroot>0</chroot><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>
</icecast>
XML
icecast2 -c "$T/icecast.xml" > "$T/icecast.out" 2>&1 &
ICE_PID=$!; PIDS+=($ICE_PID)
wait_for curl -sf -o /dev/null "http://127.0.0.1:$IPORT/status-json.xsl"

source_to() {  # PORT MOUNT
  ffmpeg -nostdin -loglevel error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" \
    -c:a libmp3lame -b:a 128k -content_type audio/mpeg \
    -f mp3 "icecast://source:$PW@127.0.0.1:$1$2" > "$T/ff-$1.out" 2>&1 &
  PIDS+=($!)
}
source_to "$EPORT" /live
source_to "$IPORT" /live
sleep 3

run() {  # NAME PORT LISTEN_PATH PID N
  local name=$1 port=$2 path=$3 pid=$4 count=$5 before after out
  before=$(cpu_ticks "$pid")
  "$CLIENT" "$port" "$path" "$count" "$SECONDS_RUN" "$RATE" > "$T/run.txt" &
  local client=$!
  sleep $((SECONDS_RUN / 2))
  curl -s -o /dev/null -u "admin:$PW" \
    "http://127.0.0.1:$port/admin/metadata?mount=/live&mode=updinfo&song=mark-$(date +%s%N)"
  wait $client
  after=$(cpu_ticks "$pid")
  out() { awk -v k="$1" '$1 == k { print $2 }' "$T/run.txt"; }
  printf "%-8s %6s %9s %9s %8s %12s %9s %9s %9s\n" "$name" "$count" "$(out connected)" \
    "$(out listeners_with_underrun)" "$(out mbytes_per_second)" \
    "$(awk -v a="$after" -v b="$before" -v s="$SECONDS_RUN" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", (a - b) / hz / s * 100 }')" \
    "$(out metadata_delay_ms_median)" "$(out metadata_delay_ms_p95)" "$(out marks_seen)"
  sleep 2
}

echo "# $(nproc) cores; ${SECONDS_RUN} s per run; 128 kbit/s MP3; icy-metaint 16000 on both"
printf "%-8s %6s %9s %9s %8s %12s %9s %9s %9s\n" server N connected underrun MB/s \
  "server-cpu%" "meta-p50" "meta-p95" "marks"
for n in "${COUNTS[@]}"; do
  run echod "$EPORT" /radio/live "$ECHOD_PID" "$n"
  run icecast2 "$IPORT" /live "$ICE_PID" "$n"
done
