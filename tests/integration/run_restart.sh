#!/usr/bin/env bash
# flowtap run survives kill -9: the datapath stays attached and pinned,
# traffic while the daemon is down is counted, the restarted daemon goes on
# from the checkpoint without loss or double counting, adopts what its
# predecessor attached and detaches it at SIGTERM. Interfaces attached
# before a run (or left with --keep) are never detached by it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../run_lib.sh"

setup || { fail setup "cannot create namespaces"; exit 1; }
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null

# kill_run TAG: kill -9, as a crash would.
kill_run() {
	local pid
	pid=$(cat $T/$1.pid)
	kill -9 $pid
	wait $pid 2>/dev/null # our child: reaped here, quietly
	rm -f $T/$1.pid
}
sel='.direction=="egress" and .proto=="udp" and .sport==40000 and .dport==9999'
F=$T/flows.jsonl

# --- kill -9, traffic while down, restart: no loss, no double count ---
start_run d1 -i a0 --interval 1 --flow-log $F || { fail start "$(cat $T/d1.err)"; exit 1; }
ft_udp_send $A 198.18.0.2 40000 9999 100 100
sleep 2.5
expect before_crash "$(jsum $F "$sel" packets_delta)" 100
kill_run d1
expect crash_still_attached "$(ft status --json | jq length)" 1
ft_udp_send $A 198.18.0.2 40000 9999 50 100 # counted by the datapath alone
start_run d2 -i a0 --interval 1 --flow-log $F || fail restart "$(cat $T/d2.err)"
sleep 2.5
ft_udp_send $A 198.18.0.2 40000 9999 30 100
sleep 2.5
expect restart_flows_cumulative "$(ft flows --json | jq "[.[] | select($sel) | .packets] | add")" 180
expect restart_exact "$(jsum $F "$sel" packets_delta)/$(jsum $F "$sel" bytes_delta)" 180/25560
expect restart_attached_once "$(ft status --json | jq -c '[.[] | .iface]')" '["a0"]'
stop_run d2
expect restart_end_record "$(jq -sc "[.[] | select($sel and .end_reason != null) | [.end_reason, .packets]]" $F)" '[["forced",180]]'
# The restarted run adopted what its dead predecessor attached.
expect restart_detached "$(ft status --json | jq length)" 0
expect restart_unpinned "$(ls $BPF | grep -c flowtap)" 0

# --- attached before the run: used, never detached; a later run goes on
# from the checkpoint (the forced end at shutdown is not counted again) ---
ft attach a0 || fail preattach "attach failed"
F2=$T/flows2.jsonl
start_run d3 -i a0 --interval 1 --flow-log $F2 || fail preattached_start "$(cat $T/d3.err)"
ft_udp_send $A 198.18.0.2 40000 9999 10 100
sleep 1.5
stop_run d3
expect preattached_kept "$(ft status --json | jq -c '[.[] | .iface]')" '["a0"]'
expect preattached_counts "$(jsum $F2 "$sel" packets_delta)" 10
ft_udp_send $A 198.18.0.2 40000 9999 5 100 # while no run is there
F3=$T/flows3.jsonl
start_run d4 -i a0 --interval 1 --flow-log $F3 || fail second_start "$(cat $T/d4.err)"
sleep 1.5
stop_run d4
expect checkpoint_after_clean_stop "$(jsum $F3 "$sel" packets_delta)" 5
expect still_kept "$(ft status --json | jq length)" 1
ft detach --all
expect detach_all_cleans "$(ft status --json | jq length)/$(ls $BPF | grep -c flowtap)" 0/0

# --- --keep leaves the datapath; a later run does not take it over ---
start_run d5 -i a0 --interval 1 --keep || fail keep_start "$(cat $T/d5.err)"
sleep 0.3
stop_run d5
expect keep_attached "$(ft status --json | jq length)" 1
start_run d6 -i a0 --interval 1 --flow-log $T/f6.jsonl || fail keep_start2 "$(cat $T/d6.err)"
sleep 0.3
stop_run d6
expect keep_not_taken_over "$(ft status --json | jq length)" 1
ft detach --all
cat $T/d*.err | grep -v '^$' | head -3 | grep . && fail stderr_clean "see above" || pass stderr_clean
ft_done
