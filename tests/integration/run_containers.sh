#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# flowtap run following container veths. A namespace H plays the host and
# runs the collector; plain namespaces C1 and C2 play containers, each
# behind a veth whose host side is in H, and O plays the outside world
# behind nic0 (a veth H attaches with -i and the watcher excludes: the
# NIC). H routes between them. Checks:
#  - a veth created after the start is attached within 1 s;
#  - the JSON flow log carries the namespace label and container_direction,
#    and the exact packet and byte counts of UDP bursts sent from inside;
#  - the de-duplicated view: C1 -> C2 counts once (at C1's veth, from
#    the container), O -> C2 once (at C2's veth, not at the NIC), in the
#    flow log (dedup_counted) and in the syslog summary (dedup_pkts);
#  - syslog flow lines carry the labels, IPFIX records the enterprise
#    elements (decoded by a small collector in this script);
#  - removing a veth yields its final records (forced, with the packets
#    sent just before) and no errors, and the datapath forgets it;
#  - a restart (after kill -9, after --keep) adopts what is attached
#    instead of attaching twice; a clean stop detaches what the run owns;
#  - with podman (runc, busybox-static rootfs), a real container's id and
#    name in the flow log.
# Only 198.18.0.0/15 and fd00::/8 addresses, no default route.
. "$(dirname "$0")/../lib.sh"
FT=${FLOWTAP:-$FT_BIN}
T=$FT_TMP
H=ftc-$$-h C1=ftc-$$-c1 C2=ftc-$$-c2 O=ftc-$$-o
BPF=$T/bpf-$H # H's bpffs (ft_netns_add mounts it)

ft_require_root
ft_require_cmd jq python3 unshare tc
if ! $FT run --help 2>&1 | grep -q -- --no-containers; then
	ft_skip_all "this flowtap run does not follow containers"
fi

ft() { ip netns exec $H env FLOWTAP_PIN_ROOT=$BPF/flowtap LIBXDP_BPFFS=$BPF $FT "$@"; }

# veth HOSTSIDE NS N: a "container" NS behind HOSTSIDE, 198.18.N.0/24
# (host .1, container .2) and fd00:0:0:N::/64, routes to the other test
# subnets through the host only.
veth() {
	local hs=$1 ns=$2 n=$3
	ip -n $H link add $hs type veth peer name eth0 netns $ns || return 1
	ip -n $H addr add 198.18.$n.1/24 dev $hs && ip -n $ns addr add 198.18.$n.2/24 dev eth0 &&
		ip -n $H addr add fd00:0:0:$n::1/64 dev $hs nodad &&
		ip -n $ns addr add fd00:0:0:$n::2/64 dev eth0 nodad &&
		ip -n $H link set $hs up && ip -n $ns link set eth0 up &&
		ip -n $ns route add 198.18.0.0/16 via 198.18.$n.1
}

setup() {
	ft_netns_add $H && ft_netns_add $C1 && ft_netns_add $C2 && ft_netns_add $O || return 1
	ft_on_exit "ft detach --all"
	ip netns exec $H sysctl -qw net.ipv4.ip_forward=1 || return 1
	veth nic0 $O 3
}

filters() { # IFACE: flowtap's TC filters on it in H
	{
		tc -n $H filter show dev "$1" ingress
		tc -n $H filter show dev "$1" egress
	} 2>/dev/null | grep -c flowtap
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ms_until_attached IFACE: milliseconds until both filters are there.
ms_until_attached() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < 150; i++)); do
		[ "$(filters "$1")" = 2 ] && break
		sleep 0.02
	done
	echo $(($(now_ms) - t0))
}

# start_run TAG ARGS...: `flowtap run ARGS` in H, in a private mount
# namespace whose /dev/log is the test's listener (the host's /dev is never
# touched). The pid is in $T/TAG.pid once nic0 is attached.
start_run() {
	local tag=$1
	shift
	ip netns exec $H unshare -m --propagation private bash -c '
		T=$1; tag=$2; shift 2
		mkdir -p $T/hostdev && mount --rbind /dev $T/hostdev &&
			mount -t tmpfs -o mode=755 tmpfs /dev || exit 97
		for n in null zero full random urandom; do
			touch /dev/$n && mount --bind $T/hostdev/$n /dev/$n
		done
		touch /dev/log && mount --bind $T/devlog /dev/log
		echo $$ > $T/$tag.pid
		exec "$@"' sh $T $tag env FLOWTAP_PIN_ROOT=$BPF/flowtap LIBXDP_BPFFS=$BPF \
		$FT run "$@" >$T/$tag.out 2>$T/$tag.err &
	FT_PIDS+=($!)
	disown $! # no "Killed" notice from the shell after kill -9
	for _ in $(seq 100); do
		[ -s $T/$tag.pid ] && [ "$(filters nic0)" = 2 ] && return 0
		sleep 0.1
	done
	return 1
}

