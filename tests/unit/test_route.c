/*
 * test_route.c - lib/route: what each matcher matches, the order rules are
 * tried in and how far "continue" goes, what a rule inherits from
 * [defaults], every mistake reported at its line, and the bundled
 * routes.conf sending sample reports where the office expects them.
 *
 * Each test writes its files into a fresh directory under $TMPDIR.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "route.h"
#include "testdir.h"
#include "time.h"

#define H TIME_MS_PER_H
#define D TIME_MS_PER_D

struct fixture {
	char dir[PATH_MAX];		/* the temporary directory */
	char path[PATH_MAX + 64];	/* the last file written */
	struct route_table *t;		/* freed by teardown */
	struct calendar *cal;		/* routes load against it; NULL */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_route") < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	route_free(fx->t);
	calendar_free(fx->cal);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Write text as routes.conf; the path is fx->path. Returns it. */
static const char *write_file(struct fixture *fx, const char *text)
{
	return testdir_write(fx->path, sizeof fx->path, fx->dir,
			     "routes.conf", text);
}

/* Load text as routes.conf; the table is fx->t, freed by teardown. */
static int load(struct fixture *fx, const char *text, struct config_error *err)
{
	memset(err, 0, sizeof *err);
	route_free(fx->t);
	fx->t = NULL;
	return route_load(write_file(fx, text), fx->cal, &fx->t, err);
}

static const struct route_table *load_ok(struct fixture *fx, const char *text)
{
	struct config_error err;
	char buf[1024];
	int r;

	r = load(fx, text, &err);
	if (r < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	return fx->t;
}

/* text must fail with -EINVAL at line, with msg. */
static void assert_invalid(struct fixture *fx, const char *text, int line,
			   const char *msg)
{
	struct config_error err;

	assert_int_equal(load(fx, text, &err), -EINVAL);
	assert_null(fx->t);
	assert_string_equal(err.file, fx->path);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
}

/* An accepted incident report; the caller changes what the test needs. */
static struct msg incident(enum msg_category c, enum msg_severity s)
{
	struct msg m = {
		.type = MSG_REPORT_ACCEPTED, .id = "r-1", .agency = "mic",
		.kind = KIND_INCIDENT, .category = c, .severity = s,
		.title = "a report",
	};

	return m;
}

/* The names of the rules m matches, "a b c", in buf. */
static const char *routed(const struct route_table *t, const struct msg *m,
			  size_t max, char *buf, size_t size)
{
	const struct route_rule *out[ROUTE_MAX_MATCHES + 4];
	size_t n, i, len = 0;

	memset(out, 0, sizeof out);
	n = route_match(t, m, out, max);
	assert_true(n >= 1 && n <= max && n <= ROUTE_MAX_MATCHES);
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? " " : "", out[i]->name);
	/* Nothing is written past what is returned. */
	assert_null(out[n]);
	return buf;
}

#define ROUTE(t, m) routed((t), (m), ROUTE_MAX_MATCHES, buf, sizeof buf)

/* ------------------------------------------------------------- matchers */

static void test_kind(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule progress]\nkind = progress\nassign = a\n"
		"[rule either]\nkind = periodic, incident\nassign = b\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	assert_int_equal(t->rules[0].kinds, 1u << KIND_PROGRESS);
	assert_string_equal(ROUTE(t, &m), "either");
	m.kind = KIND_PROGRESS;
	assert_string_equal(ROUTE(t, &m), "progress");
	m.kind = KIND_COMPLETION;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_category(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule defense]\ncategory = cyber-defense\nassign = a\n"
		"[rule two]\ncategory = toxic-information,cybersecurity\n"
		"assign = b\n");
	struct msg m = incident(CATEGORY_CYBER_DEFENSE, SEVERITY_LOW);
	char buf[256];

	assert_string_equal(ROUTE(t, &m), "defense");
	m.category = CATEGORY_TOXIC_INFORMATION;
	assert_string_equal(ROUTE(t, &m), "two");
	m.category = CATEGORY_CYBERSECURITY;
	assert_string_equal(ROUTE(t, &m), "two");
	m.category = CATEGORY_INFORMATION_SECURITY;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_severity_exact(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule high]\nseverity = high\nassign = a\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_HIGH);
	char buf[256];

	assert_int_equal(t->rules[0].severities, 1u << SEVERITY_HIGH);
	assert_string_equal(ROUTE(t, &m), "high");
	/* Exact: neither above nor below. */
	m.severity = SEVERITY_CRITICAL;
	assert_string_equal(ROUTE(t, &m), "triage");
	m.severity = SEVERITY_MEDIUM;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_severity_list(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule minor]\nseverity = low , medium\nassign = a\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	assert_string_equal(ROUTE(t, &m), "minor");
	m.severity = SEVERITY_MEDIUM;
	assert_string_equal(ROUTE(t, &m), "minor");
	m.severity = SEVERITY_HIGH;
	assert_string_equal(ROUTE(t, &m), "triage");
	/* A report without a severity has none of them. */
	m.severity = SEVERITY_NONE;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_severity_at_least(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule serious]\nseverity = >= high\nassign = a\n"
		"[rule any]\nseverity = >=low\nassign = b\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_HIGH);
	char buf[256];

	assert_int_equal(t->rules[0].severities,
			 1u << SEVERITY_HIGH | 1u << SEVERITY_CRITICAL);
	assert_string_equal(ROUTE(t, &m), "serious");
	m.severity = SEVERITY_CRITICAL;
	assert_string_equal(ROUTE(t, &m), "serious");
	m.severity = SEVERITY_MEDIUM;
	assert_string_equal(ROUTE(t, &m), "any");
	m.severity = SEVERITY_LOW;
	assert_string_equal(ROUTE(t, &m), "any");
	m.severity = SEVERITY_NONE;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_locality(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule south]\nlocality = HCM, CT,DN\nassign = a\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	assert_string_equal(t->rules[0].localities[0], "HCM");
	assert_string_equal(t->rules[0].localities[2], "DN");
	assert_null(t->rules[0].localities[3]);
	m.locality = "CT";
	assert_string_equal(ROUTE(t, &m), "south");
	m.locality = "HN";
	assert_string_equal(ROUTE(t, &m), "triage");
	/* Exact, not a prefix, and case matters. */
	m.locality = "HC";
	assert_string_equal(ROUTE(t, &m), "triage");
	m.locality = "hcm";
	assert_string_equal(ROUTE(t, &m), "triage");
	/* A report that names no locality is in none of them. */
	m.locality = NULL;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_agency(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule from-mod]\nagency = mod, mod-cmd86\nassign = a\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	m.agency = "mod-cmd86";
	assert_string_equal(ROUTE(t, &m), "from-mod");
	m.agency = "mic";
	assert_string_equal(ROUTE(t, &m), "triage");
	m.agency = NULL;
	assert_string_equal(ROUTE(t, &m), "triage");
}

