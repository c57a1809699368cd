/*
 * agency.c - agencies.conf into a struct agency_set, and an agency looked
 * up by name.
 *
 * config_parse_ini() reads the file and hands us one header or key at a
 * time with its line, so that every mistake is reported where it is. An
 * agency is finished when the next header or the end of the file comes:
 * only then is it known whether a webhook came with its secret, and that
 * mistake is reported at the agency's header, where the section starts.
 *
 * Every string of a set lives in one arena: a list of large blocks that
 * the strings are copied into one after the other and that are never freed
 * one by one. A struct agency only points into it, the title of an agency
 * without "name =" is its name, and agency_free() frees the blocks, the
 * array of agencies and the index, whatever was or was not set. The array
 * may move as it grows while the file is read, so nothing holds a pointer
 * to an agency until the set is complete; the strings never move.
 *
 * The index is the agencies' positions in the array sorted by name, kept
 * sorted as each header is read: the same binary search finds a duplicate
 * at its header and, afterwards, the agency agency_find() is asked for.
 * Inserting moves at most AGENCY_MAX positions, once per agency.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "agency.h"
#include "msg.h"

/* The least a block of the arena holds; a longer string gets its own. */
#define BLOCK_SIZE		16384

#define SECRET_MIN		16	/* bytes of webhook_secret */
#define PORT_MAX		65535

struct block {
	struct block *next;
	size_t size, used;
	char data[];
};

struct agency_set {
	const char *path;
	struct agency *a;		/* in file order */
	size_t n, nalloc;
	uint32_t *index;		/* positions in a, sorted by name */
	struct block *strings;		/* the arena, newest first */
};

/* -------------------------------------------------------- parsing state */

enum key {
	K_NAME,
	K_EMAIL,
	K_WEBHOOK,
	K_WEBHOOK_SECRET,
	K_FEED,
	K_KEY,
	K_ROLE,
	NKEYS
};

struct load {
	struct agency_set *s;
	struct config_error *err;	/* at the line being read */
	bool in;			/* in an [agency NAME] section */
	unsigned seen;			/* its keys so far: 1u << key */
};

/* ------------------------------------------------------------ the arena */