stop_run() { # TAG [SIGNAL]
	local pid
	pid=$(cat $T/$1.pid)
	kill -${2:-TERM} $pid 2>/dev/null
	for _ in $(seq 100); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	rm -f $T/$1.pid
}

# An IPFIX collector over UDP in H: decodes templates (enterprise elements
# included) and data records, one JSON object per record, keys "PEN/ID" or
# "ID", strings for variable-length elements, numbers for the others.
ipfix_listener() {
	ip netns exec $H python3 -c '
import json, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
out = open(sys.argv[2], "a", buffering=1)
tmpl = {}
while True:
    m = s.recv(65535)
    pos = 16
    while pos + 4 <= len(m):
        sid, slen = struct.unpack("!HH", m[pos:pos + 4])
        body, pos = m[pos + 4:pos + slen], pos + slen
        if slen < 4:
            break
        if sid == 2:
            p = 0
            while p + 4 <= len(body):
                tid, cnt = struct.unpack("!HH", body[p:p + 4]); p += 4
                fields = []
                for _ in range(cnt):
                    ie, ln = struct.unpack("!HH", body[p:p + 4]); p += 4
                    pen = 0
                    if ie & 0x8000:
                        pen = struct.unpack("!I", body[p:p + 4])[0]; p += 4
                    fields.append(("%d/%d" % (pen, ie & 0x7fff) if pen else str(ie), ln))
                tmpl[tid] = fields
        elif sid >= 256 and sid in tmpl:
            p = 0
            while p < len(body):
                rec = {"template": sid}
                try:
                    for name, ln in tmpl[sid]:
                        if ln == 65535:
                            ln = body[p]; p += 1
                            if ln == 255:
                                ln = struct.unpack("!H", body[p:p + 2])[0]; p += 2
                            rec[name] = body[p:p + ln].decode(errors="replace")
                        else:
                            rec[name] = int.from_bytes(body[p:p + ln], "big")
                        p += ln
                except IndexError:
                    break
                if p > len(body):
                    break
                out.write(json.dumps(rec) + "\n")
' "$1" "$2" &
	FT_PIDS+=($!)
	sleep 0.5
}

# jsum JQ-SELECT FIELD: sum of FIELD over the flow log records that match.
jsum() { jq -s "[.[] | select($1) | .$2] | add // 0" ${JSUM_FILE:-$T/flows.jsonl} 2>/dev/null; }
# jfirst JQ-SELECT EXPR: EXPR of the first matching record.
jfirst() { jq -s -r "[.[] | select($1)][0] | $2" $T/flows.jsonl 2>/dev/null; }
# slsum PATTERN KEY: sum of KEY=n over syslog lines matching PATTERN.
slsum() {
	grep -E "$1" ${SLSUM_FILE:-$T/syslog.txt} | grep -oE " $2=[0-9]+" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}

wait_intervals() { sleep "${1:-2.5}"; }

setup || { ft_fail setup "cannot create namespaces"; ft_done; }
ft_syslog_listener || { ft_fail setup "syslog listener"; ft_done; }
ip -n $H link set lo up
IPFIX_PORT=$((20000 + $$ % 20000))
ipfix_listener $IPFIX_PORT $T/ipfix.jsonl

cat >$T/run.conf <<EOF
interval = 1s
containers = yes
containers_exclude = nic*
syslog = yes
syslog_top = 50
syslog_max_lines = 1000
EOF

# --- the collector starts before any container ---
start_run r1 --config $T/run.conf -i nic0 --flow-log $T/flows.jsonl \
	--ipfix 127.0.0.1:$IPFIX_PORT ||
	{ ft_fail start "flowtap run did not attach nic0: $(tail -n2 $T/r1.err)"; ft_done; }