static void test_drill(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule exercise]\ndrill = yes\nassign = a\n"
		"[rule real]\ndrill = false\nassign = b\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	assert_int_equal(t->rules[0].drill, 1);
	assert_int_equal(t->rules[1].drill, 0);
	assert_string_equal(ROUTE(t, &m), "real");
	m.drill = true;
	assert_string_equal(ROUTE(t, &m), "exercise");

	/* Without the key a rule takes both. */
	t = load_ok(*state, "[rule all]\nassign = a\n");
	assert_int_equal(t->rules[0].drill, -1);
	assert_string_equal(ROUTE(t, &m), "all");
	m.drill = false;
	assert_string_equal(ROUTE(t, &m), "all");
}

/* Every matcher given must match; one that fails is enough to skip. */
static void test_combined(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule narrow]\n"
		"kind = incident\n"
		"category = information-security\n"
		"severity = >= medium\n"
		"locality = HN\n"
		"agency = hanoi-pc\n"
		"drill = no\n"
		"assign = a\n");
	struct msg good = incident(CATEGORY_INFORMATION_SECURITY,
				   SEVERITY_HIGH), m;
	char buf[256];

	good.locality = "HN";
	good.agency = "hanoi-pc";
	assert_string_equal(ROUTE(t, &good), "narrow");
	m = good;
	m.kind = KIND_PERIODIC;
	assert_string_equal(ROUTE(t, &m), "triage");
	m = good;
	m.category = CATEGORY_CYBERSECURITY;
	assert_string_equal(ROUTE(t, &m), "triage");
	m = good;
	m.severity = SEVERITY_LOW;
	assert_string_equal(ROUTE(t, &m), "triage");
	m = good;
	m.locality = "HCM";
	assert_string_equal(ROUTE(t, &m), "triage");
	m = good;
	m.agency = "mic";
	assert_string_equal(ROUTE(t, &m), "triage");
	m = good;
	m.drill = true;
	assert_string_equal(ROUTE(t, &m), "triage");
}

/* ------------------------------------------------------- order, continue */

static void test_first_match_wins(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule specific]\nseverity = critical\nassign = a\n"
		"[rule general]\nassign = b\n"
		"[rule unreachable]\nseverity = critical\nassign = c\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_CRITICAL);
	const struct route_rule *out[ROUTE_MAX_MATCHES];
	char buf[256];

	assert_int_equal(route_match(t, &m, out, ROUTE_MAX_MATCHES), 1);
	assert_ptr_equal(out[0], &t->rules[0]);
	assert_string_equal(out[0]->assign, "a");
	m.severity = SEVERITY_LOW;
	assert_string_equal(ROUTE(t, &m), "general");
}

static void test_continue(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule also-a]\ncategory = cybersecurity\nassign = a\n"
		"continue = yes\n"
		"[rule not-this]\nseverity = low\nassign = x\ncontinue = yes\n"
		"[rule then-b]\nseverity = critical\nassign = b\n"
		"[rule stopped]\nassign = c\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_CRITICAL);
	char buf[256];

	assert_true(t->rules[0].cont);
	assert_false(t->rules[2].cont);
	/* A non-matching rule in between is skipped, a plain one stops. */
	assert_string_equal(ROUTE(t, &m), "also-a then-b");
	/* Two continue rules in a row, then the catch-all. */
	m.severity = SEVERITY_LOW;
	assert_string_equal(ROUTE(t, &m), "also-a not-this stopped");
	/* A rule that does not continue is the only one. */
	m.category = CATEGORY_CYBER_DEFENSE;
	m.severity = SEVERITY_CRITICAL;
	assert_string_equal(ROUTE(t, &m), "then-b");
}

/* A continue rule that no later rule follows is a match of its own. */
static void test_continue_last(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule first]\nseverity = high\nassign = a\ncontinue = true\n"
		"[rule other]\nseverity = low\nassign = b\n");
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_HIGH);
	char buf[256];

	assert_string_equal(ROUTE(t, &m), "first");
}

/* At most max, and never more than ROUTE_MAX_MATCHES. */
static void test_max_matches(void **state)
{
	char text[4096], buf[512];
	size_t len = 0;
	int i;
	const struct route_table *t;
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_HIGH);

	for (i = 0; i < 12; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
					"[rule r%d]\nassign = a\n"
					"continue = yes\n", i);
	t = load_ok(*state, text);
	assert_string_equal(routed(t, &m, 2, buf, sizeof buf), "r0 r1");
	assert_string_equal(routed(t, &m, 1, buf, sizeof buf), "r0");
	assert_string_equal(routed(t, &m, ROUTE_MAX_MATCHES + 4, buf,
				   sizeof buf), "r0 r1 r2 r3 r4 r5 r6 r7");
}

/* ------------------------------------------------------ defaults, triage */

static void assert_steps(const struct route_rule *r, size_t n, ...)
{
	va_list ap;
	size_t i;

	assert_int_equal(r->nescalation, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(r->escalation[i].to, va_arg(ap, char *));
		assert_int_equal(r->escalation[i].after_ms,
				 va_arg(ap, int64_t));
	}
	va_end(ap);
}

/* Nothing matches: the office's triage queue with the defaults. */
static void test_triage(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[rule only-defense]\ncategory = cyber-defense\nassign = a\n");
	struct msg m = incident(CATEGORY_TOXIC_INFORMATION, SEVERITY_LOW);
	const struct route_rule *out[2] = { NULL, NULL };

	assert_int_equal(route_match(t, &m, out, 2), 1);
	assert_ptr_equal(out[0], &t->triage);
	assert_null(out[1]);
	assert_string_equal(out[0]->name, ROUTE_TRIAGE);
	assert_int_equal(out[0]->line, 0);
	assert_string_equal(out[0]->assign, "office");
	assert_int_equal(out[0]->kinds | out[0]->categories |
			 out[0]->severities, 0);
	assert_null(out[0]->localities);
	assert_null(out[0]->agencies);
	assert_int_equal(out[0]->drill, -1);
	assert_null(out[0]->notify);
	assert_false(out[0]->cont);
	assert_int_equal(out[0]->deadline_ms, 72 * H);
}

