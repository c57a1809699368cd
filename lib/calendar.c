/*
 * calendar.c - the business calendar: calendar.conf into a struct calendar,
 * and business time counted over it.
 *
 * Everything local is turned into UTC arithmetic once, at load. The zone's
 * offsets come from the C library (the only reader of tzdata we have) by
 * setting TZ for the length of calendar_load() and sampling localtime_r()
 * once a day over 1970-2100, bisecting to the second wherever two samples
 * differ. The result is a sorted table of transitions, so that afterwards
 * no function depends on TZ, on the process's idea of local time or on any
 * state other than the calendar it is given.
 *
 * Days are local day numbers (days since 1970-01-01 in the zone), which
 * makes a holiday a sorted array of integers and a working window the pair
 * of instants where local midnight plus the start and end of the hours fall.
 * Business arithmetic walks those windows day by day: a deadline of a few
 * business days is a handful of steps, and every walk is bounded by the
 * calendar's span or by 20 years, so a calendar without working time is an
 * error rather than a loop.
 *
 * The span is 1970-01-01 to 2101-01-01 UTC, the years the table covers;
 * holidays must fall in it, and outside it there is no working time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"

#define SPAN_FIRST	INT64_C(0)		/* 1970-01-01T00:00:00Z */
#define SPAN_END	INT64_C(4133980800000)	/* 2101-01-01T00:00:00Z */
#define YEAR_FIRST	1970
#define YEAR_LAST	2100

/* How far a search for working time goes before it gives up. */
#define WALK_DAYS	(20 * 366)

/* The longest holiday range: a year, leap or not. */
#define RANGE_MAX_DAYS	366

/* No zone is more than a day away from UTC; a margin for to_utc(). */
#define MARGIN_MS	(2 * TIME_MS_PER_D)

#define DEFAULT_WORKDAYS	"mon, tue, wed, thu, fri"
#define DEFAULT_HOURS		"08:00-17:00"

struct transition {
	instant_t at;		/* the first instant of offset_ms */
	int64_t offset_ms;
};

struct calendar {
	char *path;
	char zone[CALENDAR_ZONE_MAX + 1];
	unsigned workdays;		/* 1u << weekday, 0 = Sunday */
	int64_t start_ms, end_ms;	/* the hours, from local midnight */

	/* Sorted; the first is at INT64_MIN, the offset before the span. */
	struct transition *tr;
	size_t ntr;

	int32_t *holidays;		/* local day numbers, sorted, unique */
	size_t nholidays;
};

