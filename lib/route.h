/*
 * route.h - the routing rules: which unit handles a report, by when, who is
 * reminded and who is escalated to.
 *
 * Rules live in routes.conf (path from [baton] routes), one INI section per
 * rule, in the order they are tried:
 *
 *   [defaults]                      ; optional; before the first rule
 *   office = office                 ; the triage queue and escalation end
 *   deadline = 72h                  ; for a rule that names none
 *   reminders = 24h, 2h
 *   escalation = office@+0, committee@+48h
 *
 *   [rule key-systems-attacks]      ; "rule NAME", NAME unique
 *   kind = incident                 ; matchers: each optional, a list means
 *   category = cybersecurity        ;   any of; all given must match
 *   severity = >= high              ; exact ("high", "low, medium") or at
 *   locality = HN, HCM              ;   least (">= high")
 *   agency = mic, mps               ; the reporting agency
 *   drill = yes                     ; yes or no
 *   assign = mps-a05                ; consequences: required
 *   deadline = 24h                  ; from acceptance; default from [defaults]
 *   reminders = 12h, 2h             ; before the deadline
 *   escalation = mps@+0, office@+12h, committee@+48h   ; after it
 *   notify = mic, office            ; told of the new task as well
 *   continue = yes                  ; also try the rules below (default no)
 *
 * A report that no rule matches goes to the triage rule: assigned to the
 * office with the defaults. Matching is a pure function of the report, so
 * `batonctl routes test` shows exactly what the router will do.
 *
 * Durations are lib/time.h durations ("90s", "36h", "3d"). A deadline (a
 * schedule's due) may be business time instead ("3bd", "16bh", counted in
 * the working hours of the business calendar, lib/calendar.h), when
 * [baton] calendar names one; without it, and in reminders and escalation
 * steps, business time is refused with a message saying so, never
 * approximated. "working_hours = yes" (in a rule, a schedule or
 * [defaults]) asks for reminders in working time only: the deadline
 * daemon moves one that would fall at night or on a holiday.
 *
 * Ownership: a struct route_table owns everything in it; route_free() frees
 * it. Matching returns pointers into the table.
 */
#ifndef BATON_ROUTE_H
#define BATON_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "config.h"
#include "msg.h"

#define ROUTE_MAX_RULES		1024
#define ROUTE_MAX_LIST		16	/* entries in any list */
#define ROUTE_MAX_MATCHES	8	/* rules one report can match */
#define ROUTE_TRIAGE		"triage"

/* An escalation step: tell 'to' when the deadline is 'after_ms' past. */
struct route_step {
	char *to;			/* an agency name */
	int64_t after_ms;		/* >= 0 */
};

struct route_rule {
	char *name;			/* "key-systems-attacks", or "triage" */
	int line;			/* of its [rule NAME] header; 0: triage */

	/* matchers: a set given as a bitmask of enum values (1u << v), 0: any */
	unsigned kinds;
	unsigned categories;
	unsigned severities;		/* ">= high": high and critical */
	char **localities;		/* NULL-terminated, or NULL: any */
	char **agencies;		/* the reporting agency; NULL: any */
	int drill;			/* -1 any, 0 not a drill, 1 a drill */

	/* consequences */
	char *assign;			/* agency the task goes to */
	int64_t deadline_ms;		/* from acceptance, > 0 */
	bool business;			/* deadline_ms is working time */
	bool working_hours;		/* reminders in working time only */
	int64_t *reminders_ms;		/* before the deadline, descending */
	size_t nreminders;
	struct route_step *escalation;	/* ascending after_ms */
	size_t nescalation;
	char **notify;			/* NULL-terminated, or NULL */
	bool cont;			/* also try the rules below */
};

/* How often a periodic report is owed. */
enum route_every {
	EVERY_NONE = 0,
	EVERY_YEAR,			/* period "2026" */
	EVERY_HALF,			/* "2026-H2" */
	EVERY_QUARTER,			/* "2026-Q3" */
	EVERY_MONTH,			/* "2026-07" */
	EVERY_WEEK,			/* "2026-W05", ISO 8601 weeks */
	EVERY_DAY,			/* "2026-11-26" */
	EVERY_INTERVAL,			/* "20261126T080000Z": its start */
};

