/*
 * test_calendar.c - lib/calendar: business time over working days, hours
 * and holidays in the office's zone; business durations; every mistake in
 * calendar.conf reported at its line; a zone with DST; the bundled file.
 *
 * Every expected instant is written out by hand in UTC, with the local time
 * it stands for beside it, rather than computed with the code under test:
 * a deadline that is an hour off in the office is the bug this is here to
 * catch. Each test writes its files into a fresh directory under $TMPDIR.
 */
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "calendar.h"
#include "testdir.h"
#include "time.h"

#define M TIME_MS_PER_M
#define H TIME_MS_PER_H

/* The office's calendar, with the holidays the tests below cross. */
static const char office[] =
	"[calendar]\n"
	"timezone = Asia/Ho_Chi_Minh\n"
	"workdays = mon, tue, wed, thu, fri\n"
	"hours = 08:00-17:00\n"
	"\n"
	"[holidays]\n"
	"2026-01-01 = New Year's Day\n"
	"2026-02-14..2026-02-22 = Lunar New Year (Tet)\n"
	"2026-04-30..2026-05-01 = Reunification Day, Labour Day\n"
	"2027-01-01 = New Year's Day\n";

struct fixture {
	char dir[PATH_MAX];		/* the temporary directory */
	char path[PATH_MAX + 64];	/* the last file written */
	struct calendar *c;		/* freed by teardown */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_calendar") < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	calendar_free(fx->c);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Write text as calendar.conf; the path is fx->path. Returns it. */
static const char *write_file(struct fixture *fx, const char *text)
{
	return testdir_write(fx->path, sizeof fx->path, fx->dir,
			     "calendar.conf", text);
}

/* Load text as calendar.conf; the calendar is fx->c, freed by teardown. */
static int load(struct fixture *fx, const char *text, struct config_error *err)
{
	memset(err, 0, sizeof *err);
	calendar_free(fx->c);
	fx->c = NULL;
	return calendar_load(write_file(fx, text), &fx->c, err);
}

static const struct calendar *load_ok(struct fixture *fx, const char *text)
{
	struct config_error err;
	char buf[1024];

	if (load(fx, text, &err) < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	return fx->c;
}

/* text must fail with -EINVAL at line, with msg. */
static void assert_invalid(struct fixture *fx, const char *text, int line,
			   const char *msg)
{
	struct config_error err;

	assert_int_equal(load(fx, text, &err), -EINVAL);
	assert_null(fx->c);
	assert_string_equal(err.file, fx->path);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
}

static instant_t at(const char *text)
{
	instant_t t = -42;

	assert_int_equal(time_parse_instant(text, &t), 0);
	return t;
}

/* Equal instants, shown as instants when they are not. */
static void assert_instant(instant_t got, const char *want)
{
	char a[TIME_INSTANT_LEN], b[TIME_INSTANT_LEN];

	if (got != at(want))
		fail_msg("got %s, want %s",
			 time_format_instant(got, a, sizeof a),
			 time_format_instant(at(want), b, sizeof b));
}

static void assert_add(const struct calendar *c, const char *from, int64_t ms,
		       const char *want)
{
	instant_t t = -42;

	assert_int_equal(calendar_add(c, at(from), ms, &t), 0);
	assert_instant(t, want);
	/* What add moved over is what between counts back. */
	assert_int_equal(calendar_between(c, at(from), t), ms);
}

static void assert_next(const struct calendar *c, const char *from,
			const char *want)
{
	instant_t t = -42;

	assert_int_equal(calendar_next_working(c, at(from), &t), 0);
	assert_instant(t, want);
}

static void assert_prev(const struct calendar *c, const char *from,
			const char *want)
{
	instant_t t = -42;

	assert_int_equal(calendar_prev_working(c, at(from), &t), 0);
	assert_instant(t, want);
}

/* --------------------------------------------------------------- adding */

/* Week-end nights and days do not count; the end of a window is reached. */
static void test_add_weekend(void **state)
{
	const struct calendar *c = load_ok(*state, office);

	/* Fri 27 Nov 16:00 +07 + 2bh = Mon 30 Nov 09:00 +07 */
	assert_add(c, "2026-11-27T09:00:00Z", 2 * H, "2026-11-30T02:00:00Z");
	/* Fri 16:00 + 1bh = Fri 17:00, the end, not Mon 08:00 */
	assert_add(c, "2026-11-27T09:00:00Z", H, "2026-11-27T10:00:00Z");
	/* Fri 16:00 + 1bh 1ms = Mon 08:00:00.001 */
	assert_add(c, "2026-11-27T09:00:00Z", H + 1,
		   "2026-11-30T01:00:00.001Z");
	/* Fri 16:00 + 1bd = Mon 16:00 */
	assert_add(c, "2026-11-27T09:00:00Z", 9 * H, "2026-11-30T09:00:00Z");
	/* Mon 30 Nov 08:00 + 9bh = Mon 17:00 */
	assert_add(c, "2026-11-30T01:00:00Z", 9 * H, "2026-11-30T10:00:00Z");
	/* Mon 10:00 + 3bd = Thu 3 Dec 10:00 */
	assert_add(c, "2026-11-30T03:00:00Z", 27 * H, "2026-12-03T03:00:00Z");
	/* Mon 08:00 + 5bd = Fri 4 Dec 17:00, not the Monday after */
	assert_add(c, "2026-11-30T01:00:00Z", 45 * H, "2026-12-04T10:00:00Z");
	/* Mon 08:00 + 10bd = Fri 11 Dec 17:00 */
	assert_add(c, "2026-11-30T01:00:00Z", 90 * H, "2026-12-11T10:00:00Z");
}

/* Counting starts at the next working time. */
static void test_add_outside_hours(void **state)
{
	const struct calendar *c = load_ok(*state, office);
	instant_t t = -42;

	/* Sat 28 Nov 03:00 + 1bh = Mon 30 Nov 09:00 */
	assert_add(c, "2026-11-27T20:00:00Z", H, "2026-11-30T02:00:00Z");
	/* Sun 29 Nov 12:00 + 9bh = Mon 17:00 */
	assert_add(c, "2026-11-29T05:00:00Z", 9 * H, "2026-11-30T10:00:00Z");
	/* Tue 1 Dec 22:00 + 1bh = Wed 2 Dec 09:00 */
	assert_add(c, "2026-12-01T15:00:00Z", H, "2026-12-02T02:00:00Z");
	/* Tue 06:00 + 30m = Tue 08:30 */
	assert_add(c, "2026-11-30T23:00:00Z", 30 * M, "2026-12-01T01:30:00Z");
	/* Tue 17:00 + 1ms = Wed 08:00:00.001: 17:00 is not working time */
	assert_add(c, "2026-12-01T10:00:00Z", 1, "2026-12-02T01:00:00.001Z");
	/* Tue 00:00 + 1bd = Tue 17:00 */
	assert_add(c, "2026-11-30T17:00:00Z", 9 * H, "2026-12-01T10:00:00Z");

	/* Nothing to add: t as it is, even on a Saturday night. */
	assert_int_equal(calendar_add(c, at("2026-11-27T20:00:00Z"), 0, &t),
			 0);
	assert_instant(t, "2026-11-27T20:00:00Z");
	t = -42;
	assert_int_equal(calendar_add(c, at("2026-11-27T20:00:00Z"), -1, &t),
			 -EINVAL);
	assert_int_equal(t, -42);
}

/* Holidays are skipped like week-ends, whatever their weekday. */
static void test_add_holidays(void **state)
{
	const struct calendar *c = load_ok(*state, office);

	/* Fri 13 Feb 15:00 + 1bd: 2h, Tet 14-22 Feb, Mon 23 Feb 15:00 */
	assert_add(c, "2026-02-13T08:00:00Z", 9 * H, "2026-02-23T08:00:00Z");
	/* Tue 17 Feb 10:00, in Tet, + 1bh = Mon 23 Feb 09:00 */
	assert_add(c, "2026-02-17T03:00:00Z", H, "2026-02-23T02:00:00Z");
	/* Wed 29 Apr 16:00 + 2bh: Thu 30 Apr, Fri 1 May off: Mon 4 May 09:00 */
	assert_add(c, "2026-04-29T09:00:00Z", 2 * H, "2026-05-04T02:00:00Z");
	/* Thu 30 Apr 10:00, a holiday, + 1bh = Mon 4 May 09:00 */
	assert_add(c, "2026-04-30T03:00:00Z", H, "2026-05-04T02:00:00Z");
	/* Thu 31 Dec 2026 16:00 + 2bh: Fri 1 Jan 2027 off: Mon 4 Jan 09:00 */
	assert_add(c, "2026-12-31T09:00:00Z", 2 * H, "2027-01-04T02:00:00Z");
	/* Wed 31 Dec 2025 16:00 + 1bd: Thu 1 Jan 2026 off: Fri 2 Jan 16:00 */
	assert_add(c, "2025-12-31T09:00:00Z", 9 * H, "2026-01-02T09:00:00Z");
}

/* -ERANGE outside 1970-2100 and when there is no working time to find. */
static void test_add_range(void **state)
{
	struct fixture *fx = *state;
	const struct calendar *c = load_ok(fx, office);
	char text[2048];
	instant_t t = -42;
	size_t len;
	int y;

	assert_int_equal(calendar_add(c, at("2026-11-30T01:00:00Z"), INT64_MAX,
				      &t), -ERANGE);
	assert_int_equal(calendar_add(c, at("2101-01-01T00:00:00Z"), H, &t),
			 -ERANGE);
	assert_int_equal(calendar_add(c, -1, H, &t), -ERANGE);
	assert_int_equal(t, -42);
	/* Fri 31 Dec 2100 16:00 + 1bh = 17:00; one more ms is past 2100. */
	assert_add(c, "2100-12-31T09:00:00Z", H, "2100-12-31T10:00:00Z");
	assert_int_equal(calendar_add(c, at("2100-12-31T09:00:00Z"), H + 1,
				      &t), -ERANGE);

	/* Saturdays only, and every day a holiday from 2026 to 2047. */
	len = (size_t)snprintf(text, sizeof text, "[calendar]\n"
			       "timezone = Asia/Ho_Chi_Minh\n"
			       "workdays = sat\n[holidays]\n");
	for (y = 2026; y <= 2047; y++)
		len += (size_t)snprintf(text + len, sizeof text - len,
					"%d-01-01..%d-12-31 = closed\n", y, y);
	c = load_ok(fx, text);
	t = -42;
	assert_int_equal(calendar_next_working(c, at("2026-01-01T00:00:00Z"),
					       &t), -ERANGE);
	assert_int_equal(calendar_prev_working(c, at("2047-12-31T00:00:00Z"),
					       &t), -ERANGE);
	assert_int_equal(calendar_add(c, at("2026-01-01T00:00:00Z"), H, &t),
			 -ERANGE);
	assert_int_equal(t, -42);
	/* Sat 27 Dec 2025 is the last working day before. */
	assert_prev(c, "2026-06-01T00:00:00Z", "2025-12-27T10:00:00Z");
}

/* -------------------------------------------------------------- between */

static void test_between(void **state)
{
	const struct calendar *c = load_ok(*state, office);

	/* Fri 27 Nov 16:00 to Mon 30 Nov 09:00: 1h + 1h */
	assert_int_equal(calendar_between(c, at("2026-11-27T09:00:00Z"),
					  at("2026-11-30T02:00:00Z")), 2 * H);
	/* Mon 30 Nov 00:00 to Mon 7 Dec 00:00: a week, 5 x 9h */
	assert_int_equal(calendar_between(c, at("2026-11-29T17:00:00Z"),
					  at("2026-12-06T17:00:00Z")), 45 * H);
	/* Sat 28 Nov 00:00 to Mon 30 Nov 00:00: the week-end, none */
	assert_int_equal(calendar_between(c, at("2026-11-27T17:00:00Z"),
					  at("2026-11-29T17:00:00Z")), 0);
	/* Fri 13 Feb 08:00 to Mon 23 Feb 08:00, over Tet: one day */
	assert_int_equal(calendar_between(c, at("2026-02-13T01:00:00Z"),
					  at("2026-02-23T01:00:00Z")), 9 * H);
	/* Tue 1 Dec 10:00 to 10:00:00.001 */
	assert_int_equal(calendar_between(c, at("2026-12-01T03:00:00Z"),
					  at("2026-12-01T03:00:00.001Z")), 1);
	/* b <= a: none */
	assert_int_equal(calendar_between(c, at("2026-12-01T03:00:00Z"),
					  at("2026-12-01T03:00:00Z")), 0);
	assert_int_equal(calendar_between(c, at("2026-12-01T04:00:00Z"),
					  at("2026-12-01T03:00:00Z")), 0);
	/* A year of them: 2026 has 261 weekdays, 8 of them holidays here. */
	assert_int_equal(calendar_between(c, at("2025-12-31T17:00:00Z"),
					  at("2026-12-31T17:00:00Z")),
			 (261 - 8) * 9 * H);
	/* Before 1970 and after 2100 there is no working time. */
	assert_int_equal(calendar_between(c, INT64_MIN, 0), 0);
	assert_int_equal(calendar_between(c, at("2101-01-01T00:00:00Z"),
					  INT64_MAX), 0);
}

/* between() counts back what add() moved over, from working time. */
static void test_between_inverts_add(void **state)
{
	const struct calendar *c = load_ok(*state, office);
	static const char *const from[] = {
		"2026-11-27T09:00:00Z",		/* Fri 16:00 */
		"2026-11-30T01:00:00Z",		/* Mon 08:00 */
		"2026-02-13T08:00:00Z",		/* Fri 15:00 before Tet */
		"2026-12-31T09:59:59.999Z",	/* Thu 16:59:59.999 */
	};
	static const int64_t ms[] = {
		1, 30 * M, H, 9 * H, 16 * H, 27 * H, 45 * H, 400 * H,
	};
	size_t i, j;
	instant_t t;

	for (i = 0; i < sizeof from / sizeof from[0]; i++)
		for (j = 0; j < sizeof ms / sizeof ms[0]; j++) {
			assert_int_equal(calendar_add(c, at(from[i]), ms[j],
						      &t), 0);
			assert_int_equal(calendar_between(c, at(from[i]), t),
					 ms[j]);
		}
}

/* ---------------------------------------------------- next and previous */

static void test_next_working(void **state)
{
	const struct calendar *c = load_ok(*state, office);
	instant_t t = -42;

	/* Sat 28 Nov 03:00 -> Mon 30 Nov 08:00 */
	assert_next(c, "2026-11-27T20:00:00Z", "2026-11-30T01:00:00Z");
	/* Tue 1 Dec 10:00 is working time: itself */
	assert_next(c, "2026-12-01T03:00:00Z", "2026-12-01T03:00:00Z");
	/* Tue 08:00 itself; 07:59:59.999 -> 08:00 */
	assert_next(c, "2026-12-01T01:00:00Z", "2026-12-01T01:00:00Z");
	assert_next(c, "2026-12-01T00:59:59.999Z", "2026-12-01T01:00:00Z");
	/* Tue 17:00 -> Wed 08:00 */
	assert_next(c, "2026-12-01T10:00:00Z", "2026-12-02T01:00:00Z");
	/* Tue 17 Feb, in Tet -> Mon 23 Feb 08:00 */
	assert_next(c, "2026-02-17T03:00:00Z", "2026-02-23T01:00:00Z");
	/* Wed 31 Dec 2025 17:30 -> Fri 2 Jan 2026 08:00 */
	assert_next(c, "2025-12-31T10:30:00Z", "2026-01-02T01:00:00Z");

	assert_int_equal(calendar_next_working(c, at("2101-01-01T00:00:00Z"),
					       &t), -ERANGE);
	assert_int_equal(calendar_next_working(c, -1, &t), -ERANGE);
	assert_int_equal(t, -42);
}

static void test_prev_working(void **state)
{
	const struct calendar *c = load_ok(*state, office);
	instant_t t = -42;

	/* Sat 28 Nov 03:00 -> Fri 27 Nov 17:00 */
	assert_prev(c, "2026-11-27T20:00:00Z", "2026-11-27T10:00:00Z");
	/* Tue 1 Dec 10:00 is working time: itself */
	assert_prev(c, "2026-12-01T03:00:00Z", "2026-12-01T03:00:00Z");
	/* Mon 30 Nov 08:00 is working time; 07:00 -> Fri 17:00 */
	assert_prev(c, "2026-11-30T01:00:00Z", "2026-11-30T01:00:00Z");
	assert_prev(c, "2026-11-30T00:00:00Z", "2026-11-27T10:00:00Z");
	/* Tue 17:00 and 23:00 -> Tue 17:00, the end of the window */
	assert_prev(c, "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z");
	assert_prev(c, "2026-12-01T16:00:00Z", "2026-12-01T10:00:00Z");
	/* Fri 20 Feb, in Tet -> Fri 13 Feb 17:00 */
	assert_prev(c, "2026-02-20T03:00:00Z", "2026-02-13T10:00:00Z");

	assert_int_equal(calendar_prev_working(c, at("2101-01-01T00:00:00Z"),
					       &t), -ERANGE);
	assert_int_equal(calendar_prev_working(c, -1, &t), -ERANGE);
	assert_int_equal(t, -42);
}

/* ----------------------------------------------- working time, holidays */

static void test_is_working(void **state)
{
	const struct calendar *c = load_ok(*state, office);

	/* Tue 1 Dec: [08:00, 17:00) */
	assert_false(calendar_is_working(c, at("2026-12-01T00:59:59.999Z")));
	assert_true(calendar_is_working(c, at("2026-12-01T01:00:00Z")));
	assert_true(calendar_is_working(c, at("2026-12-01T09:59:59.999Z")));
	assert_false(calendar_is_working(c, at("2026-12-01T10:00:00Z")));
	/* Sat 28 Nov 10:00; Tue 17 Feb 10:00, Tet */
	assert_false(calendar_is_working(c, at("2026-11-28T03:00:00Z")));
	assert_false(calendar_is_working(c, at("2026-02-17T03:00:00Z")));
	/* Outside the span */
	assert_false(calendar_is_working(c, INT64_MIN));
	assert_false(calendar_is_working(c, INT64_MAX));
}

/* The local date decides, not the UTC one. */
static void test_is_holiday(void **state)
{
	const struct calendar *c = load_ok(*state, office);

	/* Fri 13 Feb 23:59:59.999 no; Sat 14 Feb 00:00 yes */
	assert_false(calendar_is_holiday(c, at("2026-02-13T16:59:59.999Z")));
	assert_true(calendar_is_holiday(c, at("2026-02-13T17:00:00Z")));
	assert_true(calendar_is_holiday(c, at("2026-02-17T03:00:00Z")));
	/* Sun 22 Feb 23:59:59.999 yes; Mon 23 Feb 00:00 no */
	assert_true(calendar_is_holiday(c, at("2026-02-22T16:59:59.999Z")));
	assert_false(calendar_is_holiday(c, at("2026-02-22T17:00:00Z")));
	/* Thu 1 Jan 2026 00:00 +07 is still 31 Dec in UTC */
	assert_false(calendar_is_holiday(c, at("2025-12-31T16:59:59.999Z")));
	assert_true(calendar_is_holiday(c, at("2025-12-31T17:00:00Z")));
	/* A week-end is not a holiday */
	assert_false(calendar_is_holiday(c, at("2026-11-28T03:00:00Z")));
	assert_false(calendar_is_holiday(c, INT64_MAX));
}

/* ------------------------------------------------------------ durations */

static void test_parse_duration(void **state)
{
	const struct calendar *c = load_ok(*state, office);
	static const char *const bad[] = {
		"", "3d", "bd", "bh", "-1bd", "+1bd", "3bdx", "3 bd", " 3bd",
		"3BD", "3Bh", "1.5bd", "3b", "3bh3bd", "1h30m", "72h",
		"99999999999999999999bx",
	};
	int64_t ms = -42;
	size_t i;

	assert_int_equal(calendar_day_ms(c), 9 * H);
	assert_int_equal(calendar_parse_duration(c, "3bd", &ms), 0);
	assert_int_equal(ms, 27 * H);
	assert_int_equal(calendar_parse_duration(c, "16bh", &ms), 0);
	assert_int_equal(ms, 16 * H);
	assert_int_equal(calendar_parse_duration(c, "007bh", &ms), 0);
	assert_int_equal(ms, 7 * H);
	assert_int_equal(calendar_parse_duration(c, "0bd", &ms), 0);
	assert_int_equal(ms, 0);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms = -42;
		assert_int_equal(calendar_parse_duration(c, bad[i], &ms),
				 -EINVAL);
		assert_int_equal(ms, -42);
	}

	/* The largest that fit, and one more. */
	assert_int_equal(calendar_parse_duration(c, "2562047788015bh", &ms),
			 0);
	assert_int_equal(ms, INT64_C(2562047788015) * H);
	assert_int_equal(calendar_parse_duration(c, "284671976446bd", &ms), 0);
	assert_int_equal(ms, INT64_C(284671976446) * 9 * H);
	ms = -42;
	assert_int_equal(calendar_parse_duration(c, "2562047788016bh", &ms),
			 -ERANGE);
	assert_int_equal(calendar_parse_duration(c, "284671976447bd", &ms),
			 -ERANGE);
	assert_int_equal(calendar_parse_duration(c, "99999999999999999999bd",
						 &ms), -ERANGE);
	assert_int_equal(ms, -42);
}

static void test_is_business(void **state)
{
	assert_true(calendar_is_business("3bd"));
	assert_true(calendar_is_business("16bh"));
	assert_true(calendar_is_business("0bh"));
	assert_true(calendar_is_business("99999999999999999999bd"));
	assert_false(calendar_is_business(""));
	assert_false(calendar_is_business("3d"));
	assert_false(calendar_is_business("72h"));
	assert_false(calendar_is_business("bd"));
	assert_false(calendar_is_business("-1bd"));
	assert_false(calendar_is_business("3bdx"));
	assert_false(calendar_is_business("3 bd"));
}

/* ------------------------------------------------ offsets, formatting */

static void test_offset_and_format(void **state)
{
	struct fixture *fx = *state;
	const struct calendar *c = load_ok(fx, office);
	char buf[CALENDAR_LOCAL_LEN];

	assert_string_equal(calendar_path(c), fx->path);
	assert_string_equal(calendar_zone(c), "Asia/Ho_Chi_Minh");
	/* No DST: +7h all year. */
	assert_int_equal(calendar_offset(c, at("2026-01-15T12:00:00Z")),
			 7 * H);
	assert_int_equal(calendar_offset(c, at("2026-07-15T12:00:00Z")),
			 7 * H);
	assert_int_equal(calendar_offset(c, at("2026-11-26T01:30:00Z")),
			 25200000);
	/* Saigon kept +08 until 13 Jun 1975 00:00 +08: the table has it. */
	assert_int_equal(calendar_offset(c, at("1975-06-12T15:59:59Z")),
			 8 * H);
	assert_int_equal(calendar_offset(c, at("1975-06-12T16:00:00Z")),
			 7 * H);

	assert_string_equal(calendar_format_local(c,
		at("2026-11-26T01:30:00Z"), buf, sizeof buf),
		"2026-11-26 08:30 +07");
	/* To the minute, not rounded. */
	assert_string_equal(calendar_format_local(c,
		at("2026-11-26T01:30:59.999Z"), buf, sizeof buf),
		"2026-11-26 08:30 +07");
	/* Local midnight is the next local day. */
	assert_string_equal(calendar_format_local(c,
		at("2026-02-13T17:00:00Z"), buf, sizeof buf),
		"2026-02-14 00:00 +07");
}

/* ------------------------------------------------------------------ DST */

/*
 * Berlin: CET (+01) to CEST (+02) on Sun 29 Mar 2026 at 01:00Z, back on
 * Sun 25 Oct 2026 at 01:00Z. The defaults: mon-fri, 08:00-17:00.
 */
static void test_dst(void **state)
{
	const struct calendar *c = load_ok(*state,
		"[calendar]\ntimezone = Europe/Berlin\n");
	char buf[CALENDAR_LOCAL_LEN];

	assert_int_equal(calendar_day_ms(c), 9 * H);
	assert_int_equal(calendar_offset(c, at("2026-01-15T12:00:00Z")), H);
	assert_int_equal(calendar_offset(c, at("2026-07-15T12:00:00Z")),
			 2 * H);
	assert_int_equal(calendar_offset(c, at("2026-03-29T00:59:59.999Z")),
			 H);
	assert_int_equal(calendar_offset(c, at("2026-03-29T01:00:00Z")),
			 2 * H);
	assert_int_equal(calendar_offset(c, at("2026-10-25T00:59:59.999Z")),
			 2 * H);
	assert_int_equal(calendar_offset(c, at("2026-10-25T01:00:00Z")), H);
	assert_string_equal(calendar_format_local(c,
		at("2026-01-15T12:00:00Z"), buf, sizeof buf),
		"2026-01-15 13:00 +01");
	assert_string_equal(calendar_format_local(c,
		at("2026-07-15T12:00:00Z"), buf, sizeof buf),
		"2026-07-15 14:00 +02");

	/* Fri 27 Mar 16:00 CET + 2bh = Mon 30 Mar 09:00 CEST */
	assert_add(c, "2026-03-27T15:00:00Z", 2 * H, "2026-03-30T07:00:00Z");
	/* Fri 27 Mar 08:00 CET to Mon 30 Mar 08:00 CEST: one day */
	assert_int_equal(calendar_between(c, at("2026-03-27T07:00:00Z"),
					  at("2026-03-30T06:00:00Z")), 9 * H);
	/* Sat 28 Mar 13:00 CET -> Mon 30 Mar 08:00 CEST */
	assert_next(c, "2026-03-28T12:00:00Z", "2026-03-30T06:00:00Z");
	/* Fri 23 Oct 16:00 CEST + 2bh = Mon 26 Oct 09:00 CET */
	assert_add(c, "2026-10-23T14:00:00Z", 2 * H, "2026-10-26T08:00:00Z");
	/* Mon 26 Oct 07:00 CET -> Fri 23 Oct 17:00 CEST */
	assert_prev(c, "2026-10-26T06:00:00Z", "2026-10-23T15:00:00Z");
}

/*
 * A window across the change itself, on Sundays, 02:30-05:00: in March
 * 02:30 does not exist (the window starts at the change, 03:00 CEST); in
 * October it comes twice (the window starts at the first, 02:30 CEST).
 */
static void test_dst_gap_and_overlap(void **state)
{
	const struct calendar *c = load_ok(*state,
		"[calendar]\ntimezone = Europe/Berlin\nworkdays = sun\n"
		"hours = 02:30-05:00\n");

	assert_int_equal(calendar_day_ms(c), 2 * H + 30 * M);

	/* Sun 29 Mar: 03:00 CEST to 05:00 CEST, 2h */
	assert_next(c, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
	assert_false(calendar_is_working(c, at("2026-03-29T00:59:59.999Z")));
	assert_true(calendar_is_working(c, at("2026-03-29T01:00:00Z")));
	assert_prev(c, "2026-03-29T12:00:00Z", "2026-03-29T03:00:00Z");
	assert_int_equal(calendar_between(c, at("2026-03-28T00:00:00Z"),
					  at("2026-03-30T00:00:00Z")), 2 * H);

	/* Sun 25 Oct: 02:30 CEST to 05:00 CET, 3h30m */
	assert_next(c, "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z");
	assert_prev(c, "2026-10-25T12:00:00Z", "2026-10-25T04:00:00Z");
	assert_int_equal(calendar_between(c, at("2026-10-24T00:00:00Z"),
					  at("2026-10-26T00:00:00Z")),
			 3 * H + 30 * M);
	/* 1bd is 2h30m, and fits in the longer window */
	assert_add(c, "2026-10-25T00:30:00Z", 2 * H + 30 * M,
		   "2026-10-25T03:00:00Z");

	/* Sun 1 Nov, CET: 02:30 to 05:00, 2h30m */
	assert_next(c, "2026-10-31T12:00:00Z", "2026-11-01T01:30:00Z");
	assert_int_equal(calendar_between(c, at("2026-10-31T00:00:00Z"),
					  at("2026-11-02T00:00:00Z")),
			 2 * H + 30 * M);
}

/* The TZ of the process is put back as it was, set, empty or unset. */
static void test_tz_restored(void **state)
{
	struct fixture *fx = *state;
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	time_t jan = 1768478400;	/* 2026-01-15T12:00:00Z */
	struct tm tm;

	assert_int_equal(setenv("TZ", "America/New_York", 1), 0);
	tzset();
	load_ok(fx, office);
	assert_string_equal(getenv("TZ"), "America/New_York");
	assert_non_null(localtime_r(&jan, &tm));
	assert_int_equal(tm.tm_gmtoff, -5 * 3600);

	assert_int_equal(setenv("TZ", "", 1), 0);
	tzset();
	load_ok(fx, office);
	assert_string_equal(getenv("TZ"), "");

	assert_int_equal(unsetenv("TZ"), 0);
	tzset();
	load_ok(fx, office);
	assert_null(getenv("TZ"));

	if (saved)
		setenv("TZ", saved, 1);
	tzset();
	free(saved);
}

/* ------------------------------------------------------------ the file */

static void test_defaults_and_whole_days(void **state)
{
	struct fixture *fx = *state;
	const struct calendar *c;

	c = load_ok(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n");
	assert_int_equal(calendar_day_ms(c), 9 * H);
	/* Sat 28 Nov 10:00; Fri 27 Nov 08:00 */
	assert_false(calendar_is_working(c, at("2026-11-28T03:00:00Z")));
	assert_true(calendar_is_working(c, at("2026-11-27T01:00:00Z")));

	/* Round the clock, Monday to Friday: 24:00 ends a day. */
	c = load_ok(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		    "hours = 00:00-24:00\n");
	assert_int_equal(calendar_day_ms(c), 24 * H);
	/* Mon 30 Nov 00:00 to Sat 5 Dec 00:00 */
	assert_int_equal(calendar_between(c, at("2026-11-29T17:00:00Z"),
					  at("2026-12-04T17:00:00Z")), 120 * H);
	/* Fri 4 Dec 23:59:59.999 yes; Sat 00:00 no */
	assert_true(calendar_is_working(c, at("2026-12-04T16:59:59.999Z")));
	assert_false(calendar_is_working(c, at("2026-12-04T17:00:00Z")));
	/* Fri 23:00 + 2bh = Mon 7 Dec 01:00 */
	assert_add(c, "2026-12-04T16:00:00Z", 2 * H, "2026-12-06T18:00:00Z");
	/* Tue 1 Dec 00:00 is within the week's one long stretch */
	assert_prev(c, "2026-11-30T17:00:00Z", "2026-11-30T17:00:00Z");
	/* Sun 6 Dec 12:00 -> Fri 4 Dec 24:00 = Sat 00:00 */
	assert_prev(c, "2026-12-06T05:00:00Z", "2026-12-04T17:00:00Z");

	/* Overlapping ranges: the days are counted once. */
	c = load_ok(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		    "[holidays]\n2026-02-14..2026-02-22 = Tet\n"
		    "2026-02-16..2026-02-17 = Tet again\n"
		    "2028-01-01..2028-12-31 = a leap year, 366 days\n");
	assert_int_equal(calendar_between(c, at("2026-02-13T01:00:00Z"),
					  at("2026-02-23T01:00:00Z")), 9 * H);
	assert_true(calendar_is_holiday(c, at("2028-12-31T03:00:00Z")));
}

static void test_unknown_section_and_key(void **state)
{
	struct fixture *fx = *state;

	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "[holiday]\n2026-01-01 = New Year\n",
		       3, "unknown section [holiday]");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "workday = mon\n",
		       3, "unknown key 'workday' in [calendar]");
	assert_invalid(fx, "; no header\ntimezone = Asia/Ho_Chi_Minh\n",
		       2, "key 'timezone' is outside any [section]");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "timezone = Europe/Berlin\n",
		       3, "duplicate key 'timezone' in [calendar]");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "[calendar]\n",
		       3, "duplicate section [calendar]");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "hours =\n",
		       3, "empty value for hours");
}

