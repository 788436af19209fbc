#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# docs/deploy/ against the binary it deploys. Static checks (no root):
# every YAML document parses strictly (no duplicate keys, string labels and
# annotations) with a known kind/apiVersion and the fields that kind needs;
# the DaemonSet's selectors, ports, probes, mounts and security context hang
# together and mount what userspace/ reads; the Service and ServiceMonitor
# find the pods; the Dockerfile's runtime stage installs the package of
# every library `ldd ./flowtap` lists and its build stage the Makefile's
# build dependencies; the systemd unit has only known keys with valid values
# and the DaemonSet's capabilities; config keys exist; every flowtap
# command and flag used anywhere in docs/deploy/ is in `flowtap CMD --help`.
#
# Live checks (root): flowtap runs under exactly the DaemonSet's capability
# set with no_new_privs, as the pod and the unit run it: `run` with the
# deploy configs attaches (TC and XDP), `status` sees it, `containers`
# attributes a veth whose namespace belongs to another user's process, and
# SIGTERM leaves nothing attached. Without SYS_PTRACE, NET_ADMIN, BPF or
# PERFMON one of those breaks, which shows every one of them is needed; none
# needs SYS_ADMIN.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
DEPLOY=$FT_ROOT/docs/deploy
shopt -s lastpipe # relay counts failures in this shell

[ -d "$DEPLOY" ] || ft_skip_all "no docs/deploy"

# A Python 3 with PyYAML (Debian: python3-yaml); Debian's own first.
PY=
for p in /usr/bin/python3 python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	for p in /usr/bin/python3 python3; do
		command -v "$p" >/dev/null 2>&1 && PY=$p && break
	done
fi

relay() { # the checker's result lines to ft_pass/ft_fail/ft_skip, DATA lines to a file
	local kind rest
	while IFS= read -r line; do
		kind=${line%% *}
		rest=${line#* }
		case $kind in
		PASS) ft_pass "$rest" ;;
		FAIL) ft_fail "${rest%%: *}" "${rest#*: }" ;;
		SKIP) ft_skip "${rest%%: *}" "${rest#*: }" ;;
		DATA) echo "${rest}" >>"$FT_TMP/data" ;;
		*) echo "$line" >&2 ;;
		esac
	done
}

: >"$FT_TMP/data"
if [ -z "$PY" ]; then
	ft_skip static "python3 is not installed"
else
	"$PY" - "$FT_ROOT" "$FT_BIN" "$FT_TMP" <<'PY' 2>"$FT_TMP/checker.err" | relay
import json, os, re, shlex, subprocess, sys

ROOT, BIN, TMP = sys.argv[1:4]
DEPLOY = os.path.join(ROOT, "docs", "deploy")
try:
    import yaml
except ImportError:
    yaml = None


def say(kind, name, why=""):
    print(f"{kind} {name}" + (f": {why}" if why else ""), flush=True)


def verdict(name, problems):
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        say("FAIL", name, "; ".join(problems[:3]) + more)
    else:
        say("PASS", name)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, ROOT)


def run_out(args):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=20)
        return p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired):
        return None


HELP = run_out([BIN, "help"]) if os.access(BIN, os.X_OK) else None
SUBCMDS = set(re.findall(r"^  ([a-z][a-z-]*)\s{2,}", HELP or "", re.M))
_opts = {}


def options(cmd):
    """Every option name `flowtap CMD --help` lists."""
    if cmd not in _opts:
        out = run_out([BIN, cmd, "--help"]) or ""
        names = set()
        for line in out.splitlines():
            m = re.match(r"^\s+(-.*?)(?:\s{2,}|$)", line)
            if m:
                names.update(re.findall(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)", m.group(1)))
        _opts[cmd] = names
    return _opts[cmd]


class StrictLoader(yaml.SafeLoader if yaml else object):
    pass


if yaml:
    def _no_dup_mapping(loader, node, deep=False):
        keys = set()
        for k, _ in node.value:
            key = loader.construct_object(k, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", k.start_mark)
            keys.add(key)
        return loader.construct_mapping(node, deep)

    StrictLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_dup_mapping)

KNOWN_KINDS = {
    ("v1", "Namespace"): False,  # namespaced?
    ("v1", "ServiceAccount"): True,
    ("v1", "ConfigMap"): True,
    ("v1", "Service"): True,
    ("apps/v1", "DaemonSet"): True,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): True,
}

DOCS = []  # (file, index, doc)


def check_yaml_parse():
    files = sorted(f for f in os.listdir(DEPLOY) if f.endswith((".yaml", ".yml")))
    if not files:
        return say("FAIL", "yaml_parse", "no YAML files in docs/deploy")
    problems = []
    for f in files:
        try:
            docs = list(yaml.load_all(read(os.path.join(DEPLOY, f)), Loader=StrictLoader))
        except yaml.YAMLError as e:
            problems.append(f"{f}: {str(e).splitlines()[0]} {getattr(e, 'problem_mark', '')}")
            continue
        for i, d in enumerate(docs):
            if d is None:
                continue
            if not isinstance(d, dict):
                problems.append(f"{f}[{i}]: not a mapping")
                continue
            DOCS.append((f, i, d))
    verdict("yaml_parse", problems)


def field(d, path, default=None):
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def where(f, i, d):
    return f"{f}[{i}] {d.get('kind')}/{field(d, 'metadata.name')}"


def strings_only(m, what, loc, problems):
    if m is None:
        return
    if not isinstance(m, dict):
        problems.append(f"{loc}: {what} is not a mapping")
        return
    for k, v in m.items():
        if not isinstance(k, str) or not isinstance(v, str):
            problems.append(f"{loc}: {what} {k!r} is {type(v).__name__}, must be a string (quote it)")


