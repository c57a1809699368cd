/*
 * calendar.h - the office's business calendar: working days, working
 * hours, public holidays, in the office's time zone.
 *
 * Business time is what deadlines written as "3bd" or "16bh" count, and
 * what keeps a reminder from going out at night or on a holiday when a
 * rule asks for working-hours delivery. It lives in calendar.conf (path
 * from [baton] calendar):
 *
 *   [calendar]
 *   timezone = Asia/Ho_Chi_Minh     ; a tzdata name; required
 *   workdays = mon, tue, wed, thu, fri      ; the default
 *   hours = 08:00-17:00             ; one window per working day, local;
 *                                   ;   the default; 24:00 may end it
 *
 *   [holidays]                      ; local dates; a range is inclusive
 *   2026-01-01 = New Year's Day
 *   2026-02-14..2026-02-22 = Lunar New Year (Tet)
 *
 * A working day is a listed weekday that is not a holiday; working time is
 * the hours window of a working day, [start, end). One business day
 * ("1bd") is the length of that window (9 hours with 08:00-17:00), so
 * "3bd" from Monday 10:00 is Thursday 10:00, and "16bh" counts sixteen
 * hours of working time.
 *
 * The zone is read once, at load: its UTC offsets over 1970-2100 are
 * sampled from the C library and tzdata into a table of transitions, so
 * that every function below is a pure function of the loaded calendar (no
 * TZ in the environment, no global state after calendar_load returns).
 * A wall-clock time that a DST change skips is taken as the instant the
 * change happens; one it repeats, as its first occurrence. To read the zone,
 * calendar_load() sets TZ in the environment and puts it back before it
 * returns: call it while no other thread reads the environment or local
 * time.
 *
 * The calendar covers 1970-01-01 to 2101-01-01 UTC: holidays are dates in
 * 1970-2100, and outside that span there is no working time.
 *
 * Ownership: a struct calendar owns everything in it; calendar_free()
 * frees it. Instants are lib/time.h instants (UTC ms).
 */
#ifndef BATON_CALENDAR_H
#define BATON_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "time.h"

#define CALENDAR_MAX_HOLIDAYS	1024	/* lines in [holidays] */
#define CALENDAR_ZONE_MAX	64

struct calendar;

/*
 * Load and check the calendar at path. Every error names the file and
 * line: an unknown section or key, a time zone tzdata does not have, a bad
 * weekday, hours window (start before end, HH:MM, within one day) or date,
 * a range that ends before it starts or is longer than 366 days, the same
 * date or range twice, a missing timezone, too many holidays. A zone
 * exists when TZDIR (default /usr/share/zoneinfo) holds a TZif file of
 * that name.
 * Returns 0 and sets *ret (free with calendar_free()); -ENOENT and other
 * -errno when the file cannot be read; -EINVAL; -ENOMEM.
 */
int calendar_load(const char *path, struct calendar **ret,
		  struct config_error *err);

/* Free a calendar. Takes NULL. */
void calendar_free(struct calendar *c);

/* The path it was loaded from and its zone name ("Asia/Ho_Chi_Minh"). */
const char *calendar_path(const struct calendar *c);
const char *calendar_zone(const struct calendar *c);

/* The length of one business day in ms (the hours window). */
int64_t calendar_day_ms(const struct calendar *c);

/* The zone's offset from UTC at instant t, in ms (+7h: 25200000). */
int64_t calendar_offset(const struct calendar *c, instant_t t);

/* Whether t falls in working time; false outside the span. */
bool calendar_is_working(const struct calendar *c, instant_t t);

/* Whether the local date holding t is a holiday (not merely a day off). */
bool calendar_is_holiday(const struct calendar *c, instant_t t);

/*
 * The first instant of working time at or after t: t itself when it is
 * working time. Returns 0 and sets *ret, or -ERANGE when t is outside the
 * span or there is no working time in the 20 years after t (every day a
 * holiday).
 */
int calendar_next_working(const struct calendar *c, instant_t t,
			  instant_t *ret);

/*
 * The last instant at or before t that ends working time: t itself when it
 * is working time, else the end of the latest working window before t
 * (Friday 17:00 for Saturday 03:00). Returns 0 and sets *ret, or -ERANGE
 * as calendar_next_working().
 */
int calendar_prev_working(const struct calendar *c, instant_t t,
			  instant_t *ret);

/*
 * t moved forward by ms (>= 0) of working time. Time outside working hours
 * does not count: from Friday 16:00, 2 business hours end Monday 09:00;
 * from Saturday, counting starts Monday 08:00. A sum that ends exactly at
 * the end of a window is that end (Monday 08:00 + 9bh is Monday 17:00).
 * ms == 0 returns t unchanged. Returns 0 and sets *ret, -EINVAL (ms < 0),
 * -ERANGE (no working time within 20 years, or past year 2100).
 */
int calendar_add(const struct calendar *c, instant_t t, int64_t ms,
		 instant_t *ret);

/*
 * The working time in [a, b), in ms; 0 when b <= a. For any t and ms that
 * calendar_add() accepts, calendar_between(t, the sum) is ms.
 */
int64_t calendar_between(const struct calendar *c, instant_t a, instant_t b);

/*
 * Parse a business duration: "<digits>bd" (business days: n times
 * calendar_day_ms()) or "<digits>bh" (business hours), into *ret_ms of
 * working time. Returns 0, -EINVAL when text is not one (*ret_ms
 * untouched), -ERANGE when it does not fit.
 */
int calendar_parse_duration(const struct calendar *c, const char *text,
			    int64_t *ret_ms);

/* Whether text looks like a business duration ("3bd", "16bh"), so that a
 * caller without a calendar can say why it refuses it. */
bool calendar_is_business(const char *text);

/*
 * Format t in the calendar's zone for a person: "2026-11-26 08:30 +07"
 * (to the minute, truncated; "+0530" for an offset with minutes). buf must
 * hold CALENDAR_LOCAL_LEN bytes. Returns buf.
 */
#define CALENDAR_LOCAL_LEN 32
char *calendar_format_local(const struct calendar *c, instant_t t, char *buf,
			    size_t size);

#endif
