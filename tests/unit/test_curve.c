/*
 * test_curve.c - lib/curve: key pairs, Z85, key files written and read back
 * (their modes, never an overwrite, every mistake at its line, a secret
 * others may read refused), and the socket options, proved by a real
 * CURVE handshake between a server and a client they made.
 *
 * Each test writes its files into a fresh directory under $TMPDIR. The
 * handshakes run over ipc:// in that directory (tcp:// on loopback when
 * its path is too long for a socket address): over inproc:// libzmq joins
 * the two sockets directly and no security mechanism runs at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "curve.h"
#include "testdir.h"

#define MAX_SOCKETS	8

struct fixture {
	char dir[PATH_MAX / 2];		/* the temporary directory */
	char path[PATH_MAX];		/* the last file named */
	mode_t umask;			/* the process's, restored */
	void *zctx;			/* made on demand */
	void *socks[MAX_SOCKETS];	/* closed by teardown */
	size_t nsocks;
};

/*
 * RFC 26's example keys (CurveZMQ), as Z85 and as bytes: a fixed point for
 * the encoding, whatever zmq_z85_encode() does.
 */
static const char server_public_z85[] =
	"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char server_secret_z85[] =
	"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
static const char client_public_z85[] =
	"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const uint8_t server_public[CURVE_KEY_BYTES] = {
	0x54, 0xFC, 0xBA, 0x24, 0xE9, 0x32, 0x49, 0x96,
	0x93, 0x16, 0xFB, 0x61, 0x7C, 0x87, 0x2B, 0xB0,
	0xC1, 0xD1, 0xFF, 0x14, 0x80, 0x04, 0x27, 0xC5,
	0x94, 0xCB, 0xFA, 0xCF, 0x1B, 0xC2, 0xD6, 0x52,
};
static const uint8_t server_secret[CURVE_KEY_BYTES] = {
	0x8E, 0x0B, 0xDD, 0x69, 0x76, 0x28, 0xB9, 0x1D,
	0x8F, 0x24, 0x55, 0x87, 0xEE, 0x95, 0xC5, 0xB0,
	0x4D, 0x48, 0x96, 0x3F, 0x79, 0x25, 0x98, 0x77,
	0xB4, 0x9C, 0xD9, 0x06, 0x3A, 0xEA, 0xD3, 0xB7,
};

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	if (testdir_make(fx->dir, sizeof fx->dir, "test_curve") < 0) {
		free(fx);
		return -1;
	}
	/* curve_write()'s modes are asked of open(): under the usual umask. */
	fx->umask = umask(022);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < fx->nsocks; i++)
		zmq_close(fx->socks[i]);
	if (fx->zctx)
		zmq_ctx_term(fx->zctx);
	umask(fx->umask);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

static const char *file_path(struct fixture *fx, const char *name)
{
	snprintf(fx->path, sizeof fx->path, "%s/%s", fx->dir, name);
	return fx->path;
}

/* Write text to dir/name with exactly mode. Returns its path. */
static const char *write_file(struct fixture *fx, const char *name,
			      mode_t mode, const char *text)
{
	const char *path = file_path(fx, name);
	size_t len = strlen(text);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

/* The whole of a (small) file, in a static buffer. */
static const char *read_text(const char *path)
{
	static char buf[1024];
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A key file holding public and, when not NULL, secret, as Z85. */
static const char *key_text(const char *public_z85, const char *secret_z85)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "public = %s\n%s%s%s", public_z85,
		 secret_z85 ? "secret = " : "", secret_z85 ? secret_z85 : "",
		 secret_z85 ? "\n" : "");
	return buf;
}

/*
 * name with text and mode must fail to load with r at line, with a message
 * holding msg; the keys are wiped.
 */
static void assert_load_fails(struct fixture *fx, const char *text,
			      bool need_secret, int r, int line,
			      const char *msg)
{
	struct config_error err;
	struct curve_keys k;
	const char *path = write_file(fx, "bad.key", 0600, text);

	memset(&err, 0, sizeof err);
	memset(&k, 0xa5, sizeof k);
	assert_int_equal(curve_load(path, need_secret, &k, &err), r);
	/* err.file: test_error_names_file. */
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' does not hold '%s'", err.msg, msg);
	assert_int_equal(err.line, line);
	assert_true(all_zero((const uint8_t *)&k, sizeof k));
	/* And without anywhere to say why. */
	assert_int_equal(curve_load(path, need_secret, &k, NULL), r);
}

