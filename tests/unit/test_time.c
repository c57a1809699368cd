/*
 * test_time.c - lib/time: durations and instants.
 *
 * Every accepted form is checked for its exact value and every refused form
 * for its exact error, because config values and wire instants flow through
 * these two parsers and a lenient parser turns a typo into a wrong deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "time.h"

/* ------------------------------------------------------------- durations */

static int64_t duration(const char *text)
{
	int64_t ms = -42;

	assert_int_equal(time_parse_duration(text, &ms), 0);
	return ms;
}

/* Each unit on its own, including "ms" which shares its first letter with "m". */
static void test_duration_units(void **state)
{
	assert_int_equal(duration("250ms"), 250);
	assert_int_equal(duration("90s"), 90000);
	assert_int_equal(duration("5m"), 300000);
	assert_int_equal(duration("36h"), 36 * TIME_MS_PER_H);
	assert_int_equal(duration("3d"), 3 * TIME_MS_PER_D);
	assert_int_equal(duration("2w"), 14 * TIME_MS_PER_D);
	assert_int_equal(duration("0s"), 0);
	assert_int_equal(duration("007s"), 7000);
}

/* Terms add up, whatever their order. */
static void test_duration_sums(void **state)
{
	assert_int_equal(duration("1h30m"), 5400000);
	assert_int_equal(duration("1d12h"), 36 * TIME_MS_PER_H);
	assert_int_equal(duration("1m500ms"), 60500);
	assert_int_equal(duration("1s1ms"), 1001);
	assert_int_equal(duration("30m1h"), 5400000);
	assert_int_equal(duration("1w1d1h1m1s1ms"),
			 8 * TIME_MS_PER_D + TIME_MS_PER_H + TIME_MS_PER_M +
			 TIME_MS_PER_S + 1);
}

/* Too large is -ERANGE at every step: digits, unit, sum. */
static void test_duration_overflow(void **state)
{
	int64_t ms = -42;

	assert_int_equal(time_parse_duration("9223372036854775807ms", &ms), 0);
	assert_int_equal(ms, INT64_MAX);
	ms = -42;
	assert_int_equal(time_parse_duration("9223372036854775808ms", &ms),
			 -ERANGE);
	assert_int_equal(time_parse_duration("99999999999999999999999s", &ms),
			 -ERANGE);
	assert_int_equal(time_parse_duration("15250284452w", &ms), 0);
	ms = -42;
	assert_int_equal(time_parse_duration("15250284453w", &ms), -ERANGE);
	assert_int_equal(time_parse_duration("9223372036854775807ms1ms", &ms),
			 -ERANGE);
	assert_int_equal(ms, -42);
}

/* Nothing that is not <digits><unit>... is a duration; *ret is untouched. */
static void test_duration_invalid(void **state)
{
	static const char *bad[] = {
		"", "5", "-5s", "+5s", "5x", "5 s", " 5s", "5s ", "s", "ms",
		"1h30", "1.5h", "5S", "5sec", "5mss", "h1", "1h-30m",
		"99999999999999999999999x",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms = -42;

		assert_int_equal(time_parse_duration(bad[i], &ms), -EINVAL);
		assert_int_equal(ms, -42);
	}
}

static void test_duration_format(void **state)
{
	char buf[64];

	assert_string_equal(time_format_duration(0, buf, sizeof buf), "0s");
	assert_string_equal(time_format_duration(250, buf, sizeof buf),
			    "250ms");
	assert_string_equal(time_format_duration(5400000, buf, sizeof buf),
			    "1h30m");
	assert_string_equal(time_format_duration(36 * TIME_MS_PER_H, buf,
						 sizeof buf), "1d12h");
	assert_string_equal(time_format_duration(-90500, buf, sizeof buf),
			    "-1m30s500ms");
	assert_string_equal(time_format_duration(15 * TIME_MS_PER_D, buf,
						 sizeof buf), "2w1d");
	/* -INT64_MIN does not fit in an int64_t: must not be UB or "--". */
	assert_string_equal(time_format_duration(INT64_MIN, buf, sizeof buf),
			    "-15250284452w3d7h12m55s808ms");
	/* Truncated to size - 1, always terminated. */
	memset(buf, 'x', sizeof buf);
	assert_string_equal(time_format_duration(5400000, buf, 3), "1h");
	assert_int_equal(buf[3], 'x');
}

/* What is formatted parses back to the same value. */
static void test_duration_round_trip(void **state)
{
	static const int64_t values[] = {
		1, 999, 1000, 61001, 5400000, 86399999, 7 * TIME_MS_PER_D + 1,
		INT64_MAX,
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof values / sizeof values[0]; i++) {
		time_format_duration(values[i], buf, sizeof buf);
		assert_int_equal(duration(buf), values[i]);
	}
}

/* -------------------------------------------------------------- instants */

