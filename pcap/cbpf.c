// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Classic BPF to eBPF. See cbpf.h for the contract; docs/capture.md for the
 * design. The generated code is built with symbolic labels, then dead code
 * is dropped (the verifier rejects unreachable instructions) and the jumps
 * are resolved.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpcap's classic instruction has the eBPF one's name; rename it here. */
#define bpf_insn cbpf_pcap_insn
#include <pcap/pcap.h>
#undef bpf_insn

#include "cbpf.h"
#include "flowtap.h"

_Static_assert(sizeof(struct sock_filter) == sizeof(struct cbpf_pcap_insn), "classic insn");

/* Registers: callee-saved ones hold the classic machine across helpers. */
enum {
	R_CTX = BPF_REG_6,
	R_A = BPF_REG_7,
	R_X = BPF_REG_8,
	/* XDP: the packet start. SKB: 1 if the VLAN tag is offloaded. */
	R_AUX = BPF_REG_9,
};

/* Stack layout, below the frame pointer. */
enum {
	OFF_MEM = -64, /* M[0..15], u32 each */
	OFF_TMP = -72, /* bpf_skb_load_bytes destination */
	OFF_VHDR =
	    -96, /* SKB with offloaded tag: the frame's first 20 bytes as tcpdump sees them */
	OFF_PLEN = -104, /* frame length (u64), as the filter's "len" sees it */
	OFF_KEY0 = -108, /* u32 0: map key */
	OFF_IDX = -112,	 /* u32 index of the interface in the stats map */
	OFF_HDR = -144,	 /* struct ft_cap_hdr */
};

#define HDR(field) (OFF_HDR + (int)offsetof(struct ft_cap_hdr, field))

/* Largest offset loaded directly; beyond it the SKB path copies and XDP
 * (a frame is at most a page) rejects. */
#define DIRECT_MAX 0xfff0

struct xl {
	struct bpf_insn *v;
	int *target; /* label of a jump, -1 otherwise */
	size_t n, cap;
	int *lab; /* label -> instruction index */
	size_t nlab, labcap;
	const struct cbpf_prog *p;
	const struct cbpf_opts *o;
	int l_reject, l_end;
	bool uses_mem;
	char *err;
	size_t errlen;
	int failed;
};

static void xl_fail(struct xl *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xl_fail(struct xl *x, const char *fmt, ...)
{
	va_list ap;

	if (x->failed)
		return;
	x->failed = 1;
	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
}

static struct bpf_insn I(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm) {
	return (struct bpf_insn){
	    .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static void
emit_j(struct xl *x, struct bpf_insn in, int label)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 256;
		struct bpf_insn *v = realloc(x->v, cap * sizeof(*v));
		int *t = v ? realloc(x->target, cap * sizeof(*t)) : NULL;

		if (!v || !t) {
			if (v)
				x->v = v;
			xl_fail(x, "out of memory");
			return;
		}
		x->v = v;
		x->target = t;
		x->cap = cap;
	}
	x->v[x->n] = in;
	x->target[x->n++] = label;
}

static void emit(struct xl *x, struct bpf_insn in)
{
	emit_j(x, in, -1);
}

static int label_new(struct xl *x)
{
	if (x->nlab == x->labcap) {
		size_t cap = x->labcap ? x->labcap * 2 : 256;
		int *l = realloc(x->lab, cap * sizeof(*l));

		if (!l) {
			xl_fail(x, "out of memory");
			return 0;
		}
		x->lab = l;
		x->labcap = cap;
	}
	x->lab[x->nlab] = -1;
	return (int)x->nlab++;
}

static void label_bind(struct xl *x, int label)
{
	if (!x->failed)
		x->lab[label] = (int)x->n;
}

/* Instruction shorthands. */
#define ALU32_IMM(op, d, imm) I(BPF_ALU | (op) | BPF_K, d, 0, 0, imm)
#define ALU32_REG(op, d, s)   I(BPF_ALU | (op) | BPF_X, d, s, 0, 0)
#define ALU64_IMM(op, d, imm) I(BPF_ALU64 | (op) | BPF_K, d, 0, 0, imm)
#define ALU64_REG(op, d, s)   I(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define MOV64(d, s)	      ALU64_REG(BPF_MOV, d, s)
#define MOV32(d, s)	      ALU32_REG(BPF_MOV, d, s)
#define MOV32_IMM(d, imm)     ALU32_IMM(BPF_MOV, d, imm)
#define MOV64_IMM(d, imm)     ALU64_IMM(BPF_MOV, d, imm)
#define LDX(sz, d, s, off)    I(BPF_LDX | BPF_MEM | (sz), d, s, off, 0)
#define STX(sz, d, off, s)    I(BPF_STX | BPF_MEM | (sz), d, s, off, 0)
#define ST(sz, d, off, imm)   I(BPF_ST | BPF_MEM | (sz), d, 0, off, imm)
#define CALL(fn)	      I(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT()		      I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define TO_BE(d, bits)	      I(BPF_ALU | BPF_END | BPF_TO_BE, d, 0, 0, bits)

static void jmp(struct xl *x, int label)
{
	emit_j(x, I(BPF_JMP | BPF_JA, 0, 0, 0, 0), label);
}

static void jcc_imm(struct xl *x, __u8 cls, __u8 op, __u8 reg, __s32 imm, int label)
{
	emit_j(x, I(cls | op | BPF_K, reg, 0, 0, imm), label);
}

static void jcc_reg(struct xl *x, __u8 cls, __u8 op, __u8 reg, __u8 src, int label)
{
	emit_j(x, I(cls | op | BPF_X, reg, src, 0, 0), label);
}

static void ld_map_fd(struct xl *x, __u8 reg, int fd)
{
	emit(x, I(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd));
	emit(x, I(0, 0, 0, 0, 0));
}

/* r0 = lookup(map, r10 + key_off); jumps to miss when NULL. */
static void map_lookup(struct xl *x, int fd, int key_off, int miss)
{
	ld_map_fd(x, BPF_REG_1, fd);
	emit(x, MOV64(BPF_REG_2, BPF_REG_10));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_2, key_off));
	emit(x, CALL(BPF_FUNC_map_lookup_elem));
	jcc_imm(x, BPF_JMP, BPF_JEQ, BPF_REG_0, 0, miss);
}

