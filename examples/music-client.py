#!/usr/bin/env python3
"""A music WebSocket client for echod, standard library only: what a bot or web player does.

  music-client.py URL SESSION_ID [--user USER] [--token TOKEN] [--seconds N] [--drift MS]

It connects to URL (ws://HOST:PORT/api/music/ws), learns the server's clock with the NTP-style
music:time exchange, joins the session, prints every event, and plays along: it keeps its own
position from the session's timeline (startedAt/offsetMs on the server clock) and reports it in
music:heartbeat every 2 s. --drift MS makes it a misbehaving player that runs MS ahead, so the
server answers with music:sync_command (seek beyond 500 ms, resync beyond 3 s). Credentials:
--token is sent as "Authorization: Bearer TOKEN" (the host token, with --user as X-Echo-User,
or a user JWT without --user).
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.parse


class Socket:
    """RFC 6455 client: text frames only, masked as clients must."""

    def __init__(self, url, headers):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                 f"Host: {parts.hostname}:{parts.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"] + [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise SystemExit("echod closed the connection during the handshake")
            head += chunk
        status = head.split(b"\r\n")[0].decode()
        if " 101 " not in status:
            raise SystemExit(f"no WebSocket: {status}")
        self.buffer = b""

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self, timeout):
        """The next text message as a dict, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                b0, b1 = self._read(2)
                length = b1 & 0x7F
                if length == 126:
                    length = struct.unpack(">H", self._read(2))[0]
                elif length == 127:
                    length = struct.unpack(">Q", self._read(8))[0]
                payload = self._read(length)
                opcode = b0 & 0x0F
                if opcode == 0x8:
                    raise EOFError
                if opcode == 0x9:                      # ping: answer pong
                    self.sock.sendall(bytes([0x8A, 0x80]) + os.urandom(4))
                    continue
                if opcode == 0x1:
                    return json.loads(payload)
        except socket.timeout:
            return None


def now_ms():
    return time.time() * 1000.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("session")
    parser.add_argument("--user")
    parser.add_argument("--token", default=os.environ.get("ECHO_TOKEN", ""))
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--drift", type=float, default=0, help="run this many ms ahead")
    args = parser.parse_args()

    headers = {"Authorization": f"Bearer {args.token}"}
    if args.user:
        headers["X-Echo-User"] = args.user
    ws = Socket(args.url, headers)

    # the server's clock: keep the exchange with the shortest round trip of eight
    best = None
    for _ in range(8):
        t0 = now_ms()
        ws.send({"type": "music:time", "t0": t0})
        reply = ws.receive(5)
        t3 = now_ms()
        if reply is None or reply.get("type") != "music:time":
            raise SystemExit(f"no music:time reply: {reply}")
        offset = ((reply["t1"] - t0) + (reply["t2"] - t3)) / 2
        rtt = (t3 - t0) - (reply["t2"] - reply["t1"])
        if best is None or rtt < best[1]:
            best = (offset, rtt)
    offset = best[0]
    print(f"clock: server - client = {offset:+.3f} ms (round trip {best[1]:.3f} ms)", flush=True)

    def server_now():
        return now_ms() + offset

    ws.send({"type": "music:join_session", "sessionId": args.session})
    state = {}
    end = time.time() + args.seconds
    next_heartbeat = time.time() + 2
    while time.time() < end:
        try:
            event = ws.receive(max(0.05, min(next_heartbeat, end) - time.time()))
        except EOFError:
            print("echod closed the connection", flush=True)
            break
        if event is not None:
            kind = event.pop("type")
            if kind in ("music:session_state", "music:now_playing", "music:control_ack"):
                state.update({k: event[k] for k in ("state", "startedAt", "offsetMs")
                              if k in event})
            if kind == "music:session_state":
                track = event.get("currentTrack") or {}
                print(f"{kind}: {event['state']} \"{track.get('title', '-')}\" "
                      f"offset {event['offsetMs']} ms, version {event['version']}", flush=True)
            elif kind == "music:queue_updated":
                titles = [f"{i['track']['title']} ({i['votes']:+d})" for i in event["queue"]]
                print(f"{kind}: {titles}", flush=True)
            else:
                print(f"{kind}: {json.dumps(event, sort_keys=True)[:200]}", flush=True)
            if kind == "music:sync_command":
                args.drift = 0          # a real player seeks (or pauses and resyncs) here
        if time.time() >= next_heartbeat:
            next_heartbeat = time.time() + 2
            if state.get("state") == "PLAYING" and state.get("startedAt") is not None:
                position = state["offsetMs"] + (server_now() - state["startedAt"]) + args.drift
                ws.send({"type": "music:heartbeat", "sessionId": args.session,
                         "clientOffset": position, "drift": args.drift,
                         "clientTime": server_now()})
                print(f"heartbeat: at {position:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