static void load_ok(const char *path, bool need_secret, struct curve_keys *k)
{
	struct config_error err;
	char buf[1024];

	if (curve_load(path, need_secret, k, &err) < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
}

static void *new_socket(struct fixture *fx, int type)
{
	int zero = 0;
	void *s;

	if (!fx->zctx) {
		fx->zctx = zmq_ctx_new();
		assert_non_null(fx->zctx);
	}
	assert_true(fx->nsocks < MAX_SOCKETS);
	s = zmq_socket(fx->zctx, type);
	assert_non_null(s);
	assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
	fx->socks[fx->nsocks++] = s;
	return s;
}

/* Bind s in the test's directory; the endpoint to connect to in ep. */
static void bind_local(struct fixture *fx, void *s, char *ep, size_t size)
{
	char want[PATH_MAX];
	size_t len = size;

	if (strlen(fx->dir) < 90)
		snprintf(want, sizeof want, "ipc://%s/server.ipc", fx->dir);
	else
		snprintf(want, sizeof want, "tcp://127.0.0.1:*");
	assert_int_equal(zmq_bind(s, want), 0);
	assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), 0);
}

/* Whether s has a message within ms. */
static bool readable_within(void *s, long ms)
{
	zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };

	return zmq_poll(&it, 1, ms) == 1;
}

/* ------------------------------------------------------------- keys */

/* A new pair: a secret whose public half is the public key, never twice. */
static void test_generate(void **state)
{
	struct curve_keys a, b;
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
	char derived[CURVE_Z85_LEN + 1];

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	assert_int_equal(curve_generate(&a), 0);
	assert_int_equal(curve_generate(&b), 0);
	assert_true(a.has_secret);
	assert_true(b.has_secret);
	assert_false(all_zero(a.public_key, CURVE_KEY_BYTES));
	assert_false(all_zero(a.secret_key, CURVE_KEY_BYTES));
	assert_memory_not_equal(a.public_key, a.secret_key, CURVE_KEY_BYTES);
	assert_memory_not_equal(a.public_key, b.public_key, CURVE_KEY_BYTES);
	assert_memory_not_equal(a.secret_key, b.secret_key, CURVE_KEY_BYTES);

	curve_z85(a.public_key, pub);
	curve_z85(a.secret_key, sec);
	assert_int_equal(zmq_curve_public(derived, sec), 0);
	assert_string_equal(derived, pub);
}

/* Z85 is RFC 32's: RFC 26's example keys come out as the RFC prints them. */
static void test_z85(void **state)
{
	char out[CURVE_Z85_LEN + 1];
	uint8_t back[CURVE_KEY_BYTES];

	memset(out, 'x', sizeof out);
	assert_ptr_equal(curve_z85(server_public, out), out);
	assert_string_equal(out, server_public_z85);
	assert_int_equal(strlen(out), CURVE_Z85_LEN);
	assert_string_equal(curve_z85(server_secret, out), server_secret_z85);

	/* And back again. */
	assert_non_null(zmq_z85_decode(back, client_public_z85));
	assert_string_equal(curve_z85(back, out), client_public_z85);
	memset(back, 0, sizeof back);
	assert_string_equal(curve_z85(back, out),
			    "0000000000000000000000000000000000000000");
}

/* ---------------------------------------------------------- round trips */

/* A pair is written 0600 and read back whole. */
static void test_write_pair(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys k, back;
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1], line[128];
	const char *path = file_path(fx, "mps-a05.key"), *text;

	assert_int_equal(curve_generate(&k), 0);
	assert_int_equal(curve_write(path, &k, "mps-a05"), 0);
	assert_int_equal(mode_of(path), 0600);

	/* The comment first, then the keys as the header shows them. */
	text = read_text(path);
	assert_int_equal(strncmp(text, "; mps-a05\n", 10), 0);
	snprintf(line, sizeof line, "\npublic = %s\n",
		 curve_z85(k.public_key, pub));
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof line, "\nsecret = %s\n",
		 curve_z85(k.secret_key, sec));
	assert_non_null(strstr(text, line));

	memset(&back, 0xa5, sizeof back);
	load_ok(path, true, &back);
	assert_true(back.has_secret);
	assert_memory_equal(back.public_key, k.public_key, CURVE_KEY_BYTES);
	assert_memory_equal(back.secret_key, k.secret_key, CURVE_KEY_BYTES);
	/* A pair does for a public key too. */
	load_ok(path, false, &back);
	assert_true(back.has_secret);
	assert_memory_equal(back.public_key, k.public_key, CURVE_KEY_BYTES);
}

