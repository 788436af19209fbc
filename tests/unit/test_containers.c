// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The container parsers, table-driven: /proc/PID/cgroup files of every
 * runtime in cgroup v1, v2 and hybrid form, and the runtimes' state files
 * (Docker config.v2.json, OCI config.json of containerd/CRI-O/podman,
 * containers/storage's containers.json) in their real shapes, then
 * malformed and hostile inputs, which must give "nothing", never a crash.
 *
 * Usage: test_containers [-k PATTERN]
 */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "containers.h"
#include "flowtap.h"
#include "test.h"

#define ID1  "3f4e7a1b2c3d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccd"
#define ID2  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID  "1f2e3d4c-5b6a-4789-9abc-def012345678"
#define UID_ "1f2e3d4c_5b6a_4789_9abc_def012345678"

/* A v1 file whose every controller line has the same path. */
#define V1(path)                                                                                   \
	"12:pids:" path "\n11:memory:" path "\n10:cpu,cpuacct:" path "\n4:devices:" path           \
	"\n1:name=systemd:" path "\n"

struct cg_case {
	const char *name;
	const char *in;
	int ret;
	enum ft_runtime rt;
	const char *id;
	bool kubepods;
	const char *pod_uid;
};

static const struct cg_case cg_cases[] = {
    /* Docker */
    {"docker/v1_cgroupfs", V1("/docker/" ID1), 0, FT_RT_DOCKER, ID1},
    {"docker/v2_systemd", "0::/system.slice/docker-" ID1 ".scope\n", 0, FT_RT_DOCKER, ID1},
    {"docker/hybrid_v1_only", V1("/docker/" ID1) "0::/\n", 0, FT_RT_DOCKER, ID1},
    {"docker/hybrid_systemd",
     V1("/system.slice/docker-" ID1 ".scope") "0::/system.slice/docker-" ID1 ".scope\n", 0,
     FT_RT_DOCKER, ID1},
    {"docker/in_docker", "0::/docker/" ID2 "/docker/" ID1 "\n", 0, FT_RT_DOCKER, ID1},
    {"docker/systemd_inside", "0::/system.slice/docker-" ID1 ".scope/init.scope\n", 0, FT_RT_DOCKER,
     ID1},
    {"docker/k8s_dockershim",
     "0::/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID1 ".scope\n", 0, FT_RT_DOCKER, ID1,
     true, UID},
    /* containerd */
    {"containerd/cri_systemd",
     "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" ID1 ".scope\n",
     0, FT_RT_CONTAINERD, ID1, true, UID},
    {"containerd/cri_cgroupfs_v1", V1("/kubepods/burstable/pod" UID "/" ID1), 0, FT_RT_UNKNOWN, ID1,
     true, UID},
    {"containerd/colon_form",
     "0::/system.slice/containerd.service/kubepods-burstable-pod" UID_ ".slice:cri-containerd:" ID1
     "\n",
     0, FT_RT_CONTAINERD, ID1, true, UID},
    {"containerd/cgroupns_relative", "0::/../../kubepods/besteffort/pod" UID "/" ID1 "\n", 0,
     FT_RT_UNKNOWN, ID1, true, UID},
    {"containerd/nerdctl", "0::/system.slice/nerdctl-" ID1 ".scope\n", 0, FT_RT_CONTAINERD, ID1},
    {"containerd/plain_namespace_dir", "0::/default/" ID1 "\n", 0, FT_RT_UNKNOWN, ID1},
    /* CRI-O */
    {"crio/systemd",
     "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" ID1
     ".scope\n",
     0, FT_RT_CRIO, ID1, true, UID},
    {"crio/cgroupfs", V1("/kubepods/burstable/pod" UID "/crio-" ID1), 0, FT_RT_CRIO, ID1, true,
     UID},
    {"crio/conmon", "0::/kubepods.slice/crio-conmon-" ID1 ".scope\n", -ENOENT},
    {"crio/systemd_container_subgroup",
     "0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID1 ".scope/container\n", 0, FT_RT_CRIO,
     ID1, true, UID},
    /* Podman */
    {"podman/cgroupfs_hybrid",
     V1("/libpod_parent/libpod-" ID1) "0::/libpod_parent/libpod-" ID1 "\n", 0, FT_RT_PODMAN, ID1},
    {"podman/systemd", "0::/machine.slice/libpod-" ID1 ".scope\n", 0, FT_RT_PODMAN, ID1},
    {"podman/rootless",
     "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope\n", 0,
     FT_RT_PODMAN, ID1},
    {"podman/pod", "0::/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID1 ".scope\n", 0,
     FT_RT_PODMAN, ID1},
    {"podman/conmon", "0::/machine.slice/libpod-conmon-" ID1 ".scope\n", -ENOENT},
    /* LXC / LXD */
    {"lxc/payload", "0::/lxc.payload.web1\n", 0, FT_RT_LXC, "web1"},
    {"lxc/v1", V1("/lxc/web2"), 0, FT_RT_LXC, "web2"},
    {"lxc/monitor", "0::/lxc.monitor.web1\n", -ENOENT},
    /* v2 line wins over v1 lines in a hybrid file */
    {"hybrid/unified_wins", V1("/docker/" ID2) "0::/system.slice/docker-" ID1 ".scope\n", 0,
     FT_RT_DOCKER, ID1},
    {"hybrid/systemd_line_wins", "4:memory:/docker/" ID2 "\n1:name=systemd:/docker/" ID1 "\n0::/\n",
     0, FT_RT_DOCKER, ID1},
    /* not containers */
    {"host/root", "0::/\n", -ENOENT},
    {"host/init_scope", "0::/init.scope\n", -ENOENT},
    {"host/v1", V1("/user.slice/user-0.slice/session-1.scope"), -ENOENT},
    {"host/no_newline", "0::/system.slice/sshd.service", -ENOENT},
    /* malformed or hostile */
    {"bad/empty", "", -EINVAL},
    {"bad/garbage", "garbage without colons\n\n", -EINVAL},
    {"bad/hier_not_number", "x::/docker/" ID1 "\n", -EINVAL},
    {"bad/relative_path", "0::docker/" ID1 "\n", -ENOENT},
    {"bad/short_id", "0::/system.slice/docker-3f4e7a1b.scope\n", -ENOENT},
    {"bad/long_id", "0::/docker/" ID1 "0\n", -ENOENT},
    {"bad/uppercase_id",
     "0::/docker/3F4E7A1B2C3D4E5F60718293A4B5C6D7E8F9011223344556677889900AABBCCD\n", -ENOENT},
    {"bad/non_hex_id",
     "0::/system.slice/docker-"
     "zz4e7a1b2c3d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccd"
     ".scope\n",
     -ENOENT},
    {"bad/lxc_long_name",
     "0::/"
     "lxc.payload."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     -ENOENT},
    {"bad/lxc_hostile_name", "0::/lxc.payload.a b\"c\n", 0, FT_RT_LXC, "a_b_c"},
    {"bad/colon_unknown_kind", "0::/x.slice:evil:" ID1 "\n", 0, FT_RT_UNKNOWN, ID1},
    {"bad/pod_uid_junk", "0::/kubepods/podxyz/" ID1 "\n", 0, FT_RT_UNKNOWN, ID1, true, ""},
};

static void test_cgroup_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(cg_cases) / sizeof(cg_cases[0]); i++) {
		const struct cg_case *c = &cg_cases[i];
		struct ft_cgroup_ref r;
		int ret;

		if (!test_start("cgroup/%s", c->name))
			continue;
		ret = ft_cgroup_parse(c->in, strlen(c->in), &r);
		if (!ASSERT_EQ(ret, c->ret, "return"))
			goto end;
		if (ret) {
			ASSERT_EQ(r.runtime, FT_RT_NONE, "runtime zeroed");
			ASSERT_STREQ(r.id, "", "id zeroed");
			goto end;
		}
		ASSERT_STREQ(ft_runtime_name(r.runtime), ft_runtime_name(c->rt), "runtime");
		ASSERT_STREQ(r.id, c->id, "id");
		ASSERT_EQ(r.kubepods, c->kubepods, "kubepods");
		ASSERT_STREQ(r.pod_uid, c->pod_uid ? c->pod_uid : "", "pod uid");
	end:
		test_end();
	}
}

