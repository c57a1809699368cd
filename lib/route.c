/*
 * route.c - routes.conf into a struct route_table, and a report matched
 * against it.
 *
 * config_parse_ini() reads the file and hands us one header or key at a
 * time with its line, so that every mistake is reported where it is. A
 * section is finished when the next header or the end of the file comes:
 * only then is it known whether a rule named assign, and which deadline its
 * reminders must come before.
 *
 * [defaults] is read straight into the triage rule, which starts out with
 * the built-in defaults, parsed from their text by the same setters as a
 * value from the file. Each rule copies from it what it does not give, so
 * every rule owns all of its values and matching never looks elsewhere.
 * That is why [defaults] must come before the first rule.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"
#include "time.h"

/* The built-in [defaults]; escalation is "<office>@+0". */
#define DEFAULT_OFFICE		"office"
#define DEFAULT_DEADLINE	"72h"
#define DEFAULT_REMINDERS	"24h, 2h"

/* A value as written, kept for messages; longer ones are cut. */
#define TEXT_MAX		64

/* -------------------------------------------------------- parsing state */

enum section {
	IN_NONE,		/* before the first header */
	IN_DEFAULTS,
	IN_RULE,
	IN_SCHEDULE,		/* its rule is the schedule's */
};

struct load {
	struct route_table *t;
	const struct calendar *cal;	/* NULL: business time refused */
	size_t nalloc;			/* room in t->rules */
	struct config_error *err;	/* at the line being read */

	/* The section being read; its rule is &t->triage for [defaults]. */
	enum section in;
	struct route_rule *rule;
	unsigned seen;			/* keys given in it: 1u << enum key */
	int deadline_line, reminders_line;
	char deadline[TEXT_MAX];	/* its deadline as written */
	char reminder[TEXT_MAX];	/* its longest reminder as written */

	size_t nsalloc;			/* room in t->schedules */
	bool defaults_seen;		/* a [defaults] header was read */
	bool defaults_done;		/* the triage rule is complete */
	char def_deadline[TEXT_MAX];	/* [defaults]' deadline, written */
	char def_reminder[TEXT_MAX];	/* and longest reminder */
};

static void copy_text(char *dst, const char *src)
{
	snprintf(dst, TEXT_MAX, "%s", src);
}

/* ---------------------------------------------------------------- lists */

/* A comma-separated value cut into its items, blanks around them removed. */
struct list {
	char *buf;
	char *item[ROUTE_MAX_LIST];
	size_t n;
};

static int split(struct load *l, const char *key, const char *value,
		 struct list *li)
{
	char *s, *next, *end;
	int r;

	li->n = 0;
	li->buf = strdup(value);
	if (!li->buf)
		return config_nomem(l->err);
	for (s = li->buf;; s = next + 1) {
		next = strchr(s, ',');
		if (next)
			*next = '\0';
		s += strspn(s, " \t");
		end = s + strlen(s);
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*s == '\0') {
			r = config_fail(l->err, 0,
					"empty item in the list '%s' for %s",
					value, key);
			break;
		}
		if (li->n == ROUTE_MAX_LIST) {
			r = config_fail(l->err, 0,
					"more than %d items in the list for %s",
					ROUTE_MAX_LIST, key);
			break;
		}
		li->item[li->n++] = s;
		if (!next)
			return 0;
	}
	free(li->buf);
	li->buf = NULL;
	return r;
}

static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The items as a NULL-terminated vector of new strings, into *field. */
static int set_strv(struct load *l, struct list *li, char ***field)
{
	char **v;
	size_t i;

	v = calloc(li->n + 1, sizeof *v);
	if (!v)
		return config_nomem(l->err);
	for (i = 0; i < li->n; i++) {
		v[i] = strdup(li->item[i]);
		if (!v[i]) {
			free_strv(v);
			return config_nomem(l->err);
		}
	}
	free_strv(*field);
	*field = v;
	return 0;
}

/* --------------------------------------------------------------- values */

static bool bad_agency(struct load *l, const char *key, const char *name,
		       int *r)
{
	if (msg_agency_valid(name))
		return false;
	*r = config_fail(l->err, 0,
			 "invalid agency name '%s' for %s: expected 1-64 "
			 "characters of A-Z a-z 0-9 . _ -",
			 name, key);
	return true;
}

/*
 * A duration as lib/time.h has it, or "0" where zero is allowed. Business
 * time is named as such wherever it is refused, so that it never reads as
 * a typo.
 */
static int parse_duration(struct load *l, const char *key, const char *text,
			  bool zero, int64_t *ms)
{
	int r;

	if (calendar_is_business(text))
		return config_fail(l->err, 0,
				   "business time (%s) is for deadline and due "
				   "only; %s is calendar time (e.g. 24h)",
				   text, key);
	if (zero && strcmp(text, "0") == 0) {
		*ms = 0;
		return 0;
	}
	r = time_parse_duration(text, ms);
	if (r == -ERANGE)
		return config_fail(l->err, 0,
				   "duration '%s' for %s is too large", text,
				   key);
	if (r < 0)
		return config_fail(l->err, 0,
				   "invalid duration '%s' for %s: expected "
				   "e.g. 90s, 36h or 3d",
				   text, key);
	return 0;
}

/* A set of enum values named by msg.h: kinds, categories, severities. */
struct names {
	int (*from)(const char *);
	const char *(*name)(int);
};

static int kind_from(const char *s)
{
	return (int)msg_kind_from(s);
}

static const char *kind_name(int v)
{
	return msg_kind_name((enum msg_kind)v);
}

