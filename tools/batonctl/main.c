/*
 * batonctl/main.c - the operator tool: a table of commands.
 *
 * Every command reads the same baton.conf as the daemons. Inspection opens
 * the daemons' LMDB environments read-only (LMDB readers never block the
 * writer); every change goes through intake, so that intake's log stays the
 * one ordered record of what happened. Exit status: 0 success, 1 the command
 * failed or was refused, 2 bad usage, 3 no answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batonctl.h"
#include "log.h"

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct command commands[] = {
	{ "submit", cmd_submit, "[OPTIONS] | --file FILE",
	  "submit a report from options or a JSON file",
"  -a, --agency NAME      the reporting agency (required with auth = none)\n"
"  -i, --id ID            the report id (default: generated); resending the\n"
"                         same id is safe\n"
"  -k, --kind KIND        incident, progress, completion or periodic\n"
"  -C, --category CAT     cybersecurity, information-security, cyber-defense\n"
"                         or toxic-information\n"
"  -s, --severity SEV     low, medium, high or critical (incidents)\n"
"  -t, --title TEXT       what happened, in one line\n"
"  -b, --body TEXT        the details\n"
"  -l, --locality CODE    the province or city it concerns\n"
"  -T, --task ID          the task a progress or completion report is about\n"
"  -p, --period P         the period of a periodic report, e.g. 2026-Q3\n"
"  -o, --occurred-at T    when it happened (2026-11-25T08:30:00Z or Unix ms)\n"
"  -d, --drill            part of an exercise\n"
"  -f, --file FILE        the body as a JSON object (- for stdin); options\n"
"                         above fill in keys the file does not have\n"
"  -e, --endpoint EP      submit socket (default: [intake] submit)\n"
"  -w, --timeout DUR      give up after DUR without an answer (default 10s);\n"
"                         the report is resent every 2s meanwhile\n"
"      --json             print the answer as JSON\n"
"\nExit status: 0 acknowledged, 1 refused (the reason is printed), 2 bad\n"
"usage, 3 no answer.\n" },
	{ "log", cmd_log, "[--since SEQ] [--limit N] [--json]",
	  "list intake's log: every accepted message, in order",
"  -s, --since SEQ   start at sequence SEQ (default 1)\n"
"  -n, --limit N     show at most N records\n"
"      --json        one JSON object per line, every field\n" },
	{ "verify", cmd_verify, "",
	  "check the hash chain of intake's log and name the first bad record",
	  NULL },
	{ "status", cmd_status, "[--json]",
	  "how far each daemon has published and applied, and its store",
"      --json        as one JSON object, a key per daemon\n" },
	{ "queue", cmd_queue, "[--agency A] [--category C] [--overdue] [--json]",
	  "open tasks, soonest deadline first, overdue marked",
"  -a, --agency A     only tasks assigned to agency A\n"
"  -C, --category C   only tasks in category C\n"
"  -o, --overdue      only tasks past their deadline\n"
"      --json         one JSON object per line\n" },
	{ "task", cmd_task, "ID [--json]",
	  "a task and its whole history",
"      --json         the task as one JSON object, history included\n" },
	{ "timers", cmd_timers, "[--task ID] [--limit N] [--json]",
	  "what baton-deadline will fire, and when, soonest first",
"  -t, --task ID      only the pending steps of task ID\n"
"  -n, --limit N      show at most N timers\n"
"      --json         one JSON object per line\n" },
	{ "alerts", cmd_alerts, "[--since T] [--json]",
	  "the alerts baton-deadline fired, in order, late ones marked",
"  -s, --since T      only those fired at or after T: an instant\n"
"                     (2026-11-26T08:00:00Z, Unix ms) or a duration ago (2h)\n"
"      --json         one JSON object per line, every field\n" },
	{ "deliveries", cmd_deliveries,
	  "[--state S] [--agency A] [--alert ID] [--json]",
	  "every delivery of every alert: sent, pending, retrying or dead",
"  -s, --state S      only deliveries in state S: pending, sent, retrying,\n"
"                     dead\n"
"  -a, --agency A     only deliveries to agency A\n"
"  -A, --alert ID     only the deliveries of alert ID\n"
"      --json         one JSON object per line, every field\n"
"\nA delivery id is ALERT:AGENCY:CHANNEL, channel feed, journal, email or\n"
"webhook, e.g. T-12/1/overdue:mps-a05:email.\n" },
	{ "retry", cmd_retry, "ID [--agency A] [--reason TEXT]",
	  "try a dead delivery again (ID: a delivery, or an alert's dead ones)",
"  -a, --agency A     who asks: only with auth = none, default office\n"
"  -r, --reason TEXT  why, for the record\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nThe retry is an operator command through intake (op \"retry\"), so\n"
"intake's log records it; baton-notify puts the delivery back to pending.\n" },
	{ "watch", cmd_watch, "[PREFIX...] [--count N] [--timeout DUR] [--json]",
	  "print the office alert feed as alerts arrive",
"PREFIX is a topic prefix, alert.KIND.AGENCY: alert.overdue. for every\n"
"overdue alert, alert.reminder.mps-a05 for one agency's reminders\n"
"(default: alert., everything).\n"
"  -n, --count N      stop after N alerts\n"
"  -w, --timeout DUR  stop after DUR\n"
"      --json         one JSON object per line\n" },
	{ "complete", cmd_operate, "TASK --reason TEXT",
	  "an operator closes a task as done",
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "extend", cmd_operate, "TASK --until T --reason TEXT",
	  "an operator moves a task's deadline (a new plan of alerts)",
"  -u, --until T      the new deadline: an instant (2026-12-01T17:00:00Z)\n"
"                     or a duration from now (3d)\n"
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "reassign", cmd_operate, "TASK --to AGENCY --reason TEXT",
	  "an operator gives a task to another agency",
"  -t, --to AGENCY    the agency that takes it\n"
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "cancel", cmd_operate, "TASK --reason TEXT",
	  "an operator cancels a task",
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "wait", cmd_operate, "TASK --reason TEXT",
	  "an operator stops a task's clock while it waits on others",
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "resume", cmd_operate, "TASK --reason TEXT",
	  "an operator restarts a waiting task's clock",
"  -r, --reason TEXT  why, for the log (required)\n"
"  -a, --agency A     who acts: only with auth = none, default office\n"
"  -i, --id ID        the command id (default: generated)\n"
"  -w, --timeout DUR  give up after DUR without an answer (default 10s)\n"
"      --json         print intake's answer as JSON\n"
"\nWith auth = curve the command goes over [batonctl] key, which must be an\n"
"operator's. Exit status: 0 accepted, 1 refused, 2 bad usage, 3 no\n"
"answer. The router applies it; batonctl task ID shows the result.\n" },
	{ "keygen", cmd_keygen, "AGENCY [--out FILE] | --server [--out FILE]",
	  "make a CurveZMQ key pair for an agency or operator, or the server's",
"  -o, --out FILE     where to write it (default AGENCY.key; with --server,\n"
"                     [baton] server_key, and its public half beside it)\n"
"      --server       the daemons' pair: intake's submit socket, the feed\n"
"\nA key file holding a secret is written with mode 600 and never over an\n"
"existing file. keygen prints the line to add to agencies.conf.\n" },
	{ "backup", cmd_backup, "DIR",
	  "copy every daemon's store into DIR, live, one snapshot each",
"DIR/intake, DIR/router, DIR/deadline and DIR/notify each get a compacted\n"
"copy of that daemon's LMDB as of one read snapshot, taken while the\n"
"daemons run (LMDB readers block nobody). To restore, stop the daemons and\n"
"copy each DIR/NAME/data.mdb into state_dir/NAME/. The configuration\n"
"(baton.conf, agencies.conf and the keys) is not included.\n" },
	{ "routes", cmd_routes, "test FILE.json",
	  "which routing rules a report would match, and what would follow",
"FILE.json is a report as a JSON object (- for stdin), e.g.\n"
"  {\"agency\": \"hanoi\", \"category\": \"cybersecurity\",\n"
"   \"severity\": \"high\", \"title\": \"Ransomware at the city hospital\"}\n"
"Missing v, type, id and kind are filled in (kind: incident).\n" },
	{ "help", cmd_help, "[COMMAND]", "show this help, or a command's", NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: batonctl [-c FILE] COMMAND [ARGS]\n\n"
		   "Inspect and operate Baton.\n\n"
		   "  -c, --config FILE  configuration file (default %s)\n"
		   "  -h, --help         this help\n"
		   "      --version      print the version\n\n"
		   "commands:\n", CONFIG_DEFAULT_PATH);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'batonctl COMMAND --help' shows a command's options.\n");
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (!find(argv[1]))
		return ctl_usage("help", "unknown command '%s'", argv[1]);
	return ctl_help(argv[1]);
}

int ctl_help(const char *name)
{
	const struct command *c = find(name);

	printf("usage: batonctl %s %s\n\n%s\n", c->name, c->args, c->help);
	if (c->options)
		printf("\n%s", c->options);
	return 0;
}

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("batonctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "batonctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'batonctl %s --help')\n", cmd);
	return 2;
}

bool ctl_parse_u64(const char *text, unsigned long long *ret)
{
	char *end;

	if (!text[0] || text[0] == '-' || text[0] == '+')
		return false;
	errno = 0;
	*ret = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0';
}

const struct config *ctl_config(struct ctl *ctl)
{
	struct config_error err;
	char text[1024];

	if (ctl->conf)
		return ctl->conf;
	if (config_load(ctl->config_path, &ctl->conf, &err) < 0) {
		ctl_error("%s", config_error_text(&err, text, sizeof(text)));
		return NULL;
	}
	return ctl->conf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .config_path = CONFIG_DEFAULT_PATH };
	const struct command *cmd;
	int c, r;

	log_init("batonctl", 0);
	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("batonctl %s\n", BATON_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	cmd = find(argv[optind]);
	if (!cmd) {
		ctl_error("unknown command '%s' (see 'batonctl help')",
			  argv[optind]);
		return 2;
	}
	c = optind;
	optind = 0;	/* glibc: reinitialise getopt for the command */
	r = cmd->fn(&ctl, argc - c, argv + c);
	config_free(ctl.conf);
	return r;
}