static __u8 ebpf_size(int bytes)
{
	return bytes == 4 ? BPF_W : bytes == 2 ? BPF_H : BPF_B;
}

static void to_host(struct xl *x, __u8 reg, int bytes)
{
	if (bytes > 1)
		emit(x, TO_BE(reg, bytes * 8));
}

/*
 * SKB: the frame as tcpdump sees it has an offloaded VLAN tag back after
 * the MAC addresses. Offsets in r2 are of that frame; the bytes of the tag
 * region [12, 16) come from OFF_VHDR, those after it from 4 bytes earlier.
 */
static void load_skb_vlan(struct xl *x, int bytes, __u8 dst, int l_phys, int l_out)
{
	int l_adj = label_new(x), i;

	jcc_imm(x, BPF_JMP, BPF_JEQ, R_AUX, 0, l_phys);
	jcc_imm(x, BPF_JMP, BPF_JGE, BPF_REG_2, 16, l_adj);
	emit(x, MOV64(BPF_REG_3, BPF_REG_2));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_3, bytes));
	jcc_imm(x, BPF_JMP, BPF_JLE, BPF_REG_3, 12, l_phys);
	emit(x, LDX(BPF_DW, BPF_REG_4, BPF_REG_10, OFF_PLEN));
	jcc_reg(x, BPF_JMP, BPF_JGT, BPF_REG_3, BPF_REG_4, x->l_reject);
	emit(x, MOV64(BPF_REG_3, BPF_REG_10));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_3, OFF_VHDR));
	emit(x, ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
	/* Byte by byte, most significant first: the verifier wants stack
	 * accesses aligned, and the offset here is not. */
	emit(x, MOV32_IMM(dst, 0));
	for (i = 0; i < bytes; i++) {
		emit(x, LDX(BPF_B, BPF_REG_4, BPF_REG_3, i));
		emit(x, ALU32_IMM(BPF_LSH, dst, 8));
		emit(x, ALU32_REG(BPF_OR, dst, BPF_REG_4));
	}
	jmp(x, l_out);
	label_bind(x, l_adj);
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_2, -4));
}

/* r3 = data + r2 checked for `bytes`; the load into dst, else to l_oob. */
static void load_direct(struct xl *x, int bytes, __u8 dst, bool off_small, int l_oob)
{
	bool xdp = x->o->ctx == CBPF_CTX_XDP;

	if (!off_small)
		jcc_imm(x, BPF_JMP, BPF_JGT, BPF_REG_2, DIRECT_MAX, l_oob);
	if (xdp) {
		emit(x, MOV64(BPF_REG_3, R_AUX));
		emit(x, LDX(BPF_W, BPF_REG_5, R_CTX, offsetof(struct xdp_md, data_end)));
	} else {
		emit(x, LDX(BPF_W, BPF_REG_3, R_CTX, offsetof(struct __sk_buff, data)));
		emit(x, LDX(BPF_W, BPF_REG_5, R_CTX, offsetof(struct __sk_buff, data_end)));
	}
	emit(x, ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
	emit(x, MOV64(BPF_REG_4, BPF_REG_3));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_4, bytes));
	jcc_reg(x, BPF_JMP, BPF_JGT, BPF_REG_4, BPF_REG_5, l_oob);
	emit(x, LDX(ebpf_size(bytes), dst, BPF_REG_3, 0));
}

/* SKB bytes outside the linear head: bpf_skb_load_bytes, which fails
 * (reject) past the end like classic BPF's own loads. */
static void load_skb_copy(struct xl *x, int bytes, __u8 dst)
{
	jcc_imm(x, BPF_JMP, BPF_JGT, BPF_REG_2, 0x7fffffff, x->l_reject);
	emit(x, MOV64(BPF_REG_1, R_CTX));
	emit(x, MOV64(BPF_REG_3, BPF_REG_10));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_3, OFF_TMP));
	emit(x, MOV64_IMM(BPF_REG_4, bytes));
	emit(x, CALL(BPF_FUNC_skb_load_bytes));
	jcc_imm(x, BPF_JMP, BPF_JNE, BPF_REG_0, 0, x->l_reject);
	emit(x, LDX(ebpf_size(bytes), dst, BPF_REG_10, OFF_TMP));
}

/*
 * dst = the `bytes` bytes at the frame offset in r2 (a u64 that cannot
 * wrap), in host order; out of the frame jumps to reject. off_small: r2 is
 * known to be at most DIRECT_MAX.
 */
static void load_packet(struct xl *x, int bytes, __u8 dst, bool off_small)
{
	int l_done = label_new(x), l_phys = label_new(x), l_out = label_new(x), l_slow;

	if (x->o->ctx == CBPF_CTX_XDP) {
		load_direct(x, bytes, dst, off_small, x->l_reject);
		to_host(x, dst, bytes);
		return;
	}
	load_skb_vlan(x, bytes, dst, l_phys, l_out);
	label_bind(x, l_phys);
	if (!x->o->force_slow) {
		l_slow = label_new(x);
		load_direct(x, bytes, dst, off_small, l_slow);
		jmp(x, l_done);
		label_bind(x, l_slow);
	}
	load_skb_copy(x, bytes, dst);
	label_bind(x, l_done);
	to_host(x, dst, bytes);
	label_bind(x, l_out);
}

static int load_bytes(__u16 code)
{
	switch (BPF_SIZE(code)) {
	case BPF_W:
		return 4;
	case BPF_H:
		return 2;
	default:
		return 1;
	}
}

/* LD ABS/IND and LDX MSH. Offsets are 32-bit unsigned in classic BPF; the
 * sum X + k is formed in 64 bits so that it cannot wrap into the frame. */