static int category_from(const char *s)
{
	return (int)msg_category_from(s);
}

static const char *category_name(int v)
{
	return msg_category_name((enum msg_category)v);
}

static int severity_from(const char *s)
{
	return (int)msg_severity_from(s);
}

static const char *severity_name(int v)
{
	return msg_severity_name((enum msg_severity)v);
}

static const struct names kinds = { kind_from, kind_name };
static const struct names categories = { category_from, category_name };
static const struct names severities = { severity_from, severity_name };

/* "a, b, c or d": every name of the set, for a message. */
static char *expected(const struct names *set, char *buf, size_t size)
{
	size_t len = 0;
	int v;

	buf[0] = '\0';
	for (v = 1; set->name(v) && len < size; v++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					v == 1 ? "" :
					set->name(v + 1) ? ", " : " or ",
					set->name(v));
	return buf;
}

static int set_names(struct load *l, const struct names *set,
		     const char *key, const char *value, unsigned *mask)
{
	char names[128];
	struct list li;
	unsigned m = 0;
	size_t i;
	int v, r;

	r = split(l, key, value, &li);
	if (r < 0)
		return r;
	for (i = 0; i < li.n; i++) {
		v = set->from(li.item[i]);
		if (v <= 0) {
			r = config_fail(l->err, 0, "invalid %s '%s': expected "
					"%s", key, li.item[i],
					expected(set, names, sizeof names));
			break;
		}
		m |= 1u << v;
	}
	free(li.buf);
	if (r == 0)
		*mask = m;
	return r;
}

/* ---------------------------------------------------------------- setters */

static int set_kind(struct load *l, struct route_rule *rule, const char *key,
		    const char *value)
{
	return set_names(l, &kinds, key, value, &rule->kinds);
}

static int set_category(struct load *l, struct route_rule *rule,
			const char *key, const char *value)
{
	return set_names(l, &categories, key, value, &rule->categories);
}

/* Exact names ("low, medium"), or at least one (">= high"). */
static int set_severity(struct load *l, struct route_rule *rule,
			const char *key, const char *value)
{
	const char *least;
	char names[128];
	int v;

	if (strncmp(value, ">=", 2) != 0)
		return set_names(l, &severities, key, value,
				 &rule->severities);
	least = value + 2 + strspn(value + 2, " \t");
	if (strchr(least, ','))
		return config_fail(l->err, 0,
				   "invalid severity '%s': '>=' takes one "
				   "severity, e.g. '>= high'",
				   value);
	v = severity_from(least);
	if (v <= 0)
		return config_fail(l->err, 0,
				   "invalid severity '%s': expected %s", least,
				   expected(&severities, names, sizeof names));
	rule->severities = 0;
	for (; severity_name(v); v++)
		rule->severities |= 1u << v;
	return 0;
}

static int set_locality(struct load *l, struct route_rule *rule,
			const char *key, const char *value)
{
	struct list li;
	size_t i;
	int r;

	r = split(l, key, value, &li);
	if (r < 0)
		return r;
	for (i = 0; i < li.n && r == 0; i++)
		if (strlen(li.item[i]) > MSG_LOCALITY_MAX ||
		    strpbrk(li.item[i], " \t"))
			r = config_fail(l->err, 0,
					"invalid locality '%s': expected 1-%d "
					"bytes without blanks or commas",
					li.item[i], MSG_LOCALITY_MAX);
	if (r == 0)
		r = set_strv(l, &li, &rule->localities);
	free(li.buf);
	return r;
}

/* A list of agency names into *field. */
static int set_agencies(struct load *l, const char *key, const char *value,
			char ***field)
{
	struct list li;
	size_t i;
	int r;

	r = split(l, key, value, &li);
	if (r < 0)
		return r;
	for (i = 0; i < li.n; i++)
		if (bad_agency(l, key, li.item[i], &r))
			break;
	if (r == 0)
		r = set_strv(l, &li, field);
	free(li.buf);
	return r;
}

static int set_agency(struct load *l, struct route_rule *rule,
		      const char *key, const char *value)
{
	return set_agencies(l, key, value, &rule->agencies);
}

static int set_notify(struct load *l, struct route_rule *rule,
		      const char *key, const char *value)
{
	return set_agencies(l, key, value, &rule->notify);
}

/* One agency name into a new string at *field. */
static int set_name(struct load *l, const char *key, const char *value,
		    char **field)
{
	char *s;
	int r;

	if (bad_agency(l, key, value, &r))
		return r;
	s = strdup(value);
	if (!s)
		return config_nomem(l->err);
	free(*field);
	*field = s;
	return 0;
}

static int set_assign(struct load *l, struct route_rule *rule,
		      const char *key, const char *value)
{
	return set_name(l, key, value, &rule->assign);
}

static int set_office(struct load *l, struct route_rule *rule,
		      const char *key, const char *value)
{
	return set_name(l, key, value, &l->t->office);
}

static int parse_bool(struct load *l, const char *key, const char *value,
		      bool *ret)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
		*ret = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
		*ret = false;
	else
		return config_fail(l->err, 0,
				   "invalid %s '%s': expected yes, no, true "
				   "or false",
				   key, value);
	return 0;
}

static int set_drill(struct load *l, struct route_rule *rule,
		     const char *key, const char *value)
{
	bool b = false;
	int r;

	r = parse_bool(l, key, value, &b);
	if (r == 0)
		rule->drill = b;
	return r;
}

