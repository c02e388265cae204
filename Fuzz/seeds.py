#!/usr/bin/env python3
"""Writes the committed seed corpora, Corpus/<target>/<name>: a few real frames, lines and
messages per target, encoded the way each target reads its input (see Sources/TetherFuzzTargets).
Run from anywhere: python3 Fuzz/seeds.py. Regression inputs (Corpus/<target>/regression-*) are
kept as found and not written here."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")


def write(target, name, data):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def frame(type_, flags, stream, length, payload=b""):
    return struct.pack(">BBHII", 0, type_, flags, stream, length) + payload


SYN, ACK, FIN, RST = 1, 2, 4, 8

# frames: payload-limit index (4 = 4096), cut count, cuts, then the stream.
opening = frame(1, SYN, 1, 0) + frame(0, 0, 1, 5, b"hello") + frame(1, ACK, 2, 0)
closing = frame(0, FIN, 1, 3, b"bye") + frame(1, RST, 3, 0) + frame(2, SYN, 0, 7) + frame(3, 0, 0, 0)
write("frames", "open-data-ack", bytes([4, 0]) + opening)
write("frames", "fin-rst-ping-goaway-split", bytes([4, 3, 0, 1, 0, 13, 0, 30]) + closing)
write("frames", "too-large", bytes([2, 0]) + frame(0, 0, 1, 17, b"x" * 17))
write("frames", "bad-version", bytes([4, 0]) + frame(0, 0, 1, 0)[:0] + b"\x01" + frame(2, 0, 0, 0)[1:])

# session: setup byte (bit 0 server, bit 1 lazy owner, 2 auto-tuning, 3 keepalive, 4 tight
# limits, ...), then operations (see SessionFuzz.Harness.step).
def peer(type_, flags, stream_choice, extra=b"", cuts=0):
    return bytes([0, type_, flags, 1, stream_choice]) + extra + bytes([0, 3, 0, 9, cuts])


OPEN, ACCEPT, SEND, CLOSE, RESET, READ, RELEASE, TICK, TAKES, BLOCK, PING, GOAWAY, BAD = range(6, 19)
client_stream = (
    bytes([0x10, OPEN, SEND, 0, 3, 7, 0, 50, 1])  # open stream 1, send 1000 bytes with FIN
    + peer(1, ACK, 1, struct.pack(">I", 0) + bytes([0]))  # WindowUpdate|ACK on 1, delta 0
    + peer(0, 0, 1, bytes([3]), cuts=2)  # 100 bytes of Data on 1, in three chunks
    + bytes([READ, 0, 0, TAKES])
    + peer(0, FIN, 1, bytes([0]))  # FIN
    + bytes([RELEASE, 0])
)
write("session", "client-stream", client_stream)
server_accept = (
    bytes([0x01])
    + peer(1, SYN, 1, struct.pack(">I", 0) + bytes([4]))  # the peer opens 1 with 256 KiB more
    + bytes([ACCEPT, SEND, 0, 7, 9, 0, 0, 2])  # accept, send 300 000 bytes
    + peer(0, 0, 1, bytes([8]))  # 262 144 bytes of Data
    + bytes([READ, 0, 1, TICK, 3, TAKES, PING, TICK, 6])
)
write("session", "server-accept-window", server_accept)
write("session", "ping-flood-blocked", bytes([0x31, BLOCK]) + peer(2, SYN, 0, struct.pack(">I", 9) + bytes([1])) * 12)
write("session", "goaway-and-bad-header", bytes([0x00, OPEN]) + peer(3, 0, 0, struct.pack(">I", 0) + bytes([0]))
      + bytes([OPEN, BAD]) + b"\x00\x09" + bytes(10))

# handshake: lines as plugins print them.
write("handshake", "unix", "1|4|unix|/tmp/plugin-1/socket|tether|\n")
write("handshake", "tcp-versions", "1|2|tcp|127.0.0.1:40123|tether||versions=1,2, 3\n")
write("handshake", "go-plugin-grpc", "1|1|tcp|127.0.0.1:1234|grpc|MIIB\n")
write("handshake", "five-fields", "1|3|unix|/s|tether")

# msgpack: limits index, then one value.
write("msgpack", "map", bytes([0, 0x83, 0xa2]) + b"id" + bytes([0x2a, 0xa4]) + b"name" + bytes([0xa3]) + b"abc"
      + bytes([0xa6]) + b"scores" + bytes([0x92, 0xcb]) + struct.pack(">d", 1.5) + bytes([0xca]) + struct.pack(">f", 2.0))
write("msgpack", "timestamp-bin-ext", bytes([0, 0x93, 0xd6, 0xff]) + struct.pack(">I", 1_700_000_000)
      + bytes([0xc4, 3, 1, 2, 3, 0xd5, 7, 0, 0]))
write("msgpack", "nested-tight", bytes([1]) + bytes([0x91] * 5) + bytes([0xc0]))
write("msgpack", "enum", bytes([2, 0x81, 0xa4]) + b"pair" + bytes([0x82, 0xa2]) + b"_0" + bytes([0xa1]) + b"x"
      + bytes([0xa4]) + b"flag" + bytes([0xc3]))

# envelope: setup byte (limit index, signature = setup >> 2 mod 6), cut count, cuts, stream.
def message(body):
    return struct.pack(">I", len(body)) + body


call = message(bytes([0x95, 0x01, 0xc0, 0xb0]) + b"KeyValue.get(_:)" + bytes([0xcd, 0x13, 0x88, 0x92, 0xa3]) + b"key"
               + bytes([0x2a]))
result = message(bytes([0x92, 0x03, 0xa2]) + b"ok")
failure = message(bytes([0x94, 0x04, 0xa9]) + b"FuzzError" + bytes([0xa4]) + b"oops" + bytes([0xc0]))
write("envelope", "call-result", bytes([3, 1, 0, 7]) + call + result)
write("envelope", "failure", bytes([2, 0]) + failure)
write("envelope", "item-then-bytes", bytes([3 | 4, 0]) + message(bytes([0x92, 0x02, 0xc4, 2, 9, 9])) + b"raw")

# hclog: line limit index, cut count, cuts, stderr.
hclog = (b'{"@level":"info","@message":"listening","@module":"kv","@timestamp":"2024-01-01T00:00:00.000Z"}\n'
         b'{"@level":"error","@message":"boom","err":{"code":3,"list":[1,2.5,null,true]}}\n'
         b"[WARN] plain warning\npanic: oh no\n")
write("hclog", "go-plugin-stderr", bytes([3, 2, 0, 40, 0, 120]) + hclog)
write("hclog", "long-line", bytes([1, 0]) + "é€😀 ".encode() * 10 + b"\n" + b"no newline")