static void gen_load(struct xl *x, const struct sock_filter *f)
{
	int bytes = load_bytes(f->code);
	__u8 dst = BPF_CLASS(f->code) == BPF_LDX ? R_X : R_A;

	if (BPF_MODE(f->code) == BPF_IND) {
		emit(x, MOV32_IMM(BPF_REG_2, (__s32)f->k));
		emit(x, ALU64_REG(BPF_ADD, BPF_REG_2, R_X));
		load_packet(x, bytes, dst, false);
		return;
	}
	if (f->k >= (__u32)SKF_LL_OFF) {
		xl_fail(x, "Linux ancillary load at [%d] is not supported", (int)f->k);
		return;
	}
	if (x->o->ctx == CBPF_CTX_XDP && f->k > DIRECT_MAX) {
		jmp(x, x->l_reject); /* no XDP frame is that long */
		return;
	}
	emit(x, MOV32_IMM(BPF_REG_2, (__s32)f->k));
	load_packet(x, bytes, dst, f->k <= DIRECT_MAX);
	if (BPF_MODE(f->code) == BPF_MSH) {
		emit(x, ALU32_IMM(BPF_AND, R_X, 0xf));
		emit(x, ALU32_IMM(BPF_LSH, R_X, 2));
	}
}

static void gen_alu(struct xl *x, const struct sock_filter *f)
{
	__u8 op = BPF_OP(f->code);
	bool is_x = BPF_SRC(f->code) == BPF_X;

	switch (op) {
	case BPF_NEG:
		emit(x, ALU32_IMM(BPF_NEG, R_A, 0));
		return;
	case BPF_ADD:
	case BPF_SUB:
	case BPF_MUL:
	case BPF_OR:
	case BPF_AND:
	case BPF_XOR:
		break;
	case BPF_DIV:
	case BPF_MOD:
		if (!is_x && f->k == 0) {
			xl_fail(x, "division by constant zero");
			return;
		}
		/* Classic BPF rejects the packet; eBPF would give 0 or A. */
		if (is_x)
			jcc_imm(x, BPF_JMP32, BPF_JEQ, R_X, 0, x->l_reject);
		break;
	case BPF_LSH:
	case BPF_RSH:
		if (!is_x && f->k >= 32) {
			xl_fail(x, "shift by %u bits", f->k);
			return;
		}
		if (is_x) {
			/* libpcap gives 0 for a shift by 32 or more; eBPF
			 * (like the CPU) would shift by X mod 32. */
			int l_ok = label_new(x), l_next = label_new(x);

			jcc_imm(x, BPF_JMP32, BPF_JLT, R_X, 32, l_ok);
			emit(x, MOV32_IMM(R_A, 0));
			jmp(x, l_next);
			label_bind(x, l_ok);
			emit(x, ALU32_REG(op, R_A, R_X));
			label_bind(x, l_next);
			return;
		}
		break;
	default:
		xl_fail(x, "unknown ALU operation 0x%02x", f->code);
		return;
	}
	emit(x, is_x ? ALU32_REG(op, R_A, R_X) : ALU32_IMM(op, R_A, (__s32)f->k));
}

/* The eBPF condition that is true exactly when op is false, or 0. */
static __u8 jmp_inverse(__u8 op)
{
	switch (op) {
	case BPF_JEQ:
		return BPF_JNE;
	case BPF_JGT:
		return BPF_JLE;
	case BPF_JGE:
		return BPF_JLT;
	default:
		return 0;
	}
}

static void jcc_any(struct xl *x, const struct sock_filter *f, __u8 op, int label)
{
	if (BPF_SRC(f->code) == BPF_X)
		jcc_reg(x, BPF_JMP32, op, R_A, R_X, label);
	else
		jcc_imm(x, BPF_JMP32, op, R_A, (__s32)f->k, label);
}

static void gen_jmp(struct xl *x, const struct sock_filter *f, size_t i)
{
	__u8 op = BPF_OP(f->code), inv = jmp_inverse(op);
	int lt = (int)(i + 1 + f->jt), lf = (int)(i + 1 + f->jf);

	if (op == BPF_JA) {
		jmp(x, (int)(i + 1 + f->k));
		return;
	}
	if (op != BPF_JEQ && op != BPF_JGT && op != BPF_JGE && op != BPF_JSET) {
		xl_fail(x, "unknown jump 0x%02x", f->code);
		return;
	}
	if (lt == lf) {
		jmp(x, lt);
		return;
	}
	/* A jump to the next instruction is dropped later; with an inverse
	 * condition the true branch can be that one. */
	if (f->jt == 0 && inv) {
		jcc_any(x, f, inv, lf);
		jmp(x, lt);
	} else {
		jcc_any(x, f, op, lt);
		jmp(x, lf);
	}
}

static void gen_ret(struct xl *x, const struct sock_filter *f)
{
	if (BPF_RVAL(f->code) == BPF_A)
		emit(x, MOV32(BPF_REG_0, R_A));
	else if (BPF_RVAL(f->code) == BPF_K)
		emit(x, MOV32_IMM(BPF_REG_0, (__s32)f->k));
	else {
		xl_fail(x, "unknown return 0x%02x", f->code);
		return;
	}
	jmp(x, x->l_end);
}

static void gen_ld_other(struct xl *x, const struct sock_filter *f)
{
	__u8 dst = BPF_CLASS(f->code) == BPF_LDX ? R_X : R_A;

	switch (BPF_MODE(f->code)) {
	case BPF_IMM:
		emit(x, MOV32_IMM(dst, (__s32)f->k));
		break;
	case BPF_LEN:
		emit(x, LDX(BPF_W, dst, BPF_REG_10, OFF_PLEN));
		break;
	case BPF_MEM:
		emit(x, LDX(BPF_W, dst, BPF_REG_10, OFF_MEM + 4 * (int)f->k));
		break;
	}
}