/* Lengths are what the parser is told, not strlen: NULs and no NUL. */
static void test_cgroup_bytes(void)
{
	static const char nul[] = "0::/docker/" ID1 "\0\n0::/system.slice/docker-" ID2 ".scope\n";
	const char *line = "0::/docker/" ID1 "\n";
	struct ft_cgroup_ref r;
	char *big, *cut;
	size_t n = 100000;

	if (test_start("cgroup/embedded_nul")) {
		/* The first line's path holds a NUL: not a path; the second counts. */
		if (ASSERT_OK(ft_cgroup_parse(nul, sizeof(nul) - 1, &r), "parse"))
			ASSERT_STREQ(r.id, ID2, "id");
		test_end();
	}
	if (test_start("cgroup/unterminated")) {
		cut = malloc(strlen(line) - 1); /* no NUL, no newline */
		memcpy(cut, line, strlen(line) - 1);
		if (ASSERT_OK(ft_cgroup_parse(cut, strlen(line) - 1, &r), "parse"))
			ASSERT_STREQ(r.id, ID1, "id");
		ASSERT_EQ(ft_cgroup_parse(cut, 12, &r), -ENOENT, "cut inside the id");
		free(cut);
		test_end();
	}
	if (test_start("cgroup/oversized")) {
		big = malloc(n);
		memset(big, '/', n);
		memcpy(big, "0::", 3);
		ASSERT_EQ(ft_cgroup_parse(big, n, &r), -EINVAL, "100 kB file");
		ASSERT_EQ(ft_cgroup_path_parse(big + 3, 5000, &r), -EINVAL, "5000-byte path");
		ASSERT_EQ(ft_cgroup_path_parse(NULL, 0, &r), -EINVAL, "NULL path");
		ASSERT_EQ(ft_cgroup_parse(NULL, 0, &r), -EINVAL, "NULL file");
		free(big);
		test_end();
	}
}

