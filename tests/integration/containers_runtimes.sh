#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Attribution for the runtimes this host does not run, end to end: each
# "container" is a namespace with a veth into a namespace H (the host) and
# processes placed in cgroups named the way Docker, containerd (CRI), CRI-O
# and podman name theirs — in the v2 hierarchy, and in the v1 name=systemd
# one where the host is hybrid — while their state files (config.v2.json,
# OCI config.json, containers.json) sit in their real layout under a fake
# state root given with --state-root. Then hostile state: symlinked files
# and directories, malformed JSON, a FIFO, an oversized file, a file that
# claims another container's id: the container keeps its runtime and id and
# is named "unknown", and nothing hangs or crashes.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
ft_require_root
ft_require_cmd jq od
"$FT_BIN" containers --help >/dev/null 2>&1 ||
	ft_skip_all "this flowtap has no containers command (not registered in cli.c)"

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	V2=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
	V2=/sys/fs/cgroup/unified
else
	ft_skip_all "no cgroup v2 hierarchy"
fi
V1=
[ -f /sys/fs/cgroup/systemd/cgroup.procs ] && V1=/sys/fs/cgroup/systemd

H=ftt-$$-h
ROOT=$FT_TMP/root
CG2=$V2/ftt-$$
CG1=${V1:+$V1/ftt-$$}
UID_=1f2e3d4c-5b6a-4789-9abc-def0123$(printf %05d $(($$ % 100000)))
N=0

mkdir -p "$CG2" ${CG1:+"$CG1"} || ft_skip_all "cannot create cgroups under $V2"
# Processes first (ft_cleanup kills the namespaces' processes after the
# hooks, so kill them here), then the cgroups, deepest first.
ft_on_exit "for d in $CG2 $CG1; do find \$d -depth -type d -exec rmdir {} \\; ; done"
ft_on_exit "for p in \$(cat \$(find $CG2 $CG1 -name cgroup.procs) 2>/dev/null); do kill -KILL \$p; done; sleep 0.2"
ft_netns_add $H || { ft_fail setup "cannot create namespace"; ft_done; }

id() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# container CGROUP-PATH [NS]: a process in a namespace (new, with a veth
# into H named h<N>, or NS) placed in cgroup CGROUP-PATH. Sets VETH. (Not
# for $(...): the namespaces and processes must be registered here.)
container() {
	local cg=$1 ns=${2:-} pid
	if [ -z "$ns" ]; then
		N=$((N + 1))
		ns=ftt-$$-c$N
		ft_netns_add $ns || return 1
		ip -n $H link add h$N type veth peer name eth0 netns $ns || return 1
	fi
	mkdir -p "$cg" || return 1
	ft_bg ip netns exec $ns sleep 600
	pid=$FT_LAST_PID
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(stat -L -c %i /proc/$pid/ns/net 2>/dev/null)" = "$(stat -L -c %i /run/netns/$ns)" ] && break
		sleep 0.05
	done
	echo $pid >"$cg/cgroup.procs" || return 1
	VETH=h$N
}

put() { # FILE CONTENT: a state file under the fake root
	mkdir -p "$(dirname "$ROOT/$1")" && printf '%s' "$2" >"$ROOT/$1"
}

docker_cfg() { # ID NAME
	printf '{"StreamConfig":{},"State":{"Running":true,"Pid":1},"ID":"%s","Name":"/%s","Config":{"Hostname":"%s","Labels":{}},"Driver":"overlay2"}' \
		"$1" "$2" "${1:0:12}"
}

# --- Docker, cgroup v2 (systemd driver) ---
D1=$(id)
container "$CG2/system.slice/docker-$D1.scope" && v_docker=$VETH
put var/lib/docker/containers/$D1/config.v2.json "$(docker_cfg $D1 web)"

# --- Docker, cgroup v1 only (cgroupfs driver on a hybrid host) ---
if [ -n "$V1" ]; then
	D2=$(id)
	container "$CG1/docker/$D2" && v_docker1=$VETH
	put var/lib/docker/containers/$D2/config.v2.json "$(docker_cfg $D2 db)"
fi

# --- a Kubernetes pod on containerd: sandbox + app share the namespace ---
S3=$(id) A3=$(id)
pod=$CG2/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_//-/_}.slice
container "$pod/cri-containerd-$S3.scope" && v_pod=$VETH
container "$pod/cri-containerd-$A3.scope" ftt-$$-c$N
cri='"io.kubernetes.cri.sandbox-id":"'$S3'","io.kubernetes.cri.sandbox-name":"shop-7d9","io.kubernetes.cri.sandbox-namespace":"prod","io.kubernetes.cri.sandbox-uid":"'$UID_'"'
put run/containerd/io.containerd.runtime.v2.task/k8s.io/$S3/config.json \
	'{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"sandbox",'"$cri"'}}'
put run/containerd/io.containerd.runtime.v2.task/k8s.io/$A3/config.json \
	'{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"api",'"$cri"'}}'

# --- CRI-O (cgroupfs driver), labels only in the nested JSON annotation ---
C4=$(id)
container "$CG2/kubepods/burstable/pod$UID_/crio-$C4" && v_crio=$VETH
put run/containers/storage/overlay-containers/$C4/userdata/config.json \
	'{"annotations":{"io.container.manager":"cri-o","io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.Name":"k8s_web_front_default_'$UID_'_0","io.kubernetes.cri-o.Labels":"{\"io.kubernetes.container.name\":\"web\",\"io.kubernetes.pod.name\":\"front\",\"io.kubernetes.pod.namespace\":\"default\"}"}}'

