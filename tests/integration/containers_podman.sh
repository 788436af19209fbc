#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Real containers: podman with runc, on its own bridge network, from a
# busybox rootfs imported with `podman import` (no registry). Podman and
# flowtap run in a private network namespace H (nsenter --net, so podman
# keeps the host's mounts and cgroups): the bridge, the veths and netavark's
# firewall rules live in H and go with it. Checks: each container's veth is
# attached automatically within 1 s, labelled runtime podman with the
# container's id, name and PID; `flowtap containers` lists it; traffic from
# inside a container counts on its veth as from_container (host-side
# ingress); stopping a container removes its veth without errors.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
ft_require_root
ft_require_cmd jq tc nsenter
command -v podman >/dev/null 2>&1 || ft_skip_all "podman is not installed (apt-get install podman)"
command -v runc >/dev/null 2>&1 || ft_skip_all "runc is not installed"
BUSYBOX=$(command -v busybox) || ft_skip_all "busybox is not installed (busybox-static)"
ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' || ft_skip_all "busybox is not static (busybox-static)"
"$FT_BIN" containers --help >/dev/null 2>&1 ||
	ft_skip_all "this flowtap has no containers command (not registered in cli.c)"

H=ftt-$$-h
TAG=ftt-$$
IMAGE=localhost/$TAG-bb:latest
NET=$TAG-net
SUBNET=198.19.$(($$ % 250)).0/24
PODMAN_OPTS=(--runtime runc --cap-add NET_RAW --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

ft_netns_add $H || { ft_fail setup "cannot create namespace"; ft_done; }
NSFILE=/run/netns/$H

inh() { nsenter --net=$NSFILE "$@"; }
pm() { inh podman "$@"; }
ftx() { inh env FLOWTAP_PIN_ROOT="$(ft_bpffs $H)/flowtap" LIBXDP_BPFFS="$(ft_bpffs $H)" "$FT_BIN" "$@"; }

# Containers, network and image go before the namespace (ft_on_exit hooks
# run first, last registered first).
ft_on_exit "podman rmi -f $IMAGE"
ft_on_exit "podman network rm -f $NET"
ft_on_exit "nsenter --net=$NSFILE podman rm -f -t 0 $TAG-c1 $TAG-c2"

rootfs=$FT_TMP/rootfs
mkdir -p $rootfs/bin $rootfs/etc $rootfs/proc $rootfs/sys $rootfs/dev $rootfs/tmp
cp "$BUSYBOX" $rootfs/bin/busybox
for a in sh sleep ping wget ip cat; do ln -s busybox $rootfs/bin/$a; done
tar -C $rootfs -cf $FT_TMP/rootfs.tar . &&
	podman import -q $FT_TMP/rootfs.tar $IMAGE >/dev/null 2>$FT_TMP/import.err ||
	{ ft_fail setup "podman import: $(tail -n1 $FT_TMP/import.err)"; ft_done; }
# --internal: no gateway, so no default route in the containers.
podman network create --internal --disable-dns --subnet $SUBNET $NET >/dev/null 2>$FT_TMP/net.err ||
	{ ft_fail setup "podman network create: $(tail -n1 $FT_TMP/net.err)"; ft_done; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

event() { # KIND IFACE FIELD
	jq -r --arg k "$1" --arg i "$2" "select(.event == \$k and .iface == \$i) | .$3" $FT_TMP/w.log 2>/dev/null |
		tail -n 1
}

# The host side of a container's veth: its eth0's iflink is our ifindex.
host_veth() { # CONTAINER
	local idx
	idx=$(pm exec "$1" cat /sys/class/net/eth0/iflink 2>/dev/null) || return 1
	ip -n $H -j link show | jq -r --argjson i "$idx" '.[] | select(.ifindex == $i) | .ifname'
}

filters() { # IFACE
	{
		tc -n $H filter show dev "$1" ingress
		tc -n $H filter show dev "$1" egress
	} 2>/dev/null | grep -c flowtap
}

veths() { ip -n $H -j link show type veth | jq -r '.[].ifname' | sort; }

# run_container NAME: start it, print the ms from `podman run`'s return
# until a new veth in H had both filters, and that veth. Only ip and tc in
# the timed loop: one `podman exec` (as host_veth) takes 0.3 s on an idle
# machine and over a second on a loaded one, which was what the test
# measured; flowtap attaches within a few ms of the veth's creation,
# before `podman run` returns. Which veth is the container's is checked
# afterwards, untimed (host_veth).
run_container() {
	local t0 i v old
	old=$(veths)
	pm run -d "${PODMAN_OPTS[@]}" --network $NET --name "$1" $IMAGE /bin/sleep 600 \
		>$FT_TMP/$1.id 2>$FT_TMP/$1.err || return 1
	t0=$(now_ms)
	for ((i = 0; i < 500; i++)); do
		v=$(comm -13 <(echo "$old") <(veths) | head -n 1)
		[ -n "$v" ] && [ "$(filters "$v")" = 2 ] && break
		sleep 0.01
	done
	echo "$(($(now_ms) - t0)) $v"
}

# Watcher: not through a function or subshell, so W is flowtap's PID.
ft_bg nsenter --net=$NSFILE env FLOWTAP_PIN_ROOT="$(ft_bpffs $H)/flowtap" \
	LIBXDP_BPFFS="$(ft_bpffs $H)" "$FT_BIN" containers --watch --json \
	>$FT_TMP/w.log 2>$FT_TMP/w.err
W=$FT_LAST_PID
for _ in $(seq 300); do
	grep -q '"ready"' $FT_TMP/w.log 2>/dev/null && break
	sleep 0.05
done
grep -q '"ready"' $FT_TMP/w.log || ft_fail watcher_ready "no ready line in 15 s: $(tail -n1 $FT_TMP/w.err)"

# The veth appears while `podman run` runs: within 1 s of its return the
# filters must be there (the datapath was loaded when the watcher started).
r=$(run_container $TAG-c1) || { ft_fail run_c1 "$(tail -n1 $FT_TMP/$TAG-c1.err)"; ft_done; }
read -r ms tv <<<"$r"
echo "c1: filters on $tv ${ms} ms after podman run returned"
v1=$(host_veth $TAG-c1)
id1=$(cat $FT_TMP/$TAG-c1.id)
if [ -n "$v1" ] && [ "$tv" = "$v1" ] && [ "$ms" -le 1000 ]; then ft_pass attach_within_1s; else ft_fail attach_within_1s "veth '$tv' (the container's: '$v1') after ${ms} ms"; fi
ft_expect added_event "$(event added "$v1" attach)" attached

# Labels: the container's process may start after its veth, so they can
# come a retry later.
for _ in $(seq 60); do
	[ "$(event labels "$v1" runtime)" = podman ] && break
	sleep 0.1
done
ft_expect label_runtime "$(event labels "$v1" runtime)" podman
ft_expect label_container_id "$(event labels "$v1" container_id)" "$id1"
ft_expect label_container "$(event labels "$v1" container)" "$TAG-c1"
ft_expect label_pid "$(event labels "$v1" pid)" "$(podman inspect -f '{{.State.Pid}}' $TAG-c1)"

# The listing.
row=$(ftx containers --json | jq -c --arg v "$v1" '.[] | select(.iface == $v)')
ft_expect list_labels "$(jq -r '[.runtime, .container_id, .container, .attached] | join(" ")' <<<"$row")" \
	"podman $id1 $TAG-c1 true"
ft_expect list_netns "$(jq -r .netns <<<"$row")" "$(stat -L -c %i /proc/$(podman inspect -f '{{.State.Pid}}' $TAG-c1)/ns/net)"
ftx containers | grep -q "^$v1 .* podman .* ${id1:0:12} .*$TAG-c1 .* yes$" &&
	ft_pass list_text || ft_fail list_text "$(ftx containers | grep "^$v1")"

# Traffic from inside c1 to c2: c1's echo requests are from_container,
# the host side's ingress.
r=$(run_container $TAG-c2) || { ft_fail run_c2 "$(tail -n1 $FT_TMP/$TAG-c2.err)"; ft_done; }
read -r ms tv <<<"$r"
echo "c2: filters on $tv ${ms} ms after podman run returned"
v2=$(host_veth $TAG-c2)
[ -n "$v2" ] && [ "$tv" = "$v2" ] && [ "$ms" -le 1000 ] && ft_pass second_attach_within_1s ||
	ft_fail second_attach_within_1s "veth '$tv' (the container's: '$v2') after ${ms} ms"
ip2=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $TAG-c2)
pm exec $TAG-c1 ping -c1 -W2 "$ip2" >/dev/null 2>&1 # neighbours
icmp() { # IFACE DIR
	ftx stats --json -i "$1" | jq --arg d "$2" '[.[] | select(.direction==$d and .class=="icmp" and .reason==null and .method==null) | .packets] | add // 0'
}
echo_flow() { # packets of c1's echo requests to c2
	ftx flows --json | jq -r --arg v "$v1" --arg d "$ip2" '[.[] | select(.iface==$v and .direction=="ingress" and .proto=="icmp" and .type==8 and .dst==$d) | .packets] | add // 0'
}
b_in=$(icmp "$v1" ingress) b_out=$(icmp "$v1" egress) b_flow=$(echo_flow)
if pm exec $TAG-c1 ping -c 5 -i 0.2 -W2 "$ip2" >/dev/null 2>&1; then
	ft_expect from_container_ingress "$(($(icmp "$v1" ingress) - b_in))" 5
	ft_expect to_container_egress "$(($(icmp "$v1" egress) - b_out))" 5
	ft_expect echo_flow_on_c1_veth "$(($(echo_flow) - b_flow))" 5
else
	ft_fail ping_c1_c2 "no reply from $ip2"
fi

# Stopping c2 removes its veth: forgotten, no error.
idx2=$(ip -n $H -j link show "$v2" | jq '.[0].ifindex')
pm rm -f -t 0 $TAG-c2 >/dev/null 2>&1
for _ in $(seq 40); do
	[ -n "$(event removed "$v2" event)" ] && break
	sleep 0.05
done
ft_expect stop_removed_event "$(event removed "$v2" ifindex)" "$idx2"
ft_expect stop_no_status "$(ftx status --json | jq --argjson i "$idx2" '[.[] | select(.ifindex == $i)] | length')" 0
ft_expect stop_no_flows "$(ftx flows --json | jq --argjson i "$idx2" '[.[] | select(.ifindex == $i)] | length')" 0
ft_expect stop_c1_still_attached "$(filters "$v1")" 2

kill -TERM $W
wait $W 2>/dev/null
ft_expect watcher_exit "$?" 0
ft_expect exit_detaches "$(filters "$v1")" 0
ft_expect no_errors "$(grep -v '^$' $FT_TMP/w.err | head -n 3)" ""
ftx detach --all >/dev/null 2>&1
ft_done