static instant_t instant(const char *text)
{
	instant_t t = -42;

	assert_int_equal(time_parse_instant(text, &t), 0);
	return t;
}

static void test_instant_rfc3339(void **state)
{
	/* 2026-11-25T08:30:00Z is 1795595400 s after the epoch. */
	assert_int_equal(instant("2026-11-25T08:30:00Z"), 1795595400000);
	assert_int_equal(instant("2026-11-25T08:30:00.250Z"), 1795595400250);
	assert_int_equal(instant("2026-11-25t08:30:00.25z"), 1795595400250);
	assert_int_equal(instant("2026-11-25T08:30:00.2Z"), 1795595400200);
	assert_int_equal(instant("2026-11-25T08:30:00.123456789Z"),
			 1795595400123);
	assert_int_equal(instant("2026-11-25"), 1795564800000);
	assert_int_equal(instant("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(instant("1969-12-31T23:59:59.999Z"), -1);
	/* Leap days exist exactly where the Gregorian rules put them. */
	assert_int_equal(instant("2024-02-29") + TIME_MS_PER_D,
			 instant("2024-03-01"));
	assert_int_equal(instant("2000-02-29") + TIME_MS_PER_D,
			 instant("2000-03-01"));
	assert_int_equal(instant("2026-12-31T23:59:59Z") + 1000,
			 instant("2027-01-01"));
}

static void test_instant_unix_ms(void **state)
{
	assert_int_equal(instant("0"), 0);
	assert_int_equal(instant("1795595400250"), 1795595400250);
	assert_int_equal(instant("9223372036854775807"), INT64_MAX);
}

/* Dates that do not exist are refused, never normalised into the next month. */
static void test_instant_invalid(void **state)
{
	static const char *bad[] = {
		"", "2026-02-30", "2026-02-29", "1900-02-29", "2026-04-31",
		"2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
		"2026-11-25T24:00:00Z", "2026-11-25T08:60:00Z",
		"2026-11-25T08:30:60Z", "2026-11-25T08:30:00",
		"2026-11-25T08:30Z", "2026-11-25T08:30:00.Z",
		"2026-11-25T08:30:00.1234567890Z", "2026-11-25T08:30:00+00:00",
		"2026-11-25 08:30:00Z", "2026-11-25T", "2026-11-25Z",
		"26-11-25", "2026-1-25", " 2026-11-25", "2026-11-25T08:30:00Zx",
		"-1", "+5", "12a", "9223372036854775808", "now",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		instant_t t = -42;

		assert_int_equal(time_parse_instant(bad[i], &t), -EINVAL);
		assert_int_equal(t, -42);
	}
}

static void test_instant_format(void **state)
{
	char buf[TIME_INSTANT_LEN];

	assert_string_equal(time_format_instant(1795595400250, buf, sizeof buf),
			    "2026-11-25T08:30:00.250Z");
	assert_string_equal(time_format_instant(0, buf, sizeof buf),
			    "1970-01-01T00:00:00.000Z");
	/* Before the epoch the milliseconds still count up within the second. */
	assert_string_equal(time_format_instant(-1, buf, sizeof buf),
			    "1969-12-31T23:59:59.999Z");
	assert_string_equal(time_format_instant(-1000, buf, sizeof buf),
			    "1969-12-31T23:59:59.000Z");
	assert_string_equal(time_format_instant(-1001, buf, sizeof buf),
			    "1969-12-31T23:59:58.999Z");
}

static void test_instant_round_trip(void **state)
{
	static const instant_t values[] = {
		0, 1, -1, 1795595400250, 951782400000, -86400001,
		253402300799999,	/* 9999-12-31T23:59:59.999Z */
	};
	char buf[TIME_INSTANT_LEN];
	size_t i;

	for (i = 0; i < sizeof values / sizeof values[0]; i++) {
		time_format_instant(values[i], buf, sizeof buf);
		assert_int_equal(instant(buf), values[i]);
	}
}

/* The two clocks tick in milliseconds and the monotonic one never goes back. */
static void test_clocks(void **state)
{
	int64_t m0 = time_mono(), m1;
	instant_t now = time_now();
	struct timespec delay = { 0, 20 * 1000000 };

	/* Any day after this code was written and before 2100. */
	assert_true(now > instant("2025-01-01"));
	assert_true(now < instant("2100-01-01"));
	nanosleep(&delay, NULL);
	m1 = time_mono();
	assert_true(m1 - m0 >= 20);
	assert_true(m1 - m0 < 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_sums),
		cmocka_unit_test(test_duration_overflow),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_instant_rfc3339),
		cmocka_unit_test(test_instant_unix_ms),
		cmocka_unit_test(test_instant_invalid),
		cmocka_unit_test(test_instant_format),
		cmocka_unit_test(test_instant_round_trip),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