static void test_bad_zone(void **state)
{
	struct fixture *fx = *state;
	const char *tzdir = getenv("TZDIR");
	char *saved = tzdir ? strdup(tzdir) : NULL;
	char msg[PATH_MAX + 64], fake[PATH_MAX + 64], text[128];
	char name[CALENDAR_ZONE_MAX + 2];

	snprintf(msg, sizeof msg, "unknown time zone 'Mars/Olympus': not in "
		 "%s", tzdir && *tzdir ? tzdir : "/usr/share/zoneinfo");
	assert_invalid(fx, "[calendar]\ntimezone = Mars/Olympus\n", 2, msg);
	/* A directory of zones is not a zone. */
	snprintf(msg, sizeof msg, "unknown time zone 'Asia': not in %s",
		 tzdir && *tzdir ? tzdir : "/usr/share/zoneinfo");
	assert_invalid(fx, "[calendar]\ntimezone = Asia\n", 2, msg);
	/* Names that would leave the zone directory, or are not names. */
	assert_invalid(fx, "[calendar]\ntimezone = ../../etc/passwd\n", 2,
		       "invalid time zone '../../etc/passwd': expected a "
		       "tzdata name such as Asia/Ho_Chi_Minh");
	assert_invalid(fx, "[calendar]\ntimezone = /etc/localtime\n", 2,
		       "invalid time zone '/etc/localtime': expected a tzdata "
		       "name such as Asia/Ho_Chi_Minh");
	assert_invalid(fx, "[calendar]\ntimezone = zone.tab\n", 2,
		       "invalid time zone 'zone.tab': expected a tzdata name "
		       "such as Asia/Ho_Chi_Minh");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho Chi Minh\n", 2,
		       "invalid time zone 'Asia/Ho Chi Minh': expected a "
		       "tzdata name such as Asia/Ho_Chi_Minh");
	/* At most CALENDAR_ZONE_MAX characters. */
	memset(name, 'A', CALENDAR_ZONE_MAX);
	name[CALENDAR_ZONE_MAX] = '\0';
	snprintf(text, sizeof text, "[calendar]\ntimezone = %s\n", name);
	snprintf(msg, sizeof msg, "unknown time zone '%s': not in %s", name,
		 tzdir && *tzdir ? tzdir : "/usr/share/zoneinfo");
	assert_invalid(fx, text, 2, msg);
	strcat(name, "A");
	snprintf(text, sizeof text, "[calendar]\ntimezone = %s\n", name);
	snprintf(msg, sizeof msg, "invalid time zone '%s': expected a tzdata "
		 "name such as Asia/Ho_Chi_Minh", name);
	assert_invalid(fx, text, 2, msg);

	/* A file in the zone directory that is not a TZif file. */
	snprintf(fake, sizeof fake, "%s/Fake", fx->dir);
	assert_int_equal(mkdir(fake, 0700), 0);
	testdir_write(fake, sizeof fake, fx->dir, "Fake/Zone", "UTC0\n");
	assert_int_equal(setenv("TZDIR", fx->dir, 1), 0);
	snprintf(msg, sizeof msg, "unknown time zone 'Fake/Zone': not in %s",
		 fx->dir);
	assert_invalid(fx, "[calendar]\ntimezone = Fake/Zone\n", 2, msg);
	if (saved)
		setenv("TZDIR", saved, 1);
	else
		unsetenv("TZDIR");
	free(saved);
}