/* ------------------------------------------------------------ date maths */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
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

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int32_t day_number(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(int64_t day)
{
	return (int)floor_mod(day + 4, 7);
}

/* ------------------------------------------------------------ the zone */

/* The index of the transition in force at t. */
static size_t transition_at(const struct calendar *c, instant_t t)
{
	size_t lo = 0, hi = c->ntr;

	/* tr[0].at is INT64_MIN: the answer is in [lo, hi). */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->tr[mid].at <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int64_t calendar_offset(const struct calendar *c, instant_t t)
{
	return c->tr[transition_at(c, t)].offset_ms;
}

/*
 * The instant at which the zone's clocks read local (ms since 1970-01-01
 * local): the first of two when a change repeats it, the change itself
 * when a change skips it. local must be within the span and a margin.
 */
static instant_t to_utc(const struct calendar *c, int64_t local)
{
	size_t i;

	/*
	 * Start from the offset in force a margin before: no offset reaches
	 * that far, so no earlier stretch of the table can read local.
	 */
	for (i = transition_at(c, local - MARGIN_MS); i < c->ntr; i++) {
		instant_t t = local - c->tr[i].offset_ms;

		if (i > 0 && t < c->tr[i].at)
			return c->tr[i].at;	/* skipped */
		if (i + 1 == c->ntr || t < c->tr[i + 1].at)
			return t;
	}
	return local;	/* not reached: the last stretch has no end */
}

/* The local day holding t, for t within the span and a margin. */
static int64_t day_of(const struct calendar *c, instant_t t)
{
	return floor_div(t + calendar_offset(c, t), TIME_MS_PER_D);
}

/* ------------------------------------------------------------- the days */

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static bool holiday(const struct calendar *c, int64_t day)
{
	int32_t d = (int32_t)day;

	return c->nholidays > 0 &&
	       bsearch(&d, c->holidays, c->nholidays, sizeof d, cmp_day);
}

/*
 * The working window of local day day, cut to the span: false when it is
 * not a working day or nothing of it is left. day must be within the span
 * and a day either side.
 */
static bool window(const struct calendar *c, int64_t day, instant_t *s,
		   instant_t *e)
{
	int64_t midnight = day * TIME_MS_PER_D;

	if (!(c->workdays & (1u << weekday(day))) || holiday(c, day))
		return false;
	*s = to_utc(c, midnight + c->start_ms);
	*e = to_utc(c, midnight + c->end_ms);
	if (*s < SPAN_FIRST)
		*s = SPAN_FIRST;
	if (*e > SPAN_END)
		*e = SPAN_END;
	return *s < *e;
}

static bool in_span(instant_t t)
{
	return t >= SPAN_FIRST && t < SPAN_END;
}

/* The local days a walk may visit: the span's and one either side. */
static int64_t first_day(const struct calendar *c)
{
	return day_of(c, SPAN_FIRST) - 1;
}

static int64_t last_day(const struct calendar *c)
{
	return day_of(c, SPAN_END) + 1;
}

/*
 * The first window that ends after t, t in the span. The day before t's
 * is looked at too: with an hours window ending at 24:00, or a change of
 * offset, a window can reach into the next local day.
 */
static int next_window(const struct calendar *c, instant_t t, instant_t *s,
		       instant_t *e)
{
	int64_t d = day_of(c, t) - 1, last = d + 1 + WALK_DAYS;

	if (last > last_day(c))
		last = last_day(c);
	for (; d <= last; d++)
		if (window(c, d, s, e) && *e > t)
			return 0;
	return -ERANGE;
}

/* The last window that starts at or before t, t in the span. */
static int prev_window(const struct calendar *c, instant_t t, instant_t *s,
		       instant_t *e)
{
	int64_t d = day_of(c, t) + 1, first = d - 1 - WALK_DAYS;

	if (first < first_day(c))
		first = first_day(c);
	for (; d >= first; d--)
		if (window(c, d, s, e) && *s <= t)
			return 0;
	return -ERANGE;
}

/* ------------------------------------------------------- parsing state */

enum section {
	IN_NONE,		/* before the first header */
	IN_CALENDAR,
	IN_HOLIDAYS,
};

enum key { K_TIMEZONE, K_WORKDAYS, K_HOURS };

/* One line of [holidays], as written, until the end of the file. */
struct range {
	int32_t first, last;
	int line;
	char text[24];		/* "YYYY-MM-DD..YYYY-MM-DD" */
};

struct load {
	struct calendar *c;
	struct config_error *err;	/* at the line being read */
	enum section in;
	unsigned seen;			/* keys given: 1u << enum key */
	unsigned sections;		/* headers read: 1u << enum section */
	struct range *ranges;
	size_t nranges, nalloc;
};

/* ------------------------------------------------------------ the zone */

/* What glibc would read for TZ=name. */
static const char *zone_dir(void)
{
	const char *dir = getenv("TZDIR");

	return dir && *dir ? dir : "/usr/share/zoneinfo";
}

static bool zone_name_valid(const char *name)
{
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "abcdefghijklmnopqrstuvwxyz0123456789_+-/");

	/* No '.', so no "..": the name stays inside the zone directory. */
	return n > 0 && n <= CALENDAR_ZONE_MAX && name[n] == '\0' &&
	       name[0] != '/';
}

/*
 * Whether tzdata has the zone. The C library quietly takes a zone it
 * cannot read as UTC, so a file that is there but is not a zone
 * (zone.tab, a directory) must be refused here: a TZif file says so in its
 * first four bytes.
 */
static bool zone_exists(const char *name)
{
	char path[PATH_MAX], magic[4];
	struct stat st;
	bool ok;
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", zone_dir(), name) >=
	    sizeof path)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	     read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
	     memcmp(magic, "TZif", sizeof magic) == 0;
	close(fd);
	return ok;
}

static bool sample(time_t secs, long *off)
{
	struct tm tm;

	if (!localtime_r(&secs, &tm))
		return false;
	*off = tm.tm_gmtoff;
	return true;
}