static int set_continue(struct load *l, struct route_rule *rule,
			const char *key, const char *value)
{
	return parse_bool(l, key, value, &rule->cont);
}

static int set_working_hours(struct load *l, struct route_rule *rule,
			     const char *key, const char *value)
{
	int r = parse_bool(l, key, value, &rule->working_hours);

	if (r == 0 && rule->working_hours && !l->cal)
		return config_fail(l->err, 0,
				   "working_hours needs the business calendar: "
				   "set [baton] calendar in baton.conf");
	return r;
}

static int set_deadline(struct load *l, struct route_rule *rule,
			const char *key, const char *value)
{
	bool business = calendar_is_business(value);
	int64_t ms;
	int r;

	if (business && !l->cal)
		return config_fail(l->err, 0,
				   "business time (%s) needs the business "
				   "calendar: set [baton] calendar in "
				   "baton.conf",
				   value);
	if (business) {
		r = calendar_parse_duration(l->cal, value, &ms);
		if (r == -ERANGE)
			return config_fail(l->err, 0,
					   "duration '%s' for %s is too large",
					   value, key);
		if (r < 0)
			return config_fail(l->err, 0,
					   "invalid duration '%s' for %s: "
					   "expected e.g. 3bd or 16bh",
					   value, key);
	} else {
		r = parse_duration(l, key, value, false, &ms);
	}
	if (r < 0)
		return r;
	if (ms <= 0)
		return config_fail(l->err, 0,
				   "invalid deadline '%s': must be longer "
				   "than 0",
				   value);
	rule->deadline_ms = ms;
	rule->business = business;
	l->deadline_line = l->err->line;
	copy_text(l->deadline, value);
	return 0;
}

/* Before the deadline, longest first; whether they are is checked later. */
static int set_reminders(struct load *l, struct route_rule *rule,
			 const char *key, const char *value)
{
	const char *longest = NULL;
	struct list li;
	int64_t *ms, v;
	size_t i, j;
	int r;

	r = split(l, key, value, &li);
	if (r < 0)
		return r;
	ms = calloc(li.n, sizeof *ms);
	if (!ms) {
		free(li.buf);
		return config_nomem(l->err);
	}
	for (i = 0; i < li.n; i++) {
		r = parse_duration(l, "reminders", li.item[i], false, &v);
		if (r < 0)
			break;
		if (v <= 0) {
			r = config_fail(l->err, 0,
					"invalid reminder '%s': must be longer "
					"than 0",
					li.item[i]);
			break;
		}
		/* Insert in descending order. */
		for (j = i; j > 0 && ms[j - 1] <= v; j--)
			if (ms[j - 1] == v) {
				r = config_fail(l->err, 0,
						"reminder '%s' is given twice",
						li.item[i]);
				break;
			}
		if (r < 0)
			break;
		memmove(ms + j + 1, ms + j, (i - j) * sizeof *ms);
		ms[j] = v;
		if (j == 0)
			longest = li.item[i];
	}
	if (r == 0) {
		free(rule->reminders_ms);
		rule->reminders_ms = ms;
		rule->nreminders = li.n;
		l->reminders_line = l->err->line;
		copy_text(l->reminder, longest);
	} else {
		free(ms);
	}
	free(li.buf);
	return r;
}

static void free_steps(struct route_step *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(s[i].to);
	free(s);
}

/* "TARGET@+DURATION, ...", kept in ascending order of time. */
static int set_escalation(struct load *l, struct route_rule *rule,
			  const char *key, const char *value)
{
	struct route_step *steps, step;
	struct list li;
	size_t i, j;
	char *at;
	int r;

	r = split(l, key, value, &li);
	if (r < 0)
		return r;
	steps = calloc(li.n, sizeof *steps);
	if (!steps) {
		free(li.buf);
		return config_nomem(l->err);
	}
	for (i = 0; i < li.n; i++) {
		at = strchr(li.item[i], '@');
		if (!at || at[1] != '+') {
			r = config_fail(l->err, 0,
					"invalid escalation step '%s': "
					"expected AGENCY@+DURATION, e.g. "
					"office@+12h",
					li.item[i]);
			break;
		}
		*at = '\0';
		if (bad_agency(l, key, li.item[i], &r))
			break;
		r = parse_duration(l, key, at + 2, true, &step.after_ms);
		if (r < 0)
			break;
		step.to = strdup(li.item[i]);
		if (!step.to) {
			r = config_nomem(l->err);
			break;
		}
		/* Insert after the steps that are not later: stable. */
		for (j = i; j > 0 && steps[j - 1].after_ms > step.after_ms;
		     j--)
			;
		memmove(steps + j + 1, steps + j, (i - j) * sizeof *steps);
		steps[j] = step;
	}
	if (r == 0) {
		free_steps(rule->escalation, rule->nescalation);
		rule->escalation = steps;
		rule->nescalation = li.n;
	} else {
		free_steps(steps, i);
	}
	free(li.buf);
	return r;
}

/* A schedule's own keys; its rule is the first member of the schedule. */
static const char *const every_names[] = {
	[EVERY_YEAR] = "year", [EVERY_HALF] = "half",
	[EVERY_QUARTER] = "quarter", [EVERY_MONTH] = "month",
	[EVERY_WEEK] = "week", [EVERY_DAY] = "day",
};

