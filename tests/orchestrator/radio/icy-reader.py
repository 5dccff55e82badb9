#!/usr/bin/python3
# icy-reader.py: a radio listener for the tests. Connects to 127.0.0.1:PORT, sends
# GET PATH (with Icy-MetaData: 1 unless --plain), reads for SECONDS, and prints what it got:
#   status CODE / header NAME: VALUE / title SECONDS TEXT (each in-band metadata block that
#   is not empty, with the time it arrived) / audio BYTES
# The audio (metadata removed) goes to OUT. Every metadata block is checked: its length byte
# times 16 bytes, text zero-padded. --rcvbuf N and --no-read make a slow listener.
import socket, sys, time, argparse

p = argparse.ArgumentParser()
p.add_argument('port', type=int)
p.add_argument('path')
p.add_argument('seconds', type=float)
p.add_argument('out')
p.add_argument('--plain', action='store_true')
p.add_argument('--rcvbuf', type=int, default=0)
p.add_argument('--no-read', action='store_true')
a = p.parse_args()

s = socket.socket()
if a.rcvbuf:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
s.connect(('127.0.0.1', a.port))
s.sendall(('GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: icy-reader\r\n%s\r\n'
           % (a.path, '' if a.plain else 'Icy-MetaData: 1\r\n')).encode())
start = time.monotonic()
if a.no_read:
    time.sleep(a.seconds)
    sys.exit(0)
s.settimeout(0.5)
buf = b''
while b'\r\n\r\n' not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, rest = buf.partition(b'\r\n\r\n')
lines = head.decode('latin-1').split('\r\n')
print('status', lines[0].split(' ')[1] if len(lines[0].split(' ')) > 1 else '?')
metaint = 0
for line in lines[1:]:
    name, _, value = line.partition(':')
    print('header %s: %s' % (name.strip().lower(), value.strip()))
    if name.strip().lower() == 'icy-metaint':
        metaint = int(value)
audio = bytearray()
closed = False
data = bytearray(rest)
to_meta = metaint
while True:
    # consume what is buffered
    while data:
        if metaint == 0:
            audio += data
            data = bytearray()
        elif to_meta > 0:
            n = min(to_meta, len(data))
            audio += data[:n]
            del data[:n]
            to_meta -= n
        else:
            length = data[0] * 16
            if len(data) < 1 + length:
                break
            block = bytes(data[1:1 + length])
            del data[:1 + length]
            to_meta = metaint
            if length:
                text = block.rstrip(b'\0')
                if b'\0' in text:
                    print('bad-block', repr(block))
                print('title %.3f %s' % (time.monotonic() - start,
                                         text.decode('utf-8', 'replace')))
                sys.stdout.flush()
    if time.monotonic() - start >= a.seconds:
        break
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    except ConnectionError:
        closed = True
        break
    if not d:
        closed = True
        break
    data += d
open(a.out, 'wb').write(audio)
print('audio', len(audio))
print('closed', 'yes' if closed else 'no')