/* A copy of the len bytes at text, terminated, in s's arena; NULL: ENOMEM. */
static char *store(struct agency_set *s, const char *text, size_t len)
{
	struct block *b = s->strings;
	char *p;

	if (!b || b->size - b->used < len + 1) {
		size_t size = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;

		b = malloc(sizeof *b + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = s->strings;
		s->strings = b;
	}
	p = b->data + b->used;
	memcpy(p, text, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

/* The value of key, stored, into *field. */
static int set_string(struct load *l, const char *value, const char **field)
{
	const char *p = store(l->s, value, strlen(value));

	if (!p)
		return config_nomem(l->err);
	*field = p;
	return 0;
}

/* ------------------------------------------------------------ the index */

/*
 * Where name is in the index (*found), or where it would go: the number
 * of agencies whose name sorts before it.
 */
static size_t index_slot(const struct agency_set *s, const char *name,
			 bool *found)
{
	size_t lo = 0, hi = s->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, s->a[s->index[mid]].name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* ------------------------------------------------------------- checking */

static bool control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* An address as agency.h has it: enough for an envelope and a header. */
static const char *address_problem(const char *a)
{
	const char *at = strchr(a, '@');
	const char *p;

	for (p = a; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '<' || *p == '>' ||
		    *p == ',' || control((unsigned char)*p))
			return "blanks, angle brackets, commas and control "
			       "characters are not allowed";
	if (!at || at == a || at[1] == '\0' || strchr(at + 1, '@'))
		return "expected one '@' with something on both sides";
	return NULL;
}

/*
 * A webhook: http:// or https://, then a host (a name, an address, or an
 * IPv6 address in brackets), then perhaps a port, then anything up to the
 * end that has no blanks or control characters, which would end or split
 * the request line.
 */
static const char *url_problem(const char *url)
{
	const char *p, *auth, *end, *host, *host_end, *at;
	unsigned long port;

	if (strncmp(url, "http://", 7) == 0)
		auth = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		auth = url + 8;
	else
		return "expected a URL starting with http:// or https://";
	for (p = url; *p; p++)
		if (*p == ' ' || *p == '\t' || control((unsigned char)*p))
			return "blanks and control characters are not allowed";

	/* The authority: [userinfo@]host[:port], up to the path. */
	end = auth + strcspn(auth, "/?#");
	host = auth;
	for (at = auth; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t)(end - host));
		if (!host_end || host_end == host + 1)
			return "expected a host after the scheme";
		host_end++;
	} else {
		host_end = memchr(host, ':', (size_t)(end - host));
		if (!host_end)
			host_end = end;
		if (host_end == host)
			return "expected a host after the scheme";
	}
	if (host_end == end)
		return NULL;
	if (*host_end != ':')
		return "expected a host after the scheme";
	p = host_end + 1;
	if (p == end || (size_t)(end - p) > 5 || strspn(p, "0123456789") !=
	    (size_t)(end - p))
		return "expected a port of 1-65535 after the host";
	port = strtoul(p, NULL, 10);
	if (port == 0 || port > PORT_MAX)
		return "expected a port of 1-65535 after the host";
	return NULL;
}

/* ---------------------------------------------------------------- setters */

static int set_name(struct load *l, struct agency *a, const char *value)
{
	const char *p;

	for (p = value; *p; p++)
		if (control((unsigned char)*p))
			return config_fail(l->err, 0,
					   "invalid name for [agency %s]: "
					   "control characters are not allowed",
					   a->name);
	return set_string(l, value, &a->title);
}

/* A comma-separated list of addresses, blanks around each removed. */
static int set_email(struct load *l, struct agency *a, const char *value)
{
	const char *s = value, *next, *end, *why;
	char item[256];
	size_t len;
	int r;

	a->nemail = 0;
	for (;; s = next + 1) {
		next = strchr(s, ',');
		end = next ? next : s + strlen(s);
		s += strspn(s, " \t");
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - s);
		if (len == 0)
			return config_fail(l->err, 0,
					   "empty item in the list '%s' for "
					   "email",
					   value);
		if (a->nemail == AGENCY_MAX_EMAIL)
			return config_fail(l->err, 0,
					   "more than %d addresses for email",
					   AGENCY_MAX_EMAIL);
		/* A line, and so an item, is shorter than item. */
		snprintf(item, sizeof item, "%.*s", (int)len, s);
		why = address_problem(item);
		if (why)
			return config_fail(l->err, 0,
					   "invalid email address '%s': %s",
					   item, why);
		r = set_string(l, item, &a->email[a->nemail]);
		if (r < 0)
			return r;
		a->nemail++;
		if (!next)
			return 0;
	}
}

static int set_webhook(struct load *l, struct agency *a, const char *value)
{
	const char *why = url_problem(value);

	if (why)
		return config_fail(l->err, 0, "invalid webhook '%s': %s", value,
				   why);
	return set_string(l, value, &a->webhook);
}

/* The secret is never repeated in a message: messages are logged. */
static int set_secret(struct load *l, struct agency *a, const char *value)
{
	if (strlen(value) < SECRET_MIN)
		return config_fail(l->err, 0, "webhook_secret of [agency %s] "
				   "is too short: at least %d characters",
				   a->name, SECRET_MIN);
	return set_string(l, value, &a->webhook_secret);
}

static int set_feed(struct load *l, struct agency *a, const char *value)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
		a->feed = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
		a->feed = false;
	else
		return config_fail(l->err, 0,
				   "invalid feed '%s': expected yes, no, true "
				   "or false",
				   value);
	return 0;
}

static const char *const role_names[] = {
	[AGENCY_ROLE_AGENCY] = "agency",
	[AGENCY_ROLE_OPERATOR] = "operator",
	[AGENCY_ROLE_OFFICE] = "office",
};

static int set_role(struct load *l, struct agency *a, const char *value)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]);
	     i++)
		if (strcmp(value, role_names[i]) == 0) {
			a->role = (enum agency_role)i;
			return 0;
		}
	return config_fail(l->err, 0, "invalid role '%s': expected agency, "
			   "operator or office", value);
}

/* Which agency already holds key, or NULL. */
static const struct agency *key_holder(const struct agency_set *s,
				       const uint8_t key[AGENCY_KEY_BYTES])
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->a[i].nkeys; k++)
			if (memcmp(s->a[i].keys[k], key, AGENCY_KEY_BYTES) == 0)
				return &s->a[i];
	return NULL;
}