# --- a bare id under kubepods: the runtime is where the id is found ---
K5=$(id)
container "$CG2/kubepods/besteffort/pod$UID_/$K5" && v_bare=$VETH
put run/containerd/io.containerd.runtime.v2.task/k8s.io/$K5/config.json \
	'{"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"sidecar","io.kubernetes.cri.sandbox-name":"shop-7d9","io.kubernetes.cri.sandbox-namespace":"prod"}}'

# --- podman: the name from containers/storage's containers.json ---
P6=$(id)
container "$CG2/libpod_parent/libpod-$P6" && v_podman=$VETH
put var/lib/containers/storage/overlay-containers/containers.json \
	'[{"id":"'$(id)'","names":["other"]},{"id":"'$P6'","names":["ftt-podman"],"metadata":"{\"name\":\"ftt-podman\"}"}]'
put var/lib/containers/storage/overlay-containers/$P6/userdata/config.json \
	'{"annotations":{"io.container.manager":"libpod"}}'

# --- hostile state ---
E1=$(id) E2=$(id) E3=$(id) E4=$(id) E5=$(id) E6=$(id)
container "$CG2/system.slice/docker-$E1.scope" && v_symfile=$VETH
put elsewhere/good.json "$(docker_cfg $E1 symlinked)"
mkdir -p $ROOT/var/lib/docker/containers/$E1
ln -s ../../../../../elsewhere/good.json $ROOT/var/lib/docker/containers/$E1/config.v2.json
container "$CG2/system.slice/docker-$E2.scope" && v_symdir=$VETH
put elsewhere/$E2/config.v2.json "$(docker_cfg $E2 symlinked)"
ln -s ../../../../elsewhere/$E2 $ROOT/var/lib/docker/containers/$E2
container "$CG2/system.slice/docker-$E3.scope" && v_malformed=$VETH
put var/lib/docker/containers/$E3/config.v2.json '{"ID":"'$E3'","Name":"/half'
container "$CG2/system.slice/docker-$E4.scope" && v_fifo=$VETH
mkdir -p $ROOT/var/lib/docker/containers/$E4 && mkfifo $ROOT/var/lib/docker/containers/$E4/config.v2.json
container "$CG2/system.slice/docker-$E5.scope" && v_big=$VETH
mkdir -p $ROOT/var/lib/docker/containers/$E5
{
	docker_cfg $E5 big | head -c -1
	head -c $((5 << 20)) /dev/zero | tr '\0' ' '
	echo '}'
} >$ROOT/var/lib/docker/containers/$E5/config.v2.json
container "$CG2/system.slice/docker-$E6.scope" && v_otherid=$VETH
put var/lib/docker/containers/$E6/config.v2.json "$(docker_cfg $D1 impostor)"

[ -n "$v_otherid" ] || { ft_fail setup "cannot build the containers"; ft_done; }

timeout 20 ip netns exec $H "$FT_BIN" containers --json --state-root $ROOT >$FT_TMP/list.json 2>$FT_TMP/list.err
rc=$?
ft_expect list_exit "$rc" 0

row() { # IFACE FIELDS...: the fields of IFACE's row, space-separated
	local v=$1
	shift
	jq -r --arg v "$v" --arg f "$*" '.[] | select(.iface == $v) | [($f | split(" "))[] as $k | .[$k] // "-" | tostring] | join(" ")' $FT_TMP/list.json
}

F="runtime container_id container pod namespace"
ft_expect docker_v2 "$(row $v_docker $F)" "docker $D1 web - -"
if [ -n "$V1" ]; then
	ft_expect docker_v1_hybrid "$(row $v_docker1 $F)" "docker $D2 db - -"
else
	ft_skip docker_v1_hybrid "no cgroup v1 name=systemd hierarchy"
fi
ft_expect k8s_containerd_pod "$(row $v_pod $F)" "containerd $A3 api shop-7d9 prod"
ft_expect k8s_pod_members "$(jq -r --arg v $v_pod '.[] | select(.iface == $v) | [.containers[] | .container + ":" + (.sandbox | tostring)] | sort | join(",")' $FT_TMP/list.json)" "POD:true,api:false"
ft_expect crio_nested_labels "$(row $v_crio $F)" "crio $C4 web front default"
ft_expect kubepods_bare_id "$(row $v_bare $F)" "containerd $K5 sidecar shop-7d9 prod"
ft_expect podman_store_name "$(row $v_podman $F)" "podman $P6 ftt-podman - -"
ft_expect hostile_symlinked_file "$(row $v_symfile $F)" "docker $E1 unknown - -"
ft_expect hostile_symlinked_dir "$(row $v_symdir $F)" "docker $E2 unknown - -"
ft_expect hostile_malformed "$(row $v_malformed $F)" "docker $E3 unknown - -"
ft_expect hostile_fifo "$(row $v_fifo $F)" "docker $E4 unknown - -"
ft_expect hostile_oversized "$(row $v_big $F)" "docker $E5 unknown - -"
ft_expect hostile_other_id "$(row $v_otherid $F)" "docker $E6 unknown - -"
ft_expect no_errors "$(head -n 3 $FT_TMP/list.err)" ""

# Without the state root the same containers still have runtime and id.
ip netns exec $H "$FT_BIN" containers --json >$FT_TMP/bare.json 2>/dev/null
ft_expect no_state_root "$(jq -r --arg v $v_docker '.[] | select(.iface == $v) | .runtime + " " + .container_id + " " + .container' $FT_TMP/bare.json)" "docker $D1 unknown"
ft_done