static void test_bad_workdays(void **state)
{
	struct fixture *fx = *state;

	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "workdays = mon, funday\n", 3,
		       "invalid weekday 'funday': expected mon, tue, wed, thu, "
		       "fri, sat or sun");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "workdays = Mon\n", 3,
		       "invalid weekday 'Mon': expected mon, tue, wed, thu, "
		       "fri, sat or sun");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "workdays = mon-fri\n", 3,
		       "invalid weekday 'mon-fri': expected mon, tue, wed, "
		       "thu, fri, sat or sun");
	assert_invalid(fx, "[calendar]\nworkdays = mon,,tue\n", 2,
		       "empty item in the list 'mon,,tue' for workdays");
	assert_invalid(fx, "[calendar]\nworkdays = mon, tue, mon\n", 2,
		       "weekday 'mon' is given twice");
}

static void test_bad_hours(void **state)
{
	static const char *const bad[] = {
		"8-17", "25:00-26:00", "08:00", "08:00-", "8:00-17:00",
		"08:60-17:00", "08:00 - 17:00", "08:00-17:00x", "24:00-24:00",
		"08:00-24:01", "08.00-17.00",
	};
	struct fixture *fx = *state;
	char text[256], msg[256];
	size_t i;

	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "hours = 17:00-08:00\n", 3,
		       "invalid hours '17:00-08:00': the start must be before "
		       "the end");
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "hours = 08:00-08:00\n", 3,
		       "invalid hours '08:00-08:00': the start must be before "
		       "the end");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[calendar]\nhours = %s\n", bad[i]);
		snprintf(msg, sizeof msg, "invalid hours '%s': expected "
			 "HH:MM-HH:MM within one day, e.g. 08:00-17:00",
			 bad[i]);
		assert_invalid(fx, text, 2, msg);
	}
}

