/*
 * intake.h - baton-intake's context, shared by its two files: main.c (life
 * cycle) and submit.c (the submit socket).
 */
#ifndef BATON_INTAKE_H
#define BATON_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "ledger.h"
#include "service.h"
#include "store.h"
#include "time.h"

struct submission;

struct intake {
	const struct config *conf;	/* owned by main() */
	void *zctx;
	void *submit;			/* ROUTER */
	struct store *store;
	struct bus_pub *pub;
	struct ledger *ledger;
	struct service *svc;

	/* One poll round's submissions: decoded, committed, answered. */
	struct submission *batch;
	uint32_t batch_cap;

	/* Counters for STATUS= and batonctl status. */
	uint64_t accepted, duplicates, refused, dropped_answers, commits;
	int64_t status_at;		/* monotonic ms of the last STATUS= */

	/* Refusals are logged, but at most a few per second. */
	int64_t log_window;
	unsigned log_in_window;
	uint64_t log_suppressed;
};

/*
 * Bind the submit socket and allocate the batch.
 * Returns 0 or -errno (bind failures: the endpoint is in conf).
 */
int submit_open(struct intake *in);

/* Close the socket and free the batch. */
void submit_close(struct intake *in);

/* service_io_fn for the submit socket: one group-commit round. */
int submit_on_readable(void *arg, short revents);

#endif