struct meta_case {
	const char *name;
	int (*parse)(const char *, size_t, struct ft_container_meta *);
	const char *in;
	int ret;
	const char *id, *cname, *k8s_container, *pod, *pod_ns, *pod_uid, *sandbox_id;
	bool sandbox, libpod;
};

#define DOCKER_PLAIN                                                                               \
	"{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Pid\":4242,\"ExitCode\":0},"           \
	"\"ID\":\"" ID1 "\",\"Created\":\"2024-05-01T10:00:00.0Z\",\"Managed\":false,"             \
	"\"Path\":\"nginx\",\"Args\":[\"-g\",\"daemon off;\"],"                                    \
	"\"Config\":{\"Hostname\":\"3f4e7a1b2c3d\",\"Env\":[\"PATH=/usr/bin\"],"                   \
	"\"Image\":\"nginx:1.25\",\"Labels\":{\"com.docker.compose.service\":\"web\"}},"           \
	"\"Image\":\"sha256:" ID2 "\",\"Name\":\"/web-1\",\"RestartCount\":0,"                     \
	"\"Driver\":\"overlay2\",\"HostConfig\":{}}"

#define DOCKER_K8S(type, cname)                                                                    \
	"{\"ID\":\"" ID1 "\",\"Name\":\"/k8s_" cname "_shop-7d9_prod_" UID "_0\","                 \
	"\"Config\":{\"Labels\":{\"io.kubernetes.pod.name\":\"shop-7d9\","                         \
	"\"io.kubernetes.pod.namespace\":\"prod\",\"io.kubernetes.pod.uid\":\"" UID "\","          \
	"\"io.kubernetes.container.name\":\"" cname "\",\"io.kubernetes.docker.type\":\"" type     \
	"\","                                                                                      \
	"\"io.kubernetes.sandbox.id\":\"" ID2 "\"}}}"