static int push(struct load *l, size_t *nalloc, instant_t at, long off)
{
	struct calendar *c = l->c;
	struct transition *tr;

	if (c->ntr == *nalloc) {
		tr = reallocarray(c->tr, *nalloc ? 2 * *nalloc : 16,
				  sizeof *tr);
		if (!tr)
			return config_nomem(l->err);
		c->tr = tr;
		*nalloc = *nalloc ? 2 * *nalloc : 16;
	}
	c->tr[c->ntr].at = at;
	c->tr[c->ntr].offset_ms = (int64_t)off * TIME_MS_PER_S;
	c->ntr++;
	return 0;
}

/*
 * The transitions of the zone TZ names, over the span and a margin.
 * Daily samples miss only a change undone within the same day, which no
 * zone has had since 1970.
 */
static int sample_zone(struct load *l)
{
	const time_t step = TIME_MS_PER_D / TIME_MS_PER_S;
	time_t t = (SPAN_FIRST - MARGIN_MS) / TIME_MS_PER_S;
	time_t end = (SPAN_END + MARGIN_MS) / TIME_MS_PER_S;
	size_t nalloc = 0;
	long a, b, m;
	int r;

	if (!sample(t, &a))
		goto broken;
	r = push(l, &nalloc, INT64_MIN, a);
	for (; r == 0 && t < end; t += step) {
		if (!sample(t + step, &b))
			goto broken;
		/* a holds at t, b at t + step; lo always holds a. */
		for (time_t lo = t; r == 0 && a != b;) {
			time_t hi = t + step;

			while (hi - lo > 1) {
				time_t mid = lo + (hi - lo) / 2;

				if (!sample(mid, &m))
					goto broken;
				if (m == a)
					lo = mid;
				else
					hi = mid;
			}
			if (!sample(hi, &a))
				goto broken;
			r = push(l, &nalloc, (instant_t)hi * TIME_MS_PER_S, a);
			lo = hi;
		}
	}
	return r;
broken:
	return config_fail(l->err, 0,
			   "the C library cannot convert times in '%s'",
			   l->c->zone);
}

/*
 * TZ is the process's, and the C library reads it only at tzset(): set it
 * to the zone, sample, and put back exactly what was there, unset or not.
 */
