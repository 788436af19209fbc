#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Writes the seed corpora under tests/fuzz/corpus/ and the crafted
regression inputs under tests/fuzz/regressions/. The files are committed;
rerun this after changing a seed, then commit what changed.

Each seed is one valid or deliberately broken input that reaches a
distinct path; libFuzzer mutates from there. Formats are described at the
top of each fuzz_*.c."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

MAC = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
V4A, V4B = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
V6A = bytes.fromhex("fd000000000000000000000000000001")
V6B = bytes.fromhex("fd000000000000000000000000000002")


def eth(proto, payload, vlans=()):
    """vlans: (tpid, tci) outermost first; each tag's inner type is the next TPID."""
    out = MAC + struct.pack("!H", vlans[0][0] if vlans else proto)
    for i, (_, tci) in enumerate(vlans):
        inner = vlans[i + 1][0] if i + 1 < len(vlans) else proto
        out += struct.pack("!HH", tci, inner)
    return out + payload


def ipv4(proto, l4, frag=0, tot=None, ihl=5, opts=b"", version=4, src=V4A, dst=V4B):
    hl = ihl * 4
    tot = hl + len(l4) if tot is None else tot
    hdr = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, tot, 1, frag, 64, proto, 0, src, dst)
    return hdr + opts + l4


def ipv6(nh, l4, plen=None, version=6):
    plen = len(l4) if plen is None else plen
    return struct.pack("!IHBB16s16s", version << 28, plen, nh, 64, V6A, V6B) + l4


def ext(nh, length8=0):
    """A generic IPv6 extension header of (length8 + 1) * 8 bytes."""
    return bytes([nh, length8]) + b"\x01\x04\x00\x00\x00\x00" + b"\x00" * (8 * length8)


def frag6(nh, offset=0, more=0):
    return struct.pack("!BBHI", nh, 0, offset << 3 | more, 0x1234)


def tcp(payload=b"", flags=0x18, doff=5, sport=40000, dport=80, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, doff << 4, flags, 65535, 0,
                       0) + opts + payload


def udp(payload=b"", sport=40000, dport=53, ulen=None):
    ulen = 8 + len(payload) if ulen is None else ulen
    return struct.pack("!HHHH", sport, dport, ulen, 0) + payload


def icmp(t=8, code=0, rest=b"\x00\x01\x00\x01"):
    return struct.pack("!BBH", t, code, 0) + rest


def parse_input(frame, hw_vlan=None, nonlinear=0):
    flags, tci = (1, hw_vlan) if hw_vlan is not None else (0, 0)
    return struct.pack("!BHB", flags, tci, nonlinear) + frame


GET = b"GET /index.html?user=alice HTTP/1.1\r\nHost: x\r\n\r\n"


