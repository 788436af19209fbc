/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Lets the packet parser and the HTTP sampler compile unchanged for BPF
 * and for userspace (fuzzers, tests), so both run the same source.
 */
#ifndef FT_COMPAT_H
#define FT_COMPAT_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

#ifdef __bpf__
#include <bpf/bpf_helpers.h>
#else
#include <string.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/* Loops the verifier should see unrolled; gcc builds of the same source
 * (tests, fuzzers) do not know clang's pragma. */
#ifdef __clang__
#define FT_UNROLL _Pragma("unroll")
#else
#define FT_UNROLL
#endif

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#endif /* FT_COMPAT_H */
