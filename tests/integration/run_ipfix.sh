#!/usr/bin/env bash
# flowtap run exporting IPFIX to a real collector: nfcapd (nfdump) receives
# the records and `nfdump -R` shows the flows with the exact packet counts
# and IP byte counts sent; a collector started later decodes new records
# thanks to the periodic template refresh over UDP; SIGTERM exports the
# open records (forced).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../run_lib.sh"

setup || { fail setup "cannot create namespaces"; exit 1; }
ft_require_cmd nfcapd nfdump ss
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null
ip netns exec $A ping -6 -c1 -W2 fd00::2 >/dev/null

# nfcapd_start TAG DIR: a collector on 127.0.0.1:4739 in namespace A.
nfcapd_start() {
	mkdir -p $2
	ip netns exec $A nfcapd -w $2 -p 4739 -b 127.0.0.1 -t 3600 >$T/$1.log 2>&1 &
	echo $! >$T/$1.nfpid
	FT_PIDS+=($!)
	for _ in $(seq 30); do
		ip netns exec $A ss -lun | grep -q 127.0.0.1:4739 && return 0
		sleep 0.1
	done
	return 1
}
nfcapd_stop() { # its file is complete once it exits
	local pid
	pid=$(cat $T/$1.nfpid)
	kill -TERM $pid
	for _ in $(seq 50); do kill -0 $pid 2>/dev/null || return 0; sleep 0.1; done
}
# nfsum DIR FILTER: packets/bytes of the matching flows.
nfsum() {
	nfdump -R $1 -o csv "$2" 2>/dev/null |
		awk -F, '$1 ~ /^[0-9][0-9][0-9][0-9]-/ {p += $12; b += $13} END {print p + 0 "/" b + 0}'
}
# nfcol DIR FILTER COLUMN: a column of the first matching flow.
nfcol() {
	nfdump -R $1 -o csv "$2" 2>/dev/null |
		awk -F, -v c=$3 '$1 ~ /^[0-9][0-9][0-9][0-9]-/ {print $c; exit}'
}

nfcapd_start n1 $T/nf1 || { fail nfcapd "cannot start: $(cat $T/n1.log)"; exit 1; }
printf '%s\n' 'interval = 1s' 'idle_timeout_udp = 2s' 'ipfix = 127.0.0.1:4739' \
	'ipfix_template_refresh = 1s' 'ipfix_domain = 42' >$T/run.conf
start_run d1 -i a0 --config $T/run.conf
if grep -q "without libfixbuf" $T/d1.err; then
	ft_skip_all "this flowtap was built without libfixbuf"
fi
[ -s $T/d1.pid ] || { fail start "$(cat $T/d1.err)"; exit 1; }
pass start

ft_udp_send $A 198.18.0.2 40000 9999 100 100
ft_udp_send $A fd00::2 40001 9998 50 200
sleep 4 # past the 2 s idle timeout: the records close and are exported
nfcapd_stop n1
# IPFIX octets are IP bytes: 100 x (20 + 8 + 100), 50 x (40 + 8 + 200).
expect ipfix_udp4_exact "$(nfsum $T/nf1 'proto udp and src port 40000 and dst port 9999')" 100/12800
expect ipfix_udp6_exact "$(nfsum $T/nf1 'inet6 and proto udp and src port 40001 and dst port 9998')" 50/12400
ifx=$(ip -n $A -j link show a0 | jq '.[0].ifindex')
expect ipfix_egress_interface "$(nfcol $T/nf1 'proto udp and dst port 9999' 17)" "$ifx"
expect ipfix_addresses "$(nfcol $T/nf1 'proto udp and dst port 9999' 4) $(nfcol $T/nf1 'proto udp and dst port 9999' 5)" "198.18.0.1 198.18.0.2"
grep -q "Observation domain 42" $T/n1.log && pass ipfix_domain || fail ipfix_domain "$(tail -3 $T/n1.log)"

# A new collector never saw the templates: the refresh sends them again.
nfcapd_start n2 $T/nf2 || fail nfcapd2 "cannot start"
sleep 1.5
ft_udp_send $A 198.18.0.2 40002 9997 30 100
sleep 0.5
# SIGTERM: the open record is exported, forced.
stop_run d1
nfcapd_stop n2
expect ipfix_refresh_and_forced "$(nfsum $T/nf2 'proto udp and dst port 9997')" 30/3840
expect ipfix_no_duplicates "$(nfsum $T/nf2 'proto udp and dst port 9999')" 0/0
expect detached "$(ft status --json | jq length)" 0
[ -s $T/d1.err ] && fail stderr_clean "$(head -3 $T/d1.err)" || pass stderr_clean
# Over TCP (nfcapd has none): a reader that decodes the message stream --
# version 10, templates before data, exact packets in flowtap's records.
# With --containers, a0 (its peer is in B) is a container veth: its records
# use the templates with the labels (interfaceName and enterprise elements,
# variable length).
ip netns exec $A python3 -c '
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 4740)); s.listen(1)
c, _ = s.accept(); buf = b""
while True:
    d = c.recv(65536)
    if not d: break
    buf += d
