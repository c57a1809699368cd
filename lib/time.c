/*
 * time.c - UTC instants and durations.
 *
 * Instants are int64_t milliseconds since the epoch so that they sort, add and
 * store (big-endian in LMDB keys) as plain integers; struct tm appears only
 * while a human-written date is read or written. Parsing is done by hand,
 * field by field, rather than with strptime(3): strptime accepts leading
 * spaces, signs and out-of-range days that timegm(3) then quietly normalises,
 * and "2026-02-30" must be an error, not the 2nd of March.
 *
 * Durations are sums of <digits><unit> terms. Every multiplication and
 * addition is checked, because a config value such as "9999999999999w" must
 * be refused with -ERANGE rather than wrap into a negative deadline.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "time.h"

/* ---------------------------------------------------------------- clocks */

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	/* Cannot fail for these two clocks with a valid pointer. */
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * TIME_MS_PER_S + ts.tv_nsec / 1000000;
}

instant_t time_now(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t time_mono(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------- durations */

/* Largest first: the order in which time_format_duration() writes terms. */
static const struct unit {
	const char *name;
	int64_t ms;
} units[] = {
	{ "w", 7 * TIME_MS_PER_D },
	{ "d", TIME_MS_PER_D },
	{ "h", TIME_MS_PER_H },
	{ "m", TIME_MS_PER_M },
	{ "s", TIME_MS_PER_S },
	{ "ms", 1 },
};

#define NUNITS (sizeof units / sizeof units[0])

/* The longest unit name at p, so that "5ms" is not read as "5m" + "s". */
static const struct unit *unit_at(const char *p)
{
	const struct unit *best = NULL;
	size_t i;

	for (i = 0; i < NUNITS; i++)
		if (strncmp(p, units[i].name, strlen(units[i].name)) == 0 &&
		    (!best || strlen(units[i].name) > strlen(best->name)))
			best = &units[i];
	return best;
}

int time_parse_duration(const char *text, int64_t *ret_ms)
{
	const char *p = text;
	int64_t total = 0;
	bool overflow = false;

	if (*p == '\0')
		return -EINVAL;
	/*
	 * The whole text is checked even after an overflow, so that a
	 * malformed value is always -EINVAL whatever its size.
	 */
	while (*p != '\0') {
		const struct unit *u;
		int64_t n = 0;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++)
			if (__builtin_mul_overflow(n, 10, &n) ||
			    __builtin_add_overflow(n, *p - '0', &n))
				overflow = true;
		u = unit_at(p);
		if (!u)
			return -EINVAL;
		p += strlen(u->name);
		if (__builtin_mul_overflow(n, u->ms, &n) ||
		    __builtin_add_overflow(total, n, &total))
			overflow = true;
	}
	if (overflow)
		return -ERANGE;
	*ret_ms = total;
	return 0;
}

char *time_format_duration(int64_t ms, char *buf, size_t size)
{
	/* "-" and 21 digits' worth of terms fit easily in 64 bytes. */
	char tmp[64];
	size_t len = 0, i;
	uint64_t left;

	if (size == 0)
		return buf;
	/* Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t. */
	left = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
	if (ms < 0)
		tmp[len++] = '-';
	if (left == 0)
		len += snprintf(tmp + len, sizeof tmp - len, "0s");
	for (i = 0; i < NUNITS; i++) {
		const struct unit *u = &units[i];
		uint64_t n = left / (uint64_t)u->ms;

		if (n == 0)
			continue;
		len += snprintf(tmp + len, sizeof tmp - len, "%llu%s",
				(unsigned long long)n, u->name);
		left -= n * (uint64_t)u->ms;
	}
	snprintf(buf, size, "%s", tmp);
	return buf;
}

/* -------------------------------------------------------------- instants */

/* Exactly n decimal digits at *p, advancing it. */
static bool digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return true;
}

static bool expect(const char **p, const char *set)
{
	if (**p == '\0' || !strchr(set, **p))
		return false;
	(*p)++;
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Unix milliseconds: digits only, no sign, must fit in an int64_t. */
static int parse_unix_ms(const char *p, instant_t *ret)
{
	instant_t t = 0;

	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(t, 10, &t) ||
		    __builtin_add_overflow(t, *p - '0', &t))
			return -EINVAL;
	}
	*ret = t;
	return 0;
}

/*
 * "YYYY-MM-DD", or that followed by "THH:MM:SS", an optional fraction of
 * one to nine digits (kept to the millisecond, the rest truncated), and "Z".
 * RFC 3339 allows lower-case 't' and 'z', and so do we.
 */
static int parse_rfc3339(const char *p, instant_t *ret)
{
	struct tm tm = { 0 };
	int year, mon, day, hour = 0, min = 0, sec = 0, ms = 0;
	time_t secs;

	if (!digits(&p, 4, &year) || !expect(&p, "-") ||
	    !digits(&p, 2, &mon) || !expect(&p, "-") ||
	    !digits(&p, 2, &day))
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return -EINVAL;
	if (*p != '\0') {
		if (!expect(&p, "Tt") ||
		    !digits(&p, 2, &hour) || !expect(&p, ":") ||
		    !digits(&p, 2, &min) || !expect(&p, ":") ||
		    !digits(&p, 2, &sec))
			return -EINVAL;
		/* No leap second: Unix time has none to map it to. */
		if (hour > 23 || min > 59 || sec > 59)
			return -EINVAL;
		if (*p == '.') {
			size_t n = strspn(++p, "0123456789"), i;

			if (n < 1 || n > 9)
				return -EINVAL;
			for (i = 0; i < 3; i++)
				ms = ms * 10 + (i < n ? p[i] - '0' : 0);
			p += n;
		}
		if (!expect(&p, "Zz") || *p != '\0')
			return -EINVAL;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	secs = timegm(&tm);
	*ret = (instant_t)secs * TIME_MS_PER_S + ms;
	return 0;
}

int time_parse_instant(const char *text, instant_t *ret)
{
	size_t n = strspn(text, "0123456789");

	if (n == 0)
		return -EINVAL;
	/* A date has its '-' after four digits; Unix ms is all digits. */
	if (text[n] == '\0')
		return parse_unix_ms(text, ret);
	return parse_rfc3339(text, ret);
}

char *time_format_instant(instant_t t, char *buf, size_t size)
{
	/* Floor division, so that -1 is 23:59:59.999 the day before. */
	time_t secs = t / TIME_MS_PER_S;
	int ms = (int)(t % TIME_MS_PER_S);
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	/*
	 * With a 64-bit time_t every instant_t has a year that fits in an int,
	 * but a failed gmtime_r() must not print an uninitialised tm.
	 */
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, size, "%lldms", (long long)t);
		return buf;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}