def parse_seeds():
    s = {}
    v4, v6 = 0x0800, 0x86DD
    s["ipv4_tcp_syn"] = eth(v4, ipv4(6, tcp(flags=0x02)))
    s["ipv4_tcp_http_get"] = eth(v4, ipv4(6, tcp(GET)))
    for m in ["HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"]:
        s["ipv4_tcp_http_" + m.lower()] = eth(v4, ipv4(6, tcp(m.encode() + b" /x HTTP/1.1\r\n")))
    s["ipv4_tcp_http_not_method"] = eth(v4, ipv4(6, tcp(b"GETX / HTTP/1.1\r\n")))
    s["ipv4_tcp_options"] = eth(v4, ipv4(6, tcp(b"x", doff=8, opts=b"\x02\x04\x05\xb4" + b"\x01" * 8)))
    s["ipv4_tcp_doff_small"] = eth(v4, ipv4(6, tcp(doff=4)))
    s["ipv4_tcp_doff_past_ip"] = eth(v4, ipv4(6, tcp(doff=15)))
    s["ipv4_tcp_truncated"] = eth(v4, ipv4(6, tcp()[:12]))
    s["ipv4_udp_dns"] = eth(v4, ipv4(17, udp(b"\x12\x34\x01\x00" + b"\x00" * 8)))
    s["ipv4_udp_len_short"] = eth(v4, ipv4(17, udp(b"abcd", ulen=4)))
    s["ipv4_udp_len_long"] = eth(v4, ipv4(17, udp(b"abcd", ulen=200)))
    s["ipv4_icmp_echo"] = eth(v4, ipv4(1, icmp() + b"ping" * 8))
    s["ipv4_icmp_truncated"] = eth(v4, ipv4(1, b"\x08\x00\x00"))
    s["ipv4_gre"] = eth(v4, ipv4(47, b"\x00\x00\x08\x00" + b"\x00" * 20))
    s["ipv4_ip_options"] = eth(v4, ipv4(6, tcp(b"y"), ihl=7, opts=b"\x94\x04\x00\x00\x01\x01\x01\x00"))
    s["ipv4_ihl_small"] = eth(v4, ipv4(6, tcp(), ihl=4))
    s["ipv4_tot_len_small"] = eth(v4, ipv4(6, tcp(), tot=12))
    s["ipv4_tot_len_past_frame"] = eth(v4, ipv4(6, tcp(), tot=1400))
    s["ipv4_version_6"] = eth(v4, ipv4(6, tcp(), version=6))
    s["ipv4_truncated"] = eth(v4, ipv4(6, b"")[:16])
    s["ipv4_frag_nonfirst"] = eth(v4, ipv4(17, b"\x00" * 32, frag=185))
    s["ipv4_frag_first_tcp"] = eth(v4, ipv4(6, tcp(b"GET / HTTP/1.1\r\n"), frag=0x2000))
    s["ipv4_eth_padding"] = eth(v4, ipv4(17, udp(b"a"))) + b"\x00" * 17
    s["ipv6_tcp_http"] = eth(v6, ipv6(6, tcp(GET)))
    s["ipv6_udp"] = eth(v6, ipv6(17, udp(b"hello", dport=443)))
    s["ipv6_icmpv6_echo"] = eth(v6, ipv6(58, icmp(128) + b"x" * 16))
    s["ipv6_icmpv6_truncated"] = eth(v6, ipv6(58, b"\x80\x00"))
    s["ipv6_no_next"] = eth(v6, ipv6(59, b""))
    s["ipv6_ext_chain"] = eth(v6, ipv6(0, ext(43) + ext(60, 1) + ext(6) + tcp(b"z")))
    s["ipv6_ext_chain_too_long"] = eth(v6, ipv6(60, b"".join(ext(60) for _ in range(8)) + ext(17) + udp()))
    s["ipv6_ext_truncated"] = eth(v6, ipv6(0, ext(6, 3)[:12]))
    s["ipv6_frag_first"] = eth(v6, ipv6(44, frag6(6, 0, 1) + tcp(b"POST /f HTTP/1.1\r\n")))
    s["ipv6_frag_nonfirst"] = eth(v6, ipv6(44, frag6(17, 100) + b"\x00" * 24))
    s["ipv6_ah"] = eth(v6, ipv6(51, b"\x06\x04" + b"\x00" * 22))
    s["ipv6_truncated"] = eth(v6, ipv6(6, tcp())[:30])
    s["ipv6_plen_past_frame"] = eth(v6, ipv6(17, udp(), plen=3000))
    s["vlan_ipv4_udp"] = eth(v4, ipv4(17, udp()), vlans=[(0x8100, 100)])
    s["qinq_ipv6_tcp"] = eth(v6, ipv6(6, tcp(b"GET /q HTTP/1.0\r\n")), vlans=[(0x88A8, 10), (0x8100, 20)])
    s["vlan_too_deep"] = eth(v4, ipv4(6, tcp()), vlans=[(0x8100, 1), (0x8100, 2), (0x8100, 3)])
    s["vlan_truncated"] = MAC + b"\x81\x00\x00"
    s["arp_request"] = eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC[:6] + V4A + b"\x00" * 6 + V4B)
    s["arp_truncated"] = eth(0x0806, b"\x00\x01\x08")
    s["lldp"] = eth(0x88CC, b"\x02\x07\x04" + MAC[:6])
    s["eth_truncated"] = MAC[:10]
    out = {k: parse_input(v) for k, v in s.items()}
    # What the caller knows beyond the bytes: a stripped tag, non-linear tails.
    out["hwvlan_ipv4_tcp"] = parse_input(eth(v4, ipv4(6, tcp())), hw_vlan=0x2064)
    out["hwvlan_plus_tag_too_deep"] = parse_input(
        eth(v4, ipv4(6, tcp()), vlans=[(0x8100, 5), (0x8100, 6)]), hw_vlan=7)
    frame = eth(v4, ipv4(6, tcp(GET)))
    out["nonlinear_http_payload"] = parse_input(frame[:58], nonlinear=len(frame) - 58)
    frame = eth(v4, ipv4(6, tcp(b"x" * 200, doff=10, opts=b"\x01" * 20)))
    out["nonlinear_tcp_options"] = parse_input(frame[:60], nonlinear=len(frame) - 60)
    return out