/* Without [defaults], or an empty file: the built-in defaults. */
static void test_builtin_defaults(void **state)
{
	const struct route_table *t = load_ok(*state, "; nothing\n");

	assert_int_equal(t->nrules, 0);
	assert_string_equal(t->office, "office");
	assert_string_equal(t->path, ((struct fixture *)*state)->path);
	assert_string_equal(t->triage.assign, "office");
	assert_int_equal(t->triage.deadline_ms, 72 * H);
	assert_int_equal(t->triage.nreminders, 2);
	assert_int_equal(t->triage.reminders_ms[0], 24 * H);
	assert_int_equal(t->triage.reminders_ms[1], 2 * H);
	assert_steps(&t->triage, 1, "office", INT64_C(0));

	t = load_ok(*state, "[rule x]\nassign = a\n");
	assert_int_equal(t->rules[0].deadline_ms, 72 * H);
	assert_int_equal(t->rules[0].nreminders, 2);
	assert_steps(&t->rules[0], 1, "office", INT64_C(0));
}

/* A rule takes from [defaults] what it does not give, and only that. */
static void test_inheritance(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[defaults]\n"
		"escalation = committee@+2d, ops@+0, office@+12h\n"
		"reminders = 2h, 12h, 30m\n"
		"deadline = 48h\n"
		"office = ops\n"
		"[rule plain]\n"
		"assign = a\n"
		"[rule own]\n"
		"assign = b\n"
		"deadline = 6h\n"
		"reminders = 1h\n"
		"escalation = b@+0\n"
		"[rule part]\n"
		"deadline = 24h\n"
		"assign = c\n");
	const struct route_rule *r;

	assert_string_equal(t->office, "ops");
	assert_string_equal(t->triage.assign, "ops");
	assert_int_equal(t->triage.deadline_ms, 48 * H);
	/* Reminders longest first, escalation soonest first. */
	assert_int_equal(t->triage.nreminders, 3);
	assert_int_equal(t->triage.reminders_ms[0], 12 * H);
	assert_int_equal(t->triage.reminders_ms[1], 2 * H);
	assert_int_equal(t->triage.reminders_ms[2], 30 * TIME_MS_PER_M);
	assert_steps(&t->triage, 3, "ops", INT64_C(0), "office", 12 * H,
		     "committee", 2 * D);

	r = &t->rules[0];
	assert_string_equal(r->name, "plain");
	assert_int_equal(r->line, 6);
	assert_int_equal(r->deadline_ms, 48 * H);
	assert_int_equal(r->nreminders, 3);
	assert_int_equal(r->reminders_ms[1], 2 * H);
	assert_steps(r, 3, "ops", INT64_C(0), "office", 12 * H,
		     "committee", 2 * D);
	/* Copies, not the same arrays: each rule owns its values. */
	assert_ptr_not_equal(r->reminders_ms, t->triage.reminders_ms);
	assert_ptr_not_equal(r->escalation, t->triage.escalation);

	r = &t->rules[1];
	assert_int_equal(r->line, 8);
	assert_int_equal(r->deadline_ms, 6 * H);
	assert_int_equal(r->nreminders, 1);
	assert_int_equal(r->reminders_ms[0], 1 * H);
	assert_steps(r, 1, "b", INT64_C(0));

	r = &t->rules[2];
	assert_int_equal(r->deadline_ms, 24 * H);
	assert_int_equal(r->reminders_ms[0], 12 * H);
	assert_steps(r, 3, "ops", INT64_C(0), "office", 12 * H,
		     "committee", 2 * D);
}

/* [defaults] office is the end of the default escalation. */
static void test_default_escalation_follows_office(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[defaults]\noffice = sco\n[rule x]\nassign = a\n");

	assert_steps(&t->triage, 1, "sco", INT64_C(0));
	assert_steps(&t->rules[0], 1, "sco", INT64_C(0));
}

/* Values of every shape, as written in a real file. */
static void test_values(void **state)
{
	const struct route_table *t = load_ok(*state,
		"; routes\n"
		"\n"
		"[rule key-systems.attacks_1]   ; a comment\n"
		"  assign = mps-a05\n"
		"notify = mic, office ,x.y_z\n"
		"escalation = mps-a05@+0, office@+1h30m, committee@+0s\n"
		"continue = no\n"
		"drill = true\n");
	const struct route_rule *r = &t->rules[0];

	assert_int_equal(t->nrules, 1);
	assert_string_equal(r->name, "key-systems.attacks_1");
	assert_int_equal(r->line, 3);
	assert_string_equal(r->assign, "mps-a05");
	assert_string_equal(r->notify[0], "mic");
	assert_string_equal(r->notify[1], "office");
	assert_string_equal(r->notify[2], "x.y_z");
	assert_null(r->notify[3]);
	/* Equal times keep their written order. */
	assert_steps(r, 3, "mps-a05", INT64_C(0), "committee", INT64_C(0),
		     "office", 90 * TIME_MS_PER_M);
	assert_false(r->cont);
	assert_int_equal(r->drill, 1);
	assert_int_equal(r->kinds | r->categories | r->severities, 0);
	assert_null(r->localities);
	assert_null(r->agencies);
}

/*
 * Rule names up to 64 characters: longer than inih keeps of a section name,
 * so two that differ only at the end are still two rules.
 */
static void test_long_rule_names(void **state)
{
	char a[80], b[80], text[512];
	const struct route_table *t;
	struct msg m = incident(CATEGORY_CYBERSECURITY, SEVERITY_LOW);
	char buf[256];

	memset(a, 'n', 64);
	a[64] = '\0';
	memcpy(b, a, sizeof a);
	b[63] = 'm';
	snprintf(text, sizeof text,
		 "[rule %s]\nseverity = high\nassign = a\n"
		 "[rule %s]\nseverity = low\nassign = b\n", a, b);
	t = load_ok(*state, text);
	assert_string_equal(t->rules[0].name, a);
	assert_string_equal(t->rules[1].name, b);
	assert_string_equal(t->rules[1].assign, "b");
	assert_int_equal(t->rules[1].severities, 1u << SEVERITY_LOW);
	assert_string_equal(ROUTE(t, &m), b);

	/* One more character is too many. */
	snprintf(text, sizeof text, "[rule %sx]\nassign = a\n", a);
	snprintf(buf, sizeof buf, "invalid rule name '%sx': expected [rule "
		 "NAME], NAME 1-64 characters of A-Z a-z 0-9 . _ -", a);
	assert_invalid(*state, text, 1, buf);
}

