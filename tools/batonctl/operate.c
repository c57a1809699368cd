/*
 * batonctl/operate.c - the operator's hands: commands on tasks (complete,
 * extend, reassign, cancel, wait, resume) and the keys (keygen).
 *
 * A command is a body sent to intake like any report, so intake's log is
 * the one record of who changed what; with auth = curve it goes over the
 * operator's key ([batonctl] key), and intake refuses a command from any
 * key that is not an operator's. keygen writes key files and says what to
 * put in the configuration; it never overwrites a file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "batonctl.h"
#include "curve.h"
#include "msg.h"

const char *ctl_operator(const struct config *conf, const char *agency)
{
	if (agency || conf->auth == CONFIG_AUTH_CURVE)
		return agency;
	return "office";
}

/* ---- complete, extend, reassign, cancel, wait, resume ---- */

int cmd_operate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "until", required_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 't' },
		{ "agency", required_argument, NULL, 'a' },
		{ "id", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = argv[0];
	struct msg cmd = { .type = MSG_COMMAND, .op = msg_op_from(name) };
	int64_t timeout = 10 * TIME_MS_PER_S;
	const struct config *conf;
	char *id = NULL;
	void *body = NULL;
	size_t len;
	bool json = false;
	int c, status;

	while ((c = getopt_long(argc, argv, "r:u:t:a:i:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cmd.reason = optarg;
			break;
		case 'u':
			if (time_parse_instant(optarg, &cmd.until) < 0) {
				int64_t d;

				if (time_parse_duration(optarg, &d) < 0)
					return ctl_usage(name, "--until: '%s' "
							 "is neither an instant "
							 "nor a duration from "
							 "now", optarg);
				cmd.until = time_now() + d;
			}
			cmd.has_until = true;
			break;
		case 't':
			cmd.to = optarg;
			break;
		case 'a':
			cmd.agency = optarg;
			break;
		case 'i':
			cmd.id = optarg;
			break;
		case 'w':
			if (time_parse_duration(optarg, &timeout) < 0)
				return ctl_usage(name, "--timeout: '%s' is not "
						 "a duration (e.g. 10s)", optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help(name);
		default:
			return ctl_usage(name, "unknown option");
		}
	}
	if (optind + 1 != argc)
		return ctl_usage(name, optind == argc ? "give the task's id" :
				 "one task at a time");
	cmd.task = argv[optind];
	if (!cmd.reason)
		return ctl_usage(name, "give --reason: it goes into the log");
	if ((cmd.op == OP_EXTEND) != cmd.has_until)
		return ctl_usage(name, cmd.has_until ? "--until is for extend" :
				 "give --until: the new deadline");
	if ((cmd.op == OP_REASSIGN) != (cmd.to != NULL))
		return ctl_usage(name, cmd.to ? "--to is for reassign" :
				 "give --to: the agency that takes it");
	if (cmd.to && !msg_agency_valid(cmd.to))
		return ctl_usage(name, "--to: '%s' is not an agency name",
				 cmd.to);
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	cmd.agency = ctl_operator(conf, cmd.agency);
	if (!cmd.id)
		cmd.id = id = ctl_generated_id();
	if (!cmd.id || msg_encode(&cmd, &body, &len) < 0) {
		ctl_error("%s %s: not a valid command (task id 1-%d bytes, "
			  "reason 1-%d bytes)", name, cmd.task, MSG_TASK_MAX,
			  MSG_REASON_MAX);
		free(id);
		return 2;
	}
	status = ctl_send(ctl, NULL, NULL, body, len, timeout, json);
	free(body);
	free(id);
	return status;
}

/* ---- keygen ---- */

/* Write k to path and say so. Returns 0 or 1 (the error printed). */
static int write_keys(const char *path, const struct curve_keys *k,
		      const char *comment)
{
	int r = curve_write(path, k, comment);

	if (r == -EEXIST) {
		ctl_error("%s exists: keygen never overwrites a key; move it "
			  "away first", path);
		return 1;
	}
	if (r < 0) {
		ctl_error("%s: %s", path, strerror(-r));
		return 1;
	}
	printf("wrote %s (%s)\n", path, k->has_secret ?
	       "key pair, mode 600" : "public key");
	return 0;
}

int cmd_keygen(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", no_argument, NULL, 'S' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config *conf = NULL;
	const char *out = NULL, *name = NULL;
	char z85[CURVE_Z85_LEN + 1], comment[160], *pub = NULL;
	struct curve_keys k;
	bool server = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			server = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			return ctl_help("keygen");
		default:
			return ctl_usage("keygen", "unknown option");
		}
	}
	if (server ? optind != argc : optind + 1 != argc)
		return ctl_usage("keygen", server ? "--server takes no name" :
				 "give the agency's name, or --server");
	if (!server) {
		name = argv[optind];
		if (!msg_agency_valid(name))
			return ctl_usage("keygen", "'%s' is not an agency name",
					 name);
	}
	if (server && !out) {
		conf = ctl_config(ctl);
		if (!conf)
			return 1;
		out = conf->server_key;
		if (!out)
			return ctl_usage("keygen", "give --out FILE, or set "
					 "[baton] server_key");
	}
	if (!out) {
		if (asprintf(&pub, "%s.key", name) < 0)
			return 1;
		out = pub;
	}
	r = curve_generate(&k);
	if (r < 0) {
		ctl_error("keygen: %s (is libzmq built with CURVE?)",
			  strerror(-r));
		free(pub);
		return 1;
	}
	snprintf(comment, sizeof(comment), "CurveZMQ key pair of %s, made by "
		 "batonctl keygen", server ? "the Baton daemons" : name);
	r = write_keys(out, &k, comment);
	curve_z85(k.public_key, z85);
	if (r == 0 && server) {
		char *path = NULL;

		k.has_secret = false;
		sodium_memzero(k.secret_key, sizeof(k.secret_key));
		snprintf(comment, sizeof(comment), "CurveZMQ public key of the "
			 "Baton daemons: clients connect with it");
		if (conf && conf->server_public &&
		    strcmp(conf->server_public, out) != 0)
			r = write_keys(conf->server_public, &k, comment);
		else if (asprintf(&path, "%s.pub", out) >= 0) {
			r = write_keys(path, &k, comment);
			if (r == 0)
				printf("set [baton] server_public = %s\n",
				       path);
		}
		free(path);
		printf("server public key: %s\n", z85);
	} else if (r == 0) {
		printf("add to agencies.conf, under [agency %s]:\n"
		       "key = %s\n"
		       "and give %s and the server's public key file to %s\n",
		       name, z85, out, name);
	}
	sodium_memzero(&k, sizeof(k));
	free(pub);
	return r;
}