#define CONTAINERD_CRI(type, extra)                                                                \
	"{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"/"                                     \
	"pause\"]},\"root\":{\"path\":\"rootfs\"},"                                                \
	"\"annotations\":{\"io.kubernetes.cri.container-type\":\"" type "\","                      \
	"\"io.kubernetes.cri.sandbox-id\":\"" ID2 "\","                                            \
	"\"io.kubernetes.cri.sandbox-name\":\"shop-7d9\","                                         \
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","                                        \
	"\"io.kubernetes.cri.sandbox-uid\":\"" UID "\"" extra "},"                                 \
	"\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"}]}}"

#define CRIO_CONTAINER                                                                             \
	"{\"ociVersion\":\"1.0.2-dev\",\"annotations\":{"                                          \
	"\"io.container.manager\":\"cri-o\",\"io.kubernetes.cri-o.ContainerType\":\"container\","  \
	"\"io.kubernetes.cri-o.Name\":\"k8s_api_shop-7d9_prod_" UID "_1\","                        \
	"\"io.kubernetes.cri-o.SandboxID\":\"" ID2 "\","                                           \
	"\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.container.name\\\":\\\"api\\\","      \
	"\\\"io.kubernetes.pod.name\\\":\\\"shop-7d9\\\",\\\"io.kubernetes.pod.namespace\\\":"     \
	"\\\"prod\\\","                                                                            \
	"\\\"io.kubernetes.pod.uid\\\":\\\"" UID "\\\"}\"}}"

#define CRIO_SANDBOX                                                                               \
	"{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","                     \
	"\"io.kubernetes.cri-o.Name\":\"k8s_POD_shop-7d9_prod_" UID "_0\","                        \
	"\"io.kubernetes.pod.name\":\"shop-7d9\",\"io.kubernetes.pod.namespace\":\"prod\","        \
	"\"io.kubernetes.container.name\":\"POD\",\"io.kubernetes.cri-o.SandboxID\":\"" ID2 "\"}}"

/* What podman 4 writes (see /var/lib/containers/storage/.../userdata/config.json). */
#define PODMAN_OCI                                                                                 \
	"{\"ociVersion\":\"1.0.2-dev\",\"hostname\":\"3f4e7a1b2c3d\",\"annotations\":{"            \
	"\"io.container.manager\":\"libpod\",\"io.kubernetes.cri-o.Created\":\"2024-05-01T10:00:"  \
	"00Z\","                                                                                   \
	"\"io.kubernetes.cri-o.TTY\":\"false\",\"io.podman.annotations.autoremove\":\"FALSE\","    \
	"\"org.opencontainers.image.stopSignal\":\"15\"},\"linux\":{\"cgroupsPath\":"              \
	"\"/libpod_parent/libpod-" ID1 "\"}}"

#define STORE                                                                                      \
	"[{\"id\":\"" ID2 "\",\"names\":[\"other\"],\"image\":\"x\",\"layer\":\"y\"},"             \
	"{\"id\":\"" ID1 "\",\"names\":[\"ftt-web\",\"alias\"],\"image\":\"" ID2 "\","             \
	"\"metadata\":\"{\\\"image-name\\\":\\\"localhost/"                                        \
	"bb:latest\\\",\\\"name\\\":\\\"md-name\\\"}\","                                           \
	"\"created\":\"2024-05-01T10:00:00Z\",\"flags\":{\"MountLabel\":\"\"}}]"

#define STORE_MD_ONLY "[{\"id\":\"" ID1 "\",\"metadata\":\"{\\\"name\\\":\\\"from-md\\\"}\"}]"

static int parse_store_id1(const char *b, size_t n, struct ft_container_meta *m)
{
	return ft_storage_parse(b, n, ID1, m);
}

