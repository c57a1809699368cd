/*
 * time.h - UTC instants and durations.
 *
 * Every instant in Baton is milliseconds since the Unix epoch, UTC, in an
 * int64_t (instant_t). Local time exists only at the edges: the business
 * calendar and what a person reads. Durations are written the way an operator
 * writes them in a config file: "90s", "36h", "3d", "500ms", "2w", or a sum
 * such as "1h30m".
 */
#ifndef BATON_TIME_H
#define BATON_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t instant_t;	/* ms since the epoch, UTC */

#define TIME_MS_PER_S	INT64_C(1000)
#define TIME_MS_PER_M	(60 * TIME_MS_PER_S)
#define TIME_MS_PER_H	(60 * TIME_MS_PER_M)
#define TIME_MS_PER_D	(24 * TIME_MS_PER_H)

/* The current instant (CLOCK_REALTIME). Never fails. */
instant_t time_now(void);

/* Milliseconds on CLOCK_MONOTONIC, for timeouts and rates. Never fails. */
int64_t time_mono(void);

/*
 * Parse a duration: one or more <digits><unit> terms, unit one of ms, s, m,
 * h, d, w; no sign, no spaces, no bare number. "1h30m" is 5400000.
 * Returns 0 and sets *ret_ms, -EINVAL if text is not a duration (*ret_ms is
 * untouched), -ERANGE if it does not fit in an int64_t.
 */
int time_parse_duration(const char *text, int64_t *ret_ms);

/*
 * Format a duration the short way ("1h30m", "250ms", "0s") into buf.
 * Returns buf. Negative durations get a leading '-'. Never fails; the
 * output is truncated to size - 1 bytes.
 */
char *time_format_duration(int64_t ms, char *buf, size_t size);

/*
 * Parse an instant written as RFC 3339 / ISO 8601 in UTC
 * ("2026-11-25T08:30:00Z", "2026-11-25T08:30:00.250Z", "2026-11-25" for
 * midnight UTC) or as a plain integer of Unix milliseconds.
 * Returns 0 and sets *ret, or -EINVAL.
 */
int time_parse_instant(const char *text, instant_t *ret);

/*
 * Format an instant as "2026-11-25T08:30:00.250Z" (always UTC, always with
 * milliseconds). buf must hold TIME_INSTANT_LEN bytes. Returns buf.
 */
#define TIME_INSTANT_LEN 32
char *time_format_instant(instant_t t, char *buf, size_t size);

#endif
