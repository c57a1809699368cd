/*
 * router.h - baton-router's context, shared by main.c (life cycle) and
 * apply.c (what each intake event does to the tasks).
 */
#ifndef BATON_ROUTER_H
#define BATON_ROUTER_H

#include <stdint.h>

#include "bus.h"
#include "calendar.h"
#include "config.h"
#include "curve.h"
#include "route.h"
#include "service.h"
#include "store.h"
#include "task.h"
#include "zap.h"

struct router {
	const struct config *conf;	/* owned by main() */
	struct route_table *routes;	/* replaced whole on SIGHUP */
	struct calendar *cal;		/* the one routes was loaded with;
					   NULL without [baton] calendar */
	void *zctx;
	struct store *store;
	struct task_store tasks;
	struct bus_pub *pub;		/* task.* events */
	struct bus_sub *sub;		/* intake's events */
	struct service *svc;
	struct curve_keys keys;		/* auth = curve: the daemons' pair */
	struct zap *zap;		/* and who may use the bus: them */

	/* Counters for STATUS= and the stop line; pending until commit. */
	struct router_counts {
		uint64_t created, updated, closed, refused;
	} total, pending;
	int64_t status_at;
	int64_t obligations_at;		/* when to look at them again */
};

/*
 * bus_apply_fn for intake's events: route reports into tasks, apply
 * progress, completion and commands, publish what changed, all in t.
 */
int router_apply(void *arg, struct store_txn *t, const struct bus_event *ev);

/* bus_done_fn: publish what a committed batch appended, or forget it. */
void router_done(void *arg, bool committed);

/*
 * Encode task m, store it with its history and publish it under its
 * type's topic, in t. Returns 0 or a negative errno.
 */
int router_publish_task(struct router *rt, struct store_txn *t,
			const struct msg *m);

/*
 * Move task to state by change and count it: the event to publish is
 * task.closed for done or cancelled, task.updated otherwise.
 */
void router_transition(struct router *rt, struct msg *task,
		       enum msg_state state, enum msg_change change);

/* A periodic report (intake sequence seq): close what it answers, in t. */
int router_periodic(struct router *rt, struct store_txn *t,
		    const struct msg *m, uint64_t seq);

/*
 * Make sure every schedule's obligations for the period holding now and
 * the next one exist, in a transaction of their own. Returns the instant
 * of the next period boundary (when to call again), or a negative errno.
 */
int64_t router_obligations(struct router *rt, int64_t now);

#endif