static void gen_insn(struct xl *x, size_t i)
{
	const struct sock_filter *f = &x->p->insns[i];

	switch (BPF_CLASS(f->code)) {
	case BPF_LD:
	case BPF_LDX:
		if (BPF_MODE(f->code) == BPF_ABS || BPF_MODE(f->code) == BPF_IND ||
		    BPF_MODE(f->code) == BPF_MSH)
			gen_load(x, f);
		else
			gen_ld_other(x, f);
		break;
	case BPF_ST:
		emit(x, STX(BPF_W, BPF_REG_10, OFF_MEM + 4 * (int)f->k, R_A));
		break;
	case BPF_STX:
		emit(x, STX(BPF_W, BPF_REG_10, OFF_MEM + 4 * (int)f->k, R_X));
		break;
	case BPF_ALU:
		gen_alu(x, f);
		break;
	case BPF_JMP:
		gen_jmp(x, f, i);
		break;
	case BPF_RET:
		gen_ret(x, f);
		break;
	case BPF_MISC:
		if (BPF_MISCOP(f->code) == BPF_TAX)
			emit(x, MOV32(R_X, R_A));
		else
			emit(x, MOV32(R_A, R_X));
		break;
	}
}

/* The opcodes libpcap's interpreter knows; anything else is an error. */
static bool opcode_known(__u16 c)
{
	switch (c) {
	case BPF_LD | BPF_W | BPF_ABS:
	case BPF_LD | BPF_H | BPF_ABS:
	case BPF_LD | BPF_B | BPF_ABS:
	case BPF_LD | BPF_W | BPF_IND:
	case BPF_LD | BPF_H | BPF_IND:
	case BPF_LD | BPF_B | BPF_IND:
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_LD | BPF_IMM:
	case BPF_LDX | BPF_IMM:
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_MEM:
	case BPF_LDX | BPF_B | BPF_MSH:
	case BPF_ST:
	case BPF_STX:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
	case BPF_ALU | BPF_NEG:
	case BPF_JMP | BPF_JA:
		return true;
	}
	if (BPF_CLASS(c) == BPF_ALU) {
		switch (BPF_OP(c)) {
		case BPF_ADD:
		case BPF_SUB:
		case BPF_MUL:
		case BPF_DIV:
		case BPF_MOD:
		case BPF_OR:
		case BPF_AND:
		case BPF_XOR:
		case BPF_LSH:
		case BPF_RSH:
			return (c & ~(BPF_OP(c) | BPF_SRC(c))) == BPF_ALU;
		}
		return false;
	}
	if (BPF_CLASS(c) == BPF_JMP) {
		switch (BPF_OP(c)) {
		case BPF_JEQ:
		case BPF_JGT:
		case BPF_JGE:
		case BPF_JSET:
			return (c & ~(BPF_OP(c) | BPF_SRC(c))) == BPF_JMP;
		}
	}
	return false;
}

/* Checks what bpf_validate checks, with reasons, and marks the reachable
 * instructions (only those are translated: eBPF allows no dead code). */
static int check_classic(struct xl *x, bool *reach)
{
	const struct cbpf_prog *p = x->p;
	size_t i, n = p->len;

	if (n == 0 || n > 65536) {
		xl_fail(x, "classic program of %zu instructions", n);
		return -1;
	}
	reach[0] = true;
	for (i = 0; i < n; i++) {
		const struct sock_filter *f = &p->insns[i];
		__u8 cls = BPF_CLASS(f->code);
		bool ja = f->code == (BPF_JMP | BPF_JA);

		if (!reach[i])
			continue;
		if (!opcode_known(f->code)) {
			xl_fail(x, "instruction %zu: opcode 0x%04x is not classic BPF", i, f->code);
			return -1;
		}
		if ((cls == BPF_ST || cls == BPF_STX ||
		     ((cls == BPF_LD || cls == BPF_LDX) && BPF_MODE(f->code) == BPF_MEM)) &&
		    f->k >= CBPF_MEMWORDS) {
			xl_fail(x, "instruction %zu: scratch memory M[%u]", i, f->k);
			return -1;
		}
		if (cls == BPF_LD || cls == BPF_LDX)
			x->uses_mem |= BPF_MODE(f->code) == BPF_MEM;
		if (cls == BPF_RET)
			continue;
		if (ja) {
			if (f->k >= n - i - 1) {
				/* libpcap's interpreter wraps around: a loop */
				xl_fail(x,
					"instruction %zu jumps backwards (libpcap emits loops for "
					"'protochain'); loops are not supported",
					i);
				return -1;
			}
			reach[i + 1 + f->k] = true;
			continue;
		}
		if (cls == BPF_JMP) {
			if (i + 1 + f->jt >= n || i + 1 + f->jf >= n) {
				xl_fail(x, "instruction %zu: jump out of the program", i);
				return -1;
			}
			reach[i + 1 + f->jt] = reach[i + 1 + f->jf] = true;
			continue;
		}
		if (i + 1 == n) {
			xl_fail(x, "the program runs past its end");
			return -1;
		}
		reach[i + 1] = true;
	}
	return 0;
}

static int gen_body(struct xl *x)
{
	size_t i, n = x->p->len;
	bool *reach = calloc(n ? n : 1, sizeof(*reach));

	if (!reach) {
		xl_fail(x, "out of memory");
		return -1;
	}
	if (check_classic(x, reach)) {
		free(reach);
		return -1;
	}
	for (i = 0; i < n; i++)
		label_new(x); /* label i: classic instruction i */
	x->l_reject = label_new(x);
	x->l_end = label_new(x);
	for (i = 0; i < n && !x->failed; i++) {
		if (!reach[i])
			continue;
		label_bind(x, (int)i);
		gen_insn(x, i);
	}
	free(reach);
	label_bind(x, x->l_reject);
	emit(x, MOV32_IMM(BPF_REG_0, 0));
	return x->failed ? -1 : 0;
}

/* Saves ctx, zeroes M[] if read, and records the frame length and (SKB)
 * the offloaded VLAN tag. */
