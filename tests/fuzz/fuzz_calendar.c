/*
 * fuzz_calendar.c - calendar.conf: calendar_load() on the input, then the
 * business arithmetic over what it loaded.
 *
 * For a calendar that loads, calendar.h's promises are checked at a few
 * fixed instants (the span's ends, local midnights, DST changes of the
 * common zones) and at instants taken from the input's hash:
 *  - calendar_next_working(t) is t when t is working time, else a working
 *    instant after t; calendar_prev_working(t) is t when t is working time,
 *    else an instant with no working time between it and t;
 *  - calendar_add(t, ms) is after t, and calendar_between(t, the sum) is
 *    ms, for every ms it accepts;
 *  - calendar_between(a, b) is at most b - a, and 0 when b <= a.
 * A zone is read from tzdata, so one input costs tens of milliseconds: this
 * target runs far fewer inputs a second than the others.
 */
#include <errno.h>
#include <inttypes.h>

#include "calendar.h"
#include "fuzz.h"
#include "time.h"

#define SPAN_END	INT64_C(4133980800000)	/* 2101-01-01T00:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_file_path();
	return 0;
}

static void probe_add(const struct calendar *c, instant_t t, int64_t ms)
{
	instant_t u;
	int64_t got;
	int r;

	r = calendar_add(c, t, ms, &u);
	FUZZ_CHECK(r == 0 || r == -ERANGE,
		   "calendar_add(%" PRId64 ", %" PRId64 ") returned %d", t, ms,
		   r);
	if (r < 0)
		return;
	FUZZ_CHECK(u >= t && (ms == 0 || u > t),
		   "calendar_add(%" PRId64 ", %" PRId64 ") = %" PRId64, t, ms,
		   u);
	got = calendar_between(c, t, u);
	FUZZ_CHECK(got == ms,
		   "calendar_between(%" PRId64 ", calendar_add(%" PRId64
		   ") = %" PRId64 ") is %" PRId64 " in zone %s", t, ms, u, got,
		   calendar_zone(c));
}

static void probe(const struct calendar *c, instant_t t, uint64_t h)
{
	const int64_t day = calendar_day_ms(c);
	const int64_t ms[] = {
		1, TIME_MS_PER_H, day - 1, day, 3 * day, 16 * TIME_MS_PER_H,
		(int64_t)(h % (uint64_t)(40 * day)),
	};
	char buf[CALENDAR_LOCAL_LEN];
	bool working = calendar_is_working(c, t);
	instant_t n, p;
	int64_t got;
	size_t i;
	int r;

	calendar_is_holiday(c, t);
	FUZZ_CHECK(calendar_format_local(c, t, buf, sizeof buf) == buf &&
		   strlen(buf) < sizeof buf, "calendar_format_local()");

	r = calendar_next_working(c, t, &n);
	FUZZ_CHECK(r == 0 || r == -ERANGE,
		   "calendar_next_working() returned %d", r);
	if (r == 0) {
		FUZZ_CHECK(n >= t && (!working || n == t),
			   "calendar_next_working(%" PRId64 ") = %" PRId64
			   " (working: %d)", t, n, working);
		FUZZ_CHECK(calendar_is_working(c, n),
			   "calendar_next_working(%" PRId64 ") = %" PRId64
			   " is not working time in zone %s", t, n,
			   calendar_zone(c));
		FUZZ_CHECK(calendar_between(c, t, n) == 0,
			   "working time between %" PRId64 " and "
			   "calendar_next_working() = %" PRId64, t, n);
	} else {
		FUZZ_CHECK(!working, "calendar_next_working(%" PRId64
			   ") refused working time", t);
	}

	r = calendar_prev_working(c, t, &p);
	FUZZ_CHECK(r == 0 || r == -ERANGE,
		   "calendar_prev_working() returned %d", r);
	if (r == 0) {
		FUZZ_CHECK(p <= t && (!working || p == t),
			   "calendar_prev_working(%" PRId64 ") = %" PRId64
			   " (working: %d)", t, p, working);
		FUZZ_CHECK(calendar_between(c, p, t) == 0,
			   "working time between calendar_prev_working(%"
			   PRId64 ") = %" PRId64 " and it in zone %s", t, p,
			   calendar_zone(c));
	}

	for (i = 0; i < sizeof ms / sizeof ms[0]; i++)
		if (ms[i] >= 0)
			probe_add(c, t, ms[i]);
	FUZZ_CHECK(calendar_add(c, t, -1, &n) == -EINVAL,
		   "calendar_add() took a negative duration");

	got = calendar_between(c, t, t + 7 * TIME_MS_PER_D);
	FUZZ_CHECK(got >= 0 && got <= 7 * TIME_MS_PER_D,
		   "calendar_between() over a week is %" PRId64, got);
	FUZZ_CHECK(calendar_between(c, t, t) == 0 &&
		   calendar_between(c, t + 1, t) == 0,
		   "calendar_between() of an empty interval");
}

static void check(const struct calendar *c, uint64_t h)
{
	/* Local midnights and DST changes of the zones people use. */
	static const instant_t fixed[] = {
		0, 1, SPAN_END - 1, SPAN_END - TIME_MS_PER_D,
		INT64_C(1771002000000),	/* 2026-02-13 17:00 +07, Tet eve */
		INT64_C(1795662000000),	/* 2026-11-26 10:00 +07 */
		INT64_C(1772953200000),	/* 2026-03-08 07:00Z, US DST */
		INT64_C(1774746000000),	/* 2026-03-29 01:00Z, EU DST */
		INT64_C(1792890000000),	/* 2026-10-25 01:00Z, EU back */
		INT64_C(1775314800000),	/* 2026-04-04 15:00Z, AU back */
	};
	int64_t day = calendar_day_ms(c), ms;
	size_t i;

	FUZZ_CHECK(calendar_zone(c)[0] != '\0' && calendar_path(c),
		   "calendar without a zone or path");
	FUZZ_CHECK(day > 0 && day <= TIME_MS_PER_D,
		   "calendar_day_ms() is %" PRId64, day);
	FUZZ_CHECK(calendar_parse_duration(c, "3bd", &ms) == 0 &&
		   ms == 3 * day, "calendar_parse_duration(3bd)");
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		probe(c, fixed[i], h);
	for (i = 0; i < 3; i++, h = h * 6364136223846793005u + 1)
		probe(c, (instant_t)(h % (uint64_t)SPAN_END), h >> 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write(data, size);
	struct calendar *c = NULL;
	struct config_error err;
	char text[1024];
	int r;

	memset(&err, 0x5a, sizeof err);
	r = calendar_load(path, &c, &err);
	fuzz_check_ini("calendar_load()", data, size, r, &err);
	if (r < 0) {
		config_error_text(&err, text, sizeof text);
		return 0;
	}
	FUZZ_CHECK(getenv("TZ") == NULL,
		   "calendar_load() left TZ set in the environment");
	check(c, fuzz_hash(data, size));
	calendar_free(c);
	return 0;
}