static void test_bad_holidays(void **state)
{
	static const char *const bad[] = {
		"2026-02-30", "2026-2-3", "2026-13-01", "2026-00-10",
		"1969-12-31", "2101-01-01", "2026-02-14..", "2026-02-14..x",
		"2026-02-14...2026-02-15", "2026-02-14..2026-02-30",
		"2026-02-14-2026-02-22", "20260214", "tet",
	};
	struct fixture *fx = *state;
	char text[256], msg[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[holidays]\n%s = x\n", bad[i]);
		snprintf(msg, sizeof msg, "invalid date '%s': expected "
			 "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, years 1970 to "
			 "2100", bad[i]);
		assert_invalid(fx, text, 2, msg);
	}
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "[holidays]\n2026-02-22..2026-02-14 = Tet\n", 4,
		       "holiday range '2026-02-22..2026-02-14' ends before it "
		       "starts");
	assert_invalid(fx, "[holidays]\n2026-01-01..2027-01-02 = long\n", 2,
		       "holiday range '2026-01-01..2027-01-02' is longer than "
		       "366 days");
	assert_invalid(fx, "[holidays]\n2026-01-01 =\n", 2,
		       "empty name for the holiday 2026-01-01");
	/* The same key twice: reported at the end, at the second. */
	assert_invalid(fx, "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		       "[holidays]\n2026-01-01 = New Year\n"
		       "2026-04-30 = Reunification Day\n"
		       "2026-01-01 = New Year (2027, really)\n", 6,
		       "duplicate holiday '2026-01-01' (first at line 4)");
}

