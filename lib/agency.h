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
 *   key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7   ; CurveZMQ public keys
 *   role = agency                   ; agency (default), operator or office
 *
 * With [baton] auth = curve, a client's key decides who it is: intake
 * accepts a connection only from a key listed here, and a message's agency
 * is that key's agency. Its role decides what it may do: an agency
 * submits reports, an operator also sends commands, the office also
 * subscribes to the alert feed. A key belongs to one agency only; up to
 * AGENCY_MAX_KEYS per agency let one be replaced without a gap.
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
#include <stdint.h>

#include "config.h"

#define AGENCY_MAX		4096
#define AGENCY_MAX_EMAIL	8
#define AGENCY_MAX_KEYS		4
#define AGENCY_KEY_BYTES	32	/* a CurveZMQ public key */
#define AGENCY_KEY_Z85		40	/* as text */

enum agency_role {
	AGENCY_ROLE_AGENCY = 0,		/* "agency": reports */
	AGENCY_ROLE_OPERATOR,		/* "operator": and commands */
	AGENCY_ROLE_OFFICE,		/* "office": and the alert feed */
};

struct agency {
	const char *name;		/* "mps-a05": msg_agency_valid() */
	const char *title;		/* "name =", or the name itself */
	const char *email[AGENCY_MAX_EMAIL];
	size_t nemail;
	const char *webhook;		/* NULL: none */
	const char *webhook_secret;	/* set exactly when webhook is */
	bool feed;			/* default true */
	uint8_t keys[AGENCY_MAX_KEYS][AGENCY_KEY_BYTES];
	size_t nkeys;
	enum agency_role role;		/* default AGENCY_ROLE_AGENCY */
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

/* The agency whose public key is key (AGENCY_KEY_BYTES bytes), or NULL. */
const struct agency *agency_by_key(const struct agency_set *s,
				   const uint8_t key[AGENCY_KEY_BYTES]);

/* "agency", "operator", "office"; NULL when out of range. */
const char *agency_role_name(enum agency_role r);

/* How many agencies the set holds, and the i-th in file order. */
size_t agency_count(const struct agency_set *s);
const struct agency *agency_at(const struct agency_set *s, size_t i);

/* The file the set was loaded from. */
const char *agency_path(const struct agency_set *s);

#endif
