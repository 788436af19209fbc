/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared by the libFuzzer harnesses: a failed invariant aborts with the
 * invariant's text, so libFuzzer saves the input as a crash and the same
 * file replays the failure under `make -C tests/fuzz regress`.
 */
#ifndef FT_FUZZ_H
#define FT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK_TXT(cond, text, ...)                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed at %s:%d: %s: ", __FILE__, __LINE__,     \
				text);                                                             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define FUZZ_CHECK(cond, ...) FUZZ_CHECK_TXT(cond, #cond, __VA_ARGS__)

/*
 * An invariant that an open bug breaks can be named in FUZZ_ALLOW (a
 * comma-separated list) to keep fuzzing for other bugs until it is fixed;
 * the regression files under regressions/ still fail without it.
 */
static inline int fuzz_allowed(const char *name)
{
	static const char *allow;
	static int init;
	const char *p;
	size_t n = strlen(name);

	if (!init) {
		allow = getenv("FUZZ_ALLOW");
		init = 1;
	}
	for (p = allow; p && (p = strstr(p, name)); p += n)
		if ((p == allow || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

#define FUZZ_CHECK_OPEN(name, cond, ...)                                                           \
	FUZZ_CHECK_TXT((cond) || fuzz_allowed(name), "[" name "] " #cond, __VA_ARGS__)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
