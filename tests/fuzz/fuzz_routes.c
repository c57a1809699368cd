/*
 * fuzz_routes.c - routes.conf: route_load() on the input, without a
 * business calendar and with the bundled config/calendar.conf (loaded once),
 * then what the router does with a table: route_match() on a few reports,
 * route_due() from a few instants.
 *
 * What route.h promises of a loaded table is checked: every rule has a
 * name, an assign and a deadline > 0; reminders are descending and, for a
 * rule's calendar-time deadline, before it; escalation steps are ascending and
 * >= 0; business time only with a calendar; the triage rule goes to the
 * office; route_match() returns 1..max rules of the table.
 */
#include <errno.h>
#include <inttypes.h>

#include "calendar.h"
#include "fuzz.h"
#include "route.h"

#ifndef BATON_SOURCE_DIR
#error "BATON_SOURCE_DIR: the source tree, for config/calendar.conf"
#endif

/* How many rules and schedules route_due() is tried on. */
#define DUE_MAX		4

static struct calendar *cal;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = BATON_SOURCE_DIR "/config/calendar.conf";
	struct config_error err;
	char text[1024];
	int r;

	r = calendar_load(path, &cal, &err);
	if (r < 0) {
		fprintf(stderr, "fuzz_routes: %s\n",
			config_error_text(&err, text, sizeof text));
		exit(1);
	}
	fuzz_file_path();
	return 0;
}

static void check_rule(const struct route_rule *rule, bool with_cal,
		       bool schedule)
{
	size_t i;

	FUZZ_CHECK(rule->name, "route: a rule without a name");
	FUZZ_CHECK(schedule || rule->assign, "route: [rule %s] has no assign",
		   rule->name);
	FUZZ_CHECK(rule->deadline_ms > 0, "route: [%s] deadline %" PRId64,
		   rule->name, rule->deadline_ms);
	FUZZ_CHECK(with_cal || !rule->business,
		   "route: [%s] business time without a calendar", rule->name);
	FUZZ_CHECK(with_cal || !rule->working_hours,
		   "route: [%s] working hours without a calendar", rule->name);
	FUZZ_CHECK(rule->nreminders >= 1 && rule->reminders_ms,
		   "route: [%s] has no reminders", rule->name);
	FUZZ_CHECK(rule->nreminders <= ROUTE_MAX_LIST &&
		   rule->nescalation <= ROUTE_MAX_LIST,
		   "route: [%s] lists of %zu and %zu", rule->name,
		   rule->nreminders, rule->nescalation);
	for (i = 0; i < rule->nreminders; i++) {
		FUZZ_CHECK(rule->reminders_ms[i] > 0,
			   "route: [%s] reminder %" PRId64, rule->name,
			   rule->reminders_ms[i]);
		FUZZ_CHECK(i == 0 ||
			   rule->reminders_ms[i] < rule->reminders_ms[i - 1],
			   "route: [%s] reminders not descending", rule->name);
	}
	/* A schedule's are before its due date, not after its start. */
	FUZZ_CHECK(schedule || rule->business ||
		   rule->reminders_ms[0] < rule->deadline_ms,
		   "route: [%s] reminder %" PRId64 " not before deadline %"
		   PRId64, rule->name, rule->reminders_ms[0],
		   rule->deadline_ms);
	for (i = 0; i < rule->nescalation; i++) {
		FUZZ_CHECK(rule->escalation[i].to &&
			   msg_agency_valid(rule->escalation[i].to),
			   "route: [%s] escalation to a bad agency", rule->name);
		FUZZ_CHECK(rule->escalation[i].after_ms >= 0,
			   "route: [%s] escalation before the deadline",
			   rule->name);
		FUZZ_CHECK(i == 0 || rule->escalation[i].after_ms >=
			   rule->escalation[i - 1].after_ms,
			   "route: [%s] escalation not ascending", rule->name);
	}
}

/* Reports to match: every kind, category and severity, some localities. */
static void match(const struct route_table *t, uint64_t h)
{
	static const char *const localities[] = { NULL, "HN", "HCM", "DN" };
	static const char *const agencies[] = { "mic", "mps-a05", "office",
						"x" };
	const struct route_rule *out[ROUTE_MAX_MATCHES];
	struct msg m = { .type = MSG_REPORT, .id = "r-1", .title = "t" };
	size_t n, i, j, max;

	for (i = 0; i < 8; i++, h >>= 8) {
		m.kind = (enum msg_kind)(1 + (h & 3));
		m.category = (enum msg_category)(1 + ((h >> 2) & 3));
		m.severity = (enum msg_severity)((h >> 4) % 5);
		m.locality = localities[(h >> 5) & 3];
		m.agency = agencies[(h >> 6) & 3];
		m.drill = (h >> 7) & 1;
		max = 1 + i % ROUTE_MAX_MATCHES;
		n = route_match(t, &m, out, max);
		FUZZ_CHECK(n >= 1 && n <= max, "route_match() gave %zu of %zu",
			   n, max);
		for (j = 0; j < n; j++)
			FUZZ_CHECK(out[j] == &t->triage ||
				   (out[j] >= t->rules &&
				    out[j] < t->rules + t->nrules),
				   "route_match() gave a rule not in the table");
	}
}