static void test_missing_timezone(void **state)
{
	struct fixture *fx = *state;

	/* At the end of the file: the number of lines read. */
	assert_invalid(fx, "[calendar]\nworkdays = mon\n\n[holidays]\n"
		       "2026-01-01 = New Year\n", 5,
		       "[calendar] has no timezone");
	assert_invalid(fx, "", 0, "[calendar] has no timezone");
}

static void test_too_many_holidays(void **state)
{
	struct fixture *fx = *state;
	size_t size = 64 + 40 * (CALENDAR_MAX_HOLIDAYS + 1), len;
	char *text = malloc(size);
	time_t day = 1767225600;	/* 2026-01-01T00:00:00Z */
	struct tm tm;
	int i;

	assert_non_null(text);
	len = (size_t)snprintf(text, size, "[calendar]\n"
			       "timezone = Asia/Ho_Chi_Minh\n[holidays]\n");
	for (i = 0; i < CALENDAR_MAX_HOLIDAYS; i++, day += 86400) {
		assert_non_null(gmtime_r(&day, &tm));
		len += strftime(text + len, size - len, "%Y-%m-%d = x\n", &tm);
	}
	/* 1024 is allowed: 1 Jan 2026 to 20 Oct 2028. */
	load_ok(fx, text);
	assert_true(calendar_is_holiday(fx->c, at("2028-10-20T03:00:00Z")));
	assert_false(calendar_is_holiday(fx->c, at("2028-10-21T03:00:00Z")));
	assert_non_null(gmtime_r(&day, &tm));
	strftime(text + len, size - len, "%Y-%m-%d = x\n", &tm);
	assert_invalid(fx, text, 3 + CALENDAR_MAX_HOLIDAYS + 1,
		       "more than 1024 holidays");
	free(text);
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct calendar *c = NULL;
	struct config_error err;
	char path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/none.conf", fx->dir);
	assert_int_equal(calendar_load(path, &c, &err), -ENOENT);
	assert_null(c);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	calendar_free(NULL);
}

