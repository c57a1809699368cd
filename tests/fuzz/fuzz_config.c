/*
 * fuzz_config.c - baton.conf: config_load() on the input as the file, and
 * config_parse_size() on the input and on each value in it.
 *
 * What config.h promises is checked: an error names a line no later than
 * the file's last and says why; a loaded config has absolute paths, its
 * numbers within their ranges, and its endpoints set.
 */
#include <errno.h>
#include <inttypes.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_file_path();
	return 0;
}

static void check_size(const char *text)
{
	uint64_t v = UINT64_C(0x5a5a5a5a5a5a5a5a), n = 0;
	const char *p;
	int r;

	r = config_parse_size(text, &v);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE,
		   "config_parse_size(\"%s\") returned %d", text, r);
	if (r < 0)
		return;
	/* Plain digits are bytes: the value is the number. */
	for (p = text; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	FUZZ_CHECK(p > text, "config_parse_size(\"%s\") took no digits",
		   text);
	if (*p == '\0' || strcmp(p, "B") == 0)
		FUZZ_CHECK(v == n, "config_parse_size(\"%s\") = %" PRIu64,
			   text, v);
	else
		FUZZ_CHECK(v >= n, "config_parse_size(\"%s\") = %" PRIu64
			   " is less than its digits", text, v);
}

/* config_parse_size() on the whole input and on every "key = value". */
static void sizes(const uint8_t *data, size_t size)
{
	char buf[256], *line, *save = NULL, *eq, *end;
	size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	check_size(buf);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (!eq)
			continue;
		eq++;
		eq += strspn(eq, " \t");
		end = eq + strcspn(eq, " \t;");
		*end = '\0';
		check_size(eq);
	}
}

static void check_path(const char *name, const char *path)
{
	FUZZ_CHECK(!path || path[0] == '/', "config: %s '%s' is not absolute",
		   name, path);
}

static void check_loaded(const struct config *c)
{
	char *s;

	FUZZ_CHECK(c->path && c->dir && c->dir[0] == '/',
		   "config: path or dir unset");
	FUZZ_CHECK(c->state_dir, "config: no state_dir");
	check_path("state_dir", c->state_dir);
	check_path("agencies", c->agencies);
	check_path("routes", c->routes);
	check_path("calendar", c->calendar);
	FUZZ_CHECK(c->map_size >= 1, "config: map_size 0");
	FUZZ_CHECK(c->intake.submit && c->intake.publish && c->intake.replay &&
		   c->router.publish && c->router.replay &&
		   c->deadline.publish && c->deadline.replay && c->notify.feed,
		   "config: an endpoint without its default");
	FUZZ_CHECK(c->intake.max_message_size >= 1 &&
		   c->intake.max_message_size <= INT64_MAX,
		   "config: max_message_size %" PRIu64,
		   c->intake.max_message_size);
	FUZZ_CHECK(c->intake.max_batch >= 1 && c->intake.max_batch <= 65536,
		   "config: max_batch %" PRIu32, c->intake.max_batch);
	FUZZ_CHECK(c->notify.office, "config: no office");
	FUZZ_CHECK(c->notify.max_attempts >= 1 && c->notify.max_inflight >= 1,
		   "config: max_attempts or max_inflight 0");
	FUZZ_CHECK(c->notify.max_age_ms > 0 && c->notify.retry_min_ms > 0 &&
		   c->notify.retry_max_ms > 0 && c->notify.timeout_ms > 0,
		   "config: a duration <= 0");
	s = config_state_path(c, "intake");
	FUZZ_CHECK(s && strncmp(s, c->state_dir, strlen(c->state_dir)) == 0,
		   "config_state_path() is not under state_dir");
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write(data, size);
	struct config *c = NULL;
	struct config_error err;
	char text[1024];
	int r;

	memset(&err, 0x5a, sizeof err);
	r = config_load(path, &c, &err);
	fuzz_check_ini("config_load()", data, size, r, &err);
	if (r == 0) {
		FUZZ_CHECK(c, "config_load() returned 0 without a config");
		check_loaded(c);
		config_free(c);
	} else {
		config_error_text(&err, text, sizeof text);
	}
	sizes(data, size);
	return 0;
}