static int set_every(struct load *l, struct route_rule *rule,
		     const char *key, const char *value)
{
	struct route_schedule *sc = (struct route_schedule *)rule;
	int64_t ms;

	for (int e = EVERY_YEAR; e <= EVERY_DAY; e++)
		if (strcmp(value, every_names[e]) == 0) {
			sc->every = e;
			sc->step_ms = 0;
			return 0;
		}
	/* An interval's period is named by its start to the second. */
	if (time_parse_duration(value, &ms) == 0 && ms >= 1000 &&
	    ms % 1000 == 0 && ms <= 366 * TIME_MS_PER_D) {
		sc->every = EVERY_INTERVAL;
		sc->step_ms = ms;
		return 0;
	}
	return config_fail(l->err, 0,
			   "invalid every '%s': expected year, half, "
			   "quarter, month, week, day or a length in whole "
			   "seconds up to 366d (e.g. 30s, 15m, 2h)",
			   value);
}

/* from and until: an instant to the second, as period names have it. */
static int set_window(struct load *l, struct route_rule *rule,
		      const char *key, const char *value)
{
	struct route_schedule *sc = (struct route_schedule *)rule;
	instant_t t;

	if (time_parse_instant(value, &t) < 0 || t % 1000 != 0 || t < 0)
		return config_fail(l->err, 0,
				   "invalid %s '%s': expected an instant in "
				   "UTC to the second from 1970 on, e.g. "
				   "2026-11-26T08:00:00Z",
				   key, value);
	if (strcmp(key, "from") == 0)
		sc->from = t;
	else
		sc->until = t;
	return 0;
}

static int set_title(struct load *l, struct route_rule *rule,
		     const char *key, const char *value)
{
	struct route_schedule *sc = (struct route_schedule *)rule;

	if (strlen(value) > MSG_TITLE_MAX ||
	    !msg_utf8_valid(value, strlen(value)))
		return config_fail(l->err, 0,
				   "invalid title: at most %d bytes of UTF-8",
				   MSG_TITLE_MAX);
	free(sc->title);
	sc->title = strdup(value);
	return sc->title ? 0 : config_nomem(l->err);
}

/* ------------------------------------------------------------------ keys */

enum key {
	K_KIND, K_CATEGORY, K_SEVERITY, K_LOCALITY, K_AGENCY, K_DRILL,
	K_ASSIGN, K_DEADLINE, K_REMINDERS, K_ESCALATION, K_NOTIFY,
	K_CONTINUE, K_OFFICE, K_EVERY, K_DUE, K_TITLE, K_WORKING_HOURS,
	K_FROM, K_UNTIL,
};

#define RULE		(1u << IN_RULE)
#define DEFAULTS	(1u << IN_DEFAULTS)
#define SCHEDULE	(1u << IN_SCHEDULE)

