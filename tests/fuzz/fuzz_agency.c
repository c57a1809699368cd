/*
 * fuzz_agency.c - agencies.conf: agency_load() on the input, then every
 * agency looked up by its name.
 *
 * What agency.h promises of a loaded set is checked: names well formed and
 * unique (agency_find() finds each at its own position), a title always,
 * at most AGENCY_MAX_EMAIL addresses, each with one '@' and no blanks or
 * control characters, a webhook exactly when a secret, http(s) only.
 */
#include <errno.h>

#include "agency.h"
#include "fuzz.h"
#include "msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_file_path();
	return 0;
}

static bool clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void check_agency(const struct agency_set *s, const struct agency *a)
{
	const char *at;
	size_t i;

	FUZZ_CHECK(a->name && msg_agency_valid(a->name),
		   "agency: bad name '%s'", a->name ? a->name : "(null)");
	FUZZ_CHECK(agency_find(s, a->name) == a,
		   "agency_find(%s) does not find it", a->name);
	FUZZ_CHECK(a->title && clean(a->title), "agency %s: bad title",
		   a->name);
	FUZZ_CHECK(a->nemail <= AGENCY_MAX_EMAIL, "agency %s: %zu addresses",
		   a->name, a->nemail);
	for (i = 0; i < a->nemail; i++) {
		FUZZ_CHECK(a->email[i] && clean(a->email[i]) &&
			   !strpbrk(a->email[i], " \t<>,"),
			   "agency %s: bad address", a->name);
		at = strchr(a->email[i], '@');
		FUZZ_CHECK(at && at != a->email[i] && at[1] != '\0' &&
			   !strchr(at + 1, '@'),
			   "agency %s: address '%s' without one '@'", a->name,
			   a->email[i]);
	}
	FUZZ_CHECK(!a->webhook == !a->webhook_secret,
		   "agency %s: a webhook without its secret", a->name);
	FUZZ_CHECK(!a->webhook || ((strncmp(a->webhook, "http://", 7) == 0 ||
				    strncmp(a->webhook, "https://", 8) == 0) &&
				   clean(a->webhook) &&
				   !strpbrk(a->webhook, " \t")),
		   "agency %s: bad webhook '%s'", a->name, a->webhook);
	FUZZ_CHECK(a->line >= 1, "agency %s at line %d", a->name, a->line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write(data, size);
	struct agency_set *s = NULL;
	struct config_error err;
	char text[1024];
	size_t i, n;
	int r;

	memset(&err, 0x5a, sizeof err);
	r = agency_load(path, &s, &err);
	fuzz_check_ini("agency_load()", data, size, r, &err);
	if (r < 0) {
		config_error_text(&err, text, sizeof text);
		return 0;
	}
	n = agency_count(s);
	FUZZ_CHECK(n <= AGENCY_MAX, "agency: %zu agencies", n);
	FUZZ_CHECK(strcmp(agency_path(s), path) == 0, "agency_path()");
	for (i = 0; i < n; i++)
		check_agency(s, agency_at(s, i));
	FUZZ_CHECK(agency_find(s, "no such agency!") == NULL,
		   "agency_find() found a name no file can hold");
	agency_free(s);
	return 0;
}
