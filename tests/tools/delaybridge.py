#!/usr/bin/env python3
"""A userspace netem for kernels without sch_netem: forwards Ethernet frames
between two interfaces with AF_PACKET, delaying the A->B direction and
optionally dropping A->B TCP segments that carry data.

usage: delaybridge.py IF_A IF_B DELAY_MS [DROP_EVERY [MAX_DROPS]]
Runs until killed. Only for the test namespaces that created IF_A and IF_B.
"""
import heapq
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 3


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setblocking(False)
    return s


def tcp_payload_len(frame):
    """Length of the TCP payload of an untagged IPv4 frame, else 0."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return 0
    ihl = (frame[14] & 0x0F) * 4
    tot = struct.unpack("!H", frame[16:18])[0]
    if len(frame) < 14 + ihl + 13:
        return 0
    doff = (frame[14 + ihl + 12] >> 4) * 4
    return max(0, tot - ihl - doff)


def main():
    a, b = open_if(sys.argv[1]), open_if(sys.argv[2])
    delay = float(sys.argv[3]) / 1000.0
    drop_every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    max_drops = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    queue, seq, data_segs, dropped = [], 0, 0, 0
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        ready, _, _ = select.select([a, b], [], [], timeout)
        for s in ready:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                if s is b:
                    a.send(frame)
                    continue
                if drop_every and tcp_payload_len(frame):
                    data_segs += 1
                    if data_segs % drop_every == 0 and dropped < max_drops:
                        dropped += 1
                        continue
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            b.send(heapq.heappop(queue)[2])


if __name__ == "__main__":
    main()
