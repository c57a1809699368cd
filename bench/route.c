/*
 * bench/route.c - bench-route: how many reports a second lib/route matches
 * against a table of 200 rules.
 *
 * The router calls route_match() once per incident, inside its write
 * transaction, so the matcher's cost is part of every task it creates. This
 * writes a routes file of N rules (default 200) into a temporary directory,
 * loads it with route_load() exactly as baton-router does, builds two sets
 * of decoded reports (struct msg filled in directly, as msg_decode_event()
 * would leave them), and times route_match() over each set, round and
 * round, for a fixed time:
 *
 *   typical  reports whose locality, agency, category and severity come
 *            from the vocabulary the rules use. The rules are laid out like
 *            a real table: a drill rule and a few "continue" rules, then
 *            narrow rules (category, severity, a list of 5 localities and
 *            a list of 5 reporting agencies, or severity critical instead
 *            of the agencies), then broad rules per
 *            category and group of localities at the bottom. Most reports
 *            fall through the narrow rules and stop at a broad one, so a
 *            match walks most of the table.
 *   nomatch  the worst case: a locality and an agency that no rule names,
 *            so no rule matches, all N are tried and the triage rule
 *            answers. Category and severity still pass the cheap bitmask
 *            tests of many rules, so the string lists are compared.
 *
 * Output, one line per mix, for grep:
 *
 *   route rules=200 mix=typical reports=1000 matches_per_s=... ns_per_match=...
 *         avg_rules_tried=... avg_matched=... triage_pct=... seconds=...
 *
 * "rules tried" is how far down the table a match went: to the last rule
 * it matched when that one stops, to the end otherwise. Everything is
 * deterministic (a fixed seed), and the run is bounded: --seconds per mix.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "msg.h"
#include "route.h"

#include "load.h"

#define PROG	"bench-route"

#define NLOCALITIES	64	/* the first five have real names */
#define NAGENCIES	96	/* reporting agencies the rules name */
#define LIST_LEN	5	/* localities or agencies in one rule's list */
#define CHECK_EVERY	1024	/* matches between two clock reads */

struct options {
	unsigned rules;
	unsigned reports;
	double seconds;
	uint64_t seed;
	const char *write;	/* only write the routes file here */
};

/* ---- deterministic choices (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static unsigned pick(unsigned n)
{
	return (unsigned)(rng() % n);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the vocabulary ---- */

static char localities[NLOCALITIES][8];
static char agencies[NAGENCIES][24];

static void make_vocabulary(void)
{
	static const char *named[] = { "HN", "HCM", "DN", "HP", "CT" };

	for (unsigned i = 0; i < NLOCALITIES; i++)
		if (i < sizeof(named) / sizeof(named[0]))
			snprintf(localities[i], sizeof(localities[i]), "%s",
				 named[i]);
		else
			snprintf(localities[i], sizeof(localities[i]), "P%02u",
				 i);
	/* Provincial police and information departments, and ministries. */
	for (unsigned i = 0; i < NAGENCIES; i++)
		if (i < 40)
			snprintf(agencies[i], sizeof(agencies[i]), "pc-%02u", i);
		else if (i < 80)
			snprintf(agencies[i], sizeof(agencies[i]), "dic-%02u",
				 i - 40);
		else
			snprintf(agencies[i], sizeof(agencies[i]),
				 "ministry-%02u", i - 80);
}

static const char *category_names[] = {
	"cybersecurity", "information-security", "cyber-defense",
	"toxic-information",
};

/* ---- the routes file ---- */

/* LIST_LEN distinct entries of names (n of them, each size bytes apart). */
static void write_list(FILE *f, const char *key, const char *names,
		       size_t size, unsigned n)
{
	unsigned chosen[LIST_LEN];

	fprintf(f, "%s = ", key);
	for (unsigned i = 0; i < LIST_LEN; i++) {
		unsigned v;
		bool again;

		do {
			v = pick(n);
			again = false;
			for (unsigned j = 0; j < i; j++)
				again |= chosen[j] == v;
		} while (again);
		chosen[i] = v;
		fprintf(f, "%s%s", i ? ", " : "", names + v * size);
	}
	fputc('\n', f);
}

/* Consequences vary only so that the file looks like one; matching ignores them. */
static void write_consequences(FILE *f, unsigned i)
{
	fprintf(f, "assign = %s\n", agencies[pick(NAGENCIES)]);
	switch (i % 4) {
	case 0:
		fprintf(f, "deadline = 24h\nreminders = 12h, 2h\n"
			"escalation = office@+0, committee@+24h\n");
		break;
	case 1:
		fprintf(f, "deadline = 48h\nnotify = %s\n",
			agencies[pick(NAGENCIES)]);
		break;
	default:
		break;
	}
}

/*
 * The table: rule 0 evaluates drills (continue), a few continue rules
 * (one locality, like infosec-hanoi) spread through the table, narrow
 * rules, and at the bottom the broad ones: for each category, its
 * localities in groups of LIST_LEN, so that every report from a known
 * locality is matched by the last of them at the latest.
 */