/* ----------------------------------------------------------- bad files */

static void test_unknown_key(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\nasign = b\n",
		       3, "unknown key 'asign' in [rule x]");
	/* Keys of the other section are unknown here. */
	assert_invalid(*state,
		       "[defaults]\nkind = incident\n",
		       2, "unknown key 'kind' in [defaults]");
	assert_invalid(*state,
		       "[defaults]\n[rule x]\nassign = a\noffice = b\n",
		       4, "unknown key 'office' in [rule x]");
	assert_invalid(*state,
		       "; top\nassign = a\n",
		       2, "key 'assign' is outside any [section]");
}

static void test_unknown_section(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\n\n[rules y]\nassign = b\n",
		       4, "unknown section [rules y]");
	assert_invalid(*state, "[Defaults]\n", 1,
		       "unknown section [Defaults]");
	assert_invalid(*state, "[rulex]\nassign = a\n", 1,
		       "unknown section [rulex]");
	assert_invalid(*state, "[rule]\nassign = a\n", 1,
		       "invalid rule name '': expected [rule NAME], NAME "
		       "1-64 characters of A-Z a-z 0-9 . _ -");
	assert_invalid(*state, "[rule a b]\nassign = a\n", 1,
		       "invalid rule name 'a b': expected [rule NAME], NAME "
		       "1-64 characters of A-Z a-z 0-9 . _ -");
}

static void test_bad_names(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nkind = incident, incidents\nassign = a\n",
		       2, "invalid kind 'incidents': expected incident, "
		       "progress, completion or periodic");
	assert_invalid(*state,
		       "[rule x]\nassign = a\ncategory = cyber\n",
		       3, "invalid category 'cyber': expected cybersecurity, "
		       "information-security, cyber-defense or "
		       "toxic-information");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = urgent\n",
		       3, "invalid severity 'urgent': expected low, medium, "
		       "high or critical");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = High\n",
		       3, "invalid severity 'High': expected low, medium, "
		       "high or critical");
}

static void test_bad_at_least(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = >= bogus\n",
		       3, "invalid severity 'bogus': expected low, medium, "
		       "high or critical");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = >= high, critical\n",
		       3, "invalid severity '>= high, critical': '>=' takes "
		       "one severity, e.g. '>= high'");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = >=\n",
		       3, "invalid severity '': expected low, medium, "
		       "high or critical");
	/* ">=" only leads the value; inside a list it is no name. */
	assert_invalid(*state,
		       "[rule x]\nassign = a\nseverity = low, >= high\n",
		       3, "invalid severity '>= high': expected low, medium, "
		       "high or critical");
}

static void test_bad_agency(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = mps a05\n",
		       2, "invalid agency name 'mps a05' for assign: expected "
		       "1-64 characters of A-Z a-z 0-9 . _ -");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nnotify = mic, b\xe1\xbb\x99\n",
		       3, "invalid agency name 'b\xe1\xbb\x99' for notify: "
		       "expected 1-64 characters of A-Z a-z 0-9 . _ -");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nagency = mic/x\n",
		       3, "invalid agency name 'mic/x' for agency: expected "
		       "1-64 characters of A-Z a-z 0-9 . _ -");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nescalation = of:fice@+1h\n",
		       3, "invalid agency name 'of:fice' for escalation: "
		       "expected 1-64 characters of A-Z a-z 0-9 . _ -");
	assert_invalid(*state,
		       "[defaults]\noffice = the office\n",
		       2, "invalid agency name 'the office' for office: "
		       "expected 1-64 characters of A-Z a-z 0-9 . _ -");
}

static void test_bad_values(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\nlocality = HN, Ha Noi\n",
		       3, "invalid locality 'Ha Noi': expected 1-64 bytes "
		       "without blanks or commas");
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndrill = maybe\n",
		       3, "invalid drill 'maybe': expected yes, no, true or "
		       "false");
	assert_invalid(*state,
		       "[rule x]\nassign = a\ncontinue = 1\n",
		       3, "invalid continue '1': expected yes, no, true or "
		       "false");
	assert_invalid(*state,
		       "[rule x]\nassign =\n",
		       2, "empty value for assign");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nescalation = office+12h\n",
		       3, "invalid escalation step 'office+12h': expected "
		       "AGENCY@+DURATION, e.g. office@+12h");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nescalation = office@12h\n",
		       3, "invalid escalation step 'office@12h': expected "
		       "AGENCY@+DURATION, e.g. office@+12h");
}

static void test_bad_durations(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 3days\n",
		       3, "invalid duration '3days' for deadline: expected "
		       "e.g. 90s, 36h or 3d");
	/* A bare 0 is only an escalation's "at once". */
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 0\n",
		       3, "invalid duration '0' for deadline: expected "
		       "e.g. 90s, 36h or 3d");
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 0s\n",
		       3, "invalid deadline '0s': must be longer than 0");
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 99999999999999999h\n",
		       3, "duration '99999999999999999h' for deadline is too "
		       "large");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nreminders = 2h, 0m\n",
		       3, "invalid reminder '0m': must be longer than 0");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nreminders = 2h, 1h, 120m\n",
		       3, "reminder '120m' is given twice");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nescalation = office@+soon\n",
		       3, "invalid duration 'soon' for escalation: expected "
		       "e.g. 90s, 36h or 3d");
}

/* Business time without a calendar, or where it has no meaning. */
static void test_business_time(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 3bd\n",
		       3, "business time (3bd) needs the business calendar: "
		       "set [baton] calendar in baton.conf");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nworking_hours = yes\n",
		       3, "working_hours needs the business calendar: set "
		       "[baton] calendar in baton.conf");
	assert_invalid(*state,
		       "[defaults]\nreminders = 16bh, 2h\n",
		       2, "business time (16bh) is for deadline and due only; "
		       "reminders is calendar time (e.g. 24h)");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nescalation = office@+2bd\n",
		       3, "business time (2bd) is for deadline and due only; "
		       "escalation is calendar time (e.g. 24h)");
}

