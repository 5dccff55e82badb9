#!/usr/bin/env bash
# Every icymetademux line from docs/elements/icymetademux.md, run as written against a
# private Icecast station on loopback ($ICECAST_URL). Build first (meson setup build &&
# ninja -C build); then: examples/icy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GST_PLUGIN_PATH_1_0=$PWD/build/plugins/icy
. scripts/icecast-sandbox.sh
icecast_sandbox_start /live.mp3
cd "$SANDBOX"
icecast_set_title "Fleetwood%20Mac%20-%20Don%27t%20Stop"
run() { echo; echo "\$ $*"; "$@"; }

# 1. A station: titles print as they arrive (-t); stop after 4 s
run timeout -s INT 4 gst-launch-1.0 -t souphttpsrc location="$ICECAST_URL" iradio-mode=true \
    ! icymetademux ! decodebin ! fakesink || true

# 2. A raw capture with its response head (curl -i): interval and station name come from it
run curl -si -H 'Icy-MetaData: 1' --max-time 4 -o capture.icy "$ICECAST_URL" || true
run gst-launch-1.0 -t filesrc location=capture.icy ! icymetademux ! decodebin ! fakesink

# 3. The same from standard input (curl stops itself after 4 s)
echo; echo "\$ curl -si -H 'Icy-MetaData: 1' --max-time 4 URL | gst-launch-1.0 -t fdsrc ! icymetademux ! decodebin ! fakesink"
{ curl -si -H 'Icy-MetaData: 1' --max-time 4 "$ICECAST_URL" || true; } \
    | gst-launch-1.0 -t fdsrc ! icymetademux ! decodebin ! fakesink

# 4. A capture without its head: say the interval (Icecast's default is 16000)
run curl -s -H 'Icy-MetaData: 1' --max-time 4 -o bare.icy "$ICECAST_URL" || true
run gst-launch-1.0 -t filesrc location=bare.icy ! icymetademux metadata-interval=16000 ! decodebin ! fakesink

# 5. Only the titles, as bus messages, without splitting artist and title
run timeout -s INT 4 gst-launch-1.0 -m souphttpsrc location="$ICECAST_URL" iradio-mode=true \
    ! icymetademux split-artist=false ! fakesink || true