static const struct {
	const char *name;
	unsigned in;		/* 1u << enum section: where it may be */
	int (*set)(struct load *, struct route_rule *, const char *,
		   const char *);
} keys[] = {
	[K_KIND] = { "kind", RULE, set_kind },
	[K_CATEGORY] = { "category", RULE | SCHEDULE, set_category },
	[K_SEVERITY] = { "severity", RULE, set_severity },
	[K_LOCALITY] = { "locality", RULE, set_locality },
	[K_AGENCY] = { "agency", RULE | SCHEDULE, set_agency },
	[K_DRILL] = { "drill", RULE, set_drill },
	[K_ASSIGN] = { "assign", RULE, set_assign },
	[K_DEADLINE] = { "deadline", RULE | DEFAULTS, set_deadline },
	[K_REMINDERS] = { "reminders", RULE | DEFAULTS | SCHEDULE,
			  set_reminders },
	[K_ESCALATION] = { "escalation", RULE | DEFAULTS | SCHEDULE,
			   set_escalation },
	[K_NOTIFY] = { "notify", RULE | SCHEDULE, set_notify },
	[K_CONTINUE] = { "continue", RULE, set_continue },
	[K_OFFICE] = { "office", DEFAULTS, set_office },
	[K_EVERY] = { "every", SCHEDULE, set_every },
	[K_DUE] = { "due", SCHEDULE, set_deadline },
	[K_TITLE] = { "title", SCHEDULE, set_title },
	[K_WORKING_HOURS] = { "working_hours", RULE | DEFAULTS | SCHEDULE,
			      set_working_hours },
	[K_FROM] = { "from", SCHEDULE, set_window },
	[K_UNTIL] = { "until", SCHEDULE, set_window },
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* ------------------------------------------------------------- sections */

static int copy_reminders(struct load *l, struct route_rule *to,
			  const struct route_rule *from)
{
	to->reminders_ms = malloc(from->nreminders * sizeof *to->reminders_ms);
	if (!to->reminders_ms)
		return config_nomem(l->err);
	memcpy(to->reminders_ms, from->reminders_ms,
	       from->nreminders * sizeof *to->reminders_ms);
	to->nreminders = from->nreminders;
	return 0;
}

static int copy_escalation(struct load *l, struct route_rule *to,
			   const struct route_rule *from)
{
	size_t i;

	to->escalation = calloc(from->nescalation, sizeof *to->escalation);
	if (!to->escalation)
		return config_nomem(l->err);
	for (i = 0; i < from->nescalation; i++) {
		to->escalation[i].to = strdup(from->escalation[i].to);
		if (!to->escalation[i].to) {
			free_steps(to->escalation, i);
			to->escalation = NULL;
			return config_nomem(l->err);
		}
		to->escalation[i].after_ms = from->escalation[i].after_ms;
	}
	to->nescalation = from->nescalation;
	return 0;
}

/*
 * The section's longest reminder must come before its deadline, whichever
 * of them it gave itself. from: where the reminders came from when the
 * section gave none.
 */
static int check_reminders(struct load *l, int64_t deadline,
			   int64_t longest, const char *from)
{
	bool own = l->seen & (1u << K_REMINDERS);

	/*
	 * A business deadline spans more calendar time than it counts, by
	 * how much depends on the day: a reminder that turns out to come
	 * before the task began is dropped by the deadline daemon instead.
	 */
	if (longest < deadline || l->rule->business)
		return 0;
	return config_fail(l->err, own ? l->reminders_line : l->deadline_line,
			   "reminder %s%s is not before the deadline %s",
			   l->reminder, own ? "" : from, l->deadline);
}

/* The triage rule is complete: [defaults] is over, or there is none. */
static int end_defaults(struct load *l)
{
	struct route_table *t = l->t;
	struct route_rule *d = &t->triage;
	int r;

	r = check_reminders(l, d->deadline_ms, d->reminders_ms[0],
			    " (the default)");
	if (r < 0)
		return r;
	if (!(l->seen & (1u << K_ESCALATION))) {
		free_steps(d->escalation, d->nescalation);
		d->nescalation = 0;
		d->escalation = calloc(1, sizeof *d->escalation);
		if (!d->escalation)
			return config_nomem(l->err);
		d->escalation[0].to = strdup(t->office);
		if (!d->escalation[0].to)
			return config_nomem(l->err);
		d->nescalation = 1;
	}
	d->assign = strdup(t->office);
	if (!d->assign)
		return config_nomem(l->err);
	copy_text(l->def_deadline, l->deadline);
	copy_text(l->def_reminder, l->reminder);
	l->defaults_done = true;
	return 0;
}

/*
 * What a rule or schedule did not give itself comes from [defaults]: the
 * deadline (a schedule's "due", key deadline_key), reminders, escalation.
 */
static int inherit(struct load *l, struct route_rule *rule,
		   enum key deadline_key)
{
	const struct route_rule *d = &l->t->triage;
	int r;

	if (!(l->seen & (1u << deadline_key))) {
		rule->deadline_ms = d->deadline_ms;
		rule->business = d->business;
	}
	if (!(l->seen & (1u << K_WORKING_HOURS)))
		rule->working_hours = d->working_hours;
	if (!(l->seen & (1u << K_REMINDERS))) {
		r = copy_reminders(l, rule, d);
		if (r < 0)
			return r;
	}
	if (!(l->seen & (1u << K_ESCALATION)))
		return copy_escalation(l, rule, d);
	return 0;
}

/* A rule is complete: it has an assign, and the rest from [defaults]. */
static int end_rule(struct load *l)
{
	struct route_rule *rule = l->rule;
	int r;

	if (!rule->assign)
		return config_fail(l->err, rule->line,
				   "[rule %s] has no assign", rule->name);
	r = inherit(l, rule, K_DEADLINE);
	if (r < 0)
		return r;
	return check_reminders(l, rule->deadline_ms, rule->reminders_ms[0],
			       " from [defaults]");
}

/*
 * A schedule is complete: who owes it, how often, its category and title;
 * the due offset, reminders and escalation from [defaults] if not its own.
 */
static int end_schedule(struct load *l)
{
	struct route_schedule *sc = (struct route_schedule *)l->rule;
	struct route_rule *rule = &sc->rule;
	unsigned c = rule->categories;

	if (!rule->agencies || !sc->every || !sc->title || !c)
		return config_fail(l->err, rule->line,
				   "[schedule %s] needs agency, every, "
				   "category and title",
				   rule->name);
	if (c & (c - 1))
		return config_fail(l->err, rule->line,
				   "[schedule %s] has more than one "
				   "category",
				   rule->name);
	if (sc->from >= sc->until)
		return config_fail(l->err, rule->line,
				   "[schedule %s]: until is not after from",
				   rule->name);
	/* Without from, intervals count from midnight UTC, every day. */
	if (sc->every == EVERY_INTERVAL && sc->from == INT64_MIN &&
	    TIME_MS_PER_D % sc->step_ms != 0)
		return config_fail(l->err, rule->line,
				   "[schedule %s]: every length must divide "
				   "a day (e.g. 30s, 15m, 2h) unless from "
				   "is set",
				   rule->name);
	sc->category = (enum msg_category)__builtin_ctz(c);
	return inherit(l, rule, K_DUE);
}

static int end_section(struct load *l)
{
	int r = 0;

	if (l->in == IN_DEFAULTS)
		r = end_defaults(l);
	else if (l->in == IN_RULE)
		r = end_rule(l);
	else if (l->in == IN_SCHEDULE)
		r = end_schedule(l);
	l->in = IN_NONE;
	l->rule = NULL;
	l->seen = 0;
	return r;
}

/* What a section starts from: the deadline and reminders it would get. */
static void begin_section(struct load *l, enum section in,
			  struct route_rule *rule)
{
	l->in = in;
	l->rule = rule;
	l->seen = 0;
	l->deadline_line = l->reminders_line = l->err->line;
	copy_text(l->deadline, l->def_deadline);
	copy_text(l->reminder, l->def_reminder);
}

static bool rule_name_valid(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "abcdefghijklmnopqrstuvwxyz0123456789._-");

	return n > 0 && n <= MSG_RULE_MAX && s[n] == '\0';
}