/*
 * With a calendar: business deadlines count working time only, and
 * working_hours is inherited from [defaults] like the rest.
 */
static void test_business_calendar(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	const struct route_table *t;
	char path[PATH_MAX + 32];
	instant_t from, due, want;

	testdir_write(path, sizeof path, fx->dir, "calendar.conf",
		      "[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
		      "workdays = mon, tue, wed, thu, fri\n"
		      "hours = 08:00-17:00\n"
		      "[holidays]\n2026-12-31 = test holiday\n");
	assert_int_equal(calendar_load(path, &fx->cal, &err), 0);

	t = load_ok(fx, "[defaults]\nworking_hours = yes\n"
		    "[rule b]\nassign = a\ndeadline = 2bd\n"
		    "[rule h]\nassign = a\ndeadline = 16bh\n"
		    "working_hours = no\n"
		    "[schedule s]\nagency = a\nevery = month\n"
		    "category = cybersecurity\ntitle = t\ndue = 5bd\n");
	assert_true(t->triage.working_hours);
	assert_false(t->triage.business);
	assert_true(t->rules[0].business);
	assert_int_equal(t->rules[0].deadline_ms, 18 * H);
	assert_true(t->rules[0].working_hours);
	assert_true(t->rules[1].business);
	assert_int_equal(t->rules[1].deadline_ms, 16 * H);
	assert_false(t->rules[1].working_hours);
	assert_true(t->schedules[0].rule.business);
	assert_int_equal(t->schedules[0].rule.deadline_ms, 45 * H);

	/* Wed 2026-12-30 16:00 +07 + 2bd skips the holiday on Thursday and
	 * the weekend: 1h on Wednesday, 9h on Friday, 8h on Monday. */
	assert_int_equal(time_parse_instant("2026-12-30T09:00:00Z", &from), 0);
	assert_int_equal(route_due(&t->rules[0], fx->cal, from, &due), 0);
	assert_int_equal(time_parse_instant("2027-01-04T09:00:00Z", &want), 0);
	assert_int_equal(due, want);
	/* Calendar time is plain addition, calendar or not. */
	assert_int_equal(route_due(&t->triage, NULL, from, &due), 0);
	assert_int_equal(due, from + 72 * H);
	/* Business time without its calendar is an error, not a guess. */
	assert_int_equal(route_due(&t->rules[0], NULL, from, &due), -EINVAL);
}

/* A reminder at or past the deadline is refused, wherever each came from. */
static void test_reminder_not_before_deadline(void **state)
{
	assert_invalid(*state,
		       "[rule x]\nassign = a\ndeadline = 72h\n"
		       "reminders = 2h, 80h\n",
		       4, "reminder 80h is not before the deadline 72h");
	/* At the reminders' line, in whatever order the keys come. */
	assert_invalid(*state,
		       "[rule x]\nreminders = 3d\nassign = a\n"
		       "deadline = 72h\n",
		       2, "reminder 3d is not before the deadline 72h");
	/* The rule's deadline against the reminders of [defaults]. */
	assert_invalid(*state,
		       "[defaults]\nreminders = 24h, 2h\n"
		       "[rule x]\nassign = a\ndeadline = 12h\n",
		       5, "reminder 24h from [defaults] is not before the "
		       "deadline 12h");
	/* The rule's reminders against the deadline of [defaults]. */
	assert_invalid(*state,
		       "[defaults]\ndeadline = 2d\n"
		       "[rule x]\nassign = a\nreminders = 48h\n",
		       5, "reminder 48h is not before the deadline 2d");
	/* [defaults] against the built-in ones. */
	assert_invalid(*state,
		       "[defaults]\ndeadline = 24h\n",
		       2, "reminder 24h (the default) is not before the "
		       "deadline 24h");
	assert_invalid(*state,
		       "[defaults]\nreminders = 4d\n[rule x]\nassign = a\n",
		       2, "reminder 4d is not before the deadline 72h");
}

static void test_lists(void **state)
{
	char text[1024], value[512];
	size_t len = 0;
	int i;

	assert_invalid(*state,
		       "[rule x]\nassign = a\nkind = incident, , progress\n",
		       3, "empty item in the list 'incident, , progress' "
		       "for kind");
	assert_invalid(*state,
		       "[rule x]\nassign = a\nnotify = mic,\n",
		       3, "empty item in the list 'mic,' for notify");
	/* 16 entries are fine, 17 are not. */
	for (i = 0; i < ROUTE_MAX_LIST; i++)
		len += (size_t)snprintf(value + len, sizeof value - len,
					"%sL%d", i ? "," : "", i);
	snprintf(text, sizeof text, "[rule x]\nassign = a\nlocality = %s\n",
		 value);
	assert_int_equal(load_ok(*state, text)->rules[0].localities[15][0],
			 'L');
	snprintf(text, sizeof text, "[rule x]\nassign = a\nlocality = %s,L\n",
		 value);
	assert_invalid(*state, text, 3,
		       "more than 16 items in the list for locality");
}

static void test_duplicate_rule(void **state)
{
	assert_invalid(*state,
		       "[rule a]\nassign = x\n[rule b]\nassign = y\n"
		       "[rule a]\nassign = z\n",
		       5, "duplicate rule name 'a' (first at line 1)");
	assert_invalid(*state,
		       "[rule triage]\nassign = x\n",
		       1, "the rule name 'triage' is reserved for reports "
		       "that no rule matches");
}

static void test_duplicate_key(void **state)
{
	assert_invalid(*state,
		       "[rule a]\nassign = x\nkind = incident\n"
		       "assign = y\n",
		       4, "duplicate key 'assign' in [rule a]");
	assert_invalid(*state,
		       "[defaults]\ndeadline = 24h\ndeadline = 24h\n",
		       3, "duplicate key 'deadline' in [defaults]");
	/* A key per section: the next rule may give it again. */
	assert_int_equal(load_ok(*state,
				 "[rule a]\nassign = x\n[rule b]\nassign = y\n")
			 ->nrules, 2);
}

