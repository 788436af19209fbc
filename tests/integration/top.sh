#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# flowtap top on a veth pair. Two paced UDP senders, one many small
# datagrams and one few large ones, so that bit rate and packet rate order
# them differently:
#  - `top --once --json` shows their packet and bit rates within 20%, in
#    the order of --sort; once they stop, exact cumulative counts;
#  - the interactive view, driven in tmux (a private server) and read with
#    capture-pane, shows both flow lines, re-sorts on 'p', switches to
#    interfaces on 'i', redraws on a resize, and quits on 'q' with the
#    terminal as it was;
#  - under `flowtap run` deleting ended flows, a flow re-created after its
#    deletion starts over: the deltas add up to exactly what was sent and no
#    rate is out of bounds.
. "$(dirname "$0")/../lib.sh"
T=$FT_TMP

ft_require_root
ft_require_cmd jq python3 tmux
"$FT_BIN" top --help >/dev/null 2>&1 || ft_skip_all "this flowtap has no top command"

# Flow X: many small datagrams; flow Y: few large ones (frames: +42 bytes).
X_SPORT=41000 X_PPS=200 X_N=2400 X_PAYLOAD=20 X_FRAME=62
Y_SPORT=41001 Y_PPS=50 Y_N=600 Y_PAYLOAD=1000 Y_FRAME=1042

# pace NS DST SPORT DPORT PPS COUNT PAYLOAD: COUNT datagrams, PPS a second.
pace() {
	ft_ns "$1" python3 -c '
import socket, sys, time
dst = sys.argv[1]
sport, dport, pps, n, size = map(int, sys.argv[2:])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
t0 = time.monotonic()
for i in range(n):
    s.sendto(b"x" * size, (dst, dport))
    d = t0 + (i + 1) / pps - time.monotonic()
    if d > 0:
        time.sleep(d)
' "$2" "$3" "$4" "$5" "$6" "$7"
}

top_a() { ft_flowtap A top -i "$FT_IF_A" "$@"; }

# jcheck NAME FILE JQ-EXPR: PASS when the expression is true for FILE.
jcheck() {
	if jq -e "$3" "$2" >/dev/null 2>&1; then
		ft_pass "$1"
	else
		ft_fail "$1" "$(jq -c "$4" "$2" 2>/dev/null | head -c 600)"
	fi
}

row() { # SPORT: jq selecting that flow's egress row
	echo ".rows[] | select(.direction == \"egress\" and .proto == \"udp\" and .sport == $1)"
}

ft_netns_pair || {
	ft_fail setup "cannot create namespaces"
	exit 1
}
ft_on_exit "ft_flowtap A detach --all"
ft_flowtap A attach "$FT_IF_A" >/dev/null || {
	ft_fail setup "attach $FT_IF_A failed"
	exit 1
}
# Neighbours first: ARP is not what is measured.
ft_ns A ping -c1 -W2 "$FT_IP4_B" >/dev/null

# ---- errors ----
out=$(top_a 2>&1 </dev/null)
rc=$?
case "$rc:$out" in
1:*"not a terminal"*) ft_pass not_a_terminal ;;
*) ft_fail not_a_terminal "exit $rc: $out" ;;
esac
out=$(ip netns exec "$FT_NS_A" env FLOWTAP_PIN_ROOT="$T/none" "$FT_BIN" top --once 2>&1)
rc=$?
case "$rc:$out" in
1:*"no flowtap state"*) ft_pass nothing_attached ;;
*) ft_fail nothing_attached "exit $rc: $out" ;;
esac

# ---- rates while the senders run ----
ft_bg pace A "$FT_IP4_B" $X_SPORT 9000 $X_PPS $X_N $X_PAYLOAD
X_PID=$FT_LAST_PID
ft_bg pace A "$FT_IP4_B" $Y_SPORT 9001 $Y_PPS $Y_N $Y_PAYLOAD
Y_PID=$FT_LAST_PID
sleep 1.5

J=$T/rates.json
top_a --once --json >"$J"
X=$(row $X_SPORT) Y=$(row $Y_SPORT)
jcheck json_pps "$J" "[$X | .pps >= $X_PPS * 0.8 and .pps <= $X_PPS * 1.2] == [true] and
	[$Y | .pps >= $Y_PPS * 0.8 and .pps <= $Y_PPS * 1.2] == [true]" "[$X, $Y | [.sport, .pps]]"