static void gen_filter_setup(struct xl *x)
{
	int i;

	/* Classic BPF starts with A = X = 0. */
	emit(x, MOV32_IMM(R_A, 0));
	emit(x, MOV32_IMM(R_X, 0));
	if (x->uses_mem)
		for (i = 0; i < CBPF_MEMWORDS / 2; i++)
			emit(x, ST(BPF_DW, BPF_REG_10, OFF_MEM + 8 * i, 0));
	if (x->o->ctx == CBPF_CTX_XDP) {
		emit(x, LDX(BPF_W, R_AUX, R_CTX, offsetof(struct xdp_md, data)));
		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct xdp_md, data_end)));
		emit(x, ALU64_REG(BPF_SUB, BPF_REG_1, R_AUX));
		emit(x, STX(BPF_DW, BPF_REG_10, OFF_PLEN, BPF_REG_1));
		return;
	}
	{
		int l_novlan = label_new(x), l_long = label_new(x), l_done = label_new(x);

		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct __sk_buff, len)));
		emit(x, STX(BPF_DW, BPF_REG_10, OFF_PLEN, BPF_REG_1));
		emit(x, LDX(BPF_W, R_AUX, R_CTX, offsetof(struct __sk_buff, vlan_present)));
		jcc_imm(x, BPF_JMP, BPF_JEQ, R_AUX, 0, l_novlan);
		emit(x, MOV64_IMM(R_AUX, 1));
		emit(x, ALU64_IMM(BPF_ADD, BPF_REG_1, 4));
		emit(x, STX(BPF_DW, BPF_REG_10, OFF_PLEN, BPF_REG_1));
		/* vhdr = MACs, tag (proto, TCI), then frame bytes 12..15. */
		emit(x, MOV64(BPF_REG_1, R_CTX));
		emit(x, MOV64_IMM(BPF_REG_2, 0));
		emit(x, MOV64(BPF_REG_3, BPF_REG_10));
		emit(x, ALU64_IMM(BPF_ADD, BPF_REG_3, OFF_VHDR));
		emit(x, MOV64_IMM(BPF_REG_4, 12));
		emit(x, CALL(BPF_FUNC_skb_load_bytes));
		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct __sk_buff, vlan_proto)));
		emit(x, STX(BPF_H, BPF_REG_10, OFF_VHDR + 12, BPF_REG_1));
		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct __sk_buff, vlan_tci)));
		emit(x, TO_BE(BPF_REG_1, 16));
		emit(x, STX(BPF_H, BPF_REG_10, OFF_VHDR + 14, BPF_REG_1));
		emit(x, ST(BPF_W, BPF_REG_10, OFF_VHDR + 16, 0));
		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct __sk_buff, len)));
		jcc_imm(x, BPF_JMP, BPF_JGE, BPF_REG_1, 16, l_long);
		emit(x, MOV64_IMM(BPF_REG_4, 2)); /* a bare Ethernet header */
		jmp(x, l_done);
		label_bind(x, l_long);
		emit(x, MOV64_IMM(BPF_REG_4, 4));
		label_bind(x, l_done);
		emit(x, MOV64(BPF_REG_1, R_CTX));
		emit(x, MOV64_IMM(BPF_REG_2, 12));
		emit(x, MOV64(BPF_REG_3, BPF_REG_10));
		emit(x, ALU64_IMM(BPF_ADD, BPF_REG_3, OFF_VHDR + 16));
		emit(x, CALL(BPF_FUNC_skb_load_bytes));
		label_bind(x, l_novlan);
	}
}

static bool is_cond_jump(const struct bpf_insn *in)
{
	__u8 cls = BPF_CLASS(in->code), op = BPF_OP(in->code);

	return (cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_JA && op != BPF_CALL &&
	       op != BPF_EXIT;
}

static bool is_ja(const struct bpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_JA);
}

/* Only dead instructions between the jump at i and its target. */
static bool jumps_to_next(const struct xl *x, const bool *live, size_t i)
{
	int t = x->lab[x->target[i]];
	size_t k;

	if (t <= (int)i)
		return false;
	for (k = i + 1; k < (size_t)t; k++)
		if (live[k])
			return false;
	return true;
}

/* Drops unreachable code and jumps to the next instruction, then turns
 * labels into offsets. */
static int finish(struct xl *x, struct cbpf_ebpf *out)
{
	size_t n = x->n, i, k;
	int *newpos = NULL, *stack = NULL, sp = 0;
	bool *live = NULL;
	struct bpf_insn *v = NULL;

	if (x->failed)
		return -1;
	live = calloc(n + 1, sizeof(*live));
	stack = calloc(2 * n + 2, sizeof(*stack));
	newpos = calloc(n + 1, sizeof(*newpos));
	if (!live || !stack || !newpos)
		goto oom;
	for (i = 0; i < n; i++)
		if (x->target[i] >= 0 && x->lab[x->target[i]] < 0) {
			xl_fail(x, "internal error: unbound label %d", x->target[i]);
			goto out;
		}
	stack[sp++] = 0;
	while (sp) {
		int at = stack[--sp];
		const struct bpf_insn *in;

		if (at >= (int)n || live[at])
			continue;
		live[at] = true;
		in = &x->v[at];
		if (in->code == (BPF_LD | BPF_DW | BPF_IMM)) {
			live[at + 1] = true;
			stack[sp++] = at + 2;
			continue;
		}
		if (in->code == (BPF_JMP | BPF_EXIT))
			continue;
		if (is_ja(in) || is_cond_jump(in))
			stack[sp++] = x->lab[x->target[at]];
		if (!is_ja(in))
			stack[sp++] = at + 1;
	}
	/* A jump to the next live instruction goes too. */
	for (i = 0; i < n; i++)
		if (live[i] && is_ja(&x->v[i]) && jumps_to_next(x, live, i))
			live[i] = false;
	/* newpos[i]: index of the first live instruction at or after i. */
	k = 0;
	for (i = 0; i < n; i++) {
		newpos[i] = (int)k;
		k += live[i];
	}
	newpos[n] = (int)k;
	v = calloc(k ? k : 1, sizeof(*v));
	if (!v)
		goto oom;
	for (i = 0; i < n; i++) {
		long off;

		if (!live[i])
			continue;
		v[newpos[i]] = x->v[i];
		if (x->target[i] < 0)
			continue;
		off = (long)newpos[x->lab[x->target[i]]] - newpos[i] - 1;
		if (off < -32768 || off > 32767) {
			xl_fail(x, "filter too large: jump of %ld instructions", off);
			goto out;
		}
		v[newpos[i]].off = (__s16)off;
	}
	out->insns = v;
	out->len = k;
	v = NULL;
	goto out;
oom:
	xl_fail(x, "out of memory");
out:
	free(v);
	free(live);
	free(stack);
	free(newpos);
	return x->failed ? -1 : 0;
}

