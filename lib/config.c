/*
 * config.c - baton.conf into a struct config.
 *
 * Every key the file may hold is one row of keys[]: its section, name, type,
 * where it lives in struct config and its default. Defaults are applied by
 * parsing their text through the same setter as a value from the file, so a
 * default and a written value cannot differ in meaning, and config_free()
 * walks the same table, so a new string key cannot leak.
 *
 * inih does the INI syntax, in config_parse_ini(), which routes.conf and
 * the other files share. What inih does not do is done in the line reader
 * we hand it, which sees every physical line before inih does:
 *  - line numbers: the Debian build calls the handler without them, and the
 *    reader is called exactly once per line before inih acts on that line;
 *  - section headers: inih only reports keys, so "[intkae]" with no keys
 *    under it would pass unnoticed; and it keeps only the first 49
 *    characters of a section's name;
 *  - overlong lines: inih's fixed buffer would cut them into two lines and
 *    parse the tail as a line of its own;
 *  - leading blanks: inih would take an indented key for the continuation
 *    of the previous value;
 *  - inline comments (" ; ..."): stripped here as well, so that an inih built
 *    without INI_ALLOW_INLINE_COMMENTS reads the file the same way.
 * The first error wins; later lines are still read by inih but change
 * nothing that is reported.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "msg.h"
#include "time.h"

/* ------------------------------------------------------------- the keys */

enum kind {
	KIND_PATH,		/* relative to the file's directory */
	KIND_ENDPOINT,		/* a ZeroMQ endpoint we know how to use */
	KIND_SIZE,		/* config_parse_size(), within [min, max] */
	KIND_UINT32,		/* plain decimal, within [min, max] */
	KIND_AUTH,		/* enum config_auth */
	KIND_STRING,		/* any text without control characters */
	KIND_AGENCY,		/* an agency name */
	KIND_EMAIL,		/* an address for SMTP's MAIL FROM */
	KIND_URL,		/* smtp:// or smtps:// and a host */
	KIND_DURATION,		/* time_parse_duration(), within [min, max] */
	KIND_TLS,		/* enum config_tls */
};

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t offset;		/* in struct config */
	const char *def;	/* NULL: unset unless the file sets it */
	uint64_t min, max;	/* KIND_SIZE and KIND_UINT32 */
};

/* A key without a range, and a number with one. */
#define KEY(section, name, kind, field, def) \
	{ section, name, kind, offsetof(struct config, field), def, 0, 0 }
#define NUM(section, name, kind, field, def, min, max) \
	{ section, name, kind, offsetof(struct config, field), def, min, max }