/* A rule without assign is refused at its header. */
static void test_missing_assign(void **state)
{
	assert_invalid(*state,
		       "[rule a]\nassign = x\n"
		       "[rule b]\nkind = incident\n\n"
		       "[rule c]\nassign = y\n",
		       3, "[rule b] has no assign");
	/* Also the last one, found at the end of the file. */
	assert_invalid(*state,
		       "[rule a]\nassign = x\n[rule b]\n; nothing\n",
		       3, "[rule b] has no assign");
}

static void test_defaults_placement(void **state)
{
	assert_invalid(*state,
		       "[rule a]\nassign = x\n[defaults]\ndeadline = 1h\n",
		       3, "[defaults] must come before the first rule");
	assert_invalid(*state,
		       "[defaults]\ndeadline = 96h\n[defaults]\n",
		       3, "duplicate section [defaults]");
}

static void test_too_many_rules(void **state)
{
	size_t size = (ROUTE_MAX_RULES + 1) * 32, len = 0;
	char *text = malloc(size);
	int i;

	assert_non_null(text);
	for (i = 0; i < ROUTE_MAX_RULES; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[rule r%d]\nassign = a\n", i);
	assert_int_equal(load_ok(*state, text)->nrules, ROUTE_MAX_RULES);
	snprintf(text + len, size - len, "[rule one-more]\nassign = a\n");
	assert_invalid(*state, text, 2 * ROUTE_MAX_RULES + 1,
		       "more than 1024 rules");
	free(text);
}

/* Of several mistakes the first is reported, whatever its kind. */
static void test_first_error_wins(void **state)
{
	assert_invalid(*state,
		       "[rule a]\nassign = x\nnonsense\nkind = bad\n",
		       3, "expected [section] or key = value");
	assert_invalid(*state,
		       "[rule a]\nkind = bad\nnonsense\n",
		       2, "invalid kind 'bad': expected incident, progress, "
		       "completion or periodic");
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct config_error err = { .line = 99 };
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/absent.conf", fx->dir);
	assert_int_equal(route_load(path, NULL, &fx->t, &err), -ENOENT);
	assert_null(fx->t);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	assert_int_equal(route_load(path, NULL, &fx->t, NULL), -ENOENT);
	route_free(NULL);
}

/* ------------------------------------------------------ the bundled file */

static const struct route_rule *only(const struct route_table *t,
				     const struct msg *m, const char *name)
{
	const struct route_rule *out[ROUTE_MAX_MATCHES];

	assert_int_equal(route_match(t, m, out, ROUTE_MAX_MATCHES), 1);
	assert_string_equal(out[0]->name, name);
	return out[0];
}

static void test_bundled_file(void **state)
{
	struct fixture *fx = *state;
	const char *source = getenv("BATON_SOURCE");
	char path[PATH_MAX], here[PATH_MAX], cal[PATH_MAX], buf[256];
	const struct route_rule *r;
	struct config_error err;
	struct msg m;
	int rc;

	if (source) {
		snprintf(path, sizeof path, "%s/config/routes.conf", source);
	} else {
		/* This file is tests/unit/test_route.c in the source tree. */
		snprintf(here, sizeof here, "%s", __FILE__);
		snprintf(path, sizeof path, "%s/../../config/routes.conf",
			 dirname(here));
	}
	/* The bundled rules count some deadlines in the bundled calendar. */
	snprintf(cal, sizeof cal, "%s", path);
	snprintf(strrchr(cal, '/') + 1, sizeof cal - (size_t)(strrchr(cal, '/')
		 + 1 - cal), "calendar.conf");
	rc = calendar_load(cal, &fx->cal, &err);
	if (rc == 0)
		rc = route_load(path, fx->cal, &fx->t, &err);
	if (rc < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	assert_string_equal(fx->t->office, "office");
	assert_string_equal(fx->t->triage.assign, "office");
	assert_steps(&fx->t->triage, 2, "office", INT64_C(0),
		     "committee", 48 * H);

	/* An attack on a key information system: the police cyber unit. */
	m = incident(CATEGORY_CYBERSECURITY, SEVERITY_CRITICAL);
	r = only(fx->t, &m, "critical-cyber-incidents");
	assert_string_equal(r->assign, "mps-a05");
	assert_int_equal(r->deadline_ms, 24 * H);
	assert_int_equal(r->nreminders, 2);
	assert_int_equal(r->reminders_ms[0], 12 * H);
	assert_int_equal(r->reminders_ms[1], 2 * H);
	assert_steps(r, 3, "mps-a05", INT64_C(0), "office", 12 * H,
		     "committee", 48 * H);
	assert_string_equal(r->notify[0], "mic");
	assert_null(r->notify[1]);

	/* Other cybersecurity incidents: the information security authority. */
	m.severity = SEVERITY_HIGH;
	r = only(fx->t, &m, "cyber-incidents");
	assert_string_equal(r->assign, "mic-ais");
	assert_int_equal(r->deadline_ms, 72 * H);
	assert_null(r->notify);

	/* Information security: serious ones are told to the police too. */
	m = incident(CATEGORY_INFORMATION_SECURITY, SEVERITY_HIGH);
	r = only(fx->t, &m, "infosec-serious");
	assert_string_equal(r->assign, "mic-ais");
	assert_string_equal(r->notify[0], "mps-a05");
	m.severity = SEVERITY_MEDIUM;
	r = only(fx->t, &m, "infosec");
	assert_string_equal(r->assign, "mic-ais");
	assert_null(r->notify);

	/* In Hanoi and HCMC the city police get a task of their own too. */
	m.locality = "HN";
	assert_string_equal(ROUTE(fx->t, &m), "infosec-hanoi infosec");
	m.locality = "HCM";
	m.severity = SEVERITY_CRITICAL;
	assert_string_equal(ROUTE(fx->t, &m), "infosec-hcm infosec-serious");
	assert_string_equal(fx->t->rules[4].assign, "hcm-pc");
	m.locality = "DN";
	assert_string_equal(ROUTE(fx->t, &m), "infosec-serious");

	/* Cyber defence: a day for the serious ones. */
	m = incident(CATEGORY_CYBER_DEFENSE, SEVERITY_HIGH);
	r = only(fx->t, &m, "cyber-defense-urgent");
	assert_string_equal(r->assign, "mod-cmd86");
	assert_int_equal(r->deadline_ms, 24 * H);
	m.severity = SEVERITY_LOW;
	r = only(fx->t, &m, "cyber-defense");
	assert_string_equal(r->assign, "mod-cmd86");
	assert_int_equal(r->deadline_ms, 72 * H);

	/* Toxic information: the propaganda department, the MIC told. */
	m = incident(CATEGORY_TOXIC_INFORMATION, SEVERITY_MEDIUM);
	r = only(fx->t, &m, "toxic-information");
	assert_string_equal(r->assign, "cpd");
	assert_string_equal(r->notify[0], "mic");

	/* A drill goes where a real one would, and to the office as well. */
	m = incident(CATEGORY_CYBERSECURITY, SEVERITY_CRITICAL);
	m.drill = true;
	assert_string_equal(ROUTE(fx->t, &m),
			    "drill-evaluation critical-cyber-incidents");
	assert_string_equal(fx->t->rules[0].assign, "office");

	/* No category: nothing matches, the office triages it. */
	m = incident(CATEGORY_NONE, SEVERITY_LOW);
	r = only(fx->t, &m, ROUTE_TRIAGE);
	assert_string_equal(r->assign, "office");
}

/* ---------------------------------------------------------- schedules */

/* A schedule takes who owes it, how often, when due, and the rest. */
static void test_schedule(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[defaults]\n"
		"reminders = 2d\n"
		"[schedule quarterly]\n"
		"agency = mic, hanoi\n"
		"every = quarter\n"
		"due = 15d\n"
		"category = information-security\n"
		"title = Quarterly report on the four key areas\n"
		"notify = office\n"
		"[rule any]\n"
		"assign = office\n");
	const struct route_schedule *sc;

	assert_int_equal(t->nschedules, 1);
	assert_int_equal(t->nrules, 1);
	sc = &t->schedules[0];
	assert_string_equal(sc->rule.name, "quarterly");
	assert_int_equal(sc->rule.line, 3);
	assert_string_equal(sc->rule.agencies[0], "mic");
	assert_string_equal(sc->rule.agencies[1], "hanoi");
	assert_null(sc->rule.agencies[2]);
	assert_int_equal(sc->every, EVERY_QUARTER);
	assert_true(sc->rule.deadline_ms == 15 * TIME_MS_PER_D);
	assert_int_equal(sc->category, CATEGORY_INFORMATION_SECURITY);
	assert_string_equal(sc->title, "Quarterly report on the four key areas");
	/* Inherited from [defaults]. */
	assert_int_equal(sc->rule.nreminders, 1);
	assert_true(sc->rule.reminders_ms[0] == 2 * TIME_MS_PER_D);
	assert_int_equal(sc->rule.nescalation, 1);
	assert_string_equal(sc->rule.escalation[0].to, "office");
	assert_null(sc->rule.assign);
}

static void test_schedule_errors(void **state)
{
	assert_invalid(*state,
		       "[schedule q]\n"
		       "agency = mic\n"
		       "every = quarter\n"
		       "title = T\n",
		       1, "[schedule q] needs agency, every, category and title");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "every = fortnight\n",
		       2, "invalid every 'fortnight': expected year, half, "
		       "quarter, month, week, day or a length in whole "
		       "seconds up to 366d (e.g. 30s, 15m, 2h)");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "every = 1500ms\n",
		       2, "invalid every '1500ms': expected year, half, "
		       "quarter, month, week, day or a length in whole "
		       "seconds up to 366d (e.g. 30s, 15m, 2h)");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "agency = mic\nevery = 7m\ncategory = cybersecurity\n"
		       "title = T\n",
		       1, "[schedule q]: every length must divide a day "
		       "(e.g. 30s, 15m, 2h) unless from is set");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "from = tomorrow\n",
		       2, "invalid from 'tomorrow': expected an instant in "
		       "UTC to the second from 1970 on, e.g. "
		       "2026-11-26T08:00:00Z");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "every = 367d\n",
		       2, "invalid every '367d': expected year, half, "
		       "quarter, month, week, day or a length in whole "
		       "seconds up to 366d (e.g. 30s, 15m, 2h)");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "until = 2026-11-26T08:00:00.500Z\n",
		       2, "invalid until '2026-11-26T08:00:00.500Z': expected "
		       "an instant in UTC to the second from 1970 on, e.g. "
		       "2026-11-26T08:00:00Z");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "agency = mic\nevery = 1h\ncategory = cybersecurity\n"
		       "title = T\nfrom = 2026-11-26T08:00:00Z\n"
		       "until = 2026-11-26T08:00:00Z\n",
		       1, "[schedule q]: until is not after from");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "agency = mic\n"
		       "every = month\n"
		       "category = cybersecurity, cyber-defense\n"
		       "title = T\n",
		       1, "[schedule q] has more than one category");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "assign = mic\n",
		       2, "unknown key 'assign' in [schedule q]");
	assert_invalid(*state,
		       "[schedule q]\n"
		       "agency = mic\nevery = year\ncategory = cybersecurity\n"
		       "title = T\n"
		       "[schedule q]\n",
		       6, "duplicate schedule name 'q' (first at line 1)");
	assert_invalid(*state,
		       "[schedule a-name-that-is-longer-than-32-bytes]\n",
		       1, "invalid schedule name "
		       "'a-name-that-is-longer-than-32-bytes': expected "
		       "[schedule NAME], NAME 1-32 characters of A-Z a-z 0-9 "
		       ". _ -");
}