static int begin_rule(struct load *l, const char *name)
{
	struct route_table *t = l->t;
	struct route_rule *rules, *rule;
	size_t i;

	if (!rule_name_valid(name))
		return config_fail(l->err, 0,
				   "invalid rule name '%s': expected [rule "
				   "NAME], NAME 1-%d characters of A-Z a-z 0-9 "
				   ". _ -",
				   name, MSG_RULE_MAX);
	if (strcmp(name, ROUTE_TRIAGE) == 0)
		return config_fail(l->err, 0,
				   "the rule name '%s' is reserved for reports "
				   "that no rule matches",
				   name);
	for (i = 0; i < t->nrules; i++)
		if (strcmp(t->rules[i].name, name) == 0)
			return config_fail(l->err, 0,
					   "duplicate rule name '%s' (first at "
					   "line %d)",
					   name, t->rules[i].line);
	if (t->nrules == ROUTE_MAX_RULES)
		return config_fail(l->err, 0, "more than %d rules",
				   ROUTE_MAX_RULES);

	if (t->nrules == l->nalloc) {
		rules = reallocarray(t->rules, l->nalloc ? 2 * l->nalloc : 16,
				     sizeof *rules);
		if (!rules)
			return config_nomem(l->err);
		t->rules = rules;
		l->nalloc = l->nalloc ? 2 * l->nalloc : 16;
	}
	rule = &t->rules[t->nrules];
	memset(rule, 0, sizeof *rule);
	rule->drill = -1;
	rule->line = l->err->line;
	rule->name = strdup(name);
	if (!rule->name)
		return config_nomem(l->err);
	t->nrules++;
	begin_section(l, IN_RULE, rule);
	return 0;
}

static int begin_schedule(struct load *l, const char *name)
{
	struct route_table *t = l->t;
	struct route_schedule *sc;

	if (!rule_name_valid(name) || strlen(name) > ROUTE_SCHEDULE_NAME_MAX)
		return config_fail(l->err, 0,
				   "invalid schedule name '%s': expected "
				   "[schedule NAME], NAME 1-%d characters of "
				   "A-Z a-z "
				   "0-9 . _ -",
				   name, ROUTE_SCHEDULE_NAME_MAX);
	for (size_t i = 0; i < t->nschedules; i++)
		if (strcmp(t->schedules[i].rule.name, name) == 0)
			return config_fail(l->err, 0,
					   "duplicate schedule name '%s' "
					   "(first "
					   "at line %d)",
					   name, t->schedules[i].rule.line);
	if (t->nschedules == ROUTE_MAX_RULES)
		return config_fail(l->err, 0, "more than %d schedules",
				   ROUTE_MAX_RULES);
	if (t->nschedules == l->nsalloc) {
		sc = reallocarray(t->schedules, l->nsalloc ? 2 * l->nsalloc : 8,
				  sizeof(*sc));
		if (!sc)
			return config_nomem(l->err);
		t->schedules = sc;
		l->nsalloc = l->nsalloc ? 2 * l->nsalloc : 8;
	}
	sc = &t->schedules[t->nschedules];
	memset(sc, 0, sizeof(*sc));
	sc->from = INT64_MIN;
	sc->until = INT64_MAX;
	sc->rule.drill = -1;
	sc->rule.line = l->err->line;
	sc->rule.name = strdup(name);
	if (!sc->rule.name)
		return config_nomem(l->err);
	t->nschedules++;
	begin_section(l, IN_SCHEDULE, &sc->rule);
	return 0;
}

static int on_header(struct load *l, const char *section)
{
	int r;

	r = end_section(l);
	if (r < 0)
		return r;
	if (strcmp(section, "defaults") == 0) {
		if (l->t->nrules > 0 || l->t->nschedules > 0)
			return config_fail(l->err, 0,
					   "[defaults] must come before the "
					   "first rule");
		if (l->defaults_seen)
			return config_fail(l->err, 0,
					   "duplicate section [defaults]");
		l->defaults_seen = true;
		begin_section(l, IN_DEFAULTS, &l->t->triage);
		return 0;
	}
	if (strncmp(section, "rule", 4) == 0 &&
	    (section[4] == ' ' || section[4] == '\0')) {
		if (!l->defaults_done) {
			r = end_defaults(l);
			if (r < 0)
				return r;
		}
		return begin_rule(l, section + 4 + (section[4] == ' '));
	}
	if (strncmp(section, "schedule", 8) == 0 &&
	    (section[8] == ' ' || section[8] == '\0')) {
		if (!l->defaults_done) {
			r = end_defaults(l);
			if (r < 0)
				return r;
		}
		return begin_schedule(l, section + 8 + (section[8] == ' '));
	}
	return config_fail(l->err, 0, "unknown section [%s]", section);
}

static int on_key(struct load *l, const char *section, const char *name,
		  const char *value)
{
	size_t k;

	if (l->in == IN_NONE)
		return config_fail(l->err, 0,
				   "key '%s' is outside any [section]", name);
	for (k = 0; k < NKEYS; k++)
		if (strcmp(keys[k].name, name) == 0 &&
		    (keys[k].in & (1u << l->in)))
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
	return keys[k].set(l, l->rule, name, value);
}

/* config_parse_ini()'s callback. */
static int on_line(void *user, const char *section, const char *name,
		   const char *value, struct config_error *err)
{
	struct load *l = user;
	int r;

	l->err = err;
	if (name)
		return on_key(l, section, name, value);
	if (section)
		return on_header(l, section);
	/* The end of the file. */
	r = end_section(l);
	if (r == 0 && !l->defaults_done)
		r = end_defaults(l);
	return r;
}