/*
 * A comma-separated list of CurveZMQ public keys in Z85 (40 characters
 * each), more than one while a key is being replaced. One key is one
 * agency's: a key given twice anywhere in the file is refused.
 */
static int set_key(struct load *l, struct agency *a, const char *value)
{
	const char *s = value, *next, *end;
	char item[AGENCY_KEY_Z85 + 1];
	const struct agency *holder;
	size_t len;

	for (;; s = next + 1) {
		next = strchr(s, ',');
		end = next ? next : s + strlen(s);
		s += strspn(s, " \t");
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - s);
		if (a->nkeys == AGENCY_MAX_KEYS)
			return config_fail(l->err, 0, "more than %d keys for "
					   "[agency %s]", AGENCY_MAX_KEYS,
					   a->name);
		snprintf(item, sizeof item, "%.*s", (int)len, s);
		if (len != AGENCY_KEY_Z85 ||
		    !zmq_z85_decode(a->keys[a->nkeys], item))
			return config_fail(l->err, 0, "invalid key for "
					   "[agency %s]: expected a public key "
					   "of %d Z85 characters, as batonctl "
					   "keygen prints it", a->name,
					   AGENCY_KEY_Z85);
		holder = key_holder(l->s, a->keys[a->nkeys]);
		if (holder)
			return config_fail(l->err, 0, "key %s of [agency %s] "
					   "is [agency %s]'s already (line %d): "
					   "a key decides the agency", item,
					   a->name, holder->name,
					   holder->line);
		a->nkeys++;
		if (!next)
			return 0;
	}
}

static const struct {
	const char *name;
	int (*set)(struct load *, struct agency *, const char *);
} keys[NKEYS] = {
	[K_NAME] = { "name", set_name },
	[K_EMAIL] = { "email", set_email },
	[K_WEBHOOK] = { "webhook", set_webhook },
	[K_WEBHOOK_SECRET] = { "webhook_secret", set_secret },
	[K_FEED] = { "feed", set_feed },
	[K_KEY] = { "key", set_key },
	[K_ROLE] = { "role", set_role },
};

/* ------------------------------------------------------------- sections */

/* The agency being read: the last one. */
static struct agency *current(struct load *l)
{
	return &l->s->a[l->s->n - 1];
}

/* An agency is complete: a webhook and its secret come together. */
static int end_agency(struct load *l)
{
	struct agency *a;

	if (!l->in)
		return 0;
	l->in = false;
	a = current(l);
	if (!a->title)
		a->title = a->name;
	if (a->webhook && !a->webhook_secret)
		return config_fail(l->err, a->line,
				   "[agency %s] has a webhook but no "
				   "webhook_secret",
				   a->name);
	if (a->webhook_secret && !a->webhook)
		return config_fail(l->err, a->line,
				   "[agency %s] has a webhook_secret but "
				   "no webhook",
				   a->name);
	return 0;
}

/* Room for one more agency, in the array and in the index. */
static int grow(struct load *l)
{
	struct agency_set *s = l->s;
	size_t n = s->nalloc ? 2 * s->nalloc : 16;
	struct agency *a;
	uint32_t *index;

	if (n > AGENCY_MAX)
		n = AGENCY_MAX;
	a = reallocarray(s->a, n, sizeof *a);
	if (!a)
		return config_nomem(l->err);
	s->a = a;
	index = reallocarray(s->index, n, sizeof *index);
	if (!index)
		return config_nomem(l->err);
	s->index = index;
	s->nalloc = n;
	return 0;
}