/* Each kind of period, named and bounded in UTC, and parsed back. */
static void test_periods(void **state)
{
	static const struct {
		enum route_every every;
		const char *at, *name, *start, *end;
	} cases[] = {
		{ EVERY_YEAR, "2026-11-25T08:00:00Z", "2026",
		  "2026-01-01", "2027-01-01" },
		{ EVERY_HALF, "2026-11-25T08:00:00Z", "2026-H2",
		  "2026-07-01", "2027-01-01" },
		{ EVERY_QUARTER, "2026-11-25T08:00:00Z", "2026-Q4",
		  "2026-10-01", "2027-01-01" },
		{ EVERY_QUARTER, "2026-03-31T23:59:59.999Z", "2026-Q1",
		  "2026-01-01", "2026-04-01" },
		{ EVERY_MONTH, "2026-02-14T00:00:00Z", "2026-02",
		  "2026-02-01", "2026-03-01" },
		{ EVERY_WEEK, "2026-11-25T08:00:00Z", "2026-W48",
		  "2026-11-23", "2026-11-30" },
		/* 1 January 2027 is a Friday: ISO week 53 of 2026. */
		{ EVERY_WEEK, "2027-01-01T12:00:00Z", "2026-W53",
		  "2026-12-28", "2027-01-04" },
		{ EVERY_DAY, "2026-11-26T23:59:59.999Z", "2026-11-26",
		  "2026-11-26", "2026-11-27" },
		{ EVERY_DAY, "2028-02-29T00:00:00Z", "2028-02-29",
		  "2028-02-29", "2028-03-01" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		instant_t at, want_start, want_end;
		int64_t start, end, pstart, pend;
		char name[MSG_PERIOD_MAX + 1];

		assert_int_equal(time_parse_instant(cases[i].at, &at), 0);
		assert_int_equal(time_parse_instant(cases[i].start,
						    &want_start), 0);
		assert_int_equal(time_parse_instant(cases[i].end, &want_end), 0);
		assert_int_equal(route_period_at(cases[i].every, at, name,
						 sizeof name, &start, &end), 0);
		assert_string_equal(name, cases[i].name);
		assert_true(start == want_start);
		assert_true(end == want_end);
		assert_int_equal(route_period_parse(name, &pstart, &pend),
				 cases[i].every);
		assert_true(pstart == start && pend == end);
	}
	/* Only a period's own name is that period. */
	static const char *const bad[] = {
		"2026-Q5", "2026-Q0", "2026-H3", "2026-13", "2026-7",
		"2026-W54", "2026-W5", "2025-W53", "26", "2026-", "x",
		"2026-02-30", "2026-11-6", "20260230T000000Z",
		"20261126T080000", "2026-11-26T08:00:00Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t a, b;

		assert_int_equal(route_period_parse(bad[i], &a, &b), EVERY_NONE);
	}
}

/*
 * Periods of a length: counted from midnight UTC, or from from; owed only
 * within [from, until); named by their start, to the second.
 */
static void test_interval_periods(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[schedule hourly]\n"
		"agency = hanoi\nevery = 1h\ncategory = cybersecurity\n"
		"title = Hourly\n"
		"[schedule drill]\n"
		"agency = hanoi\nevery = 20m\ncategory = cyber-defense\n"
		"title = Drill situation report\n"
		"from = 2026-11-26T08:05:00Z\nuntil = 2026-11-26T09:05:00Z\n");
	const struct route_schedule *hourly = &t->schedules[0];
	const struct route_schedule *drill = &t->schedules[1];
	char name[MSG_PERIOD_MAX + 1];
	instant_t at, want;
	int64_t start, end;

	assert_int_equal(hourly->every, EVERY_INTERVAL);
	assert_true(hourly->step_ms == TIME_MS_PER_H);
	assert_true(hourly->from == INT64_MIN && hourly->until == INT64_MAX);

	assert_int_equal(time_parse_instant("2026-11-26T08:59:59.999Z", &at),
			 0);
	assert_int_equal(route_schedule_period(hourly, at, name, sizeof name,
					       &start, &end), 0);
	assert_string_equal(name, "20261126T080000Z");
	assert_int_equal(time_parse_instant("2026-11-26T08:00:00Z", &want), 0);
	assert_true(start == want && end == want + TIME_MS_PER_H);
	assert_true(route_schedule_owes(hourly, "20261126T080000Z", &start,
					&end));
	assert_true(start == want && end == want + TIME_MS_PER_H);
	assert_false(route_schedule_owes(hourly, "20261126T083000Z", &start,
					 &end));
	assert_false(route_schedule_owes(hourly, "2026-11-26", &start, &end));

	/* Counted from from: 08:05, 08:25, 08:45, then nothing from 09:05.
	 * Before from, the period holding t is named but not owed. */
	assert_int_equal(time_parse_instant("2026-11-26T08:00:00Z", &at), 0);
	assert_int_equal(route_schedule_period(drill, at, name, sizeof name,
					       &start, &end), 0);
	assert_string_equal(name, "20261126T074500Z");
	assert_false(route_schedule_owes(drill, name, &start, &end));
	assert_true(route_schedule_owes(drill, "20261126T080500Z", &start,
					&end));
	assert_true(route_schedule_owes(drill, "20261126T084500Z", &start,
					&end));
	assert_int_equal(time_parse_instant("2026-11-26T09:05:00Z", &want), 0);
	assert_true(end == want);
	assert_false(route_schedule_owes(drill, "20261126T090500Z", &start,
					 &end));
	assert_false(route_schedule_owes(drill, "20261126T081000Z", &start,
					 &end));
}