/*
 * A periodic report that agencies owe:
 *
 *   [schedule quarterly-key-areas]  ; NAME as for rules, at most 32 bytes
 *   agency = mic, mps, hanoi        ; who owes it (each their own)
 *   every = quarter                 ; year, half, quarter, month, week,
 *                                   ; day, or a length (30s, 15m, 2h)
 *   from = 2026-11-26T08:00:00Z     ; optional: owed from then on
 *   until = 2026-11-26T17:00:00Z    ; optional: and no later
 *   due = 15d                       ; after the period ends
 *   category = information-security ; exactly one
 *   title = Quarterly report on the four key areas
 *   reminders = 7d, 1d              ; before it is due (else [defaults])
 *   escalation = office@+0          ; after (else [defaults])
 *   notify = office
 *
 * The route_rule inside holds what rules and schedules share: agencies
 * (who owes it), deadline_ms (due after the period's end), reminders,
 * escalation, notify; its assign is NULL (each agency owes its own).
 * Periods are UTC for now: the office's time zone comes with the calendar.
 *
 * A length makes periods of that many whole seconds counted from from (a
 * situation report every hour of a drill), or from midnight UTC when from
 * is not set, and then the length must divide a day. Only the periods
 * that lie wholly within [from, until) are owed.
 */
struct route_schedule {
	struct route_rule rule;
	enum route_every every;
	int64_t step_ms;		/* EVERY_INTERVAL: the length */
	int64_t from;			/* INT64_MIN when not set */
	int64_t until;			/* INT64_MAX when not set */
	enum msg_category category;
	char *title;
};

#define ROUTE_SCHEDULE_NAME_MAX	32

struct route_table {
	char *path;
	char *office;			/* [defaults] office; default "office" */
	struct route_rule *rules;
	size_t nrules;
	struct route_rule triage;	/* for reports no rule matches */
	struct route_schedule *schedules;
	size_t nschedules;
};

/*
 * Load and check the rules in path against calendar cal (NULL: none).
 * Every error names the file and line: unknown section or key, a bad value
 * (with the value), a duplicate rule name, a rule without assign, business
 * time without a calendar or outside a deadline, a reminder not before the
 * deadline, [defaults] after a rule, more than ROUTE_MAX_RULES rules or
 * ROUTE_MAX_LIST entries.
 * Returns 0 and sets *ret (free with route_free()), -ENOENT and other
 * -errno when the file cannot be read, -EINVAL, -ENOMEM.
 */
int route_load(const char *path, const struct calendar *cal,
	       struct route_table **ret, struct config_error *err);

/*
 * The deadline rule r sets for what starts at from: from plus deadline_ms,
 * of working time in calendar cal when r->business. Returns 0 and sets
 * *due, -EINVAL (business time, no calendar), -ERANGE.
 */
int route_due(const struct route_rule *r, const struct calendar *cal,
	      instant_t from, instant_t *due);

/* Free a table. Takes NULL. */
void route_free(struct route_table *t);

/*
 * The rules report m matches, in order: the first match, and the ones after
 * it for as long as each matched rule says continue; at most max (>= 1,
 * and at most ROUTE_MAX_MATCHES). The triage rule when none matches.
 * m is a report (MSG_REPORT or MSG_REPORT_ACCEPTED); its agency is the
 * reporting agency. Returns the number of rules written to out (>= 1).
 */
size_t route_match(const struct route_table *t, const struct msg *m,
		   const struct route_rule **out, size_t max);

/*
 * The calendar period of kind every (EVERY_YEAR .. EVERY_DAY) that holds
 * instant t: its name ("2026-Q3", MSG_PERIOD_MAX + 1 bytes in name), its
 * first instant (*start) and the first instant after it (*end). Returns 0,
 * -EINVAL (bad every, or EVERY_INTERVAL: see route_schedule_period()).
 */
int route_period_at(enum route_every every, int64_t t, char *name,
		    size_t size, int64_t *start, int64_t *end);

/*
 * The kind of a period name ("2026-Q3": EVERY_QUARTER) and its bounds.
 * An interval's name ("20261126T080000Z") gives only its start: *end is
 * *start, since the length is the schedule's. Returns the kind, or
 * EVERY_NONE when name is not a period.
 */
enum route_every route_period_parse(const char *name, int64_t *start,
				    int64_t *end);

/*
 * The period of schedule sc that holds instant t, of any kind, as
 * route_period_at() gives it; whether it is owed is for the caller to
 * ask of sc->from and sc->until. Returns 0, -EINVAL, -ERANGE (an
 * interval starting outside the years 1000-9999 has no name).
 */
int route_schedule_period(const struct route_schedule *sc, int64_t t,
			  char *name, size_t size, int64_t *start,
			  int64_t *end);

/*
 * Whether name is a period sc owes: of its kind, on its step, within
 * [from, until). Sets *start and *end when it is.
 */
bool route_schedule_owes(const struct route_schedule *sc, const char *name,
			 int64_t *start, int64_t *end);

/* The obligation task id of agency's report for period under schedule s,
 * "P-<schedule>-<agency>-<period>", into buf (MSG_TASK_MAX + 1). */
char *route_obligation_id(const struct route_schedule *s, const char *agency,
			  const char *period, char *buf, size_t size);

#endif