/* ------------------------------------------------------ the bundled file */

static void test_bundled_file(void **state)
{
	struct fixture *fx = *state;
	static const char *const holidays[] = {
		"2026-01-01T03:00:00Z",		/* New Year */
		"2026-02-16T03:00:00Z",		/* Tet, Mon 16 Feb */
		"2026-04-27T03:00:00Z",		/* Hung Kings, moved */
		"2026-04-30T03:00:00Z",		/* Reunification Day */
		"2026-05-01T03:00:00Z",		/* Labour Day */
		"2026-09-01T03:00:00Z",		/* National Day */
		"2026-09-02T03:00:00Z",
		"2027-01-01T03:00:00Z",
		"2027-02-04T03:00:00Z",		/* Tet 2027 */
		"2027-02-10T03:00:00Z",
		"2027-04-16T03:00:00Z",
		"2027-05-03T03:00:00Z",		/* for Sat 1 May */
		"2027-09-03T03:00:00Z",
	};
	static const char *const working[] = {
		"2026-01-02T03:00:00Z", "2026-02-13T03:00:00Z",
		"2026-02-23T03:00:00Z", "2026-04-28T03:00:00Z",
		"2026-09-03T03:00:00Z", "2027-02-11T03:00:00Z",
		"2027-05-04T03:00:00Z", "2027-09-06T03:00:00Z",
	};
	struct config_error err;
	char buf[1024];
	size_t i;

	if (calendar_load(BATON_SOURCE_DIR "/config/calendar.conf", &fx->c,
			  &err) < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	assert_string_equal(calendar_zone(fx->c), "Asia/Ho_Chi_Minh");
	assert_int_equal(calendar_day_ms(fx->c), 9 * H);
	for (i = 0; i < sizeof holidays / sizeof holidays[0]; i++) {
		assert_true(calendar_is_holiday(fx->c, at(holidays[i])));
		assert_false(calendar_is_working(fx->c, at(holidays[i])));
	}
	for (i = 0; i < sizeof working / sizeof working[0]; i++)
		assert_true(calendar_is_working(fx->c, at(working[i])));

	/* Fri 24 Apr 2026 16:00 + 2bh: Mon 27 off: Tue 28 Apr 09:00 */
	assert_add(fx->c, "2026-04-24T09:00:00Z", 2 * H,
		   "2026-04-28T02:00:00Z");
	/* Mon 31 Aug 2026 10:00 + 3bd: Tue 1, Wed 2 Sep off: Mon 7 10:00 */
	assert_add(fx->c, "2026-08-31T03:00:00Z", 27 * H,
		   "2026-09-07T03:00:00Z");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_add_weekend),
		T(test_add_outside_hours),
		T(test_add_holidays),
		T(test_add_range),
		T(test_between),
		T(test_between_inverts_add),
		T(test_next_working),
		T(test_prev_working),
		T(test_is_working),
		T(test_is_holiday),
		T(test_parse_duration),
		T(test_is_business),
		T(test_offset_and_format),
		T(test_dst),
		T(test_dst_gap_and_overlap),
		T(test_tz_restored),
		T(test_defaults_and_whole_days),
		T(test_unknown_section_and_key),
		T(test_bad_zone),
		T(test_bad_workdays),
		T(test_bad_hours),
		T(test_bad_holidays),
		T(test_missing_timezone),
		T(test_too_many_holidays),
		T(test_missing_file),
		T(test_bundled_file),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