static int begin_agency(struct load *l, const char *name)
{
	struct agency_set *s = l->s;
	struct agency *a;
	size_t slot;
	bool found;
	int r;

	if (!msg_agency_valid(name))
		return config_fail(l->err, 0,
				   "invalid agency name '%s': expected [agency "
				   "NAME], NAME 1-%d characters of A-Z a-z 0-9 "
				   ". _ -",
				   name, MSG_AGENCY_MAX);
	slot = index_slot(s, name, &found);
	if (found)
		return config_fail(l->err, 0,
				   "duplicate agency '%s' (first at line %d)",
				   name, s->a[s->index[slot]].line);
	if (s->n == AGENCY_MAX)
		return config_fail(l->err, 0, "more than %d agencies",
				   AGENCY_MAX);
	if (s->n == s->nalloc) {
		r = grow(l);
		if (r < 0)
			return r;
	}

	a = &s->a[s->n];
	memset(a, 0, sizeof *a);
	a->feed = true;
	a->line = l->err->line;
	r = set_string(l, name, &a->name);
	if (r < 0)
		return r;
	memmove(&s->index[slot + 1], &s->index[slot],
		(s->n - slot) * sizeof *s->index);
	s->index[slot] = (uint32_t)s->n;
	s->n++;
	l->in = true;
	l->seen = 0;
	return 0;
}

static int on_header(struct load *l, const char *section)
{
	int r;

	r = end_agency(l);
	if (r < 0)
		return r;
	if (strncmp(section, "agency", 6) == 0 &&
	    (section[6] == ' ' || section[6] == '\0'))
		return begin_agency(l, section + 6 + (section[6] == ' '));
	return config_fail(l->err, 0, "unknown section [%s]", section);
}

static int on_key(struct load *l, const char *section, const char *name,
		  const char *value)
{
	size_t k;

	if (!l->in)
		return config_fail(l->err, 0,
				   "key '%s' is outside any [section]", name);
	for (k = 0; k < NKEYS; k++)
		if (strcmp(keys[k].name, name) == 0)
			break;
	if (k == NKEYS)
		return config_fail(l->err, 0, "unknown key '%s' in [%s]", name,
				   section);
	if (l->seen & (1u << k))
		return config_fail(l->err, 0, "duplicate key '%s' in [%s]",
				   name, section);
	l->seen |= 1u << k;
	if (*value == '\0')
		return config_fail(l->err, 0, "empty value for %s in [%s]",
				   name, section);
	return keys[k].set(l, current(l), value);
}

/* config_parse_ini()'s callback. */
static int on_line(void *user, const char *section, const char *name,
		   const char *value, struct config_error *err)
{
	struct load *l = user;

	l->err = err;
	if (name)
		return on_key(l, section, name, value);
	if (section)
		return on_header(l, section);
	return end_agency(l);		/* the end of the file */
}

/* ------------------------------------------------------------ public API */

void agency_free(struct agency_set *s)
{
	struct block *b, *next;

	if (!s)
		return;
	for (b = s->strings; b; b = next) {
		next = b->next;
		free(b);
	}
	free(s->a);
	free(s->index);
	free(s);
}

int agency_load(const char *path, struct agency_set **ret,
		struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct load l = { .err = &e };
	struct agency_set *s;
	int r;

	snprintf(e.file, sizeof e.file, "%s", path);
	s = calloc(1, sizeof *s);
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	l.s = s;
	s->path = store(s, path, strlen(path));
	if (!s->path) {
		r = -ENOMEM;
		goto out;
	}
	/* From here on, *err is config_parse_ini()'s to fill. */
	r = config_parse_ini(path, on_line, &l, err);
	if (r < 0) {
		err = NULL;
		goto out;
	}
	*ret = s;
	s = NULL;
out:
	if (r < 0 && err) {
		e.line = 0;
		snprintf(e.msg, sizeof e.msg, "%s", strerror(-r));
		*err = e;
	}
	agency_free(s);
	return r;
}

const struct agency *agency_find(const struct agency_set *s,
				 const char *name)
{
	size_t slot;
	bool found;

	if (!s || !name)
		return NULL;
	slot = index_slot(s, name, &found);
	return found ? &s->a[s->index[slot]] : NULL;
}

size_t agency_count(const struct agency_set *s)
{
	return s ? s->n : 0;
}

const struct agency *agency_at(const struct agency_set *s, size_t i)
{
	return s && i < s->n ? &s->a[i] : NULL;
}

const char *agency_path(const struct agency_set *s)
{
	return s ? s->path : NULL;
}

const struct agency *agency_by_key(const struct agency_set *s,
				   const uint8_t key[AGENCY_KEY_BYTES])
{
	return s ? key_holder(s, key) : NULL;
}

const char *agency_role_name(enum agency_role r)
{
	return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ?
	       role_names[r] : NULL;
}