static int read_zone(struct load *l)
{
	const char *old = getenv("TZ");
	char *saved = NULL, *tz;
	int r;

	if (old && !(saved = strdup(old)))
		return config_nomem(l->err);
	/* The ':' makes it a file name, never a POSIX rule like "UTC0". */
	if (asprintf(&tz, ":%s", l->c->zone) < 0) {
		free(saved);
		return config_nomem(l->err);
	}
	if (setenv("TZ", tz, 1) < 0) {
		r = config_nomem(l->err);
	} else {
		tzset();
		r = sample_zone(l);
		if (saved)
			setenv("TZ", saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(tz);
	free(saved);
	return r;
}

static int set_timezone(struct load *l, const char *value)
{
	if (!zone_name_valid(value))
		return config_fail(l->err, 0,
				   "invalid time zone '%s': expected a tzdata "
				   "name such as Asia/Ho_Chi_Minh",
				   value);
	if (!zone_exists(value))
		return config_fail(l->err, 0,
				   "unknown time zone '%s': not in %s", value,
				   zone_dir());
	snprintf(l->c->zone, sizeof l->c->zone, "%s", value);
	return read_zone(l);
}

/* --------------------------------------------------------------- values */

static const char *const weekdays[7] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

static int set_workdays(struct load *l, const char *value)
{
	const char *p = value, *end;
	unsigned mask = 0;
	size_t n;
	int d;

	for (;;) {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0)
			return config_fail(l->err, 0,
					   "empty item in the list '%s' for "
					   "workdays",
					   value);
		for (d = 0; d < 7; d++)
			if (strlen(weekdays[d]) == n &&
			    strncmp(p, weekdays[d], n) == 0)
				break;
		if (d == 7)
			return config_fail(l->err, 0,
					   "invalid weekday '%.*s': expected "
					   "mon, tue, wed, thu, fri, sat or "
					   "sun",
					   (int)n, p);
		if (mask & (1u << d))
			return config_fail(l->err, 0,
					   "weekday '%s' is given twice",
					   weekdays[d]);
		mask |= 1u << d;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	l->c->workdays = mask;
	return 0;
}

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

/* "HH:MM" at *p into minutes; "24:00" only where it may end a day. */
static bool clock_time(const char **p, bool end, int *ret)
{
	int h, m;

	if (!digits(p, 2, &h) || *(*p)++ != ':' || !digits(p, 2, &m))
		return false;
	if (m > 59 || h > 24 || (h == 24 && (m > 0 || !end)))
		return false;
	*ret = h * 60 + m;
	return true;
}

static int set_hours(struct load *l, const char *value)
{
	const char *p = value;
	int start, end;

	if (!clock_time(&p, false, &start) || *p++ != '-' ||
	    !clock_time(&p, true, &end) || *p != '\0')
		return config_fail(l->err, 0,
				   "invalid hours '%s': expected HH:MM-HH:MM "
				   "within one day, e.g. 08:00-17:00",
				   value);
	if (start >= end)
		return config_fail(l->err, 0,
				   "invalid hours '%s': the start must be "
				   "before the end",
				   value);
	l->c->start_ms = start * TIME_MS_PER_M;
	l->c->end_ms = end * TIME_MS_PER_M;
	return 0;
}

/* "YYYY-MM-DD" at *p, within the span, into a day number. */
static bool date(const char **p, int32_t *ret)
{
	int y, m, d;

	if (!digits(p, 4, &y) || *(*p)++ != '-' || !digits(p, 2, &m) ||
	    *(*p)++ != '-' || !digits(p, 2, &d))
		return false;
	if (y < YEAR_FIRST || y > YEAR_LAST || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return false;
	*ret = day_number(y, m, d);
	return true;
}

/* "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD" = a name. */
static int add_holiday(struct load *l, const char *key, const char *value)
{
	struct range *ranges, *rg;
	const char *p = key;
	int32_t first, last;
	bool ok;

	ok = date(&p, &first);
	last = first;
	if (ok && strncmp(p, "..", 2) == 0) {
		p += 2;
		ok = date(&p, &last);
	}
	if (!ok || *p != '\0')
		return config_fail(l->err, 0,
				   "invalid date '%s': expected YYYY-MM-DD or "
				   "YYYY-MM-DD..YYYY-MM-DD, years %d to %d",
				   key, YEAR_FIRST, YEAR_LAST);
	if (last < first)
		return config_fail(l->err, 0,
				   "holiday range '%s' ends before it starts",
				   key);
	if (last - first >= RANGE_MAX_DAYS)
		return config_fail(l->err, 0,
				   "holiday range '%s' is longer than %d days",
				   key, RANGE_MAX_DAYS);
	if (*value == '\0')
		return config_fail(l->err, 0, "empty name for the holiday %s",
				   key);
	if (l->nranges == CALENDAR_MAX_HOLIDAYS)
		return config_fail(l->err, 0, "more than %d holidays",
				   CALENDAR_MAX_HOLIDAYS);
	if (l->nranges == l->nalloc) {
		ranges = reallocarray(l->ranges, l->nalloc ? 2 * l->nalloc : 32,
				      sizeof *ranges);
		if (!ranges)
			return config_nomem(l->err);
		l->ranges = ranges;
		l->nalloc = l->nalloc ? 2 * l->nalloc : 32;
	}
	rg = &l->ranges[l->nranges++];
	rg->first = first;
	rg->last = last;
	rg->line = l->err->line;
	snprintf(rg->text, sizeof rg->text, "%s", key);
	return 0;
}

/* -------------------------------------------------------------- sections */

static const struct {
	const char *name;
	int (*set)(struct load *, const char *);
} keys[] = {
	[K_TIMEZONE] = { "timezone", set_timezone },
	[K_WORKDAYS] = { "workdays", set_workdays },
	[K_HOURS] = { "hours", set_hours },
};

#define NKEYS (sizeof keys / sizeof keys[0])

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/*
 * The holidays as days, sorted and unique. Ranges may overlap (a
 * compensatory day inside a longer break); the same key twice is a
 * mistake, most likely a year left unchanged when a line was copied.
 */
static int end_holidays(struct load *l)
{
	struct calendar *c = l->c;
	size_t i, n = 0, j;
	int32_t d;

	if (l->nranges == 0)
		return 0;
	qsort(l->ranges, l->nranges, sizeof *l->ranges, cmp_range);
	/* Sorted by line among equals: the first of a pair is the earlier. */
	for (i = 0; i < l->nranges; i++) {
		const struct range *rg = &l->ranges[i];

		if (i > 0 && rg[-1].first == rg->first &&
		    rg[-1].last == rg->last)
			return config_fail(l->err, rg->line,
					   "duplicate holiday '%s' "
					   "(first at line %d)",
					   rg->text, rg[-1].line);
		n += (size_t)(rg->last - rg->first) + 1;
	}
	c->holidays = calloc(n, sizeof *c->holidays);
	if (!c->holidays)
		return config_nomem(l->err);
	for (i = 0; i < l->nranges; i++)
		for (d = l->ranges[i].first; d <= l->ranges[i].last; d++)
			c->holidays[c->nholidays++] = d;
	qsort(c->holidays, c->nholidays, sizeof *c->holidays, cmp_day);
	for (i = 0, j = 0; i < c->nholidays; i++)
		if (j == 0 || c->holidays[j - 1] != c->holidays[i])
			c->holidays[j++] = c->holidays[i];
	c->nholidays = j;
	return 0;
}

static int on_header(struct load *l, const char *section)
{
	enum section in;

	if (strcmp(section, "calendar") == 0)
		in = IN_CALENDAR;
	else if (strcmp(section, "holidays") == 0)
		in = IN_HOLIDAYS;
	else
		return config_fail(l->err, 0, "unknown section [%s]", section);
	if (l->sections & (1u << in))
		return config_fail(l->err, 0, "duplicate section [%s]",
				   section);
	l->sections |= 1u << in;
	l->in = in;
	return 0;
}

static int on_key(struct load *l, const char *section, const char *name,
		  const char *value)
{
	size_t k;

	if (l->in == IN_NONE)
		return config_fail(l->err, 0,
				   "key '%s' is outside any [section]", name);
	if (l->in == IN_HOLIDAYS)
		return add_holiday(l, name, value);
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
		return config_fail(l->err, 0, "empty value for %s", name);
	return keys[k].set(l, value);
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
	/* The end of the file. */
	if (!(l->seen & (1u << K_TIMEZONE)))
		return config_fail(l->err, 0, "[calendar] has no timezone");
	return end_holidays(l);
}

/* ------------------------------------------------------------ public API */

void calendar_free(struct calendar *c)
{
	if (!c)
		return;
	free(c->holidays);
	free(c->tr);
	free(c->path);
	free(c);
}

int calendar_load(const char *path, struct calendar **ret,
		  struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct load l = { .err = &e };
	struct calendar *c;
	int r;

	snprintf(e.file, sizeof e.file, "%s", path);
	c = calloc(1, sizeof *c);
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	l.c = c;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto out;
	}
	/* The defaults, parsed as if written, so they cannot disagree. */
	r = set_workdays(&l, DEFAULT_WORKDAYS);
	if (r == 0)
		r = set_hours(&l, DEFAULT_HOURS);
	if (r < 0)
		goto out;
	/* From here on, *err is config_parse_ini()'s to fill. */
	r = config_parse_ini(path, on_line, &l, err);
	if (r < 0) {
		err = NULL;
		goto out;
	}
	*ret = c;
	c = NULL;
out:
	if (r < 0 && err) {
		e.line = 0;
		snprintf(e.msg, sizeof e.msg, "%s", strerror(-r));
		*err = e;
	}
	free(l.ranges);
	calendar_free(c);
	return r;
}

const char *calendar_path(const struct calendar *c)
{
	return c->path;
}

const char *calendar_zone(const struct calendar *c)
{
	return c->zone;
}

int64_t calendar_day_ms(const struct calendar *c)
{
	return c->end_ms - c->start_ms;
}

bool calendar_is_working(const struct calendar *c, instant_t t)
{
	instant_t s, e;
	int64_t d, day;

	if (!in_span(t))
		return false;
	/*
	 * A window can reach into the next local day (24:00, or a change of
	 * offset), and a clock set back over midnight can read the day
	 * before a window that has begun: look one day either side.
	 */
	day = day_of(c, t);
	for (d = day - 1; d <= day + 1; d++)
		if (window(c, d, &s, &e) && s <= t && t < e)
			return true;
	return false;
}

bool calendar_is_holiday(const struct calendar *c, instant_t t)
{
	return in_span(t) && holiday(c, day_of(c, t));
}

int calendar_next_working(const struct calendar *c, instant_t t,
			  instant_t *ret)
{
	instant_t s, e;
	int r;

	if (!in_span(t))
		return -ERANGE;
	r = next_window(c, t, &s, &e);
	if (r < 0)
		return r;
	*ret = s > t ? s : t;
	return 0;
}

int calendar_prev_working(const struct calendar *c, instant_t t,
			  instant_t *ret)
{
	instant_t s, e;
	int r;

	if (!in_span(t))
		return -ERANGE;
	r = prev_window(c, t, &s, &e);
	if (r < 0)
		return r;
	*ret = t < e ? t : e;
	return 0;
}

int calendar_add(const struct calendar *c, instant_t t, int64_t ms,
		 instant_t *ret)
{
	instant_t s, e;
	int r;

	if (ms < 0)
		return -EINVAL;
	if (ms == 0) {
		*ret = t;
		return 0;
	}
	if (!in_span(t))
		return -ERANGE;
	/* Each turn uses up a window; the span's end stops the walk. */
	for (;;) {
		r = next_window(c, t, &s, &e);
		if (r < 0)
			return r;
		if (s > t)
			t = s;
		if (ms <= e - t) {
			*ret = t + ms;
			return 0;
		}
		ms -= e - t;
		t = e;
		if (t >= SPAN_END)
			return -ERANGE;
	}
}

int64_t calendar_between(const struct calendar *c, instant_t a, instant_t b)
{
	instant_t s, e, lo, hi;
	int64_t d, last, sum = 0;

	if (a < SPAN_FIRST)
		a = SPAN_FIRST;
	if (b > SPAN_END)
		b = SPAN_END;
	if (b <= a)
		return 0;
	/* One day either side, as for calendar_is_working(). */
	last = day_of(c, b) + 1;
	for (d = day_of(c, a) - 1; d <= last; d++) {
		if (!window(c, d, &s, &e))
			continue;
		lo = s > a ? s : a;
		hi = e < b ? e : b;
		if (lo < hi)
			sum += hi - lo;
	}
	return sum;
}

/* ------------------------------------------------------------ durations */

/*
 * "<digits>bd" or "<digits>bh": 0 and the count and unit's ms, -EINVAL, or
 * -ERANGE when the digits do not fit (the whole text is still checked, so
 * that a malformed value is -EINVAL whatever its size).
 */
static int parse_business(const char *text, int64_t day_ms, int64_t *n,
			  int64_t *unit)
{
	const char *p = text;
	bool overflow = false;

	*n = 0;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(*n, 10, n) ||
		    __builtin_add_overflow(*n, *p - '0', n))
			overflow = true;
	if (strcmp(p, "bd") == 0)
		*unit = day_ms;
	else if (strcmp(p, "bh") == 0)
		*unit = TIME_MS_PER_H;
	else
		return -EINVAL;
	return overflow ? -ERANGE : 0;
}

bool calendar_is_business(const char *text)
{
	int64_t n, unit;

	return parse_business(text, 1, &n, &unit) != -EINVAL;
}

int calendar_parse_duration(const struct calendar *c, const char *text,
			    int64_t *ret_ms)
{
	int64_t n, unit, ms;
	int r;

	r = parse_business(text, calendar_day_ms(c), &n, &unit);
	if (r < 0)
		return r;
	if (__builtin_mul_overflow(n, unit, &ms))
		return -ERANGE;
	*ret_ms = ms;
	return 0;
}

/* ----------------------------------------------------------- formatting */

char *calendar_format_local(const struct calendar *c, instant_t t, char *buf,
			    size_t size)
{
	int64_t off = calendar_offset(c, t), local, mins;
	struct tm tm;
	time_t secs;
	char sign;

	/* An instant too near the ends of int64_t is shown in UTC. */
	if (__builtin_add_overflow(t, off, &local)) {
		off = 0;
		local = t;
	}
	secs = (time_t)floor_div(local, TIME_MS_PER_S);
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, size, "%lldms", (long long)t);
		return buf;
	}
	/* "+07" as tzdata names such zones; "+0530" with minutes. */
	sign = off < 0 ? '-' : '+';
	mins = (off < 0 ? -off : off) / TIME_MS_PER_M;
	if (mins % 60 == 0)
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %c%02lld",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, sign, (long long)(mins / 60));
	else
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %c%02lld%02lld",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, sign, (long long)(mins / 60),
			 (long long)(mins % 60));
	return buf;
}