veth h1 $C1 1 || ft_fail setup "veth h1"
ms=$(ms_until_attached h1)
if [ "$ms" -le 1000 ]; then ft_pass attach_within_1s; else ft_fail attach_within_1s "${ms} ms"; fi
echo "attach latency h1: ${ms} ms" >&2
veth h2 $C2 2 || ft_fail setup "veth h2"
ms2=$(ms_until_attached h2)
[ "$ms2" -le 1000 ] && ft_pass attach2_within_1s || ft_fail attach2_within_1s "${ms2} ms"
echo "attach latency h2: ${ms2} ms" >&2
# Neighbours and routes first: ARP/NDP are not flows, the pings are
# other keys than the bursts below.
ip netns exec $C1 ping -c1 -W2 198.18.2.2 >/dev/null || ft_fail route_c1_c2 "no reply"
ip netns exec $O ping -c1 -W2 198.18.2.2 >/dev/null || ft_fail route_o_c2 "no reply"
ip netns exec $C1 ping -6 -c1 -W2 fd00:0:0:1::1 >/dev/null

# --- bursts from inside the containers ---
ft_udp_send $C1 198.18.1.1 40001 9999 100 100  # C1 -> the host: h1 ingress
ft_udp_send $C1 fd00:0:0:1::1 40011 9999 40 60 # the same over IPv6
ft_udp_send $C1 198.18.2.2 40002 9998 50 200   # C1 -> C2: h1 ingress, h2 egress
ft_udp_send $O 198.18.2.2 40003 9997 30 300    # outside -> C2: nic0 ingress, h2 egress
wait_intervals

sel1='.iface == "h1" and .direction == "ingress" and .sport == 40001 and .dport == 9999'
ft_expect c1_host_packets "$(jsum "$sel1" packets_delta)" 100
ft_expect c1_host_bytes "$(jsum "$sel1" bytes_delta)" $((100 * (100 + 42)))
ft_expect c1_host_v6_packets "$(jsum '.iface == "h1" and .sport == 40011' packets_delta)" 40
ft_expect c1_host_v6_bytes "$(jsum '.iface == "h1" and .sport == 40011' bytes_delta)" $((40 * (60 + 62)))
ft_expect label_container "$(jfirst "$sel1" '.container + "/" + .runtime')" "$C1/none"
ft_expect label_nulls "$(jfirst "$sel1" '[.container_id, .pod, .namespace] | map(. == null) | all')" true
ft_expect container_direction_from "$(jfirst "$sel1" .container_direction)" from_container
ft_expect container_direction_to \
	"$(jfirst '.iface == "h2" and .sport == 40002' '.direction + "/" + .container_direction + "/" + .container')" \
	"egress/to_container/$C2"
ft_expect nic_unlabelled "$(jfirst '.iface == "nic0" and .sport == 40003' '[.container, .container_direction] | map(. == null) | all')" true

# De-duplicated: every observation stays, one of each key counts.
c2c='.sport == 40002 and .dport == 9998'
ft_expect dedup_c2c_observations "$(jsum "$c2c" packets_delta)" 100
ft_expect dedup_c2c_counted "$(jsum "$c2c and .dedup_counted" packets_delta)" 50
ft_expect dedup_c2c_sender_counts "$(jq -s -r "[.[] | select($c2c and .packets_delta > 0 and .dedup_counted) | .iface] | unique | join(\",\")" $T/flows.jsonl)" h1
o2c='.sport == 40003 and .dport == 9997'
ft_expect dedup_o2c_observations "$(jsum "$o2c" packets_delta)" 60
ft_expect dedup_o2c_container_counts "$(jq -s -r "[.[] | select($o2c and .packets_delta > 0 and .dedup_counted) | .iface] | unique | join(\",\")" $T/flows.jsonl)" h2
# The summaries agree with the flow log: flow_pkts is every observation,
# dedup_pkts leaves out exactly the records not counted (the ICMP errors
# C2 sends back are seen twice too).
# The run goes on (an interval a second, and IPv6 neighbour traffic): both
# files are read from one copy taken between two intervals.
for _ in $(seq 20); do
	cp $T/syslog.txt $T/syslog.snap && cp $T/flows.jsonl $T/flows.snap
	[ "$(SLSUM_FILE=$T/syslog.snap slsum ': summary ' flow_pkts)" = \
		"$(JSUM_FILE=$T/flows.snap jsum 'true' packets_delta)" ] && break
	sleep 0.2
