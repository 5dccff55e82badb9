#!/usr/bin/env bash
# The synchronized-playback lines from README.md and docs/elements/, run as written on one
# machine: a sender and two receivers, mDNS in a private network namespace with its own
# avahi-daemon (tests/lib/mdns-sandbox; needs root). Build first (meson setup build &&
# ninja -C build); then: examples/sync.sh
# Without a sound card, autoaudiosink falls back to a fake sink: echoclocksink then warns
# that it cannot correct drift, and still plays. The last receiver uses the simulated sound
# card of the tests to show the correction at work.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ -z "${ECHO_MDNS_SANDBOX:-}" ]; then
  exec tests/lib/mdns-sandbox "$0" "$@"
fi
export GST_PLUGIN_PATH_1_0=$root/build/plugins/sync:$root/build/tests/plugins/sim
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
run() { echo; echo "\$ $*"; "$@"; }

# something to send: 30 s of music-like test tone as Ogg Vorbis
gst-launch-1.0 -q audiotestsrc wave=ticks num-buffers=1300 ! audioconvert ! vorbisenc \
    ! oggmux ! filesink location=song.ogg

# 1. the sender
echo "\$ gst-launch-1.0 filesrc location=song.ogg ! decodebin ! audioconvert ! audioresample ! sharerelay session=demo &"
gst-launch-1.0 filesrc location=song.ogg ! decodebin ! audioconvert ! audioresample \
    ! sharerelay session=demo &
sleep 1

# 2. a receiver found by mDNS (stop after 5 s)
run timeout -s INT 5 gst-launch-1.0 echosyncsrc session=demo ! echoclocksink || true

# 3. without mDNS, with the device named (the test suite's simulated card, 250 ppm fast),
#    printing the sync statistics
run timeout -s INT 5 gst-launch-1.0 -m echosyncsrc uri=echo://127.0.0.1:5004/demo \
    ! echoclocksink device="echosimsink skew-ppm=250" | grep echo-sync-stats || true
