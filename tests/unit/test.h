/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A tiny test framework in the style of the kernel's BPF selftests: every
 * assertion returns bool, so a case bails out with
 *
 *	if (!ASSERT_EQ(got, want, "packets"))
 *		goto out;
 *
 * and each case prints exactly one line for tests/run to collect:
 * "PASS <name>", "FAIL <name>: <why>" or "SKIP <name>: <why>".
 *
 * Usage: test_start("name") (false when a filter excludes the case), any
 * number of assertions, then test_end(). test_skip() inside a case turns it
 * into a SKIP. test_exit_code() is what main() returns.
 */
#ifndef FT_TEST_H
#define FT_TEST_H

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TEST_WHY_MAX 480

struct test_state {
	char name[128];
	char why[TEST_WHY_MAX];
	bool running;
	bool failed;
	bool skipped;
	int extra_failures; /* failures after the first, only counted */
	const char *known;  /* a failure of this case is known: report it as SKIP */
	int npass, nfail, nskip;
	const char *filter; /* fnmatch pattern or substring; NULL: all */
};

static struct test_state test__st;

/* Cases whose name does not contain (or match, as a glob) filter are not run. */
static inline void test_set_filter(const char *filter)
{
	test__st.filter = filter && *filter ? filter : NULL;
}

static inline bool test__selected(const char *name)
{
	const char *f = test__st.filter;

	return !f || strstr(name, f) || !fnmatch(f, name, 0);
}

static inline bool test_start(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline bool test_start(const char *fmt, ...)
{
	struct test_state *t = &test__st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	if (!test__selected(t->name))
		return false;
	t->running = true;
	t->failed = t->skipped = false;
	t->extra_failures = 0;
	t->known = NULL;
	t->why[0] = 0;
	return true;
}

static inline void test__vrecord(bool skip, const char *fmt, va_list ap)
{
	struct test_state *t = &test__st;

	if (t->failed) {
		/* The first failure explains the case; later ones are noise. */
		t->extra_failures++;
		return;
	}
	if (skip && t->skipped)
		return;
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	if (skip)
		t->skipped = true;
	else
		t->failed = true;
}

static inline void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void test_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	test__vrecord(false, fmt, ap);
	va_end(ap);
}

static inline void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	test__vrecord(true, fmt, ap);
	va_end(ap);
}

/*
 * Marks the running case as failing for a known reason that awaits a
 * decision: if it fails, it is reported as a SKIP that says so, keeping the
 * suite green without hiding the problem. If it passes, it is a PASS.
 */
static inline void test_known_failure(const char *why)
{
	test__st.known = why;
}

/* Prints the case's line. A failure wins over a skip. */
static inline void test_end(void)
{
	struct test_state *t = &test__st;

	if (!t->running)
		return;
	t->running = false;
	if (t->failed && t->known) {
		t->nskip++;
		printf("SKIP %s: known failure (%s): %s\n", t->name, t->known, t->why);
	} else if (t->failed) {
		t->nfail++;
		if (t->extra_failures)
			printf("FAIL %s: %s (+%d more)\n", t->name, t->why, t->extra_failures);
		else
			printf("FAIL %s: %s\n", t->name, t->why);
	} else if (t->skipped) {
		t->nskip++;
		printf("SKIP %s: %s\n", t->name, t->why);
	} else {
		t->npass++;
		printf("PASS %s\n", t->name);
	}
	fflush(stdout);
}

/* One line for a whole group of cases that cannot run at all. */
static inline void test_skip_all(const char *name, const char *why)
{
	if (!test_start("%s", name))
		return;
	test_skip("%s", why);
	test_end();
}

static inline int test_exit_code(void)
{
	return test__st.nfail ? 1 : 0;
}

#define TEST__WHERE __FILE__, __LINE__

#define ASSERT_TRUE(cond, what)                                                                    \
	({                                                                                         \
		bool ___ok = !!(cond);                                                             \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s: expected true", TEST__WHERE, (what));                \
		___ok;                                                                             \
	})

#define ASSERT_FALSE(cond, what)                                                                   \
	({                                                                                         \
		bool ___ok = !(cond);                                                              \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s: expected false", TEST__WHERE, (what));               \
		___ok;                                                                             \
	})

/* Integers of any width and signedness; compared and printed as 64-bit. */
#define ASSERT__CMP(got, op, want, what)                                                           \
	({                                                                                         \
		long long ___g = (long long)(got), ___w = (long long)(want);                       \
		bool ___ok = ___g op ___w;                                                         \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s: got %lld, want %s %lld", TEST__WHERE, (what), ___g,  \
				  #op, ___w);                                                      \
		___ok;                                                                             \
	})

#define ASSERT_EQ(got, want, what)  ASSERT__CMP(got, ==, want, what)
#define ASSERT_NEQ(got, want, what) ASSERT__CMP(got, !=, want, what)
#define ASSERT_GT(got, want, what)  ASSERT__CMP(got, >, want, what)
#define ASSERT_GE(got, want, what)  ASSERT__CMP(got, >=, want, what)
#define ASSERT_LE(got, want, what)  ASSERT__CMP(got, <=, want, what)

/* For libbpf-style returns: 0 is success, a negative errno is not. */
#define ASSERT_OK(err, what)                                                                       \
	({                                                                                         \
		long long ___e = (long long)(err);                                                 \
		bool ___ok = ___e == 0;                                                            \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s failed: %lld (%s)", TEST__WHERE, (what), ___e,        \
				  strerror(___e < 0 ? (int)-___e : (int)___e));                    \
		___ok;                                                                             \
	})

#define ASSERT_OK_PTR(ptr, what)                                                                   \
	({                                                                                         \
		const void *___p = (ptr);                                                          \
		bool ___ok = ___p != NULL;                                                         \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s: NULL (%s)", TEST__WHERE, (what), strerror(errno));   \
		___ok;                                                                             \
	})

#define ASSERT_STREQ(got, want, what)                                                              \
	({                                                                                         \
		const char *___g = (got), *___w = (want);                                          \
		bool ___ok = !strcmp(___g, ___w);                                                  \
		if (!___ok)                                                                        \
			test_fail("%s:%d: %s: got \"%s\", want \"%s\"", TEST__WHERE, (what), ___g, \
				  ___w);                                                           \
		___ok;                                                                             \
	})

/* Reports the first differing byte. */
#define ASSERT_MEMEQ(got, want, n, what)                                                           \
	({                                                                                         \
		const unsigned char *___g = (const void *)(got), *___w = (const void *)(want);     \
		size_t ___n = (n), ___i = 0;                                                       \
		while (___i < ___n && ___g[___i] == ___w[___i])                                    \
			___i++;                                                                    \
		if (___i < ___n)                                                                   \
			test_fail("%s:%d: %s: byte %zu is 0x%02x, want 0x%02x", TEST__WHERE,       \
				  (what), ___i, ___g[___i], ___w[___i]);                           \
		___i == ___n;                                                                      \
	})

#endif /* FT_TEST_H */