static const struct meta_case meta_cases[] = {
    {"docker/plain", ft_docker_config_parse, DOCKER_PLAIN, 0, ID1, "web-1"},
    {"docker/k8s_container", ft_docker_config_parse, DOCKER_K8S("container", "api"), 0, ID1,
     "k8s_api_shop-7d9_prod_" UID "_0", "api", "shop-7d9", "prod", UID, ID2},
    {"docker/k8s_sandbox", ft_docker_config_parse, DOCKER_K8S("podsandbox", "POD"), 0, ID1,
     "k8s_POD_shop-7d9_prod_" UID "_0", "POD", "shop-7d9", "prod", UID, ID2, true},
    {"oci/containerd_container", ft_oci_config_parse,
     CONTAINERD_CRI("container", ",\"io.kubernetes.cri.container-name\":\"api\","
				 "\"io.kubernetes.cri.image-name\":\"docker.io/x/api:1\""),
     0, "", "", "api", "shop-7d9", "prod", UID, ID2},
    {"oci/containerd_sandbox", ft_oci_config_parse, CONTAINERD_CRI("sandbox", ""), 0, "", "", "",
     "shop-7d9", "prod", UID, ID2, true},
    {"oci/crio_container", ft_oci_config_parse, CRIO_CONTAINER, 0, "",
     "k8s_api_shop-7d9_prod_" UID "_1", "api", "shop-7d9", "prod", UID, ID2},
    {"oci/crio_sandbox", ft_oci_config_parse, CRIO_SANDBOX, 0, "",
     "k8s_POD_shop-7d9_prod_" UID "_0", "POD", "shop-7d9", "prod", "", ID2, true},
    {"oci/podman", ft_oci_config_parse, PODMAN_OCI, 0, "", "", "", "", "", "", "", false, true},
    {"oci/nerdctl", ft_oci_config_parse,
     "{\"annotations\":{\"nerdctl/name\":\"db\",\"nerdctl/namespace\":\"default\"}}", 0, "", "db"},
    {"storage/names", parse_store_id1, STORE, 0, ID1, "ftt-web"},
    {"storage/metadata_name", parse_store_id1, STORE_MD_ONLY, 0, ID1, "from-md"},
    {"storage/absent", parse_store_id1, "[{\"id\":\"" ID2 "\",\"names\":[\"x\"]}]", -ENOENT},
    /* malformed */
    {"bad/docker_truncated", ft_docker_config_parse, "{\"ID\":\"" ID1 "\",\"Name\":\"/we", -EINVAL},
    {"bad/docker_array", ft_docker_config_parse, "[1,2,3]", -EINVAL},
    {"bad/docker_empty", ft_docker_config_parse, "", -EINVAL},
    {"bad/docker_empty_object", ft_docker_config_parse, "{}", -ENOENT},
    {"bad/docker_wrong_types", ft_docker_config_parse,
     "{\"ID\":5,\"Name\":[\"/x\"],\"Config\":\"labels\"}", -ENOENT},
    {"bad/docker_labels_not_object", ft_docker_config_parse,
     "{\"Name\":\"/ok\",\"Config\":{\"Labels\":[\"io.kubernetes.pod.name\"]}}", 0, "", "ok"},
    {"bad/docker_label_wrong_type", ft_docker_config_parse,
     "{\"Name\":\"/ok\",\"Config\":{\"Labels\":{\"io.kubernetes.pod.name\":{\"a\":1}}}}", 0, "",
     "ok"},
    {"bad/docker_hostile_name", ft_docker_config_parse,
     "{\"Name\":\"/a b\\n\\\"c\\\"=d\\u0000e;$(rm)\"}", 0, "", "a_b__c__d_e___rm_"},
    {"bad/docker_only_slashes", ft_docker_config_parse, "{\"Name\":\"///\"}", -ENOENT},
    {"bad/oci_no_annotations", ft_oci_config_parse, "{\"ociVersion\":\"1.0.2\"}", -ENOENT},
    {"bad/oci_annotations_array", ft_oci_config_parse, "{\"annotations\":[]}", -ENOENT},
    {"bad/oci_nested_labels_malformed", ft_oci_config_parse,
     "{\"annotations\":{\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\","
     "\"io.kubernetes.cri-o.Name\":\"n\"}}",
     0, "", "n"},
    {"bad/oci_nested_labels_not_string", ft_oci_config_parse,
     "{\"annotations\":{\"io.kubernetes.cri-o.Labels\":{\"io.kubernetes.pod.name\":\"p\"}}}",
     -ENOENT},
    {"bad/oci_trailing_garbage", ft_oci_config_parse,
     "{\"annotations\":{\"nerdctl/name\":\"db\"}} trailing", 0, "", "db"},
    {"bad/storage_not_array", parse_store_id1, "{\"id\":\"" ID1 "\"}", -EINVAL},
    {"bad/storage_names_not_strings", parse_store_id1, "[{\"id\":\"" ID1 "\",\"names\":[1,null]}]",
     0, ID1, ""},
    {"bad/storage_metadata_malformed", parse_store_id1,
     "[{\"id\":\"" ID1 "\",\"metadata\":\"{\\\"name\"}]", 0, ID1, ""},
    {"bad/storage_id_with_nul", parse_store_id1, "[{\"id\":\"" ID1 "\\u0000x\",\"names\":[\"x\"]}]",
     -ENOENT},
};