static void xl_init(struct xl *x, const struct cbpf_prog *p, const struct cbpf_opts *o, char *err,
		    size_t errlen)
{
	memset(x, 0, sizeof(*x));
	x->p = p;
	x->o = o;
	x->err = err;
	x->errlen = errlen;
	if (errlen)
		err[0] = 0;
}

static void xl_free(struct xl *x)
{
	free(x->v);
	free(x->target);
	free(x->lab);
}

/* The body goes into its own emitter first so that setup knows whether
 * M[] is read; the two are then joined. */
static int gen_filter(struct xl *x, int *l_end)
{
	struct xl body;
	size_t i, base;
	int lbase;

	xl_init(&body, x->p, x->o, x->err, x->errlen);
	if (gen_body(&body)) {
		x->failed = 1;
		xl_free(&body);
		return -1;
	}
	x->uses_mem = body.uses_mem;
	gen_filter_setup(x);
	base = x->n;
	lbase = (int)x->nlab;
	for (i = 0; i < body.nlab; i++) {
		int l = label_new(x);

		if (!x->failed)
			x->lab[l] = body.lab[i] < 0 ? -1 : body.lab[i] + (int)base;
	}
	for (i = 0; i < body.n; i++)
		emit_j(x, body.v[i], body.target[i] < 0 ? -1 : body.target[i] + lbase);
	*l_end = body.l_end + lbase;
	xl_free(&body);
	return x->failed ? -1 : 0;
}

int cbpf_to_ebpf(const struct cbpf_prog *p, const struct cbpf_opts *o, struct cbpf_ebpf *out,
		 char *err, size_t errlen)
{
	struct xl x;
	int l_end, ret = -1;

	memset(out, 0, sizeof(*out));
	xl_init(&x, p, o, err, errlen);
	emit(&x, MOV64(R_CTX, BPF_REG_1));
	if (!gen_filter(&x, &l_end)) {
		label_bind(&x, l_end);
		emit(&x, EXIT());
		ret = finish(&x, out);
	}
	xl_free(&x);
	return ret;
}

/* Selects the capture's interfaces and directions; stores the interface's
 * stats index at OFF_IDX. Nothing is counted here: every packet pays for
 * this part, and the datapath counts what it hands to captures. */
static void gen_capture_select(struct xl *x, const struct cbpf_capture *c, int l_chain)
{
	int l_dir = label_new(x);
	size_t i;

	emit(x, ST(BPF_W, BPF_REG_10, OFF_KEY0, 0));
	emit(x, ST(BPF_W, BPF_REG_10, OFF_IDX, 0));
	if (!c->n_ifindex && c->dir_mask == (1 << FT_DIR_INGRESS | 1 << FT_DIR_EGRESS))
		return;
	map_lookup(x, c->meta_fd, OFF_KEY0, l_chain);
	if (c->dir_mask != (1 << FT_DIR_INGRESS | 1 << FT_DIR_EGRESS)) {
		emit(x, LDX(BPF_B, BPF_REG_1, BPF_REG_0, offsetof(struct ft_cap_meta, dir)));
		jcc_imm(x, BPF_JMP, BPF_JNE, BPF_REG_1,
			c->dir_mask & (1 << FT_DIR_EGRESS) ? FT_DIR_EGRESS : FT_DIR_INGRESS,
			l_chain);
	}
	if (c->n_ifindex) {
		emit(x, LDX(BPF_W, BPF_REG_1, BPF_REG_0, offsetof(struct ft_cap_meta, ifindex)));
		for (i = 0; i < c->n_ifindex; i++) {
			int l_next = label_new(x);

			jcc_imm(x, BPF_JMP, BPF_JNE, BPF_REG_1, (__s32)c->ifindex[i], l_next);
			if (i)
				emit(x, ST(BPF_W, BPF_REG_10, OFF_IDX, (__s32)i));
			jmp(x, l_dir);
			label_bind(x, l_next);
		}
		jmp(x, l_chain);
	}
	label_bind(x, l_dir);
}

/* OFF_HDR = struct ft_cap_hdr for the match; r7 holds the snap length,
 * r8 the meta. Leaves the bytes to copy in r1. */