/* The triage rule with the built-in defaults, before the file is read. */
static int init_defaults(struct load *l)
{
	struct route_rule *d = &l->t->triage;
	int r;

	d->drill = -1;
	d->name = strdup(ROUTE_TRIAGE);
	if (!d->name)
		return config_nomem(l->err);
	begin_section(l, IN_DEFAULTS, d);
	r = set_office(l, d, "office", DEFAULT_OFFICE);
	if (r == 0)
		r = set_deadline(l, d, "deadline", DEFAULT_DEADLINE);
	if (r == 0)
		r = set_reminders(l, d, "reminders", DEFAULT_REMINDERS);
	copy_text(l->def_deadline, l->deadline);
	copy_text(l->def_reminder, l->reminder);
	l->in = IN_NONE;
	l->rule = NULL;
	return r;
}

/* ------------------------------------------------------------ public API */

static void free_rule(struct route_rule *rule)
{
	free(rule->name);
	free_strv(rule->localities);
	free_strv(rule->agencies);
	free(rule->assign);
	free(rule->reminders_ms);
	free_steps(rule->escalation, rule->nescalation);
	free_strv(rule->notify);
}

void route_free(struct route_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrules; i++)
		free_rule(&t->rules[i]);
	free(t->rules);
	for (i = 0; i < t->nschedules; i++) {
		free_rule(&t->schedules[i].rule);
		free(t->schedules[i].title);
	}
	free(t->schedules);
	free_rule(&t->triage);
	free(t->office);
	free(t->path);
	free(t);
}

int route_load(const char *path, const struct calendar *cal,
	       struct route_table **ret, struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct load l = { .err = &e, .cal = cal };
	struct route_table *t;
	int r;

	snprintf(e.file, sizeof e.file, "%s", path);
	t = calloc(1, sizeof *t);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	l.t = t;
	t->path = strdup(path);
	r = t->path ? init_defaults(&l) : -ENOMEM;
	if (r < 0)
		goto out;
	/* From here on, *err is config_parse_ini()'s to fill. */
	r = config_parse_ini(path, on_line, &l, err);
	if (r < 0) {
		err = NULL;
		goto out;
	}
	*ret = t;
	t = NULL;
out:
	if (r < 0 && err) {
		e.line = 0;
		snprintf(e.msg, sizeof e.msg, "%s", strerror(-r));
		*err = e;
	}
	route_free(t);
	return r;
}

int route_due(const struct route_rule *r, const struct calendar *cal,
	      instant_t from, instant_t *due)
{
	if (r->business)
		return cal ? calendar_add(cal, from, r->deadline_ms, due) :
			     -EINVAL;
	if (r->deadline_ms > INT64_MAX - from)
		return -ERANGE;
	*due = from + r->deadline_ms;
	return 0;
}

/* ------------------------------------------------------------- matching */

static unsigned bit(unsigned v)
{
	return v < 32 ? 1u << v : 0;
}

static bool listed(char *const *v, const char *s)
{
	if (!s)
		return false;
	for (; *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static bool matches(const struct route_rule *rule, const struct msg *m)
{
	if (rule->kinds && !(rule->kinds & bit(m->kind)))
		return false;
	if (rule->categories && !(rule->categories & bit(m->category)))
		return false;
	if (rule->severities && !(rule->severities & bit(m->severity)))
		return false;
	if (rule->localities && !listed(rule->localities, m->locality))
		return false;
	if (rule->agencies && !listed(rule->agencies, m->agency))
		return false;
	if (rule->drill >= 0 && rule->drill != (int)m->drill)
		return false;
	return true;
}

size_t route_match(const struct route_table *t, const struct msg *m,
		   const struct route_rule **out, size_t max)
{
	size_t i, n = 0;

	if (max > ROUTE_MAX_MATCHES)
		max = ROUTE_MAX_MATCHES;
	if (max == 0)
		return 0;
	for (i = 0; i < t->nrules; i++) {
		if (!matches(&t->rules[i], m))
			continue;
		out[n++] = &t->rules[i];
		if (!t->rules[i].cont || n == max)
			return n;
	}
	if (n == 0)
		out[n++] = &t->triage;
	return n;
}

/* -------------------------------------------------------------- periods */

static int64_t utc_ms(int year, int mon, int day)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = day };

	return (int64_t)timegm(&tm) * 1000;	/* timegm normalises mon 12 */
}