/* Obligation ids: stable, from schedule, agency and period. */
static void test_obligation_id(void **state)
{
	const struct route_table *t = load_ok(*state,
		"[schedule monthly]\n"
		"agency = hanoi\nevery = month\ncategory = cybersecurity\n"
		"title = Monthly report\n");
	char id[MSG_TASK_MAX + 1];

	assert_string_equal(route_obligation_id(&t->schedules[0], "hanoi",
						"2026-11", id, sizeof id),
			    "P-monthly-hanoi-2026-11");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_schedule),
		T(test_schedule_errors),
		T(test_periods),
		T(test_interval_periods),
		T(test_obligation_id),
		T(test_kind),
		T(test_category),
		T(test_severity_exact),
		T(test_severity_list),
		T(test_severity_at_least),
		T(test_locality),
		T(test_agency),
		T(test_drill),
		T(test_combined),
		T(test_first_match_wins),
		T(test_continue),
		T(test_continue_last),
		T(test_max_matches),
		T(test_triage),
		T(test_builtin_defaults),
		T(test_inheritance),
		T(test_default_escalation_follows_office),
		T(test_values),
		T(test_long_rule_names),
		T(test_unknown_key),
		T(test_unknown_section),
		T(test_bad_names),
		T(test_bad_at_least),
		T(test_bad_agency),
		T(test_bad_values),
		T(test_bad_durations),
		T(test_business_time),
		T(test_business_calendar),
		T(test_reminder_not_before_deadline),
		T(test_lists),
		T(test_duplicate_rule),
		T(test_duplicate_key),
		T(test_missing_assign),
		T(test_defaults_placement),
		T(test_too_many_rules),
		T(test_first_error_wins),
		T(test_missing_file),
		T(test_bundled_file),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