static void due(const struct route_rule *rule, const struct calendar *c,
		uint64_t h)
{
	/* 2026-11-26 10:00 +07, a Thursday; the span's ends; the input's. */
	const instant_t from[] = {
		INT64_C(1795662000000), 0, INT64_C(4133980800000) - 1,
		(instant_t)(h % INT64_C(4133980800000)),
	};
	instant_t at;
	size_t i;
	int r;

	for (i = 0; i < sizeof from / sizeof from[0]; i++) {
		r = route_due(rule, c, from[i], &at);
		FUZZ_CHECK(r == 0 || r == -ERANGE,
			   "route_due([%s]) returned %d", rule->name, r);
		if (r == 0)
			FUZZ_CHECK(at > from[i], "route_due([%s]) from %" PRId64
				   " is %" PRId64, rule->name, from[i], at);
	}
}

/*
 * The period holding an instant holds it, and is owed by its own name
 * exactly when it lies within the schedule's window.
 */
static void periods(const struct route_schedule *s, uint64_t h)
{
	const instant_t at[] = {
		INT64_C(1795662000000), INT64_C(946684800000),
		INT64_C(946684800000) + (instant_t)(h % INT64_C(3155673600000)),
	};
	char name[MSG_PERIOD_MAX + 1];
	int64_t start, end, ostart, oend;
	bool within;

	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		int r = route_schedule_period(s, at[i], name, sizeof name,
					      &start, &end);

		/* from >= 1970 and a length <= 366d: always a name. */
		FUZZ_CHECK(r == 0, "route: [schedule %s] no period: %d",
			   s->rule.name, r);
		FUZZ_CHECK(start <= at[i] && at[i] < end,
			   "route: [schedule %s] period %s does not hold %"
			   PRId64, s->rule.name, name, at[i]);
		within = start >= s->from && end <= s->until;
		FUZZ_CHECK(route_schedule_owes(s, name, &ostart, &oend) ==
			   within,
			   "route: [schedule %s] owes %s: %d", s->rule.name,
			   name, !within);
		FUZZ_CHECK(!within || (ostart == start && oend == end),
			   "route: [schedule %s] %s bounds differ",
			   s->rule.name, name);
	}
}

static void load(const uint8_t *data, size_t size, const char *path,
		 const struct calendar *c, uint64_t h)
{
	struct route_table *t = NULL;
	struct config_error err;
	char text[1024];
	size_t i;
	int r;

	memset(&err, 0x5a, sizeof err);
	r = route_load(path, c, &t, &err);
	fuzz_check_ini(c ? "route_load(calendar)" : "route_load()", data, size,
		       r, &err);
	if (r < 0) {
		config_error_text(&err, text, sizeof text);
		return;
	}
	FUZZ_CHECK(t && t->office && msg_agency_valid(t->office),
		   "route: no office");
	FUZZ_CHECK(t->nrules <= ROUTE_MAX_RULES &&
		   t->nschedules <= ROUTE_MAX_RULES,
		   "route: %zu rules, %zu schedules", t->nrules, t->nschedules);
	check_rule(&t->triage, c != NULL, false);
	FUZZ_CHECK(strcmp(t->triage.assign, t->office) == 0,
		   "route: triage goes to %s, not the office %s",
		   t->triage.assign, t->office);
	/* A business deadline is a walk over the calendar: a few suffice. */
	for (i = 0; i < t->nrules; i++) {
		check_rule(&t->rules[i], c != NULL, false);
		if (i < DUE_MAX)
			due(&t->rules[i], c, h);
	}
	for (i = 0; i < t->nschedules; i++) {
		const struct route_schedule *s = &t->schedules[i];

		check_rule(&s->rule, c != NULL, true);
		FUZZ_CHECK(s->rule.agencies && s->rule.agencies[0] && s->title,
			   "route: [schedule %s] incomplete", s->rule.name);
		FUZZ_CHECK(s->every >= EVERY_YEAR &&
			   s->every <= EVERY_INTERVAL &&
			   (s->every == EVERY_INTERVAL) == (s->step_ms > 0) &&
			   s->from < s->until,
			   "route: [schedule %s] every %d step %" PRId64,
			   s->rule.name, (int)s->every, s->step_ms);
		periods(s, h);
		FUZZ_CHECK(msg_category_name(s->category),
			   "route: [schedule %s] category %d", s->rule.name,
			   (int)s->category);
		if (i < DUE_MAX)
			due(&s->rule, c, h);
	}
	due(&t->triage, c, h);
	match(t, h);
	route_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write(data, size);
	uint64_t h = fuzz_hash(data, size);

	load(data, size, path, NULL, h);
	load(data, size, path, cal, h);
	return 0;
}