int route_period_at(enum route_every every, int64_t t, char *name,
		    size_t size, int64_t *start, int64_t *end)
{
	time_t secs = (time_t)(t >= 0 ? t / 1000 : (t - 999) / 1000);
	struct tm tm;
	int y, n;

	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	y = tm.tm_year + 1900;
	switch (every) {
	case EVERY_YEAR:
		*start = utc_ms(y, 0, 1);
		*end = utc_ms(y + 1, 0, 1);
		snprintf(name, size, "%04d", y);
		return 0;
	case EVERY_HALF:
		n = tm.tm_mon / 6;
		*start = utc_ms(y, 6 * n, 1);
		*end = utc_ms(y, 6 * n + 6, 1);
		snprintf(name, size, "%04d-H%d", y, n + 1);
		return 0;
	case EVERY_QUARTER:
		n = tm.tm_mon / 3;
		*start = utc_ms(y, 3 * n, 1);
		*end = utc_ms(y, 3 * n + 3, 1);
		snprintf(name, size, "%04d-Q%d", y, n + 1);
		return 0;
	case EVERY_MONTH:
		*start = utc_ms(y, tm.tm_mon, 1);
		*end = utc_ms(y, tm.tm_mon + 1, 1);
		snprintf(name, size, "%04d-%02d", y, tm.tm_mon + 1);
		return 0;
	case EVERY_WEEK:
		/* ISO 8601: weeks start on Monday; %G-W%V names them. */
		*start = utc_ms(y, tm.tm_mon,
				tm.tm_mday - (tm.tm_wday + 6) % 7);
		*end = *start + 7 * TIME_MS_PER_D;
		strftime(name, size, "%G-W%V", &tm);
		return 0;
	case EVERY_DAY:
		*start = utc_ms(y, tm.tm_mon, tm.tm_mday);
		*end = *start + TIME_MS_PER_D;
		strftime(name, size, "%Y-%m-%d", &tm);
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * An interval's name: its start in ISO 8601 basic format, no colons.
 * Returns 0, -ERANGE outside the years 1000-9999 (no four-digit name).
 */
static int interval_name(int64_t start, char *name, size_t size)
{
	time_t secs = (time_t)(start >= 0 ? start / 1000 : (start - 999) / 1000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1000 ||
	    tm.tm_year + 1900 > 9999 ||
	    strftime(name, size, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -ERANGE;
	return 0;
}

enum route_every route_period_parse(const char *name, int64_t *start,
				    int64_t *end)
{
	char again[MSG_PERIOD_MAX + 1], tail;
	enum route_every every;
	int y, n, d, used = 0;
	int64_t at;

	if (strlen(name) > MSG_PERIOD_MAX)
		return EVERY_NONE;
	if (strlen(name) == 16 && name[8] == 'T') {
		struct tm tm = { 0 };
		const char *e = strptime(name, "%Y%m%dT%H%M%SZ", &tm);
		time_t secs = timegm(&tm);

		/* timegm() normalises 30 February: only a real instant's
		 * own name is a period. */
		if (!e || *e || secs == (time_t)-1)
			return EVERY_NONE;
		*start = *end = (int64_t)secs * 1000;
		if (interval_name(*start, again, sizeof(again)) < 0 ||
		    strcmp(again, name) != 0)
			return EVERY_NONE;
		return EVERY_INTERVAL;
	}
	if (sscanf(name, "%4d%n%c", &y, &used, &tail) == 1 && used == 4) {
		every = EVERY_YEAR;
		at = utc_ms(y, 0, 1);
	} else if (sscanf(name, "%4d-H%1d%c", &y, &n, &tail) == 2) {
		every = EVERY_HALF;
		at = utc_ms(y, 6 * (n - 1), 1);
	} else if (sscanf(name, "%4d-Q%1d%c", &y, &n, &tail) == 2) {
		every = EVERY_QUARTER;
		at = utc_ms(y, 3 * (n - 1), 1);
	} else if (sscanf(name, "%4d-W%2d%c", &y, &n, &tail) == 2) {
		/* Week 1 holds 4 January; step from its Monday. */
		struct tm jan4 = { .tm_year = y - 1900, .tm_mday = 4 };
		time_t j = timegm(&jan4);

		gmtime_r(&j, &jan4);
		every = EVERY_WEEK;
		at = utc_ms(y, 0, 4 - (jan4.tm_wday + 6) % 7 + 7 * (n - 1));
	} else if (sscanf(name, "%4d-%2d-%2d%c", &y, &n, &d, &tail) == 3) {
		every = EVERY_DAY;
		at = utc_ms(y, n - 1, d);
	} else if (sscanf(name, "%4d-%2d%c", &y, &n, &tail) == 2) {
		every = EVERY_MONTH;
		at = utc_ms(y, n - 1, 1);
	} else
		return EVERY_NONE;
	/* Only the name the period itself has is that period ("2026-Q5",
	 * "2026-W54" and "2026-7" are not). */
	if (route_period_at(every, at, again, sizeof(again), start, end) < 0 ||
	    strcmp(again, name) != 0)
		return EVERY_NONE;
	return every;
}

/* Where a schedule's intervals are counted from: from, or midnight UTC. */
static int64_t interval_anchor(const struct route_schedule *sc)
{
	return sc->from == INT64_MIN ? 0 : sc->from;
}

/* floor(a / b) for b > 0: periods before the anchor count down. */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

int route_schedule_period(const struct route_schedule *sc, int64_t t,
			  char *name, size_t size, int64_t *start,
			  int64_t *end)
{
	int64_t anchor = interval_anchor(sc);

	if (sc->every != EVERY_INTERVAL)
		return route_period_at(sc->every, t, name, size, start, end);
	if (sc->step_ms <= 0)
		return -EINVAL;
	*start = anchor + floor_div(t - anchor, sc->step_ms) * sc->step_ms;
	*end = *start + sc->step_ms;
	return interval_name(*start, name, size);
}

bool route_schedule_owes(const struct route_schedule *sc, const char *name,
			 int64_t *start, int64_t *end)
{
	int64_t anchor = interval_anchor(sc);
	int64_t s, e;

	if (route_period_parse(name, &s, &e) != sc->every)
		return false;
	if (sc->every == EVERY_INTERVAL) {
		if (sc->step_ms <= 0 || (s - anchor) % sc->step_ms != 0)
			return false;
		e = s + sc->step_ms;
	}
	if (s < sc->from || e > sc->until)
		return false;
	*start = s;
	*end = e;
	return true;
}

char *route_obligation_id(const struct route_schedule *s, const char *agency,
			  const char *period, char *buf, size_t size)
{
	snprintf(buf, size, "P-%s-%s-%s", s->rule.name, agency, period);
	return buf;
}