static const struct key keys[] = {
	KEY("baton", "state_dir", KIND_PATH, state_dir, "/var/lib/baton"),
	KEY("baton", "auth", KIND_AUTH, auth, "curve"),
	KEY("baton", "agencies", KIND_PATH, agencies, NULL),
	KEY("baton", "routes", KIND_PATH, routes, NULL),
	KEY("baton", "calendar", KIND_PATH, calendar, NULL),
	KEY("baton", "server_key", KIND_PATH, server_key, NULL),
	KEY("baton", "server_public", KIND_PATH, server_public, NULL),
	NUM("baton", "map_size", KIND_SIZE, map_size, "64M", 1, UINT64_MAX),

	KEY("intake", "submit", KIND_ENDPOINT, intake.submit,
	    "tcp://127.0.0.1:7400"),
	KEY("intake", "publish", KIND_ENDPOINT, intake.publish,
	    "ipc:///run/baton/intake.pub"),
	KEY("intake", "replay", KIND_ENDPOINT, intake.replay,
	    "ipc:///run/baton/intake.replay"),
	/* ZMQ_MAXMSGSIZE is an int64_t. */
	NUM("intake", "max_message_size", KIND_SIZE, intake.max_message_size,
	    "1M", 1, INT64_MAX),
	NUM("intake", "max_batch", KIND_UINT32, intake.max_batch,
	    "1024", 1, 65536),
	NUM("intake", "checkpoint", KIND_DURATION, intake.checkpoint_ms,
	    "10ms", 0, TIME_MS_PER_M),
	NUM("intake", "rate", KIND_UINT32, intake.rate, "1000", 0, 1000000),
	NUM("intake", "burst", KIND_UINT32, intake.burst, "2000", 1, 10000000),
	NUM("intake", "max_body", KIND_SIZE, intake.max_body, "64K", 0,
	    MSG_BODY_MAX),

	KEY("router", "publish", KIND_ENDPOINT, router.publish,
	    "ipc:///run/baton/router.pub"),
	KEY("router", "replay", KIND_ENDPOINT, router.replay,
	    "ipc:///run/baton/router.replay"),

	KEY("deadline", "publish", KIND_ENDPOINT, deadline.publish,
	    "ipc:///run/baton/deadline.pub"),
	KEY("deadline", "replay", KIND_ENDPOINT, deadline.replay,
	    "ipc:///run/baton/deadline.replay"),

	KEY("notify", "feed", KIND_ENDPOINT, notify.feed,
	    "tcp://127.0.0.1:7410"),
	KEY("notify", "office", KIND_AGENCY, notify.office, "office"),
	KEY("notify", "smtp", KIND_URL, notify.smtp, NULL),
	KEY("notify", "smtp_from", KIND_EMAIL, notify.smtp_from,
	    "baton@localhost"),
	KEY("notify", "smtp_starttls", KIND_TLS, notify.smtp_starttls, "yes"),
	KEY("notify", "smtp_user", KIND_STRING, notify.smtp_user, NULL),
	KEY("notify", "smtp_password", KIND_STRING, notify.smtp_password,
	    NULL),
	KEY("notify", "ca", KIND_PATH, notify.ca, NULL),
	NUM("notify", "max_attempts", KIND_UINT32, notify.max_attempts,
	    "12", 1, 1000),
	NUM("notify", "max_age", KIND_DURATION, notify.max_age_ms, "2d",
	    1000, 365 * TIME_MS_PER_D),
	NUM("notify", "retry_min", KIND_DURATION, notify.retry_min_ms, "30s",
	    100, TIME_MS_PER_D),
	NUM("notify", "retry_max", KIND_DURATION, notify.retry_max_ms, "1h",
	    100, 7 * TIME_MS_PER_D),
	NUM("notify", "timeout", KIND_DURATION, notify.timeout_ms, "30s",
	    100, TIME_MS_PER_H),
	NUM("notify", "max_inflight", KIND_UINT32, notify.max_inflight,
	    "64", 1, 1024),

	KEY("batonctl", "key", KIND_PATH, batonctl.key, NULL),
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool known_section(const char *section)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* Whether a key's value is a string that struct config owns. */
static bool is_string(const struct key *k)
{
	switch (k->kind) {
	case KIND_PATH:
	case KIND_ENDPOINT:
	case KIND_STRING:
	case KIND_AGENCY:
	case KIND_EMAIL:
	case KIND_URL:
		return true;
	default:
		return false;
	}
}

/* The string a string key (is_string()) is stored in. */
static char **string_at(struct config *c, const struct key *k)
{
	return (char **)((char *)c + k->offset);
}

/* ------------------------------------------------------- parsing state */

struct parse {
	struct config *c;
	struct config_error *err;	/* at the line being read */
	bool seen[NKEYS];	/* set in the file, for duplicate keys */
};

/* Say what is wrong with the line being read. Returns r. */
static int fail(struct parse *p, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
	va_end(ap);
	return r;
}

/* -------------------------------------------------------------- values */

/*
 * Decimal digits at *p into *ret, advancing *p. Returns 0, -EINVAL if there
 * is no digit, -ERANGE if they do not fit (all of them are still consumed,
 * so that the caller can tell a bad suffix from a big number).
 */
static int parse_digits(const char **p, uint64_t *ret)
{
	uint64_t n = 0;
	bool overflow = false;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	for (; **p >= '0' && **p <= '9'; (*p)++)
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(**p - '0'), &n))
			overflow = true;
	*ret = n;
	return overflow ? -ERANGE : 0;
}