static void test_meta_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
		const struct meta_case *c = &meta_cases[i];
		struct ft_container_meta m;
		int ret;

		if (!test_start("meta/%s", c->name))
			continue;
		ret = c->parse(c->in, strlen(c->in), &m);
		if (!ASSERT_EQ(ret, c->ret, "return"))
			goto end;
		ASSERT_STREQ(m.id, c->id ? c->id : "", "id");
		ASSERT_STREQ(m.name, c->cname ? c->cname : "", "name");
		ASSERT_STREQ(m.k8s_container, c->k8s_container ? c->k8s_container : "",
			     "k8s container");
		ASSERT_STREQ(m.pod, c->pod ? c->pod : "", "pod");
		ASSERT_STREQ(m.pod_namespace, c->pod_ns ? c->pod_ns : "", "pod namespace");
		ASSERT_STREQ(m.pod_uid, c->pod_uid ? c->pod_uid : "", "pod uid");
		ASSERT_STREQ(m.sandbox_id, c->sandbox_id ? c->sandbox_id : "", "sandbox id");
		ASSERT_EQ(m.sandbox, c->sandbox, "sandbox");
		ASSERT_EQ(m.libpod, c->libpod, "libpod");
	end:
		test_end();
	}
}

/* Inputs no runtime writes: deep nesting, huge strings, sizes over the
 * caps, every prefix of a valid file. */
static void test_meta_hostile(void)
{
	struct ft_container_meta m;
	size_t n = 200000, i, len;
	char *buf;

	if (test_start("hostile/deep_nesting")) {
		buf = malloc(n + 1);
		memset(buf, '[', n);
		buf[n] = 0;
		ASSERT_EQ(ft_docker_config_parse(buf, n, &m), -EINVAL, "docker");
		ASSERT_EQ(ft_oci_config_parse(buf, n, &m), -EINVAL, "oci");
		ASSERT_EQ(ft_storage_parse(buf, n, ID1, &m), -EINVAL, "storage");
		free(buf);
		test_end();
	}
	if (test_start("hostile/long_name_is_cut")) {
		buf = malloc(n + 32);
		len = sprintf(buf, "{\"Name\":\"/");
		memset(buf + len, 'x', n);
		len += n;
		len += sprintf(buf + len, "\"}");
		if (ASSERT_OK(ft_docker_config_parse(buf, len, &m), "parse"))
			ASSERT_EQ(strlen(m.name), FT_CT_NAME_MAX - 1, "name length");
		free(buf);
		test_end();
	}
	if (test_start("hostile/over_cap")) {
		n = FT_CT_FILE_MAX + 1;
		buf = malloc(n);
		memset(buf, ' ', n);
		memcpy(buf, "{\"Name\":\"/x\"}", 13);
		ASSERT_EQ(ft_docker_config_parse(buf, n, &m), -EINVAL, "docker over 4 MiB");
		ASSERT_EQ(ft_oci_config_parse(buf, n, &m), -EINVAL, "oci over 4 MiB");
		free(buf);
		test_end();
	}
	if (test_start("hostile/every_prefix")) {
		static const char *const docs[] = {DOCKER_PLAIN, CRIO_CONTAINER, STORE};

		for (i = 0; i < 3; i++) {
			const char *d = docs[i];
			size_t l;

			for (l = 0; l < strlen(d); l++) {
				char *cut = malloc(l ? l : 1); /* exact size: ASan sees overreads */

				memcpy(cut, d, l);
				ft_docker_config_parse(cut, l, &m);
				ft_oci_config_parse(cut, l, &m);
				ft_storage_parse(cut, l, ID1, &m);
				free(cut);
			}
		}
		ASSERT_TRUE(true, "no crash");
		test_end();
	}
	if (test_start("hostile/storage_bad_id_argument")) {
		ASSERT_EQ(ft_storage_parse(STORE, strlen(STORE), "../../etc", &m), -EINVAL, "path");
		ASSERT_EQ(ft_storage_parse(STORE, strlen(STORE), NULL, &m), -EINVAL, "NULL");
		test_end();
	}
}