tmpl, pkts, bad, names, rst, hs = {}, 0, 0, set(), 0, 0
def record(f, body):
    """One data record: {(pen, ie): bytes} and its length."""
    r, p = {}, 0
    for pen, ie, l in f:
        if l == 65535:
            l = body[p]; p += 1
            if l == 255: l = struct.unpack("!H", body[p:p+2])[0]; p += 2
        r[(pen, ie)] = body[p:p+l]; p += l
    return r, p
while len(buf) >= 16:
    ver, mlen = struct.unpack("!HH", buf[:4])
    if ver != 10 or mlen < 16 or mlen > len(buf): bad += 1; break
    msg, buf = buf[16:mlen], buf[mlen:]
    while len(msg) >= 4:
        sid, slen = struct.unpack("!HH", msg[:4]); body, msg = msg[4:slen], msg[slen:]
        if sid == 2:
            while len(body) >= 4:
                tid, n = struct.unpack("!HH", body[:4]); body = body[4:]; f = []
                for _ in range(n):
                    ie, l = struct.unpack("!HH", body[:4]); body = body[4:]; pen = 0
                    if ie & 0x8000: pen = struct.unpack("!I", body[:4])[0]; body = body[4:]
                    f.append((pen, ie & 0x7fff, l))
                tmpl[tid] = f
        elif sid in tmpl:
            while body:
                r, used = record(tmpl[sid], body)
                if used > len(body): bad += 1; break
                body = body[used:]
                sp, dp = (int.from_bytes(r[(0, i)], "big") for i in (7, 11))
                if sp == 9994: # the RSTs of the closed port
                    rst += int.from_bytes(r.get((0, 220), b""), "big")
                if 9993 in (sp, dp): # handshake time, flowtap element 7
                    hs = max(hs, int.from_bytes(r.get((32473, 7), b""), "big"))
                if int.from_bytes(r[(0, 11)], "big") in (9995, 9996):
                    pkts += int.from_bytes(r[(0, 2)], "big")
                    if (0, 82) in r:
                        names.add(r[(0, 82)].decode() + "/" + r[(32473, 2)].decode())
        else: bad += 1
print(pkts, bad, sorted(tmpl), ",".join(sorted(names)) or "-", rst, hs)
' >$T/tcp.out 2>&1 &
FT_PIDS+=($!)
for _ in $(seq 30); do ip netns exec $A ss -ltn | grep -q 127.0.0.1:4740 && break; sleep 0.1; done
printf '%s\n' 'interval = 1s' 'idle_timeout_udp = 1s' 'ipfix = 127.0.0.1:4740' \
	'ipfix_transport = tcp' >$T/tcp.conf
start_run d2 -i a0 --containers --config $T/tcp.conf || fail ipfix_tcp_start "$(cat $T/d2.err)"
ft_udp_send $A 198.18.0.2 40003 9996 25 100
ft_udp_send $A fd00::2 40004 9995 15 100
# TCP: a connection B accepts (timed handshake) and one to a closed port
# (SYN answered by RST).
ip netns exec $B python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.2", 9993)); s.listen(1); s.settimeout(5)
c, _ = s.accept(); c.recv(16); c.close()
' &
FT_PIDS+=($!)
for _ in $(seq 30); do ip netns exec $B ss -ltn | grep -q 198.18.0.2:9993 && break; sleep 0.1; done
ip netns exec $A python3 -c '
import socket
c = socket.create_connection(("198.18.0.2", 9993), timeout=5); c.send(b"x"); c.close()
try:
    socket.create_connection(("198.18.0.2", 9994), timeout=5)
except ConnectionRefusedError:
    pass
'
sleep 3
stop_run d2
for _ in $(seq 30); do [ -s $T/tcp.out ] && break; sleep 0.1; done
read -r tpk tbad ttm tnames trst ths <<<"$(sed 's/, /,/g' $T/tcp.out)"
expect ipfix_tcp_stream "$tbad $ttm" "0 [12544,12545,12546,12547]"
expect ipfix_tcp_exact "$tpk" 40
expect ipfix_tcp_container_labels "$tnames" "a0/$B"
expect ipfix_tcp_rst_total_count "$trst" 1
if [ "${ths:-0}" -gt 0 ] 2>/dev/null; then pass ipfix_tcp_handshake_us; else
	fail ipfix_tcp_handshake_us "no flowtapTcpHandshakeMicroseconds in the records ($ths)"
fi

ft_done