/* The public half alone is written 0644, holds no secret, reads back so. */
static void test_write_public(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys k, back;
	struct config_error err;
	char sec[CURVE_Z85_LEN + 1];
	const char *path = file_path(fx, "server.pub"), *text;

	assert_int_equal(curve_generate(&k), 0);
	curve_z85(k.secret_key, sec);
	k.has_secret = false;
	assert_int_equal(curve_write(path, &k, "the Baton server"), 0);
	assert_int_equal(mode_of(path), 0644);
	text = read_text(path);
	assert_int_equal(strncmp(text, "; the Baton server\n", 19), 0);
	assert_null(strstr(text, "secret ="));
	assert_null(strstr(text, sec));

	memset(&back, 0xa5, sizeof back);
	load_ok(path, false, &back);
	assert_false(back.has_secret);
	assert_memory_equal(back.public_key, k.public_key, CURVE_KEY_BYTES);
	assert_true(all_zero(back.secret_key, CURVE_KEY_BYTES));

	/* Where a pair is needed, a public key file is refused. */
	memset(&err, 0, sizeof err);
	assert_int_equal(curve_load(path, true, &back, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no secret key"));
	assert_true(all_zero((const uint8_t *)&back, sizeof back));
}

/* curve_write() never replaces a file: not a key, not anything. */
static void test_write_never_overwrites(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys k, other;
	const char *path;
	char before[1024];

	assert_int_equal(curve_generate(&k), 0);
	assert_int_equal(curve_generate(&other), 0);
	path = file_path(fx, "a.key");
	assert_int_equal(curve_write(path, &k, "a"), 0);
	snprintf(before, sizeof before, "%s", read_text(path));

	assert_int_equal(curve_write(path, &other, "a"), -EEXIST);
	other.has_secret = false;
	assert_int_equal(curve_write(path, &other, "a"), -EEXIST);
	assert_string_equal(read_text(path), before);
	assert_int_equal(mode_of(path), 0600);

	/* Not even a file that is no key, nor a link to one. */
	path = write_file(fx, "notes.txt", 0644, "keep me\n");
	assert_int_equal(curve_write(path, &k, "x"), -EEXIST);
	assert_string_equal(read_text(path), "keep me\n");
	assert_int_equal(symlink(path, file_path(fx, "link.key")), 0);
	assert_int_equal(curve_write(fx->path, &k, "x"), -EEXIST);
	assert_string_equal(read_text(file_path(fx, "notes.txt")),
			    "keep me\n");
}

static void test_write_errors(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys k;
	char comment[600];

	assert_int_equal(curve_generate(&k), 0);
	assert_int_equal(curve_write(file_path(fx, "no/such/dir.key"), &k,
				     "x"), -ENOENT);
	/* A comment the file cannot hold: nothing is left behind. */
	memset(comment, 'c', sizeof comment - 1);
	comment[sizeof comment - 1] = '\0';
	assert_int_equal(curve_write(file_path(fx, "long.key"), &k, comment),
			 -EINVAL);
	assert_int_equal(access(fx->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

/* ----------------------------------------------------------- reading */

/* A file as a person may write it: comments, blanks, secret first. */
static void test_load_hand_written(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys k;
	char text[512];
	const char *path;

	snprintf(text, sizeof text,
		 "; the server's pair\n"
		 "\n"
		 "secret = %s   ; keep it\n"
		 "   public=%s\n"
		 "; end\n", server_secret_z85, server_public_z85);
	path = write_file(fx, "server.key", 0400, text);
	load_ok(path, true, &k);
	assert_true(k.has_secret);
	assert_memory_equal(k.public_key, server_public, CURVE_KEY_BYTES);
	assert_memory_equal(k.secret_key, server_secret, CURVE_KEY_BYTES);

	/* A public key file: anyone may read it. */
	path = write_file(fx, "server.pub", 0644,
			  key_text(server_public_z85, NULL));
	load_ok(path, false, &k);
	assert_false(k.has_secret);
	assert_memory_equal(k.public_key, server_public, CURVE_KEY_BYTES);
}

/* A secret that group or others may read is refused, as ssh does. */
static void test_load_permissions(void **state)
{
	static const mode_t open_modes[] = { 0640, 0604, 0644, 0660, 0666,
					     0601, 0610, 0400 | 040 };
	struct fixture *fx = *state;
	const char *pair = key_text(server_public_z85, server_secret_z85);
	struct config_error err;
	struct curve_keys k;
	const char *path;
	char mode[16];
	size_t i;

	for (i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
		path = write_file(fx, "server.key", open_modes[i], pair);
		memset(&err, 0, sizeof err);
		memset(&k, 0xa5, sizeof k);
		assert_int_equal(curve_load(path, true, &k, &err), -EPERM);
		assert_int_equal(err.line, 0);
		snprintf(mode, sizeof mode, "(mode %03o)",
			 (unsigned)open_modes[i]);
		if (!strstr(err.msg, mode) || !strstr(err.msg, "chmod 600"))
			fail_msg("mode %03o: '%s'", (unsigned)open_modes[i],
				 err.msg);
		assert_true(all_zero((const uint8_t *)&k, sizeof k));
		/* Not needed here, but held all the same: still refused. */
		assert_int_equal(curve_load(path, false, &k, NULL), -EPERM);
	}

	/* The owner's alone: read, write, execute. */
	path = write_file(fx, "server.key", 0600, pair);
	load_ok(path, true, &k);
	path = write_file(fx, "server.key", 0400, pair);
	load_ok(path, true, &k);
	path = write_file(fx, "server.key", 0700, pair);
	load_ok(path, true, &k);

	/* A public key file may be read by anyone. */
	path = write_file(fx, "server.pub", 0644,
			  key_text(server_public_z85, NULL));
	load_ok(path, false, &k);
	path = write_file(fx, "server.pub", 0666,
			  key_text(server_public_z85, NULL));
	load_ok(path, false, &k);
}

/* A key that is not 40 Z85 characters, at its line. */
static void test_load_bad_keys(void **state)
{
	struct fixture *fx = *state;
	char text[256];

	/* Too short, too long, empty. */
	snprintf(text, sizeof text, "; x\npublic = %.39s\n", server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 2, "invalid public key: "
			  "expected 40 Z85 characters");
	snprintf(text, sizeof text, "public = %s0\n", server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 1, "invalid public key");
	assert_load_fails(fx, "public =\n", false, -EINVAL, 1,
			  "invalid public key");
	/* 40 characters, one of them not Z85. */
	snprintf(text, sizeof text, "public = %.39s~\n", server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 1, "invalid public key");
	snprintf(text, sizeof text, "public = %.39s|\n", server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 1, "invalid public key");
	/* Z85 characters whose value overflows 32 bits. */
	assert_load_fails(fx,
			  "public = ########################################\n",
			  false, -EINVAL, 1, "invalid public key");
	/* Hex, as another tool might print a key. */
	assert_load_fails(fx, "public = 54FCBA24E93249969316FB617C872BB0C1D1FF"
			  "14800427C594CBFACF1BC2D652\n", false, -EINVAL, 1,
			  "invalid public key");

	/* The secret likewise. */
	snprintf(text, sizeof text, "public = %s\nsecret = %.39s\n",
		 server_public_z85, server_secret_z85);
	assert_load_fails(fx, text, true, -EINVAL, 2,
			  "invalid secret key: expected 40 Z85 characters");
	snprintf(text, sizeof text, "public = %s\n\nsecret = %.39s~\n",
		 server_public_z85, server_secret_z85);
	assert_load_fails(fx, text, false, -EINVAL, 3, "invalid secret key");
}

/* Keys twice, keys unknown, sections, lines that are no key. */
static void test_load_bad_structure(void **state)
{
	struct fixture *fx = *state;
	char text[512];

	snprintf(text, sizeof text, "public = %s\npublic = %s\n",
		 server_public_z85, server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 2,
			  "duplicate key 'public'");
	snprintf(text, sizeof text, "secret = %s\npublic = %s\nsecret = %s\n",
		 server_secret_z85, server_public_z85, server_secret_z85);
	assert_load_fails(fx, text, true, -EINVAL, 3,
			  "duplicate key 'secret'");

	snprintf(text, sizeof text, "public = %s\nprivate = %s\n",
		 server_public_z85, server_secret_z85);
	assert_load_fails(fx, text, true, -EINVAL, 2, "unknown key 'private': "
			  "a key file holds public = and secret =");
	snprintf(text, sizeof text, "Public = %s\n", server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 1, "unknown key 'Public'");

	snprintf(text, sizeof text, "; keys\n[keys]\npublic = %s\n",
		 server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 2,
			  "unexpected section [keys]");
	snprintf(text, sizeof text, "public = %s\n[curve]\n",
		 server_public_z85);
	assert_load_fails(fx, text, false, -EINVAL, 2,
			  "unexpected section [curve]");

	snprintf(text, sizeof text, "public = %s\n%s\n", server_public_z85,
		 server_secret_z85);
	assert_load_fails(fx, text, true, -EINVAL, 2,
			  "expected [section] or key = value");
}

/* What is missing, and a pair that is no pair. */
static void test_load_missing(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys a, b;
	char pa[CURVE_Z85_LEN + 1], sb[CURVE_Z85_LEN + 1], text[256];
	struct config_error err = { .line = 99 };
	const char *path;

	/* Not about one line: about the file (line 0). */
	assert_load_fails(fx, "", false, -EINVAL, 0, "no public key");
	assert_load_fails(fx, "; nothing\n\n", false, -EINVAL, 0,
			  "no public key");
	snprintf(text, sizeof text, "secret = %s\n", server_secret_z85);
	assert_load_fails(fx, text, true, -EINVAL, 0, "no public key");
	assert_load_fails(fx, key_text(server_public_z85, NULL), true, -EINVAL,
			  0, "no secret key: this is a public key file, and "
			  "a key pair is needed here");

	/* One pair's public key with another's secret: a pasting mistake. */
	assert_int_equal(curve_generate(&a), 0);
	assert_int_equal(curve_generate(&b), 0);
	curve_z85(a.public_key, pa);
	curve_z85(b.secret_key, sb);
	assert_load_fails(fx, key_text(pa, sb), true, -EINVAL, 0,
			  "the secret key does not belong to the public key");
	assert_load_fails(fx, key_text(pa, sb), false, -EINVAL, 0,
			  "the secret key does not belong to the public key");
	/* The secret's own public half instead of the public key. */
	assert_load_fails(fx, key_text(server_secret_z85, server_secret_z85),
			  true, -EINVAL, 0, "does not belong");

	/* No file at all. */
	path = file_path(fx, "absent.key");
	assert_int_equal(curve_load(path, false, &a, &err), -ENOENT);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	assert_int_equal(curve_load(path, false, &a, NULL), -ENOENT);
	assert_true(curve_load(fx->dir, false, &a, &err) < 0);
}

/*
 * Every error names the file, as config_error_text() prints it: those at a
 * line and those about the whole file alike.
 *
 * Every error names the file, also those curve_load() finds after the
 * parse succeeded (no public key, no secret, a secret of another pair, a
 * secret others may read), where config_parse_ini() has filled nothing.
 */
static void test_error_names_file(void **state)
{
	struct fixture *fx = *state;
	struct curve_keys a, b, k;
	char pa[CURVE_Z85_LEN + 1], sb[CURVE_Z85_LEN + 1], want[PATH_MAX + 64];
	char got[PATH_MAX + 256];
	static const struct {
		const char *why;
		int kind;		/* 0 fixed text, 1 mismatched pair */
		const char *text;
		bool need_secret;
		mode_t mode;
	} cases[] = {
		{ "invalid public key", 0, "public = short\n", false, 0600 },
		{ "no public key", 0, "; empty\n", false, 0600 },
		{ "no secret key", 0, NULL, true, 0644 },
		{ "does not belong", 1, NULL, true, 0600 },
		{ "group or others may read it", 0, NULL, true, 0640 },
	};
	struct config_error err;
	const char *path, *text;
	size_t i;

	assert_int_equal(curve_generate(&a), 0);
	assert_int_equal(curve_generate(&b), 0);
	curve_z85(a.public_key, pa);
	curve_z85(b.secret_key, sb);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		text = cases[i].text;
		if (cases[i].kind == 1)
			text = key_text(pa, sb);
		else if (!text && cases[i].mode == 0644)
			text = key_text(server_public_z85, NULL);
		else if (!text)
			text = key_text(server_public_z85, server_secret_z85);
		path = write_file(fx, "k.key", cases[i].mode, text);
		memset(&err, 0, sizeof err);
		assert_true(curve_load(path, cases[i].need_secret, &k,
				       &err) < 0);
		assert_non_null(strstr(err.msg, cases[i].why));
		config_error_text(&err, got, sizeof got);
		snprintf(want, sizeof want, "%s:", path);
		if (strncmp(got, want, strlen(want)) != 0)
			fail_msg("'%s' (%s) does not name %s", got,
				 cases[i].why, path);
	}
}

/* ------------------------------------------------------------- sockets */

/* The options land on the socket; a public key alone makes no end. */
static void test_socket_options(void **state)
{
	struct fixture *fx = *state;
	void *server = new_socket(fx, ZMQ_ROUTER);
	void *client = new_socket(fx, ZMQ_DEALER);
	struct curve_keys sk, ck, pub;
	uint8_t got[CURVE_KEY_BYTES];
	char domain[64];
	size_t len;
	int v;

	assert_int_equal(curve_generate(&sk), 0);
	assert_int_equal(curve_generate(&ck), 0);

	assert_int_equal(curve_server(server, &sk, "submit"), 0);
	len = sizeof v;
	assert_int_equal(zmq_getsockopt(server, ZMQ_MECHANISM, &v, &len), 0);
	assert_int_equal(v, ZMQ_CURVE);
	assert_int_equal(zmq_getsockopt(server, ZMQ_CURVE_SERVER, &v, &len),
			 0);
	assert_int_equal(v, 1);
	len = sizeof got;
	assert_int_equal(zmq_getsockopt(server, ZMQ_CURVE_SECRETKEY, got,
					&len), 0);
	assert_int_equal(len, CURVE_KEY_BYTES);
	assert_memory_equal(got, sk.secret_key, CURVE_KEY_BYTES);
	len = sizeof domain;
	assert_int_equal(zmq_getsockopt(server, ZMQ_ZAP_DOMAIN, domain, &len),
			 0);
	assert_string_equal(domain, "submit");

	assert_int_equal(curve_client(client, &ck, sk.public_key), 0);
	len = sizeof v;
	assert_int_equal(zmq_getsockopt(client, ZMQ_MECHANISM, &v, &len), 0);
	assert_int_equal(v, ZMQ_CURVE);
	assert_int_equal(zmq_getsockopt(client, ZMQ_CURVE_SERVER, &v, &len),
			 0);
	assert_int_equal(v, 0);
	len = sizeof got;
	assert_int_equal(zmq_getsockopt(client, ZMQ_CURVE_SERVERKEY, got,
					&len), 0);
	assert_memory_equal(got, sk.public_key, CURVE_KEY_BYTES);
	assert_int_equal(zmq_getsockopt(client, ZMQ_CURVE_PUBLICKEY, got,
					&len), 0);
	assert_memory_equal(got, ck.public_key, CURVE_KEY_BYTES);
	assert_int_equal(zmq_getsockopt(client, ZMQ_CURVE_SECRETKEY, got,
					&len), 0);
	assert_memory_equal(got, ck.secret_key, CURVE_KEY_BYTES);

	/* Either end needs its secret. */
	pub = sk;
	pub.has_secret = false;
	assert_int_equal(curve_server(new_socket(fx, ZMQ_ROUTER), &pub, "d"),
			 -EINVAL);
	assert_int_equal(curve_client(new_socket(fx, ZMQ_DEALER), &pub,
				      sk.public_key), -EINVAL);
	/* libzmq's refusal comes back as its errno. */
	assert_int_equal(curve_server(NULL, &sk, "d"), -ENOTSOCK);
	assert_int_equal(curve_client(NULL, &ck, sk.public_key), -ENOTSOCK);
}

/*
 * A server and a client made with curve_server() and curve_client() from
 * keys that went through their files talk. The server has a ZAP domain but
 * no handler is bound in the context: libzmq then admits every CURVE client
 * that knows the server's key.
 */
static void test_handshake(void **state)
{
	struct fixture *fx = *state;
	void *server = new_socket(fx, ZMQ_ROUTER);
	void *client = new_socket(fx, ZMQ_DEALER);
	struct curve_keys sk, ck, spub;
	char ep[PATH_MAX], buf[16];
	zmq_msg_t id, body;
	size_t idlen;
	char *spath, *ppath, *cpath;

	assert_int_equal(curve_generate(&sk), 0);
	assert_int_equal(curve_generate(&ck), 0);
	spath = strdup(file_path(fx, "server.key"));
	ppath = strdup(file_path(fx, "server.pub"));
	cpath = strdup(file_path(fx, "client.key"));
	assert_true(spath && ppath && cpath);
	assert_int_equal(curve_write(spath, &sk, "server"), 0);
	sk.has_secret = false;
	assert_int_equal(curve_write(ppath, &sk, "server"), 0);
	assert_int_equal(curve_write(cpath, &ck, "client"), 0);
	memset(&sk, 0, sizeof sk);
	memset(&ck, 0, sizeof ck);
	load_ok(spath, true, &sk);
	load_ok(ppath, false, &spub);
	load_ok(cpath, true, &ck);
	free(spath);
	free(ppath);
	free(cpath);

	assert_int_equal(curve_server(server, &sk, "submit"), 0);
	bind_local(fx, server, ep, sizeof ep);
	assert_int_equal(curve_client(client, &ck, spub.public_key), 0);
	assert_int_equal(zmq_connect(client, ep), 0);

	assert_int_equal(zmq_send(client, "ping", 4, 0), 4);
	assert_true(readable_within(server, 5000));
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	assert_true(zmq_msg_recv(&id, server, 0) > 0);
	assert_true(zmq_msg_more(&id));
	assert_int_equal(zmq_msg_recv(&body, server, 0), 4);
	assert_memory_equal(zmq_msg_data(&body), "ping", 4);
	idlen = zmq_msg_size(&id);
	assert_int_equal(zmq_msg_send(&id, server, ZMQ_SNDMORE), (int)idlen);
	assert_int_equal(zmq_send(server, "pong", 4, 0), 4);
	zmq_msg_close(&body);
	zmq_msg_close(&id);

	assert_true(readable_within(client, 5000));
	assert_int_equal(zmq_recv(client, buf, sizeof buf, 0), 4);
	assert_memory_equal(buf, "pong", 4);
}

/* A client with the wrong server key, or none, gets nothing through. */
static void test_handshake_refused(void **state)
{
	struct fixture *fx = *state;
	void *server = new_socket(fx, ZMQ_ROUTER);
	void *wrong = new_socket(fx, ZMQ_DEALER);
	void *plain = new_socket(fx, ZMQ_DEALER);
	void *good = new_socket(fx, ZMQ_DEALER);
	struct curve_keys sk, other, ck;
	char ep[PATH_MAX], buf[16];

	assert_int_equal(curve_generate(&sk), 0);
	assert_int_equal(curve_generate(&other), 0);
	assert_int_equal(curve_generate(&ck), 0);
	assert_int_equal(curve_server(server, &sk, "submit"), 0);
	bind_local(fx, server, ep, sizeof ep);

	assert_int_equal(curve_client(wrong, &ck, other.public_key), 0);
	assert_int_equal(zmq_connect(wrong, ep), 0);
	assert_int_equal(zmq_connect(plain, ep), 0);
	assert_int_equal(zmq_send(wrong, "wrong", 5, ZMQ_DONTWAIT), 5);
	assert_int_equal(zmq_send(plain, "plain", 5, ZMQ_DONTWAIT), 5);
	assert_false(readable_within(server, 500));

	/* While a client that knows the key still gets through. */
	assert_int_equal(curve_client(good, &ck, sk.public_key), 0);
	assert_int_equal(zmq_connect(good, ep), 0);
	assert_int_equal(zmq_send(good, "good", 4, 0), 4);
	assert_true(readable_within(server, 5000));
	assert_true(zmq_recv(server, buf, sizeof buf, 0) > 0);	/* its id */
	assert_int_equal(zmq_recv(server, buf, sizeof buf, 0), 4);
	assert_memory_equal(buf, "good", 4);
	assert_false(readable_within(server, 200));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_generate),
		T(test_z85),
		T(test_write_pair),
		T(test_write_public),
		T(test_write_never_overwrites),
		T(test_write_errors),
		T(test_load_hand_written),
		T(test_load_permissions),
		T(test_load_bad_keys),
		T(test_load_bad_structure),
		T(test_load_missing),
		T(test_error_names_file),
		T(test_socket_options),
		T(test_handshake),
		T(test_handshake_refused),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