static int write_routes(const char *path, unsigned nrules)
{
	unsigned groups = (NLOCALITIES + LIST_LEN - 1) / LIST_LEN;
	unsigned broad = 4 * groups, cont_every, first_broad;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	if (nrules < broad + 2)
		broad = nrules > 2 ? nrules - 2 : 0;
	first_broad = nrules - broad;
	cont_every = first_broad / 5 + 1;
	fprintf(f, "; written by bench-route: %u rules\n\n[defaults]\n"
		"office = office\ndeadline = 72h\nreminders = 24h, 2h\n"
		"escalation = office@+0, committee@+48h\n\n", nrules);
	fprintf(f, "[rule r000-drill]\ndrill = yes\nassign = office\n"
		"deadline = 7d\nreminders = 2d\nescalation = committee@+3d\n"
		"continue = yes\n\n");
	for (unsigned i = 1; i < first_broad; i++) {
		unsigned cat = pick(4);
		bool narrow;

		if (i % cont_every == 0) {
			fprintf(f, "[rule r%03u-local-%s]\ncategory = %s\n"
				"locality = %s\nassign = %s\ncontinue = yes\n\n",
				i, localities[(i / cont_every) % 5],
				category_names[cat],
				localities[(i / cont_every) % 5],
				agencies[pick(NAGENCIES)]);
			continue;
		}
		fprintf(f, "[rule r%03u-narrow]\n", i);
		if (i % 3 == 0)
			fprintf(f, "kind = incident\n");
		if (pick(4) == 0)
			fprintf(f, "category = %s, %s\n", category_names[cat],
				category_names[(cat + 1) % 4]);
		else
			fprintf(f, "category = %s\n", category_names[cat]);
		/* Without a list of agencies, only the gravest reports. */
		narrow = pick(4) != 0;
		switch (narrow ? pick(4) : 1) {
		case 0:
			fprintf(f, "severity = >= high\n");
			break;
		case 1:
			fprintf(f, "severity = critical\n");
			break;
		case 2:
			fprintf(f, "severity = low, medium\n");
			break;
		default:
			break;		/* any severity */
		}
		write_list(f, "locality", &localities[0][0],
			   sizeof(localities[0]), NLOCALITIES);
		if (narrow)
			write_list(f, "agency", &agencies[0][0],
				   sizeof(agencies[0]), NAGENCIES);
		if (i % 5 == 0)
			fprintf(f, "drill = no\n");
		write_consequences(f, i);
		fputc('\n', f);
	}
	for (unsigned b = 0; b < broad; b++) {
		unsigned cat = b / groups, g = b % groups;

		fprintf(f, "[rule r%03u-broad]\ncategory = %s\nlocality = ",
			first_broad + b, category_names[cat % 4]);
		for (unsigned k = 0; k < LIST_LEN; k++) {
			unsigned l = (g * LIST_LEN + k) % NLOCALITIES;

			fprintf(f, "%s%s", k ? ", " : "", localities[l]);
		}
		fprintf(f, "\n");
		write_consequences(f, first_broad + b);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* ---- the reports ---- */

struct report {
	struct msg m;
	char id[32];
};

static void make_reports(struct report *r, unsigned n, bool nomatch)
{
	static const char *unknown_localities[] = { "P99", "HNX", "Q07" };
	static const char *unknown_agencies[] = {
		"pc-99", "dic-77", "ministry-42",
	};

	for (unsigned i = 0; i < n; i++) {
		struct msg *m = &r[i].m;
		unsigned sev = pick(10);

		memset(m, 0, sizeof(*m));
		snprintf(r[i].id, sizeof(r[i].id), "rep-%06u", i);
		m->type = MSG_REPORT_ACCEPTED;
		m->id = r[i].id;
		m->kind = KIND_INCIDENT;
		m->category = (enum msg_category)(CATEGORY_CYBERSECURITY +
						  pick(4));
		/* Mostly low and medium; a tenth critical. */
		m->severity = sev < 4 ? SEVERITY_LOW : sev < 7 ?
			SEVERITY_MEDIUM : sev < 9 ? SEVERITY_HIGH :
			SEVERITY_CRITICAL;
		m->title = "Unusual outbound traffic from a ministry portal";
		m->accepted_at = INT64_C(1790000000000) + i;
		if (nomatch) {
			m->locality = unknown_localities[pick(3)];
			m->agency = unknown_agencies[pick(3)];
			m->drill = false;
		} else {
			m->locality = localities[pick(NLOCALITIES)];
			m->agency = agencies[pick(NAGENCIES)];
			m->drill = pick(50) == 0;
		}
	}
}

/* How far down the table route_match() went for m, and what it found. */
static size_t rules_tried(const struct route_table *t,
			  const struct route_rule **out, size_t n)
{
	const struct route_rule *last = out[n - 1];

	if (last == &t->triage)
		return t->nrules;
	if (last->cont && n < ROUTE_MAX_MATCHES)
		return t->nrules;
	return (size_t)(last - t->rules) + 1;
}

/* ---- timing ---- */

static volatile uintptr_t sink;

static int run_mix(const struct route_table *t, const struct report *r,
		   unsigned n, const char *mix, const struct options *o)
{
	const struct route_rule *out[ROUTE_MAX_MATCHES];
	uint64_t tried = 0, matched = 0, triage = 0, count = 0;
	int64_t start, end, limit;
	uintptr_t acc = 0;
	unsigned i = 0;
	double secs;

	/* One pass, not timed: what the mix is. */
	for (unsigned k = 0; k < n; k++) {
		size_t got = route_match(t, &r[k].m, out, ROUTE_MAX_MATCHES);

		tried += rules_tried(t, out, got);
		if (out[0] == &t->triage)
			triage++;
		else
			matched += got;
	}
	if (strcmp(mix, "nomatch") == 0 && triage != n) {
		fprintf(stderr, "bench-route: %" PRIu64 " of the nomatch "
			"reports matched a rule\n", n - triage);
		return -1;
	}

	start = now_ns();
	limit = start + (int64_t)(o->seconds * 1e9);
	do {
		for (unsigned k = 0; k < CHECK_EVERY; k++) {
			size_t got = route_match(t, &r[i].m, out,
						 ROUTE_MAX_MATCHES);

			acc += (uintptr_t)out[got - 1];
			if (++i == n)
				i = 0;
		}
		count += CHECK_EVERY;
		end = now_ns();
	} while (end < limit);
	sink = acc;
	secs = (double)(end - start) / 1e9;

	printf("route rules=%zu mix=%s reports=%u matches_per_s=%.0f "
	       "ns_per_match=%.1f avg_rules_tried=%.1f avg_matched=%.2f "
	       "triage_pct=%.1f seconds=%.2f\n",
	       t->nrules, mix, n, (double)count / secs,
	       (double)(end - start) / (double)count, (double)tried / n,
	       (double)matched / n, 100.0 * (double)triage / n, secs);
	fflush(stdout);
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-route [--rules N] [--reports R] [--seconds S] [--seed X]\n"
"       bench-route [--rules N] [--seed X] --write FILE\n"
"\n"
"Write a routes file of N rules (default 200) in a temporary directory,\n"
"load it with route_load(), and time route_match() for S seconds (default\n"
"2) over R decoded reports (default 1000) of each mix: 'typical' (most\n"
"reports match one of the broad rules at the bottom) and 'nomatch' (no\n"
"rule matches: every rule is tried, the triage rule answers). Prints one\n"
"'route ...' line per mix. X seeds the choices (default 1). --write only\n"
"writes the routes file to FILE, to read or to try with batonctl.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "reports", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'x' },
		{ "write", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'r':
			if (load_parse_uint(PROG, "rules", optarg, 60,
					    ROUTE_MAX_RULES, &o->rules) < 0)
				return -EINVAL;
			break;
		case 'n':
			if (load_parse_uint(PROG, "reports", optarg, 1, 1000000,
					    &o->reports) < 0)
				return -EINVAL;
			break;
		case 's':
			if (load_parse_number(PROG, "seconds", optarg, 0.01,
					      600, &o->seconds) < 0)
				return -EINVAL;
			break;
		case 'x':
			o->seed = strtoull(optarg, &end, 0);
			if (errno || *end) {
				fprintf(stderr, "bench-route: --seed: expected "
					"a number\n");
				return -EINVAL;
			}
			break;
		case 'w':
			o->write = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.rules = 200, .reports = 1000, .seconds = 2, .seed = 1,
	};
	const char *tmp = getenv("TMPDIR");
	struct route_table *t = NULL;
	struct report *typical = NULL, *nomatch = NULL;
	struct config_error err;
	char dir[512], path[600], text[1024];
	int r, status = 1;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	rng_state = opt.seed;
	make_vocabulary();
	if (opt.write) {
		r = write_routes(opt.write, opt.rules);
		if (r < 0)
			fprintf(stderr, "bench-route: %s: %s\n", opt.write,
				strerror(-r));
		return r < 0 ? 1 : 0;
	}
	snprintf(dir, sizeof(dir), "%s/bench-route.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench-route: mkdtemp %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/routes.conf", dir);
	r = write_routes(path, opt.rules);
	if (r < 0) {
		fprintf(stderr, "bench-route: %s: %s\n", path, strerror(-r));
		goto out;
	}
	r = route_load(path, NULL, &t, &err);
	if (r < 0) {
		fprintf(stderr, "bench-route: %s\n",
			config_error_text(&err, text, sizeof(text)));
		goto out;
	}
	typical = calloc(opt.reports, sizeof(*typical));
	nomatch = calloc(opt.reports, sizeof(*nomatch));
	if (!typical || !nomatch) {
		fprintf(stderr, "bench-route: out of memory\n");
		goto out;
	}
	make_reports(typical, opt.reports, false);
	make_reports(nomatch, opt.reports, true);
	if (run_mix(t, typical, opt.reports, "typical", &opt) < 0 ||
	    run_mix(t, nomatch, opt.reports, "nomatch", &opt) < 0)
		goto out;
	status = 0;
out:
	route_free(t);
	free(typical);
	free(nomatch);
	unlink(path);
	rmdir(dir);
	return status;
}
