/*
 * fuzz.h - what every libFuzzer target in tests/fuzz shares: the entry
 * points' prototypes, the way a broken promise is reported, and the file
 * the loaders read.
 *
 * A target aborts only when the library breaks a promise its header makes
 * (a round trip that is not stable, a value outside a documented range, an
 * error without its message); the sanitizers report the rest. The abort's
 * message is the finding's first line. A finding in lib/ that is not fixed
 * yet may get a narrow exception here or in ubsan.supp, so that it does not
 * hide the next one (found/README.md).
 *
 * The configuration loaders take a path, so each input is written to one
 * file per process: a memfd read back through /proc/self/fd/N, or, where
 * there is no memfd, a file in $TMPDIR (default /tmp) removed at exit.
 * Nothing is written into the source tree or the corpus.
 */
#ifndef BATON_FUZZ_H
#define BATON_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);

#ifndef BATON_FUZZ_DIR
#error "BATON_FUZZ_DIR: tests/fuzz in the source tree, for ubsan.supp"
#endif

/*
 * Undefined behaviour is fatal, as with -fno-sanitize-recover, except what
 * ubsan.supp lists: the library is built with recoverable checks so that
 * a known finding can be suppressed while it waits for its fix.
 * UBSAN_OPTIONS, when set, is read after these: "suppressions=" (empty)
 * makes the known findings fatal too. Called before the C library is set
 * up: no getenv() here.
 */
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:"
	       "suppressions=" BATON_FUZZ_DIR "/ubsan.supp";
}

#define FUZZ_FAIL(...)							\
	do {								\
		fprintf(stderr, "fuzz: finding: " __VA_ARGS__);	\
		fputc('\n', stderr);					\
		abort();						\
	} while (0)

#define FUZZ_CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			FUZZ_FAIL(__VA_ARGS__);				\
	} while (0)

/* Whether a fixed-size char array holds a NUL, i.e. is a C string. */
#define FUZZ_TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

static int fuzz_fd = -1;
static char fuzz_path[64];

static inline void fuzz_file_unlink(void)
{
	unlink(fuzz_path);
}

/* The file the inputs are written to; created on the first call. */
static inline const char *fuzz_file_path(void)
{
	const char *dir;
	char tmpl[sizeof fuzz_path];

	if (fuzz_fd >= 0)
		return fuzz_path;
	fuzz_fd = memfd_create("baton-fuzz", MFD_CLOEXEC);
	if (fuzz_fd >= 0) {
		snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d",
			 fuzz_fd);
		if (access(fuzz_path, R_OK) == 0)
			return fuzz_path;
		close(fuzz_fd);
	}
	dir = getenv("TMPDIR");
	if (!dir || !*dir || strlen(dir) > sizeof tmpl - 20)
		dir = "/tmp";
	snprintf(tmpl, sizeof tmpl, "%s/baton-fuzz-XXXXXX", dir);
	fuzz_fd = mkstemp(tmpl);
	if (fuzz_fd < 0) {
		perror("fuzz: mkstemp");
		abort();
	}
	memcpy(fuzz_path, tmpl, sizeof tmpl);
	atexit(fuzz_file_unlink);
	return fuzz_path;
}

/* Make the file hold exactly data; returns its path. */
static inline const char *fuzz_file_write(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_path();
	size_t off = 0;
	ssize_t n;

	if (ftruncate(fuzz_fd, 0) < 0) {
		perror("fuzz: ftruncate");
		abort();
	}
	while (off < size) {
		n = pwrite(fuzz_fd, data + off, size - off, (off_t)off);
		if (n <= 0) {
			perror("fuzz: pwrite");
			abort();
		}
		off += (size_t)n;
	}
	return path;
}

/* config.h: "a line holds at most 199 characters (inih's buffer)". */
#define FUZZ_INI_LINE_MAX	199

/*
 * What config.h promises of config_parse_ini(), and so of every loader
 * built on it, for the file data: r (what the loader returned) is 0 only
 * if no line is longer than FUZZ_INI_LINE_MAX and none holds a NUL byte
 * (refused at its line: lib/config.c, test_config's test_nul_byte);
 * otherwise -EINVAL or -ENOMEM, with err naming a line of the file (0: the
 * file), no later than the first NUL, and saying why.
 */
static inline void fuzz_check_ini(const char *who, const uint8_t *data,
				  size_t size, int r,
				  const struct config_error *err)
{
	size_t i, len = 0, longest = 0;
	int lines = 0, nul_line = 0;

	for (i = 0; i < size; i++) {
		if (data[i] == '\0' && nul_line == 0)
			nul_line = lines + 1;
		if (data[i] == '\n') {
			lines++;
			len = 0;
		} else if (++len > longest) {
			longest = len;
		}
	}
	lines += size > 0 && data[size - 1] != '\n';
	if (r == 0) {
		FUZZ_CHECK(longest <= FUZZ_INI_LINE_MAX,
			   "%s accepted a line of %zu bytes", who, longest);
		FUZZ_CHECK(nul_line == 0,
			   "%s accepted a NUL byte in line %d", who, nul_line);
		return;
	}
	FUZZ_CHECK(r == -EINVAL || r == -ENOMEM,
		   "%s returned %d for a readable file", who, r);
	FUZZ_CHECK(FUZZ_TERMINATED(err->file) && FUZZ_TERMINATED(err->msg) &&
		   err->msg[0] != '\0',
		   "%s returned %d without a message", who, r);
	FUZZ_CHECK(err->line >= 0 && err->line <= lines,
		   "%s: error at line %d of a %d-line file", who, err->line,
		   lines);
	FUZZ_CHECK(nul_line == 0 || r == -ENOMEM ||
		   (err->line >= 1 && err->line <= nul_line),
		   "%s: error at line %d, after the NUL byte in line %d", who,
		   err->line, nul_line);
}

/* A deterministic 64-bit hash of the input (FNV-1a), to pick probes. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * UINT64_C(1099511628211);
	return h;
}

#endif
