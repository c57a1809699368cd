/*
 * agency.h - agencies.conf: who the agencies are and how each is reached.
 *
 * The file (path from [baton] agencies) holds one INI section per agency,
 * in the syntax of every Baton file (config_parse_ini()):
 *
 *   [agency mps-a05]                ; "agency NAME", NAME as in routes.conf
 *   name = Ministry of Public Security, Department A05   ; for people
 *   email = a05-duty@mps.gov.vn, a05-lead@mps.gov.vn     ; up to 8, or none
 *   webhook = https://soc.mps.gov.vn/baton/alerts        ; http(s)://, or none
 *   webhook_secret = 6f1c...        ; HMAC-SHA256 key; required with webhook
 *   feed = yes                      ; its alerts on the office feed (default)
 *
 * baton-notify reads it at start and on SIGHUP (a file with a mistake is
 * refused, naming its line, and the set in force stays). An alert for an
 * agency the file does not name still goes to the feed and the journal:
 * nothing is dropped for want of an address.
 *
 * Limits: AGENCY_MAX agencies, AGENCY_MAX_EMAIL addresses each, URLs and
 * addresses as long as one line allows (199 characters). An email address
 * is checked for one '@' with something on both sides and no blanks, angle
 * brackets, commas or control characters: enough that it cannot break the
 * SMTP envelope or a header, without pretending to validate RFC 5321.
 *
 * Ownership: a struct agency_set owns every string in it; agency_free()
 * frees it. Lookups return pointers into the set, valid until it is freed.
 */
#ifndef BATON_AGENCY_H
#define BATON_AGENCY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define AGENCY_MAX		4096
#define AGENCY_MAX_EMAIL	8

struct agency {
	const char *name;		/* "mps-a05": msg_agency_valid() */
	const char *title;		/* "name =", or the name itself */
	const char *email[AGENCY_MAX_EMAIL];
	size_t nemail;
	const char *webhook;		/* NULL: none */
	const char *webhook_secret;	/* set exactly when webhook is */
	bool feed;			/* default true */
	int line;			/* of its [agency NAME] header */
};

struct agency_set;

/*
 * Load and check the file at path.
 * Returns 0 and sets *ret (free with agency_free()); -ENOENT and other
 * -errno if the file cannot be read; -EINVAL for a mistake (unknown section
 * or key, duplicate agency or key, bad name, address, URL or yes/no, a
 * webhook without a secret or a secret without a webhook, more than the
 * limits); -ENOMEM. On every error *err says where and why, when not NULL.
 */
int agency_load(const char *path, struct agency_set **ret,
		struct config_error *err);

/* Free a set. Takes NULL. */
void agency_free(struct agency_set *s);

/* The agency called name, or NULL. */
const struct agency *agency_find(const struct agency_set *s,
				 const char *name);

/* How many agencies the set holds, and the i-th in file order. */
size_t agency_count(const struct agency_set *s);
const struct agency *agency_at(const struct agency_set *s, size_t i);

/* The file the set was loaded from. */
const char *agency_path(const struct agency_set *s);

#endif