static void gen_capture_hdr(struct xl *x)
{
	bool xdp = x->o->ctx == CBPF_CTX_XDP;
	int l_min = label_new(x), l_cap = label_new(x);

	/* The time is read here, on a match only: a clock read costs about as
	 * much as the rest of the capture hook together (30 ns in a VM). */
	emit(x, CALL(BPF_FUNC_ktime_get_ns));
	emit(x, STX(BPF_DW, BPF_REG_10, HDR(ts_ns), BPF_REG_0));
	emit(x, LDX(BPF_W, BPF_REG_2, BPF_REG_8, offsetof(struct ft_cap_meta, ifindex)));
	emit(x, STX(BPF_W, BPF_REG_10, HDR(ifindex), BPF_REG_2));
	emit(x, LDX(BPF_B, BPF_REG_2, BPF_REG_8, offsetof(struct ft_cap_meta, dir)));
	emit(x, STX(BPF_B, BPF_REG_10, HDR(dir), BPF_REG_2));
	emit(x, LDX(BPF_DW, BPF_REG_2, BPF_REG_10, OFF_PLEN));
	emit(x, STX(BPF_W, BPF_REG_10, HDR(pkt_len), BPF_REG_2));
	emit(x, STX(BPF_W, BPF_REG_10, HDR(snap), R_A));
	emit(x, ST(BPF_H, BPF_REG_10, HDR(pad), 0));
	if (xdp) {
		emit(x, ST(BPF_B, BPF_REG_10, HDR(vlan_present), 0));
		emit(x, ST(BPF_H, BPF_REG_10, HDR(vlan_tci), 0));
		emit(x, ST(BPF_H, BPF_REG_10, HDR(vlan_proto), 0));
		emit(x, LDX(BPF_DW, BPF_REG_1, BPF_REG_10, OFF_PLEN));
	} else {
		emit(x, STX(BPF_B, BPF_REG_10, HDR(vlan_present), R_AUX));
		emit(x, LDX(BPF_W, BPF_REG_2, R_CTX, offsetof(struct __sk_buff, vlan_tci)));
		emit(x, STX(BPF_H, BPF_REG_10, HDR(vlan_tci), BPF_REG_2));
		emit(x, LDX(BPF_W, BPF_REG_2, R_CTX, offsetof(struct __sk_buff, vlan_proto)));
		emit(x, TO_BE(BPF_REG_2, 16));
		emit(x, STX(BPF_H, BPF_REG_10, HDR(vlan_proto), BPF_REG_2));
		emit(x, LDX(BPF_W, BPF_REG_1, R_CTX, offsetof(struct __sk_buff, len)));
	}
	/* copy = min(snap, bytes in the ctx, CBPF_MAX_COPY) */
	jcc_reg(x, BPF_JMP, BPF_JLE, BPF_REG_1, R_A, l_min);
	emit(x, MOV64(BPF_REG_1, R_A));
	label_bind(x, l_min);
	jcc_imm(x, BPF_JMP, BPF_JLE, BPF_REG_1, CBPF_MAX_COPY, l_cap);
	emit(x, MOV64_IMM(BPF_REG_1, CBPF_MAX_COPY));
	label_bind(x, l_cap);
	emit(x, STX(BPF_W, BPF_REG_10, HDR(copy_len), BPF_REG_1));
}

/* A match (snap length in r0): header and bytes to the perf buffer,
 * counted. */
static void gen_capture_emit(struct xl *x, const struct cbpf_capture *c, int l_chain)
{
	int l_sent = label_new(x);

	jcc_imm(x, BPF_JMP32, BPF_JEQ, BPF_REG_0, 0, l_chain);
	emit(x, MOV32(R_A, BPF_REG_0));
	map_lookup(x, c->meta_fd, OFF_KEY0, l_chain);
	emit(x, MOV64(BPF_REG_8, BPF_REG_0));
	gen_capture_hdr(x);
	/* flags = copy << 32 | BPF_F_CURRENT_CPU: the helper appends that
	 * many bytes of the frame (skb fragments included) to the record. */
	emit(x, MOV64(BPF_REG_3, BPF_REG_1));
	emit(x, ALU64_IMM(BPF_LSH, BPF_REG_3, 32));
	emit(x, MOV32_IMM(BPF_REG_1, -1));
	emit(x, ALU64_REG(BPF_OR, BPF_REG_3, BPF_REG_1));
	emit(x, MOV64(BPF_REG_1, R_CTX));
	ld_map_fd(x, BPF_REG_2, c->perf_fd);
	emit(x, MOV64(BPF_REG_4, BPF_REG_10));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_4, OFF_HDR));
	emit(x, MOV64_IMM(BPF_REG_5, sizeof(struct ft_cap_hdr)));
	emit(x, CALL(BPF_FUNC_perf_event_output));
	emit(x, MOV64(BPF_REG_8, BPF_REG_0));
	map_lookup(x, c->stats_fd, OFF_IDX, l_chain);
	emit(x, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, offsetof(struct ft_cap_stats, matched)));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
	emit(x, STX(BPF_DW, BPF_REG_0, offsetof(struct ft_cap_stats, matched), BPF_REG_1));
	jcc_imm(x, BPF_JMP, BPF_JEQ, BPF_REG_8, 0, l_sent);
	emit(x, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, offsetof(struct ft_cap_stats, lost)));
	emit(x, ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
	emit(x, STX(BPF_DW, BPF_REG_0, offsetof(struct ft_cap_stats, lost), BPF_REG_1));
	label_bind(x, l_sent);
}

/* Tail-calls the slots after ours that are in use, in order; a call that
 * returns (empty slot) tries the next one. Then the hook's neutral verdict. */
static void gen_capture_chain(struct xl *x, const struct cbpf_capture *c)
{
	int l_out = label_new(x), s;

	map_lookup(x, c->config_fd, OFF_KEY0, l_out);
	emit(x, LDX(BPF_W, R_A, BPF_REG_0, offsetof(struct ft_config, capture_mask)));
	for (s = c->slot + 1; s < FT_CAPTURE_SLOTS; s++) {
		int l_next = label_new(x);

		emit(x, MOV64(BPF_REG_1, R_A));
		emit(x, ALU64_IMM(BPF_AND, BPF_REG_1, 1 << s));
		jcc_imm(x, BPF_JMP, BPF_JEQ, BPF_REG_1, 0, l_next);
		emit(x, MOV64(BPF_REG_1, R_CTX));
		ld_map_fd(x, BPF_REG_2, c->progs_fd);
		emit(x, MOV64_IMM(BPF_REG_3, s));
		emit(x, CALL(BPF_FUNC_tail_call));
		label_bind(x, l_next);
	}
	label_bind(x, l_out);
	emit(x,
	     MOV64_IMM(BPF_REG_0, x->o->ctx == CBPF_CTX_XDP ? XDP_PASS : -1 /* TC_ACT_UNSPEC */));
	emit(x, EXIT());
}