static void test_misc(void)
{
	struct ft_ct_labels l = {.runtime = FT_RT_PODMAN};
	char kv[256];

	if (test_start("names/patterns")) {
		ASSERT_TRUE(ft_ct_name_selected("veth0", NULL, NULL), "no patterns");
		ASSERT_TRUE(ft_ct_name_selected("veth0", "", ""), "empty patterns");
		ASSERT_TRUE(ft_ct_name_selected("veth0", "cali*,veth*", NULL), "second include");
		ASSERT_FALSE(ft_ct_name_selected("eth0", "cali*,veth*", NULL), "not included");
		ASSERT_FALSE(ft_ct_name_selected("veth0", "veth*", "veth0"), "excluded");
		ASSERT_TRUE(ft_ct_name_selected("veth1", "veth*", "veth0,,"), "empty list item");
		ASSERT_FALSE(ft_ct_name_selected("lxc12", NULL, "lxc[0-9]*"), "bracket pattern");
		test_end();
	}
	if (test_start("names/directions")) {
		ASSERT_STREQ(ft_ct_dir_name(FT_DIR_INGRESS), "from_container", "ingress");
		ASSERT_STREQ(ft_ct_dir_name(FT_DIR_EGRESS), "to_container", "egress");
		test_end();
	}
	if (test_start("names/runtimes")) {
		ASSERT_STREQ(ft_runtime_name(FT_RT_NONE), "none", "none");
		ASSERT_STREQ(ft_runtime_name(FT_RT_CONTAINERD), "containerd", "containerd");
		ASSERT_STREQ(ft_runtime_name(FT_RT_CRIO), "crio", "crio");
		ASSERT_STREQ(ft_runtime_name((enum ft_runtime)99), "unknown", "out of range");
		test_end();
	}
	if (test_start("labels/kv")) {
		strcpy(l.container, "web");
		strcpy(l.container_id, ID1);
		ft_ct_labels_kv(&l, kv, sizeof(kv));
		ASSERT_STREQ(kv, "runtime=podman container=web container_id=3f4e7a1b2c3d",
			     "podman");
		strcpy(l.pod, "shop-7d9");
		ft_ct_labels_kv(&l, kv, sizeof(kv));
		ASSERT_STREQ(kv,
			     "runtime=podman container=web container_id=3f4e7a1b2c3d pod=shop-7d9 "
			     "namespace=unknown",
			     "pod without namespace");
		ASSERT_TRUE(ft_ct_labels_resolved(&l), "resolved");
		l.runtime = FT_RT_NONE;
		ASSERT_FALSE(ft_ct_labels_resolved(&l), "bare namespace");
		ft_ct_labels_kv(&l, kv, 8);
		ASSERT_STREQ(kv, "runtime", "truncated");
		test_end();
	}
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "k:h")) != -1) {
		if (opt == 'k') {
			test_set_filter(optarg);
		} else {
			fprintf(stderr, "usage: %s [-k PATTERN]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_cgroup_table();
	test_cgroup_bytes();
	test_meta_table();
	test_meta_hostile();
	test_misc();
	return test_exit_code();
}