jcheck json_bps "$J" "[$X | .bps >= $X_PPS * $X_FRAME * 8 * 0.8 and .bps <= $X_PPS * $X_FRAME * 8 * 1.2] == [true] and
	[$Y | .bps >= $Y_PPS * $Y_FRAME * 8 * 0.8 and .bps <= $Y_PPS * $Y_FRAME * 8 * 1.2] == [true]" \
	"[$X, $Y | [.sport, .bps]]"
jcheck json_delta_matches_rate "$J" ".interval as \$i | [$X | (.packets_delta / \$i - .pps) | fabs < 0.001] == [true]" \
	"[$X | [.packets_delta, .pps]], .interval"
jcheck json_sort_bps "$J" "[.rows[] | select(.proto == \"udp\")][0].sport == $Y_SPORT" "[.rows[] | [.sport, .bps]]"
jcheck json_totals "$J" ".totals.egress.pps >= ($X_PPS + $Y_PPS) * 0.8 and
	.totals.classes.udp.pps >= ($X_PPS + $Y_PPS) * 0.8 and .totals.flows_active >= 2" ".totals.egress"
top_a --once --json --sort pps >"$T/pps.json"
jcheck json_sort_pps "$T/pps.json" "[.rows[] | select(.proto == \"udp\")][0].sport == $X_SPORT" \
	"[.rows[] | [.sport, .pps]]"
top_a --once --json --by iface >"$T/iface.json"
jcheck json_by_iface "$T/iface.json" ".rows | length == 1 and .[0].iface == \"$FT_IF_A\" and
	.[0].egress.pps >= ($X_PPS + $Y_PPS) * 0.8 and .[0].egress.pps <= ($X_PPS + $Y_PPS) * 1.2" ".rows"

# ---- the interactive view, in tmux ----
TM=(tmux -S "$T/tmux.sock" -f /dev/null)
ft_on_exit "tmux -S $T/tmux.sock kill-server"
cat >"$T/in-tmux.sh" <<EOF
stty -g >"$T/stty.before"
ip netns exec "$FT_NS_A" env FLOWTAP_PIN_ROOT="$(ft_bpffs "$FT_NS_A")/flowtap" \
	LIBXDP_BPFFS="$(ft_bpffs "$FT_NS_A")" "$FT_BIN" top -i "$FT_IF_A"
rc=\$?
# Saved before the line the test waits for, so it is complete when read.
stty -g >"$T/stty.after"
echo "top exited \$rc"
exec sleep 600
EOF
"${TM[@]}" new-session -d -s top -x 160 -y 40 "sh $T/in-tmux.sh"

screen() { "${TM[@]}" capture-pane -p -t top >"$T/screen" 2>/dev/null; }
line_of() { grep -nE "$1" "$T/screen" | head -1 | cut -d: -f1; }
# wait_screen EXPR: until the screen matches the grep -E expression (5 s).
wait_screen() {
	for _ in $(seq 50); do
		screen && grep -qE "$1" "$T/screen" && return 0
		sleep 0.1
	done
	return 1
}
# wait_order UPPER LOWER: until UPPER's line is above LOWER's (5 s).
wait_order() {
	local a b
	for _ in $(seq 50); do
		screen
		a=$(line_of "$1") b=$(line_of "$2")
		[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] && return 0
		sleep 0.1
	done
	return 1
}
XL="198\.18\.0\.1:$X_SPORT +198\.18\.0\.2:9000 " YL="198\.18\.0\.1:$Y_SPORT +198\.18\.0\.2:9001 "

if wait_screen "$XL" && wait_screen "$YL"; then
	ft_pass tmux_flow_lines
else
	ft_fail tmux_flow_lines "screen: $(head -c 1500 "$T/screen")"
fi
if grep -q "sort: bit rate" "$T/screen" && wait_order "$YL" "$XL"; then
	ft_pass tmux_sorted_by_bit_rate
else
	ft_fail tmux_sorted_by_bit_rate "screen: $(head -c 1500 "$T/screen")"
fi
"${TM[@]}" send-keys -t top p
if wait_screen "sort: packet rate" && wait_order "$XL" "$YL"; then
	ft_pass tmux_sort_key
else
	ft_fail tmux_sort_key "screen: $(head -c 1500 "$T/screen")"
fi
"${TM[@]}" send-keys -t top i
if wait_screen "by iface" && wait_screen "^IFACE +BIT/S .*RX BIT/S" && wait_screen "^$FT_IF_A +[0-9.]+[kM]b "; then
	ft_pass tmux_by_iface
else
	ft_fail tmux_by_iface "screen: $(head -c 1500 "$T/screen")"
