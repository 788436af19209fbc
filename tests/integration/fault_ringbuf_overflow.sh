#!/usr/bin/env bash
# Fault: the HTTP sample ring buffer overflows. Without a reader, exactly
# the samples that did not fit are counted lost, and the ones that did are
# all still delivered: delivered + lost = requests. Under a flood with the
# collector running (and stalled for a while with SIGSTOP, so the ring
# surely fills), the metrics endpoint keeps answering within 1 s, and the
# losses agree everywhere they are reported: `flowtap stats`, the
# collector's interval summaries and the metrics.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq python3 curl
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

RING=262144 # ft_http_rb
REC=192	    # 8-byte header + struct ft_http_event (184), 8-aligned
FIT=$((RING / REC))

# flood IFACE COUNT: COUNT TCP segments, each starting an HTTP GET.
cat >"$FT_TMP/flood.py" <<'EOF'
import socket, struct, sys

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
eth = b"\x02\xee\xee\xee\xee\xee\x02\x00\x00\x00\x00\x01\x08\x00"
src, dst = bytes([198, 18, 3, 1]), bytes([198, 18, 3, 2])
for i in range(int(sys.argv[2])):
    p = b"GET /flood/%07d HTTP/1.1\r\nHost: x\r\n\r\n" % i
    tcp = struct.pack("!HHIIBBHHH", 40000 + i % 1000, 80, i, 0, 5 << 4, 0x18, 65535, 0, 0) + p
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst)
    s.send(eth + ip + tcp)
EOF

ns=ftt-$$-rb
ft_netns_add "$ns" || {
	ft_fail setup "cannot create a namespace"
	exit 1
}
ft_on_exit "ft_flowtap $ns detach --all"
ip -n "$ns" link add rb0 type veth peer name rb1 || {
	ft_fail setup "cannot create a veth pair"
	exit 1
}
for d in rb0 rb1; do
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1"
	ip -n "$ns" link set "$d" up
done
FS=$(ft_bpffs "$ns")

flood() {
	ft_ns "$ns" python3 "$FT_TMP/flood.py" rb0 "$1"
}

# counter NAME: an egress counter of rb0 (http GET packets for "GET").
counter() {
	ft_flowtap "$ns" stats --json -i rb0 | jq -r --arg c "$1" '[.[] | select(.direction == "egress")
		| select(.counter == $c or .method == $c) | (.value // .packets)] | add // 0'
}

# --- no reader: the ring keeps what fits, every other sample is counted ---
ft_flowtap "$ns" attach rb0 --tc || {
	ft_fail attach "attach failed"
	ft_done
}
N=5000
flood $N
lost=$(counter http_samples_lost)
ft_expect noreader_requests "$(counter GET)" $N
ft_expect noreader_lost "$lost" $((N - FIT))
got=$(ft_ns "$ns" timeout 10 "$FT_BIN" http --json -c $FIT | wc -l)
ft_expect noreader_delivered_plus_lost "$((got + lost))" $N
ft_flowtap "$ns" detach --all

# --- the collector under a flood, stalled for a while ---
port=19477
mlog=$FT_TMP/metrics.log
# Started without a shell function around it, so the PID is flowtap's.
ft_bg ip netns exec "$ns" env FLOWTAP_PIN_ROOT="$FS/flowtap" LIBXDP_BPFFS="$FS" "$FT_BIN" run \
	-i rb0 --interval 1 --metrics 127.0.0.1:$port >"$FT_TMP/run.out" 2>&1
run=$FT_LAST_PID
# Attached and serving (the endpoint may come up before the attach).
for _ in $(seq 100); do
	ft_flowtap "$ns" status --json 2>/dev/null | jq -e 'length == 1' >/dev/null &&
		ft_ns "$ns" curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port/metrics" && break
	sleep 0.1
done

# scrape: one timed scrape; appends "code seconds" to mlog.
scrape() {
	ft_ns "$ns" curl -s -m 5 -o "$FT_TMP/scrape" -w "%{http_code} %{time_total}\n" \
		"http://127.0.0.1:$port/metrics" >>"$mlog"
}

flood 100000 &
fl=$!
for _ in 1 2 3 4 5; do
	scrape
	sleep 0.3
done
wait $fl
kill -STOP "$run"
flood $N # the ring fills: at least N - FIT of these are lost
kill -CONT "$run"
flood 100000 &
fl=$!
for _ in 1 2 3 4 5; do
	scrape
	sleep 0.3
done
wait $fl
sleep 2.5
scrape
slow=$(awk '$1 != 200 || $2 >= 1.0' "$mlog" | tr '\n' ' ')
ft_expect metrics_answer_within_1s "$slow" ""
echo "metrics scrape times: $(awk '{print $2}' "$mlog" | tr '\n' ' ')" >&2

total=$((200000 + N))
lost=$(counter http_samples_lost)
metric=$(awk '/^flowtap_ringbuf_lost_total\{ring="http"\}/ {print $2}' "$FT_TMP/scrape")
ft_expect flood_requests "$(counter GET)" $total
if [ "$lost" -ge $((N - FIT)) ]; then ft_pass flood_losses_counted; else
	ft_fail flood_losses_counted "$lost lost, want at least $((N - FIT)) (collector was stopped)"
fi
ft_expect metrics_report_losses "$metric" "$lost"

kill -TERM "$run"
wait "$run"
ft_expect collector_exit "$?" 0
summed=$(sed -n 's/.*LOSSES: .* \([0-9]*\) HTTP samples dropped.*/\1/p' "$FT_TMP/run.out" |
	awk '{s += $1} END {print s + 0}')
ft_expect summaries_report_losses "$summed" "$lost"
ft_done