done
export SLSUM_FILE=$T/syslog.snap JSUM_FILE=$T/flows.snap
ft_expect summary_flow_pkts "$(slsum ': summary ' flow_pkts)" "$(jsum 'true' packets_delta)"
ft_expect summary_dedup_pkts "$(slsum ': summary ' dedup_pkts)" "$(jsum '.dedup_counted' packets_delta)"
ft_expect summary_dedup_bytes "$(slsum ': summary ' dedup_bytes)" "$(jsum '.dedup_counted' bytes_delta)"
unset SLSUM_FILE JSUM_FILE

# Syslog flow lines carry the labels and the container's direction.
line=$(grep -E ': flow .* iface=h1 dir=ingress proto=udp src=198.18.1.2 sport=40001 dst=198.18.1.1 dport=9999 ' $T/syslog.txt | head -n1)
case $line in
*" runtime=none container=$C1 "*"container_direction=from_container"*) ft_pass syslog_labels ;;
*) ft_fail syslog_labels "line: ${line:-none}" ;;
esac

# --- removal: final records, forgotten, no errors ---
idx1=$(ip -n $H -j link show h1 | jq '.[0].ifindex')
ft_udp_send $C1 198.18.1.1 40001 9999 20 100 # just before the veth goes
ip -n $H link del h1
wait_intervals
ft_expect removed_final_packets "$(jsum "$sel1" packets_delta)" 120
ft_expect removed_end_reason "$(jq -s -r "[.[] | select($sel1 and .end_reason != null)] | map(.end_reason) | join(\",\")" $T/flows.jsonl)" forced
ft_expect removed_end_labels "$(jq -s -r "[.[] | select($sel1 and .end_reason != null)][0] | .container + \"/\" + .container_direction" $T/flows.jsonl)" "$C1/from_container"
ft_expect removed_all_h1_ended "$(jq -s "[.[] | select(.ifindex == $idx1)] | group_by([.src, .dst, .sport, .dport, .direction]) | map(select(map(.end_reason) | any(. == \"forced\") | not)) | length" $T/flows.jsonl)" 0
ft_expect removed_no_flows "$(ft flows --json | jq --argjson i "$idx1" '[.[] | select(.ifindex == $i)] | length')" 0
ft_expect removed_no_stats "$(ft stats --json | jq --argjson i "$idx1" '[.[] | select(.class != "kernel_drop" and .ifindex == $i)] | length')" 0
# The interface counters of h1 (the iface lines' UDP) include its last
# interval, read when it went away.
ft_expect removed_iface_counters "$(slsum ': iface iface=h1 dir=ingress ' udp_pkts)" 210
ft_expect no_errors "$(grep -v '^$' $T/r1.err | head -n 3)" ""

# --- a clean stop: final records, IPFIX, detach what the run attached ---
stop_run r1
ft_expect stop_detaches "$(filters h2)/$(filters nic0)" 0/0
ft_expect stop_status "$(ft status --json 2>/dev/null || echo '[]')" "[]"
sleep 0.5
# IPFIX records of container veths carry interfaceName and the enterprise
# elements (PEN 32473); the NIC's do not.
ipx=$(jq -s -c '[.[] | select(."7" == 40001 and ."11" == 9999)] | .[0] // {}' $T/ipfix.jsonl)
ft_expect ipfix_packets "$(jq -s '[.[] | select(."7" == 40001 and ."11" == 9999) | ."2"] | add // 0' $T/ipfix.jsonl)" 120
ft_expect ipfix_labels "$(jq -r '[."82", ."32473/2", ."32473/5", ."32473/1", ."32473/3"] | join("|")' <<<"$ipx")" "h1|$C1|none||"
ft_expect ipfix_to_container "$(jq -s -r '[.[] | select(."7" == 40003 and ."82" == "h2")][0] | [."2", ."32473/2", ."61"] | join("|")' $T/ipfix.jsonl)" "30|$C2|1"
ft_expect ipfix_nic_plain "$(jq -s -r '[.[] | select(."7" == 40003 and ."82" == null) | [."2", has("32473/2")] | join("|")] | join(",")' $T/ipfix.jsonl)" "30|false"

# --- restart after kill -9: adopts (no second filter), owns, detaches ---
start_run r2 --config $T/run.conf -i nic0 ||
	ft_fail restart "no start: $(tail -n2 $T/r2.err)"
ms=$(ms_until_attached h2)
[ "$ms" -le 1000 ] && ft_pass start_attaches_existing || ft_fail start_attaches_existing "${ms} ms"
stop_run r2 KILL
ft_expect kill9_left_attached "$(filters h2)/$(filters nic0)" 2/2
start_run r3 --config $T/run.conf -i nic0 --flow-log $T/flows3.jsonl ||
	ft_fail restart "no start: $(tail -n2 $T/r3.err)"
sleep 0.5
ft_expect restart_single_filters "$(filters h2)" 2
ft_expect restart_status_once "$(ft status --json | jq '[.[] | select(.iface == "h2")] | length')" 1
ft_udp_send $C2 198.18.2.1 40004 9996 25 100
wait_intervals
ft_expect restart_counts "$(jq -s '[.[] | select(.iface == "h2" and .sport == 40004) | .packets_delta] | add // 0' $T/flows3.jsonl)" 25
ft_expect restart_labels "$(jq -s -r '[.[] | select(.iface == "h2" and .sport == 40004)][0] | .container + "/" + .container_direction' $T/flows3.jsonl)" "$C2/from_container"
stop_run r3
ft_expect restart_stop_detaches "$(filters h2)/$(filters nic0)" 0/0
ft_expect restart_no_errors "$(cat $T/r2.err $T/r3.err | grep -v '^$' | head -n 3)" ""

# --- --keep hands over; the next run adopts without owning ---
start_run r4 --config $T/run.conf -i nic0 --keep ||
	ft_fail keep_start "no start: $(tail -n2 $T/r4.err)"
ms_until_attached h2 >/dev/null
stop_run r4
ft_expect keep_leaves_attached "$(filters h2)" 2
start_run r5 --config $T/run.conf -i nic0 || ft_fail keep_restart "no start: $(tail -n2 $T/r5.err)"
sleep 0.5
ft_expect keep_restart_single "$(filters h2)" 2
veth h3 $C1 4 || ft_fail setup "veth h3"
ms3=$(ms_until_attached h3)
[ "$ms3" -le 1000 ] && ft_pass attach_after_restart_within_1s || ft_fail attach_after_restart_within_1s "${ms3} ms"
echo "attach latency h3: ${ms3} ms" >&2
# Renamed out of the patterns: no longer followed, so detached.
ip -n $H link set h3 down && ip -n $H link set h3 name nic3 && ip -n $H link set nic3 up
for _ in $(seq 50); do [ "$(filters nic3)" = 0 ] && break; sleep 0.02; done
ft_expect renamed_out_detached "$(filters nic3)" 0
ip -n $H link set nic3 down && ip -n $H link set nic3 name h3 && ip -n $H link set h3 up
ms3=$(ms_until_attached h3)
[ "$ms3" -le 1000 ] && ft_pass renamed_back_attached || ft_fail renamed_back_attached "${ms3} ms"
stop_run r5
ft_expect keep_adopted_not_owned "$(filters h2)/$(filters h3)" 2/0
ft_expect keep_no_errors "$(cat $T/r4.err $T/r5.err | grep -v '^$' | head -n 3)" ""
ft detach --all >/dev/null 2>&1

# --- a real container (podman, runc) ---
podman_part() {
	local img=localhost/ftc-$$-bb:latest net=ftc-$$-net tag=ftc-$$ bb rootfs id1 v1 ip2 i
	local pm=(nsenter "--net=/run/netns/$H" podman)
	local opts=(--runtime runc --cap-add NET_RAW --network "$net" --ulimit nofile=20000:20000
		--ulimit nproc=32768:32768)
	bb=$(command -v busybox) && ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
		{ ft_skip podman "busybox-static is not installed"; return; }
	command -v runc >/dev/null || { ft_skip podman "runc is not installed"; return; }
	ft_on_exit "podman rmi -f $img"
	ft_on_exit "podman network rm -f $net"
	ft_on_exit "nsenter --net=/run/netns/$H podman rm -f -t 0 $tag-c1 $tag-c2"
	rootfs=$T/rootfs
	mkdir -p $rootfs/bin $rootfs/etc $rootfs/proc $rootfs/sys $rootfs/dev $rootfs/tmp
	cp "$bb" $rootfs/bin/busybox
	for a in sh sleep ping cat; do ln -s busybox $rootfs/bin/$a; done
	tar -C $rootfs -cf $T/rootfs.tar . && podman import -q $T/rootfs.tar $img >/dev/null 2>$T/pm.err ||
		{ ft_fail podman_setup "podman import: $(tail -n1 $T/pm.err)"; return; }
	podman network create --internal --disable-dns --subnet 198.19.$(($$ % 250)).0/24 $net \
		>/dev/null 2>$T/pm.err || { ft_fail podman_setup "network: $(tail -n1 $T/pm.err)"; return; }
	start_run r6 --config $T/run.conf -i nic0 --flow-log $T/flows6.jsonl \
		--metrics 127.0.0.1:9477 --metrics-retention 1s ||
		{ ft_fail podman_start "no start: $(tail -n2 $T/r6.err)"; return; }
	for c in c1 c2; do
		"${pm[@]}" run -d "${opts[@]}" --name $tag-$c $img /bin/sleep 600 >$T/$c.id 2>$T/pm.err ||
			{ ft_fail podman_run "$(tail -n1 $T/pm.err)"; stop_run r6; return; }
	done
	id1=$(cat $T/c1.id)
	i=$("${pm[@]}" exec $tag-c1 cat /sys/class/net/eth0/iflink)
	v1=$(ip -n $H -j link show | jq -r --argjson i "$i" '.[] | select(.ifindex == $i) | .ifname')
	ip2=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $tag-c2)
	"${pm[@]}" exec $tag-c1 ping -c1 -W2 "$ip2" >/dev/null 2>&1
	sleep 1.5 # labels: a container's process may start after its veth
	"${pm[@]}" exec $tag-c1 ping -c5 -i0.2 -W2 "$ip2" >/dev/null 2>&1 || ft_fail podman_ping "no reply"
	wait_intervals
	local sel=".iface == \"$v1\" and .proto == \"icmp\" and .type == 8 and .dst == \"$ip2\""
	ft_expect podman_labels "$(jq -s -r "[.[] | select($sel and .packets_delta > 0)] | last | [.runtime, .container_id, .container, .container_direction] | join(\" \")" $T/flows6.jsonl)" \
		"podman $id1 $tag-c1 from_container"
	ft_expect podman_echo_counted_once "$(jq -s "[.[] | select(.proto == \"icmp\" and .type == 8 and .dst == \"$ip2\" and .dedup_counted) | .packets_delta] | add // 0" $T/flows6.jsonl)" 6
	# Prometheus series of the container's veth carry its labels.
	ip netns exec $H curl -s --max-time 5 http://127.0.0.1:9477/metrics >$T/m1.txt
	ft_expect podman_metrics_labels "$(grep -c "^flowtap_packets_total{interface=\"$v1\".*container=\"$tag-c1\"" $T/m1.txt | awk '{print ($1 > 0)}')" 1
	# Stopping c2: its veth goes, its flows end (forced) under its labels,
	# and its series go after the retention.
	local v2 id2
	id2=$(cat $T/c2.id)
	i=$("${pm[@]}" exec $tag-c2 cat /sys/class/net/eth0/iflink)
	v2=$(ip -n $H -j link show | jq -r --argjson i "$i" '.[] | select(.ifindex == $i) | .ifname')
	"${pm[@]}" rm -f -t 0 $tag-c2 >/dev/null 2>&1
	wait_intervals 4
	ft_expect podman_stop_final "$(jq -s -r "[.[] | select(.iface == \"$v2\" and .end_reason == \"forced\")] | map(.container_id + \" \" + .container) | unique | join(\",\")" $T/flows6.jsonl)" "$id2 $tag-c2"
	# The scrape after the veth went sees it gone; one after the
	# retention no longer has its series.
	ip netns exec $H curl -s --max-time 5 http://127.0.0.1:9477/metrics >/dev/null
	sleep 1.5
	ip netns exec $H curl -s --max-time 5 http://127.0.0.1:9477/metrics >$T/m2.txt
	ft_expect podman_stop_series_gone "$(grep -c "container=\"$tag-c2\"" $T/m2.txt)" 0
	ft_expect podman_c1_series_stay "$(grep -c "container=\"$tag-c1\"" $T/m2.txt | awk '{print ($1 > 0)}')" 1
	stop_run r6
	ft_expect podman_no_errors "$(grep -v '^$' $T/r6.err | head -n 3)" ""
}
if command -v podman >/dev/null 2>&1; then
	podman_part
else
	ft_skip podman "podman is not installed: no real container checked"
fi

ft_done