fi
"${TM[@]}" send-keys -t top f
"${TM[@]}" resize-window -t top -x 100 -y 30
if wait_screen "^flowtap top .*by flow" && [ "$(wc -l <"$T/screen")" -eq 30 ] &&
	sed -n 30p "$T/screen" | grep -q "^q quit" && wait_screen "$XL"; then
	ft_pass tmux_resize
else
	ft_fail tmux_resize "screen ($(wc -l <"$T/screen") lines): $(head -c 1500 "$T/screen")"
fi
"${TM[@]}" send-keys -t top q
if wait_screen "^top exited 0" && ! grep -q "^flowtap top" "$T/screen"; then
	ft_pass tmux_quit
else
	ft_fail tmux_quit "screen: $(head -c 1500 "$T/screen")"
fi
if [ -s "$T/stty.before" ] && cmp -s "$T/stty.before" "$T/stty.after"; then
	ft_pass tmux_terminal_restored
else
	ft_fail tmux_terminal_restored "stty before '$(cat "$T/stty.before")' after '$(cat "$T/stty.after" 2>/dev/null)'"
fi

# ---- exact counts once the senders are done ----
wait "$X_PID" "$Y_PID"
sleep 0.2
top_a --once --json --all >"$T/final.json"
jcheck json_exact_counts "$T/final.json" "[$X | [.packets, .bytes, .pps]] == [[$X_N, $((X_N * X_FRAME)), 0]] and
	[$Y | [.packets, .bytes, .pps]] == [[$Y_N, $((Y_N * Y_FRAME)), 0]]" "[$X, $Y | [.sport, .packets, .bytes, .pps]]"
top_a --once >"$T/final.txt"
if grep -qE "^$FT_IF_A +egress +udp +198\.18\.0\.1:$X_SPORT +198\.18\.0\.2:9000 +0b +0 +$((X_N * X_FRAME)) +$X_N( |$)" "$T/final.txt"; then
	ft_pass once_text
else
	ft_fail once_text "$(head -c 1500 "$T/final.txt")"
fi

# ---- a collector deletes ended flows; a re-created one starts over ----
if "$FT_BIN" run --help 2>&1 | grep -q "not available"; then
	ft_skip recreated_flow "this flowtap has no run command"
	ft_done
fi
printf 'interval = 1s\nidle_timeout_udp = 1s\n' >"$T/run.conf"
# Commands, not shell functions, in the background: their PIDs are flowtap's.
IN_A=(ip netns exec "$FT_NS_A" env FLOWTAP_PIN_ROOT="$(ft_bpffs "$FT_NS_A")/flowtap"
	LIBXDP_BPFFS="$(ft_bpffs "$FT_NS_A")" "$FT_BIN")
ft_bg "${IN_A[@]}" run -i "$FT_IF_A" --config "$T/run.conf" >"$T/run.out" 2>"$T/run.err"
RUN_PID=$FT_LAST_PID
for _ in $(seq 50); do grep -q collecting "$T/run.out" 2>/dev/null && break; sleep 0.1; done
ft_bg "${IN_A[@]}" top -i "$FT_IF_A" --json -d 0.5 >"$T/stream.jsonl"
TOP_PID=$FT_LAST_PID
sleep 0.7
pace A "$FT_IP4_B" 42000 9002 100 100 100
sleep 3.5 # past the idle timeout and an interval: the collector deletes the entry
pace A "$FT_IP4_B" 42000 9002 100 50 100
sleep 1.5
kill "$TOP_PID" "$RUN_PID" 2>/dev/null
wait "$TOP_PID" "$RUN_PID" 2>/dev/null
R=$(row 42000)
# Complete lines only: a line cut short by the kill must not void the rest.
S=$T/stream.ok.jsonl
jq -c -R 'fromjson? // empty' "$T/stream.jsonl" >"$S"
if ! grep -q collecting "$T/run.out"; then
	ft_fail recreated_flow "flowtap run did not start: $(cat "$T/run.err")"
	ft_done
fi
# Every packet once: the first incarnation's 100, then the new one's 50.
expect_sum=$(jq -s "[.[] | $R | .packets_delta] | add" "$S")
ft_expect recreated_flow_deltas "$expect_sum" 150
ft_expect recreated_flow_starts_over "$(jq -s "[.[] | $R | .packets] | last" "$S")" 50
ft_expect recreated_flow_rates_bounded "$(jq -s "[.[] | $R | select(.pps < 0 or .pps > 150 or .bps < 0)] | length" "$S")" 0
ft_done