def check_yaml_kinds():
    problems, seen = [], set()
    namespaces = {field(d, "metadata.name") for _, _, d in DOCS if d.get("kind") == "Namespace"}
    for f, i, d in DOCS:
        loc = where(f, i, d)
        key = (d.get("apiVersion"), d.get("kind"))
        if key not in KNOWN_KINDS:
            problems.append(f"{loc}: unknown apiVersion/kind {key}")
            continue
        name = field(d, "metadata.name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            problems.append(f"{loc}: metadata.name missing or not a DNS name")
        ns = field(d, "metadata.namespace")
        if KNOWN_KINDS[key]:
            if not ns:
                problems.append(f"{loc}: no metadata.namespace")
            elif namespaces and ns not in namespaces:
                problems.append(f"{loc}: namespace {ns} is not created here")
        if (key, ns, name) in seen:
            problems.append(f"{loc}: defined twice")
        seen.add((key, ns, name))
        strings_only(field(d, "metadata.labels"), "label", loc, problems)
        strings_only(field(d, "metadata.annotations"), "annotation", loc, problems)
        if d.get("kind") == "ConfigMap":
            strings_only(d.get("data"), "data", loc, problems)
        if d.get("kind") == "DaemonSet":
            strings_only(field(d, "spec.template.metadata.labels"), "pod label", loc, problems)
            strings_only(field(d, "spec.template.metadata.annotations"), "pod annotation", loc,
                         problems)
    if not any(d.get("kind") == "DaemonSet" for _, _, d in DOCS):
        problems.append("no DaemonSet")
    verdict("yaml_kinds", problems)


LINUX_CAPS = set("""CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE""".split())
HOSTPATH_TYPES = {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                  "CharDevice", "BlockDevice"}
# Runtime API sockets: a hostPath above one hands the pod the runtime.
SOCKETS = ["/run/containerd/containerd.sock", "/run/docker.sock", "/var/run/docker.sock",
           "/run/crio/crio.sock", "/run/podman/podman.sock", "/run/dockershim.sock",
           "/run/k3s/containerd/containerd.sock", "/var/run/containerd/containerd.sock"]


def quantity(q, cpu):
    s = str(q)
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?", s)
    if not m:
        return None
    n = float(m.group(1))
    mult = {None: 1, "m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
            "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    if cpu and m.group(2) not in (None, "m"):
        return None
    return n * mult


def is_flowtap(argv):
    return bool(argv) and isinstance(argv[0], str) and os.path.basename(argv[0]) == "flowtap"


def ds_container(d):
    """The flowtap container of a DaemonSet and its argv."""
    for c in field(d, "spec.template.spec.containers", []) or []:
        argv = list(c.get("command") or []) + list(c.get("args") or [])
        if is_flowtap(argv):
            return c, argv
    return None, None


def arg_value(argv, flag):
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if isinstance(a, str) and a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def source_paths():
    """Absolute host paths userspace/ reads (string literals)."""
    paths = set()
    src = os.path.join(ROOT, "userspace")
    for f in sorted(os.listdir(src)):
        if not f.endswith(".c"):
            continue
        for m in re.finditer(r'"/?((?:var/lib|run)(?:/[A-Za-z0-9_.-]+)+|sys/fs/cgroup(?:/[A-Za-z0-9_.-]+)*)/?"',
                             read(os.path.join(src, f))):
            paths.add("/" + m.group(1))
    return paths


def docs_of(kind):
    return [(f, i, d) for f, i, d in DOCS if d.get("kind") == kind]


def ds_pod(d, spec, ns):
    """Selector, host namespaces, containers, service account, Pod Security."""
    problems = []
    sel = field(d, "spec.selector.matchLabels") or {}
    labels = field(d, "spec.template.metadata.labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        problems.append("spec.selector.matchLabels not all in the pod template's labels")
    for k in ("hostNetwork", "hostPID"):
        if spec.get(k) is not True:
            problems.append(f"{k} is not true")
    for cc in spec.get("containers", []):
        if not cc.get("name") or not cc.get("image"):
            problems.append("a container without name or image")
    sa = spec.get("serviceAccountName")
    if sa and not any(field(x, "metadata.name") == sa and field(x, "metadata.namespace") == ns
                      for _, _, x in docs_of("ServiceAccount")):
        problems.append(f"serviceAccount {sa} is not defined here")
    nsdoc = [x for _, _, x in docs_of("Namespace") if field(x, "metadata.name") == ns]
    if nsdoc and field(nsdoc[0], "metadata.labels", {}).get(
            "pod-security.kubernetes.io/enforce") not in (None, "privileged"):
        problems.append("the namespace's Pod Security level rejects hostNetwork/hostPID")
    return problems


def ds_security(sc):
    problems = []
    caps = field(sc, "capabilities.add") or []
    if sc.get("privileged") is True:
        problems.append("privileged: the point is a short capability list")
    if "ALL" not in (field(sc, "capabilities.drop") or []):
        problems.append("capabilities.drop lacks ALL")
    bad = [x for x in caps if x not in LINUX_CAPS]
    if bad:
        problems.append(f"unknown capabilities {bad} (Kubernetes wants them without CAP_)")
    if len(set(caps)) != len(caps):
        problems.append("a capability added twice")
    if sc.get("allowPrivilegeEscalation") is False and "SYS_ADMIN" in caps:
        problems.append("allowPrivilegeEscalation: false with SYS_ADMIN is refused by the "
                        "API server")
    return problems


def ds_hostpath(m, hp, privileged):
    """One hostPath mount: at the host's path, read-only but bpffs, no socket above."""
    problems, path = [], hp.get("path", "")
    if hp.get("type", "") not in HOSTPATH_TYPES:
        problems.append(f"volume {m['name']}: hostPath type {hp.get('type')}")
    if path != m.get("mountPath"):
        problems.append(f"volume {m['name']}: {path} mounted at {m.get('mountPath')}; "
                        "flowtap reads the host's paths")
    if path != "/sys/fs/bpf" and m.get("readOnly") is not True:
        problems.append(f"hostPath {path} is not readOnly")
    for s in SOCKETS:
        if (s + "/").startswith(path.rstrip("/") + "/"):
            problems.append(f"hostPath {path} contains the socket {s}")
    return problems


def ds_mounts(spec, c, privileged):
    problems, hostmounts = [], set()
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
    mounts = c.get("volumeMounts") or []
    paths = [m.get("mountPath") for m in mounts]
    if len(set(paths)) != len(paths):
        problems.append("two mounts at one path")
    for m in mounts:
        v = vols.get(m.get("name"))
        if v is None:
            problems.append(f"mount {m.get('name')} has no volume")
            continue
        prop = m.get("mountPropagation", "None")
        if prop not in ("None", "HostToContainer", "Bidirectional"):
            problems.append(f"mount {m['name']}: mountPropagation {prop}")
        if prop == "Bidirectional" and not privileged:
            problems.append(f"mount {m['name']}: Bidirectional needs a privileged container")
        if v.get("hostPath"):
            problems += ds_hostpath(m, v["hostPath"], privileged)
            hostmounts.add(v["hostPath"].get("path"))
    if "/sys/fs/bpf" not in hostmounts:
        problems.append("the host's /sys/fs/bpf is not mounted (pins would die with the pod)")
    for p in sorted(source_paths()):
        if not any(p == h or p.startswith(h.rstrip("/") + "/") for h in hostmounts):
            problems.append(f"userspace/ reads {p}, which is not mounted")
    return problems


def ds_probes_env(c, argv):
    problems = []
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", []) or []}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        pr = c.get(probe)
        if not pr:
            if probe != "startupProbe":
                problems.append(f"no {probe}")
            continue
        port = field(pr, "httpGet.port")
        if port not in ports and port not in ports.values():
            problems.append(f"{probe} port {port} is not a container port")
        if not str(field(pr, "httpGet.path", "")).startswith("/"):
            problems.append(f"{probe} path")
    env = {e.get("name") for e in c.get("env", []) or []}
    for a in argv:
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(a)):
            if var not in env:
                problems.append(f"$({var}) in the arguments is not in env")
    return problems


def ds_metrics(d, c, argv):
    """--metrics: reachable by the kubelet and Prometheus, on the declared port."""
    ports = {p.get("containerPort") for p in c.get("ports", []) or []}
    metrics = arg_value(argv, "--metrics")
    if not metrics:
        return ["no --metrics"]
    problems = []
    host, _, port = metrics.rpartition(":")
    if host in ("", "127.0.0.1", "localhost", "[::1]", "::1"):
        problems.append("--metrics on loopback: the kubelet and Prometheus cannot reach it")
    if not port.isdigit() or int(port) not in ports:
        problems.append(f"--metrics port {port} is not a container port")
    ann = field(d, "spec.template.metadata.annotations", {}) or {}
    if "prometheus.io/port" in ann and ann["prometheus.io/port"] != port:
        problems.append(f"prometheus.io/port {ann['prometheus.io/port']} != {port}")
    return problems


def ds_config(spec, c, argv, ns):
    """--config names a key of a ConfigMap mounted there; saved for the live run."""
    cfg = arg_value(argv, "--config")
    if not cfg:
        return []
    vols = {v.get("name"): v for v in spec.get("volumes", []) or []}
    m = [m for m in c.get("volumeMounts") or [] if os.path.dirname(cfg) == m.get("mountPath")]
    cm = vols.get(m[0]["name"], {}).get("configMap") if m else None
    cms = [x for _, _, x in docs_of("ConfigMap") if cm and
           field(x, "metadata.name") == cm.get("name") and field(x, "metadata.namespace") == ns]
    key = os.path.basename(cfg)
    if not cms or key not in (cms[0].get("data") or {}):
        return [f"--config {cfg} is not a file of a ConfigMap mounted there"]
    out = os.path.join(TMP, "configmap-" + key)
    with open(out, "w") as fo:
        fo.write(cms[0]["data"][key])
    print(f"DATA configmap_conf={out}")
    return []


def ds_resources(c):
    problems, res = [], c.get("resources") or {}
    for r in ("cpu", "memory"):
        req, lim = field(res, f"requests.{r}"), field(res, f"limits.{r}")
        if req is None or lim is None:
            problems.append(f"no {r} request or limit")
            continue
        qr, ql = quantity(req, r == "cpu"), quantity(lim, r == "cpu")
        if qr is None or ql is None:
            problems.append(f"bad {r} quantity {req}/{lim}")
        elif qr > ql:
            problems.append(f"{r} request {req} above limit {lim}")
    return problems


def check_daemonset():
    """Each DaemonSet; returns the flowtap container's capabilities."""
    caps = None
    for f, i, d in docs_of("DaemonSet"):
        name = f"daemonset_{field(d, 'metadata.name')}"
        ns = field(d, "metadata.namespace")
        spec = field(d, "spec.template.spec") or {}
        problems = ds_pod(d, spec, ns)
        c, argv = ds_container(d)
        if not c:
            verdict(name, problems + ["no flowtap container"])
            continue
        sc = c.get("securityContext") or {}
        problems += ds_security(sc)
        problems += ds_mounts(spec, c, sc.get("privileged") is True)
        problems += ds_probes_env(c, argv)
        problems += ds_metrics(d, c, argv)
        problems += ds_config(spec, c, argv, ns)
        problems += ds_resources(c)
        verdict(name, problems)
        caps = field(sc, "capabilities.add") or []
    if caps is not None:
        print("DATA caps=" + ",".join(caps))
    return caps


def check_service():
    pods = [(field(d, "metadata.namespace"), field(d, "spec.template.metadata.labels") or {},
             ds_container(d)[0]) for _, _, d in docs_of("DaemonSet")]
    for f, i, d in docs_of("Service"):
        problems = []
        sel = field(d, "spec.selector") or {}
        hit = [c for ns, lab, c in pods if ns == field(d, "metadata.namespace") and sel and
               all(lab.get(k) == v for k, v in sel.items())]
        if not hit:
            problems.append("selector matches no DaemonSet's pods")
        for p in field(d, "spec.ports", []) or []:
            t = p.get("targetPort", p.get("port"))
            cports = [(x.get("name"), x.get("containerPort")) for c in hit if c
                      for x in c.get("ports", []) or []]
            if hit and not any(t in pair for pair in cports):
                problems.append(f"targetPort {t} is no container port")
            if not p.get("name"):
                problems.append("an unnamed port (ServiceMonitors select by name)")
        verdict(f"service_{field(d, 'metadata.name')}", problems)


def check_servicemonitor():
    for f, i, d in docs_of("ServiceMonitor"):
        problems = []
        sel = field(d, "spec.selector.matchLabels") or {}
        nss = field(d, "spec.namespaceSelector.matchNames") or [field(d, "metadata.namespace")]
        svcs = [s for _, _, s in docs_of("Service") if field(s, "metadata.namespace") in nss and
                sel and all((field(s, "metadata.labels") or {}).get(k) == v
                            for k, v in sel.items())]
        if not svcs:
            problems.append("selects no Service defined here")
        names = {p.get("name") for s in svcs for p in field(s, "spec.ports", []) or []}
        eps = field(d, "spec.endpoints") or []
        if not eps:
            problems.append("no endpoints")
        for e in eps:
            if e.get("port") not in names:
                problems.append(f"endpoint port {e.get('port')} is not a port name of the Service")
            for r in e.get("relabelings", []) or []:
                act = str(r.get("action", "replace")).lower()
                if act not in ("replace", "keep", "drop", "hashmod", "labelmap", "labeldrop",
                               "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal"):
                    problems.append(f"relabeling action {act}")
        verdict(f"servicemonitor_{field(d, 'metadata.name')}", problems)


def config_keys():
    src = os.path.join(ROOT, "userspace", "config.c")
    if os.path.exists(src):
        return set(re.findall(r'\{\s*"([a-z_]+)",\s*CFG_', read(src)))
    return set()


def check_config(name, text):
    keys, problems = config_keys(), []
    if not keys:
        return say("SKIP", name, "no key table in userspace/config.c")
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)  # commented keys must be valid too
        if m and m.group(1) not in keys:
            problems.append(f"line {n}: unknown key {m.group(1)}")
        elif not m and line.strip() and not line.lstrip().startswith("#"):
            problems.append(f"line {n}: not 'key = value'")
    verdict(name, problems)


def dockerfile_instructions(text):
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        ins, _, rest = cur.partition(" ")
        out.append((ins.upper(), rest.strip()))
        cur = ""
    return out


def apt_installs(run):
    pkgs = []
    for seg in re.split(r"&&|;|\|\|", run):
        toks = seg.split()
        if "apt-get" in toks and "install" in toks:
            for t in toks[toks.index("install") + 1:]:
                if not t.startswith("-"):
                    pkgs.append(t)
    return pkgs


def pkg_of(path):
    for p in (os.path.realpath(path), path):
        out = run_out(["dpkg", "-S", p])
        if out and ":" in out and "no path found" not in out:
            return out.split(":")[0].strip()
        # usrmerge: /lib/... is /usr/lib/... in dpkg's database or the other way round
        alt = p[4:] if p.startswith("/usr/") else "/usr" + p
        out = run_out(["dpkg", "-S", alt])
        if out and ":" in out and "no path found" not in out:
            return out.split(":")[0].strip()
    return None


def apt_closure(pkgs):
    out = run_out(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs)
    if not out:
        return None
    return {l.strip() for l in out.splitlines() if l and not l.startswith(" ")
            and not l.startswith("<")}


def dockerfile_stages(text):
    """[{image, name, ins: [(INSTRUCTION, rest)]}] and what precedes the first FROM."""
    stages, problems = [], []
    for ins, rest in dockerfile_instructions(text):
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            stages.append({"image": m.group(1) if m else rest, "name": m and m.group(2),
                           "ins": []})
        elif not stages:
            if ins != "ARG":
                problems.append(f"{ins} before the first FROM")
        else:
            stages[-1]["ins"].append((ins, rest))
    return stages, problems


def stage_pkgs(stage):
    return [p for i, r in stage["ins"] if i == "RUN" for p in apt_installs(r)]


def df_structure(stages, problems):
    for s in stages:
        if not re.match(r"debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?$", s["image"]):
            problems.append(f"FROM {s['image']}: not Debian bookworm")
    build, runtime = stages[0], stages[-1]
    runs = " && ".join(r for i, r in build["ins"] if i == "RUN")
    if not re.search(r"(^|[\s;&])make(\s|$)", runs):
        problems.append("the build stage does not run make")
    copies = [r for i, r in runtime["ins"] if i == "COPY" and "--from=" in r]
    if not any(re.search(r"--from=(\S+)", c).group(1) in (build["name"], "0") for c in copies):
        problems.append("the runtime stage copies nothing from the build stage")
    dest = copies[0].split()[-1] if copies else None
    ep = [r for i, r in runtime["ins"] if i == "ENTRYPOINT"]
    try:
        ep_argv = json.loads(ep[-1]) if ep else []
    except ValueError:
        ep_argv = []
        problems.append("ENTRYPOINT is not in exec (JSON) form")
    if dest and ep_argv and ep_argv[0] != dest:
        problems.append(f"ENTRYPOINT {ep_argv[0]} is not the copied {dest}")
    heavy = [p for p in stage_pkgs(runtime)
             if p.endswith("-dev") or p in ("gcc", "clang", "llvm", "make")]
    if heavy:
        problems.append(f"the runtime stage installs build tools {heavy}")
    verdict("dockerfile_stages", problems)


def df_build_deps(build):
    """The build stage installs the Makefile's -dev packages and compilers."""
    out = run_out(["make", "-s", "--no-print-directory", "-C", ROOT,
                   "--eval", "ft-print-pkgs: ; @echo $(DEBIAN_PKGS)", "ft-print-pkgs"])
    need = [p for p in (out or "").split() if (p.endswith("-dev") and
            not p.startswith("libclang-rt")) or p in ("clang", "llvm", "bpftool")]
    if not need:
        return say("SKIP", "dockerfile_build_deps", "cannot read DEBIAN_PKGS from the Makefile")
    missing = [p for p in need if p not in stage_pkgs(build)]
    verdict("dockerfile_build_deps", [f"the build stage does not install {missing} "
                                      "(Makefile DEBIAN_PKGS)"] if missing else [])


def df_runtime_libs(runtime):
    """What the binary loads, mapped to Debian packages, against the runtime stage."""
    if not os.access(BIN, os.X_OK):
        return say("SKIP", "dockerfile_runtime_libs", "no ./flowtap (run make)")
    if not run_out(["dpkg", "--version"]):
        return say("SKIP", "dockerfile_runtime_libs", "no dpkg")
    rt_pkgs = stage_pkgs(runtime)
    libs = re.findall(r"=>\s+(/\S+)", run_out(["ldd", BIN]) or "")
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", run_out(["readelf", "-d", BIN]) or "")
    if (any(n.startswith(("libasan.", "libubsan.")) for n in needed)
            or "__asan_init" in (run_out(["nm", BIN]) or "")):
        return say("SKIP", "dockerfile_runtime_libs", "./flowtap is built with sanitizers "
                   "(make SANITIZE=1); the image's build is not")
    closure = apt_closure(rt_pkgs) or set()
    problems, mapped = [], {}
    for lib in libs:
        pkg = pkg_of(lib)
        if pkg:
            mapped[os.path.basename(lib)] = pkg.split(",")[0].split(":")[0]
        else:
            problems.append(f"{lib}: no Debian package owns it")
    for lib, pkg in sorted(mapped.items()):
        if pkg == "libc6":
            continue  # in every Debian image
        if lib in needed and pkg not in rt_pkgs:
            problems.append(f"{lib} (NEEDED) is in {pkg}, which the runtime stage does not "
                            "install")
        elif pkg not in rt_pkgs and pkg not in closure:
            problems.append(f"{lib} is in {pkg}, neither installed nor a dependency of what is")
    extra = sorted(set(rt_pkgs) - set(mapped.values()))
    print(f"runtime packages this build does not load (yet): {extra}", file=sys.stderr)
    if not libs:
        problems.append("ldd listed no library")
    verdict("dockerfile_runtime_libs", problems)


def check_dockerfile():
    path = os.path.join(DEPLOY, "Dockerfile")
    if not os.path.exists(path):
        return say("FAIL", "dockerfile_stages", "no docs/deploy/Dockerfile")
    stages, problems = dockerfile_stages(read(path))
    if len(stages) < 2:
        return verdict("dockerfile_stages", problems + ["not multi-stage"])
    df_structure(stages, problems)
    df_build_deps(stages[0])
    df_runtime_libs(stages[-1])


UNIT_KEYS = {
    "Unit": """Description Documentation After Before Wants Requires Requisite BindsTo PartOf
        Conflicts RequiresMountsFor ConditionPathExists ConditionPathIsMountPoint
        AssertPathIsMountPoint DefaultDependencies StartLimitIntervalSec StartLimitBurst""",
    "Service": """Type ExecStart ExecStartPre ExecStartPost ExecReload ExecStop ExecStopPost
        Restart RestartSec TimeoutStartSec TimeoutStopSec KillSignal KillMode SuccessExitStatus
        User Group Environment EnvironmentFile LimitMEMLOCK LimitNOFILE CapabilityBoundingSet
        AmbientCapabilities NoNewPrivileges ProtectSystem ProtectHome ReadWritePaths ReadOnlyPaths
        InaccessiblePaths LogsDirectory LogsDirectoryMode StateDirectory RuntimeDirectory
        ConfigurationDirectory PrivateTmp PrivateDevices PrivateNetwork ProtectKernelTunables
        ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname
        ProtectProc ProcSubset DevicePolicy DeviceAllow UMask RestrictAddressFamilies
        RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality
        MemoryDenyWriteExecute SystemCallArchitectures SystemCallFilter SystemCallErrorNumber
        SyslogIdentifier StandardOutput StandardError WatchdogSec Nice OOMScoreAdjust MemoryMax
        MemoryHigh CPUQuota TasksMax""",
    "Install": "WantedBy RequiredBy Alias Also",
}
UNIT_MULTI = {"After", "Before", "Wants", "Requires", "Conflicts", "RequiresMountsFor",
              "ExecStartPre", "ExecStartPost", "ExecStop", "ExecStopPost", "Environment",
              "EnvironmentFile", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths",
              "DeviceAllow", "SystemCallFilter", "WantedBy", "RequiredBy",
              "CapabilityBoundingSet", "AmbientCapabilities", "RestrictAddressFamilies"}
UNIT_BOOL = {"NoNewPrivileges", "PrivateTmp", "PrivateDevices", "PrivateNetwork",
             "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
             "ProtectControlGroups", "ProtectClock", "ProtectHostname", "RestrictRealtime",
             "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
             "DefaultDependencies"}
UNIT_ENUM = {"Type": {"simple", "exec", "forking", "oneshot", "dbus", "notify", "notify-reload",
                      "idle"},
             "Restart": {"no", "on-success", "on-failure", "on-abnormal", "on-watchdog",
                         "on-abort", "always"},
             "ProtectSystem": {"yes", "no", "true", "false", "full", "strict"},
             "ProtectHome": {"yes", "no", "true", "false", "read-only", "tmpfs"},
             "DevicePolicy": {"auto", "closed", "strict"},
             "KillMode": {"control-group", "mixed", "process", "none"}}
BOOLS = {"yes", "no", "true", "false", "on", "off", "1", "0"}


def parse_unit(text):
    sec, entries, problems, cont = None, [], [], ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = cont + raw.strip()
        cont = ""
        if line.endswith("\\"):
            cont = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not re.fullmatch(r"\[[A-Za-z]+\]", line):
                problems.append(f"line {n}: bad section header")
            sec = line[1:-1]
            if sec not in UNIT_KEYS:
                problems.append(f"line {n}: unknown section [{sec}]")
            continue
        if "=" not in line or sec is None:
            problems.append(f"line {n}: not key=value inside a section")
            continue
        k, v = (x.strip() for x in line.split("=", 1))
        entries.append((n, sec, k, v))
    return entries, problems


def unit_entry(n, sec, k, v, known):
    """Problems of one key=value line."""
    problems = []
    if sec in known and k not in known[sec]:
        problems.append(f"line {n}: unknown key {k} in [{sec}]")
    if k in UNIT_BOOL and v.lower() not in BOOLS:
        problems.append(f"line {n}: {k}={v} is not a boolean")
    if k in UNIT_ENUM and v not in UNIT_ENUM[k]:
        problems.append(f"line {n}: {k}={v}")
    if k.startswith("Exec") and not re.match(r"[-@:+!]*/", v):
        problems.append(f"line {n}: {k} needs an absolute path")
    if k in ("CapabilityBoundingSet", "AmbientCapabilities"):
        bad = [c for c in v.lstrip("~").split()
               if not c.startswith("CAP_") or c[4:] not in LINUX_CAPS]
        if bad:
            problems.append(f"line {n}: unknown capabilities {bad}")
    if k == "RestrictAddressFamilies":
        bad = [a for a in v.lstrip("~").split() if not re.fullmatch(r"AF_[A-Z0-9]+", a)]
        if bad:
            problems.append(f"line {n}: {bad}")
    return problems


def unit_syntax(entries, problems):
    """Known keys and values; returns {key: [values]}."""
    known = {s: set(v.split()) for s, v in UNIT_KEYS.items()}
    seen, vals = set(), {}
    for n, sec, k, v in entries:
        problems += unit_entry(n, sec, k, v, known)
        if (sec, k) in seen and k not in UNIT_MULTI:
            problems.append(f"line {n}: {k} given twice")
        seen.add((sec, k))
        vals.setdefault(k, []).append(v)
    for s in ("Unit", "Service", "Install"):
        if not any(sec == s for _, sec, _, _ in entries):
            problems.append(f"no [{s}]")
    verdict("unit_syntax", problems)
    return vals


def unit_flow_log_writable(argv, vals, rw):
    """The flow log of the config ExecStart names is writable under ProtectSystem=strict."""
    cfg = arg_value(argv, "--config")
    if not cfg:
        return []
    conf = os.path.join(DEPLOY, os.path.basename(cfg))
    if not os.path.exists(conf):
        return [f"ExecStart's --config {cfg}: no {os.path.basename(cfg)} in docs/deploy"]
    m = re.search(r"^\s*flow_log\s*=\s*(\S+)", read(conf), re.M)
    if not m:
        return []
    d = os.path.dirname(m.group(1))
    logs = " ".join(vals.get("LogsDirectory", [])).split()
    if any(d == p or d.startswith(p + "/") for p in rw) or \
            any(d == "/var/log/" + x for x in logs):
        return []
    return [f"flow_log directory {d} is read-only under ProtectSystem=strict"]


def unit_hardening(vals, caps):
    problems = []
    words = lambda k: set(" ".join(vals.get(k, [])).split())
    one = lambda k: (vals.get(k) or [""])[-1]
    bnd, amb = words("CapabilityBoundingSet"), words("AmbientCapabilities")
    if not bnd:
        problems.append("no CapabilityBoundingSet")
    if not amb <= bnd:
        problems.append(f"ambient {sorted(amb - bnd)} outside the bounding set")
    if caps is not None and bnd != {"CAP_" + c for c in caps}:
        problems.append(f"bounding set {sorted(bnd)} differs from the DaemonSet's {sorted(caps)}")
    if one("NoNewPrivileges").lower() not in ("yes", "true", "on", "1"):
        problems.append("NoNewPrivileges is not yes")
    if one("ProtectSystem") != "strict":
        problems.append("ProtectSystem is not strict")
    rw = [p.lstrip("-") for p in words("ReadWritePaths")]
    if "/sys/fs/bpf" not in rw:
        problems.append("/sys/fs/bpf is not in ReadWritePaths")
    need = {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"}
    if not need <= words("RestrictAddressFamilies"):
        problems.append(f"RestrictAddressFamilies lacks "
                        f"{sorted(need - words('RestrictAddressFamilies'))}")
    argv = shlex.split(one("ExecStart").lstrip("-@:+!"))
    if not is_flowtap(argv) or argv[1:2] != ["run"]:
        problems.append("ExecStart is not `flowtap run ...`")
    problems += unit_flow_log_writable(argv, vals, rw)
    verdict("unit_hardening", problems)


def check_unit(caps):
    path = os.path.join(DEPLOY, "flowtap.service")
    if not os.path.exists(path):
        return say("FAIL", "unit_syntax", "no docs/deploy/flowtap.service")
    entries, problems = parse_unit(read(path))
    unit_hardening(unit_syntax(entries, problems), caps)


def segments(line):
    for seg in re.split(r"\|\||&&|[|;`]|\$\(", line):
        try:
            toks = shlex.split(seg, comments=True)
        except ValueError:
            toks = seg.split()
        yield toks


def invocations(toks):
    """flowtap argv lists in one shell segment."""
    if toks and re.match(r"Exec[A-Za-z]+=", toks[0]):  # a unit's Exec line
        toks = [toks[0].split("=", 1)[1]] + toks[1:]
    i = 0
    while i < len(toks) and (toks[i] in ("sudo", "exec", "env", "-") or
                             re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", toks[i])):
        i += 1
    if i < len(toks):
        t = re.sub(r"^[-@:+!]*", "", toks[i])
        if os.path.basename(t) == "flowtap":
            yield toks[i + 1:]
            return
    for j in range(len(toks) - 1):  # kubectl exec ... -- flowtap status
        if toks[j] == "--" and os.path.basename(toks[j + 1]) == "flowtap":
            yield toks[j + 2:]


def collect_invocations():
    """(where, argv after "flowtap", strict): strict where the line is code;
    in comments and prose only known commands are checked."""
    found = []
    for f, i, d in docs_of("DaemonSet"):
        c, argv = ds_container(d)
        if c:
            found.append((f"{f} {d['metadata']['name']}", [str(a) for a in argv[1:]], True))
    df = os.path.join(DEPLOY, "Dockerfile")
    if os.path.exists(df):
        ins = dockerfile_instructions(read(df))
        ep = [json.loads(r) for i, r in ins if i == "ENTRYPOINT" and r.startswith("[")]
        cmd = [json.loads(r) for i, r in ins if i == "CMD" and r.startswith("[")]
        if ep and cmd and is_flowtap(ep[-1]):
            found.append(("Dockerfile ENTRYPOINT+CMD", ep[-1][1:] + cmd[-1], True))
        for i, r in ins:
            if i == "RUN":
                for toks in segments(r):
                    found += [("Dockerfile RUN", a, True) for a in invocations(toks)]
    for name in sorted(os.listdir(DEPLOY)):
        p = os.path.join(DEPLOY, name)
        text = read(p)
        if name.endswith(".service"):
            lines = [(l, not l.lstrip().startswith(("#", ";"))) for l in text.splitlines()]
            lines = [(l.lstrip("#; "), strict) for l, strict in lines]
        elif name.endswith(".md"):
            lines = [(l, True) for l in md_code(text)]
        elif name.endswith((".yaml", ".yml", ".conf")) or name == "Dockerfile" or \
                name.endswith(".dockerignore"):
            lines = [(l.split("#", 1)[1], False) for l in text.splitlines() if "#" in l]
        else:
            continue
        for l, strict in lines:
            for toks in segments(l):
                found += [(name, a, strict) for a in invocations(toks)]
    return found


def md_code(text):
    """Lines of fenced and indented code blocks, and inline code spans."""
    out, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence or line.startswith("    ") or line.startswith("\t"):
            out.append(line)
        else:
            out += re.findall(r"`([^`]+)`", line)
    return out


def check_flags():
    if not SUBCMDS:
        return say("SKIP", "flags", "no ./flowtap to ask (run make)")
    problems, n = [], 0
    found = collect_invocations()
    for where_, argv, strict in found:
        if not argv or argv[0].startswith("-") or not re.fullmatch(r"[a-z][a-z-]*", argv[0]):
            continue
        cmd = argv[0]
        if cmd not in SUBCMDS:
            if strict:
                problems.append(f"{where_}: flowtap {cmd}: no such command")
            continue
        opts = options(cmd)
        for a in argv[1:]:
            if a.startswith(("#", ">", "2>", "<")):
                break
            if re.fullmatch(r"--?[A-Za-z0-9][\w-]*(=.*)?", a):
                n += 1
                if a.split("=", 1)[0] not in opts:
                    problems.append(f"{where_}: flowtap {cmd} {a.split('=', 1)[0]}: not in "
                                    f"`flowtap {cmd} --help`")
    kinds = {w.split()[0] for w, _, strict in found if strict}
    for must in ("daemonset.yaml", "flowtap.service", "Dockerfile")[0 if yaml else 1:]:
        if must not in kinds:
            problems.append(f"found no flowtap command in {must}")
    print(f"flags: {len(found)} flowtap commands, {n} flags checked", file=sys.stderr)
    verdict("flags", problems)


def main():
    caps = None
    if yaml is None:
        for n in ("yaml_parse", "yaml_kinds", "daemonset", "service", "servicemonitor"):
            say("SKIP", n, "PyYAML is not installed (Debian: python3-yaml)")
    else:
        check_yaml_parse()
        check_yaml_kinds()
        caps = check_daemonset()
        check_service()
        check_servicemonitor()
    conf = os.path.join(DEPLOY, "run.conf")
    if os.path.exists(conf):
        check_config("config_run_conf", read(conf))
    for f, i, d in docs_of("ConfigMap"):
        for k, v in (d.get("data") or {}).items():
            if k.endswith(".conf"):
                check_config(f"config_configmap_{k.replace('.', '_')}", v)
    check_dockerfile()
    check_unit(caps)
    check_flags()


main()
PY
	rc=${PIPESTATUS[0]}
	cat "$FT_TMP/checker.err" >&2
	[ "$rc" = 0 ] || ft_fail static "the checker stopped: $(tail -n 1 "$FT_TMP/checker.err")"
fi

data() { sed -n "s/^$1=//p" "$FT_TMP/data" | tail -n 1; }

live_skip() {
	ft_skip live "$1"
	ft_done
}
[ "$(id -u)" = 0 ] || live_skip "needs root"
[ -x "$FT_BIN" ] || live_skip "no ./flowtap (run make)"
for c in setpriv unshare ip tc; do
	command -v $c >/dev/null 2>&1 || live_skip "$c is not installed"
done
CAPS=$(data caps)
if [ -z "$CAPS" ]; then # no PyYAML: the unit's bounding set
	CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$DEPLOY/flowtap.service" | tr ' ' '\n' |
		sed -n 's/^CAP_//p' | paste -sd, -)
fi
[ -n "$CAPS" ] || live_skip "no capability set found"
setpriv --bounding-set=-all,+bpf true 2>/dev/null || live_skip "setpriv does not know CAP_BPF"

NS=ftt-$$-caps
ft_netns_add $NS || live_skip "cannot create a namespace"
PIN=$(ft_bpffs $NS)

# The "container": a namespace that only a process of another user holds,
# like a pod's pause process (uid 65535), with no bind mount to name it.
ft_bg unshare -n setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600
HOLD=$FT_LAST_PID
for _ in $(seq 50); do
	[ "$(stat -Lc %u "/proc/$HOLD" 2>/dev/null)" = 65534 ] && break
	sleep 0.1
done
if ! { ip -n $NS link add ftcap0 type veth peer name ftcap1 netns "$HOLD" &&
	ip -n $NS link set ftcap0 up && ip -n $NS addr add 198.18.77.1/24 dev ftcap0; }; then
	live_skip "cannot create the veth into the holder's namespace"
fi

setpriv_args() { # CAPS: flags for exactly these capabilities (K8s names)
	local s
	s=$(echo "$1" | tr '[:upper:]' '[:lower:]' | sed 's/^/+/; s/,/,+/g')
	echo "--no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all,$s"
}
without() { # CAPS CAP: CAPS minus CAP
	echo "$1" | tr ',' '\n' | grep -vx "$2" | paste -sd, -
}
# capx CAPS CMD...: CMD in the namespace with exactly CAPS.
capx() {
	local caps=$1
	shift
	# shellcheck disable=SC2046 # word splitting of the flags is wanted
	ip netns exec $NS env FLOWTAP_PIN_ROOT="$PIN/flowtap" LIBXDP_BPFFS="$PIN" \
		setpriv $(setpriv_args "$caps") -- "$@"
}
RUN=0
run_start() { # CAPS LOG ARGS...: flowtap run in the background, PID in RUN
	local caps=$1 log=$2
	shift 2
	# Not through capx (a function, so a subshell): RUN must be flowtap's PID.
	# shellcheck disable=SC2046
	ft_bg ip netns exec $NS env FLOWTAP_PIN_ROOT="$PIN/flowtap" LIBXDP_BPFFS="$PIN" \
		setpriv $(setpriv_args "$caps") -- "$FT_BIN" run --interval 1 "$@" >"$log" 2>&1
	RUN=$FT_LAST_PID
}
RC=0
run_stop() { # SIGTERM, exit status in RC
	kill -TERM "$RUN" 2>/dev/null
	wait "$RUN" 2>/dev/null
	RC=$?
}
attached() { # CAPS HOOK: status (run with CAPS) lists ftcap0 with HOOK, within 5 s
	local _
	for _ in $(seq 50); do
		capx "$1" "$FT_BIN" status --json 2>/dev/null | grep -q "\"ftcap0\".*\"$2\"" && return 0
		sleep 0.1
	done
	return 1
}
filters_left() { # flowtap's TC filters or XDP program on ftcap0
	{
		tc -n $NS filter show dev ftcap0 ingress
		tc -n $NS filter show dev ftcap0 egress
		ip -n $NS -d link show ftcap0 | grep -o 'prog/xdp.*'
	} 2>/dev/null | grep -c 'flowtap\|prog/xdp'
}

# 1. the unit's configuration (run.conf) with its metrics on the pod-style
# address, TC on the veth. Without syslog: another test may be listening on
# /dev/log.
log=$FT_TMP/run-tc.log
sed 's/^syslog *=.*/syslog = no/' "$DEPLOY/run.conf" >"$FT_TMP/run.conf"
run_start "$CAPS" "$log" --config "$FT_TMP/run.conf" -i ftcap0 \
	--flow-log "$FT_TMP/flows.jsonl" --metrics 198.18.77.1:19477
if attached "$CAPS" tc; then
	echo "capabilities: $CAPS" >&2
	ft_pass caps_run_tc
else
	ft_fail caps_run_tc "with $CAPS: $(grep -v '^ ' "$log" | head -3 | tr '\n' ' ')"
fi
if grep -q "metrics is not available" "$log"; then
	ft_skip caps_metrics "this build has no metrics in flowtap run"
elif ip netns exec $NS curl -sf -m 3 http://198.18.77.1:19477/metrics 2>/dev/null |
	grep -q '^flowtap_'; then
	ft_pass caps_metrics
else
	ft_fail caps_metrics "nothing on 198.18.77.1:19477/metrics"
fi

# 2. attribution: the holder's process is found through /proc/PID/ns/net.
json=$(capx "$CAPS" "$FT_BIN" containers --json 2>&1)
if echo "$json" | grep -q "\"iface\":\"ftcap0\".*\"pid\":${HOLD}[,}]"; then
	ft_pass caps_attribution
else
	ft_fail caps_attribution "pid $HOLD not found: $(echo "$json" | head -c 300)"
fi
run_stop
ft_expect caps_run_exit "$RC" 0
ft_expect caps_detached "$(filters_left)" 0

# 3. XDP with the ConfigMap's configuration.
CM=$(data configmap_conf)
log=$FT_TMP/run-xdp.log
run_start "$CAPS" "$log" ${CM:+--config "$CM"} -i ftcap0 --hook xdp
if attached "$CAPS" xdp; then
	ft_pass caps_run_xdp
else
	ft_fail caps_run_xdp "$(grep -v '^ ' "$log" | head -3 | tr '\n' ' ')"
fi
run_stop
ft_expect caps_run_xdp_exit "$RC" 0
ft_expect caps_xdp_detached "$(filters_left)" 0

# 4. Each capability is needed.
if echo ",$CAPS," | grep -q ',SYS_PTRACE,'; then
	json=$(capx "$(without "$CAPS" SYS_PTRACE)" "$FT_BIN" containers --json 2>&1)
	if echo "$json" | grep -q "\"pid\":${HOLD}[,}]"; then
		ft_fail needs_sys_ptrace "attribution works without it: drop it from the manifests"
	else
		ft_pass needs_sys_ptrace
	fi
fi
if echo ",$CAPS," | grep -q ',NET_ADMIN,'; then
	log=$FT_TMP/run-nonetadmin.log
	run_start "$(without "$CAPS" NET_ADMIN)" "$log" -i ftcap0
	if attached "$CAPS" tc; then
		ft_fail needs_net_admin "run attached without it: drop it from the manifests"
	else
		ft_pass needs_net_admin
	fi
	run_stop
fi
for cap in BPF PERFMON; do
	echo ",$CAPS," | grep -q ",$cap," || continue
	log=$FT_TMP/run-no$cap.log
	run_start "$(without "$CAPS" $cap)" "$log" -i ftcap0 --hook tc
	if attached "$CAPS" tc; then
		ft_fail "needs_$(echo $cap | tr A-Z a-z)" "run attached without it: drop it from the manifests"
	else
		ft_pass "needs_$(echo $cap | tr A-Z a-z)"
	fi
	run_stop
	tc -n $NS qdisc del dev ftcap0 clsact 2>/dev/null
done
# SYS_ADMIN is not in the set: everything above ran without it.
if echo ",$CAPS," | grep -q ',SYS_ADMIN,'; then
	ft_fail no_sys_admin "the manifests grant SYS_ADMIN, which no step above needs"
else
	ft_pass no_sys_admin
fi
ft_done