def parse_regressions():
    v4, v6 = 0x0800, 0x86DD
    # The first 1472 bytes of a 3000-byte UDP datagram (DNS over EDNS,
    # NFS, VXLAN with a big inner frame): the UDP length is the datagram's.
    d4 = udp(b"\xab" * 1464, dport=53, ulen=3008)
    d6 = udp(b"\xcd" * 1440, dport=4789, ulen=3008)
    return {
        "udp-first-fragment-ipv4": parse_input(eth(v4, ipv4(17, d4, frag=0x2000))),
        "udp-first-fragment-ipv6": parse_input(eth(v6, ipv6(44, frag6(17, 0, 1) + d6))),
    }


def http_input(payload, keep_query=0, avail=255):
    return bytes([keep_query, avail]) + payload


def http_seeds():
    s = {
        "get_query": http_input(GET),
        "get_query_keep": http_input(GET, keep_query=1),
        "get_no_version": http_input(b"GET /only/path\r\n"),
        "get_lf_only": http_input(b"GET /a?b\n"),
        "get_segment_ends": http_input(b"GET /cut/in/the/midd"),
        "get_long_path": http_input(b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n"),
        "get_query_at_127": http_input(b"GET /" + b"b" * 122 + b"?secret=1 HTTP/1.1\r\n"),
        "get_query_at_128": http_input(b"GET /" + b"b" * 123 + b"?secret=1 HTTP/1.1\r\n"),
        "get_nul_in_path": http_input(b"GET /a\x00?b=1 HTTP/1.1\r\n"),
        "get_two_spaces": http_input(b"GET  / HTTP/1.1\r\n"),
        "get_ctrl_target": http_input(b"GET \x7f HTTP/1.1\r\n"),
        "get_avail_short": http_input(GET, avail=4),
        "get_avail_exact": http_input(GET, avail=5),
        "options_star": http_input(b"OPTIONS * HTTP/1.1\r\n"),
        "connect_authority": http_input(b"CONNECT example.com:443 HTTP/1.1\r\n"),
        "lowercase_get": http_input(b"get / HTTP/1.1\r\n"),
        "response": http_input(b"HTTP/1.1 200 OK\r\n"),
        "tls_client_hello": http_input(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        "empty": http_input(b""),
        "method_only": http_input(b"DELETE "),
        "absolute_uri": http_input(b"GET http://h/p?q=1#f HTTP/1.1\r\n"),
    }
    for m in ["HEAD", "POST", "PUT", "PATCH", "TRACE"]:
        s[m.lower()] = http_input(m.encode() + b" /r/" + m.lower().encode() + b"?x=1 HTTP/1.1\r\n")
    return s


def opts_input(*args, twice=0):
    return bytes([twice]) + b"\x00".join(a.encode() for a in args)


def opts_seeds():
    return {
        "flag": opts_input("-f"),
        "flag_long": opts_input("--flag"),
        "uint": opts_input("--uint", "5"),
        "uint_eq_hex": opts_input("--uint=0x10"),
        "uint_short_attached": opts_input("-u999"),
        "uint_over_max": opts_input("-u", "1001"),
        "uint_minus": opts_input("-u", "-1"),
        "count_big": opts_input("--count", "18446744073709551615"),
        "count_overflow": opts_input("--count", "18446744073709551616"),
        "size_k": opts_input("--size", "64k"),
        "size_mib": opts_input("-s1MiB"),
        "size_over_max": opts_input("-s", "1G"),
        "size_bad_suffix": opts_input("-s", "1KX"),
        "string": opts_input("--string", "hello world"),
        "string_eq": opts_input("-S=x"),
        "iface_lo": opts_input("--interface", "lo"),
        "iface_missing": opts_input("-i", "nosuchif0"),
        "iface_long_name": opts_input("-i", "abcdefghijklmnopq"),
        "iface_repeat": opts_input(*(["-ilo"] * 3)),
        "choice": opts_input("--choice", "two"),
        "choice_bad": opts_input("-C", "four"),
        "duration_s": opts_input("--interval", "1.5s"),
        "duration_ms": opts_input("-d500ms"),
        "duration_h": opts_input("-d", "2h"),
        "duration_exp": opts_input("-d", "1e3m"),
        "listen_v4": opts_input("--listen", "127.0.0.1:9477"),
        "listen_v6": opts_input("-l", "[::1]:9477"),
        "listen_port_only": opts_input("-l:9477"),
        "listen_bad_port": opts_input("-l", "[::1]:65536"),
        "positional": opts_input("a", "b"),
        "positional_too_many": opts_input("a", "b", "c"),
        "positional_mixed": opts_input("a", "-f", "b", "-u1"),
        "double_dash": opts_input("--", "-f"),
        "help": opts_input("--help"),
        "verbose_twice": opts_input("-vv", "--verbose"),
        "unknown_long": opts_input("--nope"),
        "unknown_short_cluster": opts_input("-fxq"),
        "missing_arg": opts_input("--uint"),
        "ambiguous_prefix": opts_input("--in", "lo"),
        "twice": opts_input("-f", "-u", "7", "-l:1", twice=1),
        "empty": opts_input(""),
    }


def opts_regressions():
    return {
        # strtoul skips leading blanks and accepts a sign: " -1" wraps.
        "uint-negative": opts_input(" -1"),
        "size-negative": opts_input(" -08"),  # octal to strtoul(base 0), not base 10
        # 1e308 hours is finite before the unit, +inf after.
        "duration-inf": opts_input("1e308h"),
        # A second ft_cmd_exec resumes the first one's short-option cluster.
        "getopt-state": opts_input("-hv", twice=1),
    }


def config_seeds():
    full = """# flowtap run configuration
interface = lo
hook = tc
interval = 10s
syslog = yes
syslog_top = 5
syslog_facility = local3
syslog_max_lines = 50
syslog_ended = off
flow_log = /var/log/flowtap/flows.jsonl
flow_log_max_size = 64MiB
flow_log_keep = 3
ipfix = 127.0.0.1:4739
ipfix_transport = tcp
ipfix_domain = 7
ipfix_template_refresh = 1m
metrics = [::1]:9477
containers = false
keep = no
checkpoint = true
flow_table_size = 262144
idle_timeout_tcp = 1h
idle_timeout_udp = 300
idle_timeout_icmp = 30s
idle_timeout_other = 500ms
tcp_fin_timeout = 5m
tcp_rst_timeout = 2m
active_timeout = 30m
table_high_water = 90
table_low_water = 80
"""
    s = {
        "full": full,
        "empty": "",
        "comments_blanks": "# only\n\n   \t\n#x = y\n",
        "crlf": "interval = 5\r\nkeep = yes\r\n",
        "no_final_newline": "interval = 2",
        "spaces": "   interval\t=\t 3s   \n",
        "unknown_key": "colour = blue\n",
        "no_equals": "interval 10\n",
        "bad_duration": "interval = soon\n",
        "zero_duration": "active_timeout = 0\n",
        "huge_duration": "active_timeout = 31d\n",
        "bad_bool": "keep = maybe\n",
        "bad_uint": "flow_table_size = -1\n",
        "over_max": "flow_table_size = 99999999999\n",
        "bad_size": "flow_log_max_size = 12Q\n",
        "bad_hook": "hook = ebpf\n",
        "bad_facility": "syslog_facility = kern\n",
        "bad_transport": "ipfix_transport = sctp\n",
        "bad_addr": "metrics = localhost:99999\n",
        "water_inverted": "table_high_water = 50\ntable_low_water = 60\n",
        "missing_iface": "interface = ftt-nosuchif\n",
        "many_ifaces": "interface = lo\n" * 3,
        "long_line": "flow_log = /" + "a" * 600 + "\n",
        "nul_byte": "keep = yes\n\x00\n",
        "equals_in_value": "flow_log = /tmp/a=b\n",
        "empty_value": "flow_log =\n",
    }
    return {k: v.encode() for k, v in s.items()}


ID1 = "3f4e7a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab"
ID2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
UID = "12345678-90ab-cdef-1234-567890abcdef"


def cgroup_seeds():
    uid_ = UID.replace("-", "_")
    paths = {
        "docker_cgroupfs": "/docker/" + ID1,
        "docker_systemd": "/system.slice/docker-%s.scope" % ID1,
        "docker_in_docker": "/docker/%s/docker/%s" % (ID2, ID1),
        "k8s_docker": "/kubepods.slice/kubepods-pod%s.slice/docker-%s.scope" % (uid_, ID1),
        "k8s_containerd_colon": "/system.slice/containerd.service/kubepods-burstable-pod%s.slice:cri-containerd:%s" % (uid_, ID1),
        "k8s_cgroupfs": "/kubepods/burstable/pod%s/%s" % (UID, ID1),
        "crio": "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/crio-%s.scope" % (uid_, ID1),
        "crio_conmon": "/kubepods.slice/crio-conmon-%s.scope" % ID1,
        "podman": "/machine.slice/libpod-%s.scope/container" % ID1,
        "nerdctl": "/system.slice/nerdctl-%s.scope" % ID1,
        "lxc_payload": "/lxc.payload.web01",
        "lxc3": "/lxc/web01",
        "relative": "/../../kubepods/besteffort/pod%s/%s" % (UID, ID1),
        "host": "/user.slice/user-1000.slice/session-2.scope",
        "root": "/",
        "short_id": "/docker/" + ID1[:40],
        "upper_id": "/docker/" + ID1.upper(),
    }
    out = {}
    for k, v in paths.items():
        out["path_" + k] = b"\x01" + v.encode()
        out["file_v2_" + k] = b"\x00" + ("0::%s\n" % v).encode()
    out["file_v1"] = b"\x00" + "".join(
        "%d:%s:/docker/%s\n" % (i, c, ID1)
        for i, c in enumerate(["cpuset", "cpu,cpuacct", "memory", "name=systemd"], 1)).encode()
    out["file_hybrid"] = b"\x00" + ("1:name=systemd:/system.slice/docker-%s.scope\n0::/\n" % ID1).encode()
    out["file_garbage"] = b"\x00no colons here\n:::\n1::\n"
    out["file_empty"] = b"\x00"
    return out


def runtime_seeds():
    docker = ('{"ID":"%s","Name":"/web","Config":{"Labels":{'
              '"io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"prod",'
              '"io.kubernetes.pod.uid":"%s","io.kubernetes.container.name":"nginx",'
              '"io.kubernetes.sandbox.id":"%s","io.kubernetes.docker.type":"container"}}}'
              % (ID1, UID, ID2))
    oci_cri = ('{"ociVersion":"1.0.2-dev","annotations":{'
               '"io.kubernetes.cri.container-type":"container",'
               '"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-name":"web-0",'
               '"io.kubernetes.cri.sandbox-namespace":"prod","io.kubernetes.cri.sandbox-uid":"%s",'
               '"io.kubernetes.cri.sandbox-id":"%s"}}' % (UID, ID2))
    crio_labels = json_str('{"io.kubernetes.pod.name":"db-1","io.kubernetes.container.name":"pg",'
                           '"io.kubernetes.pod.namespace":"data"}')
    oci_crio = ('{"annotations":{"io.kubernetes.cri-o.ContainerType":"container",'
                '"io.kubernetes.cri-o.Name":"k8s_pg_db-1","io.kubernetes.cri-o.SandboxID":"%s",'
                '"io.kubernetes.cri-o.Labels":%s}}' % (ID2, crio_labels))
    oci_podman = ('{"ociVersion":"1.0.2-dev","hostname":"3f4e7a1b2c3d","annotations":{'
                  '"io.container.manager":"libpod","io.podman.annotations.autoremove":"FALSE"}}')
    oci_nerdctl = '{"annotations":{"nerdctl/name":"db","nerdctl/namespace":"default"}}'
    storage = ('[{"id":"%s","names":["other"]},{"id":"%s","names":["web"],"image":"x"},'
               '{"id":"%s","names":[],"metadata":%s}]'
               % (ID1, ID2, ID1[:63] + "0", json_str('{"name":"from-metadata"}')))
    s = {
        "docker": b"\x00\x00" + docker.encode(),
        "docker_sandbox": b"\x00\x00" + docker.replace('"container"}', '"podsandbox"}').encode(),
        "docker_not_object": b"\x00\x00[1,2,3]",
        "docker_odd_chars": b"\x00\x00" + '{"ID":"a b\\u0000c","Name":"/\\u00e9t\\u00e9;rm -rf"}'.encode(),
        "oci_cri": b"\x01\x00" + oci_cri.encode(),
        "oci_crio": b"\x01\x00" + oci_crio.encode(),
        "oci_podman": b"\x01\x00" + oci_podman.encode(),
        "oci_nerdctl": b"\x01\x00" + oci_nerdctl.encode(),
        "oci_no_annotations": b"\x01\x00" + b'{"ociVersion":"1.0.2"}',
        "oci_deep": b"\x01\x00" + b'{"annotations":' + b"[" * 40 + b"]" * 40 + b"}",
        "storage": b"\x02\x00" + storage.replace(ID1, ID2, 0).encode(),
        "storage_metadata": b"\x02\x01" + ID1[:63].encode() + b"0" + storage.encode(),
        "storage_absent": b"\x02\x00" + b'[{"id":"x"}]',
        "storage_bad_id": b"\x02\x01" + b"Z" * 64 + b"[]",
        "truncated": b"\x00\x00" + docker[:40].encode(),
        "trailing_garbage": b"\x00\x00" + docker.encode() + b"}}garbage",
    }
    return s


def json_str(text):
    import json
    return json.dumps(text)


def tcpdump_prog(expr):
    """The classic program tcpdump compiles for expr (tcpdump -ddd), or None."""
    import shutil
    import subprocess
    if not shutil.which("tcpdump"):
        return None
    out = subprocess.run(["tcpdump", "-y", "EN10MB", "-ddd", expr], capture_output=True,
                         text=True)
    if out.returncode:
        return None
    lines = out.stdout.split()
    n = int(lines[0])
    return [tuple(int(x) for x in lines[1 + 4 * i:5 + 4 * i]) for i in range(n)]


def cbpf_insns_input(prog, pkt, flags=0):
    body = b"".join(struct.pack("<HBBI", c, jt, jf, k) for c, jt, jf, k in prog)
    return bytes([flags, 0, len(prog) - 1]) + body + pkt


CBPF_EXPRS = [
    "", "ip", "ip6", "arp", "tcp", "udp port 53", "icmp", "icmp6", "tcp[tcpflags] & tcp-syn != 0",
    "host 198.18.0.1", "net 198.18.0.0/15", "src port 40000 and dst port 80", "vlan", "vlan 100",
    "vlan and ip6", "ip[6:2] & 0x1fff != 0", "greater 100", "less 64", "ether broadcast",
    "ip proto 47", "tcp port 80 and (tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420)",
    "ip6 and tcp dst port 443", "not ip", "len > 1000 or udp",
]


def cbpf_seeds():
    frames = {
        "tcp_http": eth(0x0800, ipv4(6, tcp(GET))),
        "udp_dns": eth(0x0800, ipv4(17, udp(b"\x12\x34\x01\x00" + b"\x00" * 8))),
        "ipv6_tcp": eth(0x86DD, ipv6(6, tcp(b"x", dport=443))),
        "vlan_udp": eth(0x0800, ipv4(17, udp()), vlans=[(0x8100, 100)]),
        "frag": eth(0x0800, ipv4(17, b"\x00" * 32, frag=185)),
        "arp": eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC[:6] + V4A + bytes(6) + V4B),
        "short": MAC + b"\x08\x00" + b"\x45",
    }
    fl = list(frames.items())
    out = {}
    for i, expr in enumerate(CBPF_EXPRS):
        name, pkt = fl[i % len(fl)]
        tag = "".join(c if c.isalnum() else "_" for c in expr)[:40] or "empty"
        flags = [0, 2, 4][i % 3]
        out["expr_%02d_%s" % (i, tag)] = bytes([1 | flags, 0]) + expr.encode() + b"\x00" + pkt
        prog = tcpdump_prog(expr)
        if prog and len(prog) <= 64:
            out["insns_%02d_%s" % (i, tag)] = cbpf_insns_input(prog, pkt, flags)
    out["expr_snap96"] = bytes([1, 24]) + b"tcp\x00" + frames["tcp_http"]
    out["expr_syntax_error"] = bytes([1, 0]) + b"tcp port\x00" + frames["tcp_http"]
    BPF_LD, BPF_LDX, BPF_ST, BPF_ALU, BPF_JMP, BPF_RET, BPF_MISC = 0, 1, 2, 4, 5, 6, 7
    W, H, B, IMM, ABS, IND, MEM, LEN, MSH = 0, 8, 0x10, 0, 0x20, 0x40, 0x60, 0x80, 0xa0
    K, X, A = 0, 8, 0x10
    ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = 0, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0
    JA, JEQ, JGT, JGE, JSET = 0, 0x10, 0x20, 0x30, 0x40
    TAX, TXA = 0, 0x80
    raw = {
        "ret_k": [(BPF_RET | K, 0, 0, 96)],
        "ret_a_len": [(BPF_LD | W | LEN, 0, 0, 0), (BPF_RET | A, 0, 0, 0)],
        "load_out_of_packet": [(BPF_LD | W | ABS, 0, 0, 4000), (BPF_RET | K, 0, 0, 1)],
        "ind_msh": [(BPF_LDX | B | MSH, 0, 0, 14), (BPF_LD | H | IND, 0, 0, 14), (BPF_RET | A, 0, 0, 0)],
        "div_by_x_zero": [(BPF_LDX | W | IMM, 0, 0, 0), (BPF_LD | W | IMM, 0, 0, 7),
                          (BPF_ALU | DIV | X, 0, 0, 0), (BPF_RET | K, 0, 0, 5)],
        "mod_shift_x": [(BPF_LD | B | ABS, 0, 0, 23), (BPF_MISC | TAX, 0, 0, 0), (BPF_LD | W | IMM, 0, 0, 0xdeadbeef),
                        (BPF_ALU | RSH | X, 0, 0, 0), (BPF_ALU | MOD | K, 0, 0, 7), (BPF_RET | A, 0, 0, 0)],
        "shift_x_32": [(BPF_LDX | W | IMM, 0, 0, 40), (BPF_LD | W | IMM, 0, 0, 1), (BPF_ALU | LSH | X, 0, 0, 0),
                       (BPF_RET | A, 0, 0, 0)],
        "mem_roundtrip": [(BPF_LD | H | ABS, 0, 0, 12), (BPF_ST, 0, 0, 3), (BPF_LDX | MEM, 0, 0, 3),
                          (BPF_MISC | TXA, 0, 0, 0), (BPF_ALU | NEG, 0, 0, 0), (BPF_RET | A, 0, 0, 0)],
        "jumps": [(BPF_LD | H | ABS, 0, 0, 12), (BPF_JMP | JEQ | K, 0, 2, 0x800), (BPF_LD | B | ABS, 0, 0, 23),
                  (BPF_JMP | JSET | K, 1, 0, 0x10), (BPF_RET | K, 0, 0, 0), (BPF_JMP | JA, 0, 0, 0),
                  (BPF_RET | K, 0, 0, 262144)],
        "alu_all": [(BPF_LD | W | IMM, 0, 0, 123456789)] + [(BPF_ALU | op | K, 0, 0, 13) for op in
                    (ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR)] + [(BPF_RET | A, 0, 0, 0)],
        "backward_jump": [(BPF_JMP | JA, 0, 0, 0xffffffff), (BPF_RET | K, 0, 0, 1)],
        "ancillary": [(BPF_LD | W | ABS, 0, 0, 0xfffff000), (BPF_RET | A, 0, 0, 0)],
        "bad_opcode": [(0xffff, 0, 0, 0), (BPF_RET | K, 0, 0, 1)],
    }
    for name, prog in raw.items():
        for flags, suffix in ((0, ""), (2, "_xdp"), (4, "_slow")):
            out["raw_" + name + suffix] = cbpf_insns_input(prog, frames["tcp_http"], flags)
    return out


def write(kind, target, files):
    d = os.path.join(HERE, kind, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    write("corpus", "parse", parse_seeds())
    write("corpus", "http", http_seeds())
    write("corpus", "opts", opts_seeds())
    write("corpus", "config", config_seeds())
    write("corpus", "cgroup", cgroup_seeds())
    write("corpus", "runtime", runtime_seeds())
    write("corpus", "cbpf", cbpf_seeds())
    write("regressions", "parse", parse_regressions())
    write("regressions", "opts", opts_regressions())
    return 0


if __name__ == "__main__":
    sys.exit(main())