int config_parse_size(const char *text, uint64_t *ret)
{
	static const char multiples[] = "KMGT";
	const char *p = text, *m;
	unsigned int shift = 0;
	uint64_t n;
	int r;

	r = parse_digits(&p, &n);
	if (r == -EINVAL)
		return r;
	if (*p != '\0' && (m = strchr(multiples, *p))) {
		shift = 10 * (unsigned int)(m - multiples + 1);
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
	}
	if (strcmp(p, "B") == 0)
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (r < 0 || n > UINT64_MAX >> shift)
		return -ERANGE;
	*ret = n << shift;
	return 0;
}

static int set_string(struct parse *p, const struct key *k, char *s)
{
	char **field = string_at(p->c, k);

	if (!s)
		return fail(p, -ENOMEM, "%s", strerror(ENOMEM));
	free(*field);
	*field = s;
	return 0;
}

static int set_path(struct parse *p, const struct key *k, const char *value)
{
	const char *dir = p->c->dir;
	char *s;

	if (*value == '\0')
		return fail(p, -EINVAL, "empty path for %s", k->name);
	if (*value == '/')
		return set_string(p, k, strdup(value));
	/* dir is absolute, and "/" only for a file in the root. */
	if (asprintf(&s, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
		     value) < 0)
		s = NULL;
	return set_string(p, k, s);
}

static int set_endpoint(struct parse *p, const struct key *k,
			const char *value)
{
	static const char *const schemes[] = {
		"tcp://", "ipc://", "inproc://",
	};
	size_t i, n;

	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		n = strlen(schemes[i]);
		if (strncmp(value, schemes[i], n) == 0 && value[n] != '\0' &&
		    !strpbrk(value, " \t"))
			return set_string(p, k, strdup(value));
	}
	return fail(p, -EINVAL, "invalid endpoint '%s' for %s: "
		    "expected tcp://, ipc:// or inproc:// and an address",
		    value, k->name);
}