int cbpf_to_capture(const struct cbpf_prog *p, const struct cbpf_opts *o,
		    const struct cbpf_capture *c, struct cbpf_ebpf *out, char *err, size_t errlen)
{
	struct xl x;
	int l_end, l_chain, ret = -1;

	memset(out, 0, sizeof(*out));
	if (c->slot < 0 || c->slot >= FT_CAPTURE_SLOTS || !c->dir_mask) {
		snprintf(err, errlen, "bad capture slot %d or direction", c->slot);
		return -1;
	}
	xl_init(&x, p, o, err, errlen);
	l_chain = label_new(&x);
	emit(&x, MOV64(R_CTX, BPF_REG_1));
	gen_capture_select(&x, c, l_chain);
	if (!gen_filter(&x, &l_end)) {
		label_bind(&x, l_end);
		gen_capture_emit(&x, c, l_chain);
		label_bind(&x, l_chain);
		gen_capture_chain(&x, c);
		ret = finish(&x, out);
	}
	xl_free(&x);
	return ret;
}

void cbpf_ebpf_free(struct cbpf_ebpf *e)
{
	free(e->insns);
	e->insns = NULL;
	e->len = 0;
}

__u32 cbpf_cap_frame(const struct ft_cap_hdr *h, const __u8 *bytes, __u8 *out)
{
	__u32 want = h->snap < h->pkt_len ? h->snap : h->pkt_len, have = h->copy_len;

	if (h->vlan_present && have >= 12) {
		memcpy(out, bytes, 12);
		out[12] = h->vlan_proto >> 8;
		out[13] = h->vlan_proto & 0xff;
		out[14] = h->vlan_tci >> 8;
		out[15] = h->vlan_tci & 0xff;
		memcpy(out + 16, bytes + 12, have - 12);
		have += 4;
	} else {
		memcpy(out, bytes, have);
	}
	return want < have ? want : have;
}

/* A character of what libpcap's scanner takes as one word: names,
 * addresses, numbers, escaped keywords. */
static bool cbpf_word_char(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("_.:-\\", c));
}

size_t cbpf_terms(const char *s)
{
	size_t n = 1;

	while (s && *s) {
		const char *w = s;

		if ((s[0] == '&' && s[1] == '&') || (s[0] == '|' && s[1] == '|')) {
			n++;
			s += 2;
			continue;
		}
		if (!cbpf_word_char(*s)) {
			s++;
			continue;
		}
		while (cbpf_word_char(*s))
			s++;
		if ((s - w == 3 && !strncasecmp(w, "and", 3)) ||
		    (s - w == 2 && !strncasecmp(w, "or", 2)))
			n++;
	}
	return n;
}

/* The cheap checks, before libpcap spends time on expr. */
static int cbpf_check_size(pcap_t *dead, const char *expr, char *err, size_t errlen)
{
	struct bpf_program bp;
	size_t len = strlen(expr), terms;
	unsigned int n;

	if (len > CBPF_MAX_EXPR_LEN) {
		snprintf(err, errlen, "filter expression too long: %zu bytes, at most %d", len,
			 CBPF_MAX_EXPR_LEN);
		return -1;
	}
	terms = cbpf_terms(expr);
	if (terms > CBPF_MAX_TERMS) {
		snprintf(err, errlen,
			 "filter expression too complex: %zu terms joined by and/or, at most %d",
			 terms, CBPF_MAX_TERMS);
		return -1;
	}
	/* Unoptimised: linear enough at this size, and what the optimiser's
	 * time depends on. */
	if (pcap_compile(dead, &bp, expr, 0, PCAP_NETMASK_UNKNOWN)) {
		snprintf(err, errlen, "%s", pcap_geterr(dead));
		return -1;
	}
	n = bp.bf_len;
	pcap_freecode(&bp);
	if (n > CBPF_MAX_UNOPT) {
		snprintf(err, errlen,
			 "filter expression too complex: %u classic BPF instructions before "
			 "optimisation, at most %d",
			 n, CBPF_MAX_UNOPT);
		return -1;
	}
	return 0;
}

int cbpf_compile(const char *expr, __u32 snaplen, struct cbpf_prog *out, char *err, size_t errlen)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)snaplen);
	struct bpf_program bp;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!dead) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -1;
	}
	if (!expr)
		expr = "";
	if (cbpf_check_size(dead, expr, err, errlen))
		goto out;
	if (pcap_compile(dead, &bp, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		snprintf(err, errlen, "%s", pcap_geterr(dead));
		goto out;
	}
	if (bp.bf_len > CBPF_MAX_INSNS) {
		snprintf(err, errlen, "filter too long: %u classic BPF instructions, at most %d",
			 bp.bf_len, CBPF_MAX_INSNS);
		pcap_freecode(&bp);
		goto out;
	}
	out->insns = calloc(bp.bf_len ? bp.bf_len : 1, sizeof(*out->insns));
	if (!out->insns) {
		snprintf(err, errlen, "out of memory");
		pcap_freecode(&bp);
		goto out;
	}
	memcpy(out->insns, bp.bf_insns, bp.bf_len * sizeof(*out->insns));
	out->len = bp.bf_len;
	pcap_freecode(&bp);
	ret = 0;
out:
	pcap_close(dead);
	return ret;
}

void cbpf_prog_free(struct cbpf_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

bool cbpf_validate(const struct cbpf_prog *p)
{
	return p->len <= 0x7fffffff &&
	       bpf_validate((const struct cbpf_pcap_insn *)p->insns, (int)p->len);
}

__u32 cbpf_run_ref(const struct cbpf_prog *p, const void *pkt, __u32 wirelen, __u32 caplen)
{
	return bpf_filter((const struct cbpf_pcap_insn *)p->insns, pkt, wirelen, caplen);
}

const char *cbpf_image(const struct cbpf_prog *p, size_t i)
{
	return bpf_image((const struct cbpf_pcap_insn *)&p->insns[i], (int)i);
}