static int check_range(struct parse *p, const struct key *k,
		       const char *value, uint64_t n)
{
	if (n < k->min || n > k->max)
		return fail(p, -EINVAL, "%s = %s is out of range "
			    "(%llu to %llu)", k->name, value,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
	return 0;
}

static int set_size(struct parse *p, const struct key *k, const char *value)
{
	uint64_t n;
	int r;

	r = config_parse_size(value, &n);
	if (r == -ERANGE)
		return fail(p, -EINVAL, "size '%s' for %s is too large",
			    value, k->name);
	if (r < 0)
		return fail(p, -EINVAL, "invalid size '%s' for %s: "
			    "expected bytes or K, M, G, T", value, k->name);
	r = check_range(p, k, value, n);
	if (r < 0)
		return r;
	*(uint64_t *)((char *)p->c + k->offset) = n;
	return 0;
}

static int set_uint32(struct parse *p, const struct key *k, const char *value)
{
	const char *end = value;
	uint64_t n;
	int r;

	r = parse_digits(&end, &n);
	if (r == -EINVAL || *end != '\0')
		return fail(p, -EINVAL, "invalid number '%s' for %s",
			    value, k->name);
	/* A number too large for 64 bits is out of any range we have. */
	if (r < 0)
		n = UINT64_MAX;
	r = check_range(p, k, value, n);
	if (r < 0)
		return r;
	*(uint32_t *)((char *)p->c + k->offset) = (uint32_t)n;
	return 0;
}

static int set_auth(struct parse *p, const struct key *k, const char *value)
{
	enum config_auth *field =
		(enum config_auth *)((char *)p->c + k->offset);

	if (strcmp(value, "curve") == 0)
		*field = CONFIG_AUTH_CURVE;
	else if (strcmp(value, "none") == 0)
		*field = CONFIG_AUTH_NONE;
	else
		return fail(p, -EINVAL, "invalid auth '%s': expected curve "
			    "or none", value);
	return 0;
}

static int set_text(struct parse *p, const struct key *k, const char *value)
{
	for (const char *s = value; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fail(p, -EINVAL, "control character in %s",
				    k->name);
	if (*value == '\0')
		return fail(p, -EINVAL, "empty value for %s", k->name);
	return set_string(p, k, strdup(value));
}

static int set_agency(struct parse *p, const struct key *k,
		      const char *value)
{
	if (!msg_agency_valid(value))
		return fail(p, -EINVAL, "invalid agency name '%s' for %s: "
			    "expected 1-64 of A-Z, a-z, 0-9, '.', '_', '-'",
			    value, k->name);
	return set_string(p, k, strdup(value));
}

/* One '@' with text on both sides, nothing that could break a header. */
static int set_email(struct parse *p, const struct key *k, const char *value)
{
	const char *at = strchr(value, '@');

	if (!at || at == value || at[1] == '\0' || strchr(at + 1, '@') ||
	    strpbrk(value, " \t<>,;\"()[]\\") || strlen(value) > 254)
		return fail(p, -EINVAL, "invalid address '%s' for %s: "
			    "expected user@host", value, k->name);
	return set_text(p, k, value);
}

static int set_url(struct parse *p, const struct key *k, const char *value)
{
	if ((strncmp(value, "smtp://", 7) != 0 || value[7] == '\0') &&
	    (strncmp(value, "smtps://", 8) != 0 || value[8] == '\0'))
		return fail(p, -EINVAL, "invalid URL '%s' for %s: expected "
			    "smtp://HOST[:PORT] or smtps://HOST[:PORT]",
			    value, k->name);
	return set_text(p, k, value);
}

static int set_duration(struct parse *p, const struct key *k,
			const char *value)
{
	int64_t ms;
	char lo[32], hi[32];

	if (time_parse_duration(value, &ms) < 0)
		return fail(p, -EINVAL, "invalid duration '%s' for %s: "
			    "expected 500ms, 90s, 36h, 3d", value, k->name);
	if ((uint64_t)ms < k->min || (uint64_t)ms > k->max)
		return fail(p, -EINVAL, "%s = %s is out of range (%s to %s)",
			    k->name, value,
			    time_format_duration((int64_t)k->min, lo,
						 sizeof lo),
			    time_format_duration((int64_t)k->max, hi,
						 sizeof hi));
	*(int64_t *)((char *)p->c + k->offset) = ms;
	return 0;
}

static int set_tls(struct parse *p, const struct key *k, const char *value)
{
	enum config_tls *field = (enum config_tls *)((char *)p->c + k->offset);

	if (strcmp(value, "yes") == 0)
		*field = CONFIG_TLS_STARTTLS;
	else if (strcmp(value, "try") == 0)
		*field = CONFIG_TLS_TRY;
	else if (strcmp(value, "no") == 0)
		*field = CONFIG_TLS_NONE;
	else
		return fail(p, -EINVAL, "invalid %s '%s': expected yes, try "
			    "or no", k->name, value);
	return 0;
}

static int (*const setters[])(struct parse *, const struct key *,
			      const char *) = {
	[KIND_PATH] = set_path,
	[KIND_ENDPOINT] = set_endpoint,
	[KIND_SIZE] = set_size,
	[KIND_UINT32] = set_uint32,
	[KIND_AUTH] = set_auth,
	[KIND_STRING] = set_text,
	[KIND_AGENCY] = set_agency,
	[KIND_EMAIL] = set_email,
	[KIND_URL] = set_url,
	[KIND_DURATION] = set_duration,
	[KIND_TLS] = set_tls,
};

static int set_value(struct parse *p, const struct key *k, const char *value)
{
	return setters[k->kind](p, k, value);
}

/* ------------------------------------------------------------- inih glue */

struct ini {
	FILE *f;
	config_ini_fn *fn;
	void *user;
	struct config_error *err;	/* the first error */
	int line;		/* of the line inih is working on */
	int r;			/* the first error, or 0 */
	int read_errno;		/* fgets() failed: the file, not its text */
	char section[INI_MAX_LINE];	/* the current one, in full */
};

/* Hand one header, key or the end to fn, unless there was an error. */
static void call(struct ini *in, const char *section, const char *name,
		 const char *value)
{
	int r;

	if (in->r < 0)
		return;
	in->err->line = in->line;
	r = in->fn(in->user, section, name, value, in->err);
	if (r < 0) {
		in->r = r;
		if (in->err->msg[0] == '\0')
			snprintf(in->err->msg, sizeof in->err->msg, "%s",
				 strerror(-r));
	}
}

/*
 * inih's reader: one physical line per call, the line counted, then cleaned
 * of what inih would misread (see the top of this file).
 */
static char *read_line(char *str, int num, void *stream)
{
	struct ini *in = stream;
	const char *why = NULL;
	char *s, *end;
	size_t len, n = 0;
	int c;

	/*
	 * A byte at a time, not fgets(): a NUL byte would make strlen() see a
	 * shorter line than was read, and the tail would pass for a line of
	 * its own. The whole physical line is consumed, whatever it holds.
	 */
	while ((c = getc(in->f)) != EOF) {
		if (c == '\0')
			why = "NUL byte in the line";
		if (n < (size_t)num - 1)
			str[n++] = (char)c;
		else if (c != '\n' && !why)
			why = "line longer than the limit";
		if (c == '\n')
			break;
	}
	if (c == EOF && ferror(in->f)) {
		in->read_errno = errno ? errno : EIO;
		return NULL;
	}
	if (c == EOF && n == 0)
		return NULL;
	str[n] = '\0';
	in->line++;
	if (why) {
		if (in->r == 0) {
			in->r = -EINVAL;
			in->err->line = in->line;
			if (why[0] == 'N')
				snprintf(in->err->msg, sizeof in->err->msg,
					 "%s", why);
			else
				snprintf(in->err->msg, sizeof in->err->msg,
					 "line longer than %d characters",
					 num - 1);
		}
		*str = '\0';
		return str;
	}

	/* A UTF-8 byte order mark would hide a first "[section]" from us. */
	s = str;
	if (in->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	s += strspn(s, " \t");
	memmove(str, s, strlen(s) + 1);
	/* An inline comment is a ';' after a blank, as inih has it. */
	for (s = str; *s != '\0'; s++)
		if (*s == ';' && s > str && (s[-1] == ' ' || s[-1] == '\t')) {
			*s = '\0';
			break;
		}

	/* inih itself reports a header without its ']'. */
	if (*str == '[' && (end = strchr(str, ']'))) {
		len = (size_t)(end - str - 1);
		if (len >= sizeof in->section)
			len = sizeof in->section - 1;
		memcpy(in->section, str + 1, len);
		in->section[len] = '\0';
		call(in, in->section, NULL, NULL);
	}
	return str;
}

/* inih's handler: its section is ours, but cut short. */
static int on_ini_value(void *user, const char *section, const char *name,
			const char *value)
{
	struct ini *in = user;

	call(in, in->section, name, value);
	return 1;
}

int config_parse_ini(const char *path, config_ini_fn *fn, void *user,
		     struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct ini in = { .fn = fn, .user = user, .err = &e };
	int r;

	snprintf(e.file, sizeof e.file, "%s", path);
	in.f = fopen(path, "re");		/* e: O_CLOEXEC */
	if (!in.f) {
		r = -errno;
		goto out;
	}
	r = ini_parse_stream(read_line, &in, on_ini_value, &in);
	if (!in.read_errno)
		call(&in, NULL, NULL, NULL);
	/*
	 * inih counts lines as we do: its first error is a syntax error
	 * unless ours came no later.
	 */
	if (r > 0 && (in.r == 0 || r < e.line)) {
		in.r = -EINVAL;
		e.line = r;
		snprintf(e.msg, sizeof e.msg,
			 "expected [section] or key = value");
	} else if (r == -2 && in.r == 0) {
		in.r = -ENOMEM;
	}
	r = in.read_errno ? -in.read_errno : in.r;
out:
	if (r < 0 && err) {
		/* An error about the file, not one of its lines. */
		if (e.msg[0] == '\0' || in.read_errno) {
			e.line = 0;
			snprintf(e.msg, sizeof e.msg, "%s", strerror(-r));
		}
		*err = e;
	}
	if (in.f)
		fclose(in.f);
	return r;
}

int config_fail(struct config_error *err, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int config_nomem(struct config_error *err)
{
	snprintf(err->msg, sizeof err->msg, "%s", strerror(ENOMEM));
	return -ENOMEM;
}

/* config_parse_ini()'s callback for baton.conf. */
static int on_value(void *user, const char *section, const char *name,
		    const char *value, struct config_error *err)
{
	struct parse *p = user;
	const struct key *k;

	p->err = err;
	if (!section)
		return 0;
	if (!name) {
		if (!known_section(section))
			return fail(p, -EINVAL, "unknown section [%s]",
				    section);
		return 0;
	}
	k = find_key(section, name);
	if (!k) {
		if (*section == '\0')
			return fail(p, -EINVAL, "key '%s' is outside any "
				    "[section]", name);
		return fail(p, -EINVAL, "unknown key '%s' in [%s]", name,
			    section);
	}
	if (p->seen[k - keys])
		return fail(p, -EINVAL, "duplicate key '%s' in [%s]", name,
			    section);
	p->seen[k - keys] = true;
	return set_value(p, k, value);
}

/* The absolute directory of path, which must exist. Returns 0, -errno. */
static int dir_of(const char *path, char **ret)
{
	char *copy, *dir;

	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	dir = realpath(dirname(copy), NULL);
	free(copy);
	if (!dir)
		return -errno;
	*ret = dir;
	return 0;
}

/* ------------------------------------------------------------ public API */

int config_load(const char *path, struct config **ret,
		struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct parse p = { .err = &e };
	struct config *c = NULL;
	size_t i;
	int r;

	snprintf(e.file, sizeof e.file, "%s", path);
	c = calloc(1, sizeof *c);
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	p.c = c;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto out;
	}
	r = dir_of(path, &c->dir);
	if (r < 0)
		goto out;

	for (i = 0; i < NKEYS; i++) {
		r = keys[i].def ? set_value(&p, &keys[i], keys[i].def) : 0;
		if (r < 0)
			goto out;
	}
	/* From here on, *err is config_parse_ini()'s to fill. */
	r = config_parse_ini(path, on_value, &p, err);
	if (r < 0) {
		err = NULL;
		goto out;
	}

	*ret = c;
	c = NULL;
out:
	if (r < 0 && err) {
		if (e.msg[0] == '\0')
			snprintf(e.msg, sizeof e.msg, "%s", strerror(-r));
		*err = e;
	}
	config_free(c);
	return r;
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < NKEYS; i++)
		if (is_string(&keys[i]))
			free(*string_at(c, &keys[i]));
	free(c->dir);
	free(c->path);
	free(c);
}

char *config_state_path(const struct config *c, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", c->state_dir, name) < 0)
		return NULL;
	return s;
}

char *config_error_text(const struct config_error *err, char *buf,
			size_t size)
{
	if (err->line > 0)
		snprintf(buf, size, "%s:%d: %s", err->file, err->line,
			 err->msg);
	else
		snprintf(buf, size, "%s: %s", err->file, err->msg);
	return buf;
}
