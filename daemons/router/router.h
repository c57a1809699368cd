/*
 * router.h - baton-router's context, shared by main.c (life cycle) and
 * apply.c (what each intake event does to the tasks).
 */
#ifndef BATON_ROUTER_H
#define BATON_ROUTER_H

#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "route.h"
#include "service.h"
#include "store.h"
#include "task.h"

struct router {
	const struct config *conf;	/* owned by main() */
	struct route_table *routes;	/* replaced whole on SIGHUP */
	void *zctx;
	struct store *store;
	struct task_store tasks;
	struct bus_pub *pub;		/* task.* events */
	struct bus_sub *sub;		/* intake's events */
	struct service *svc;

	/* Counters for STATUS= and the stop line; pending until commit. */
	struct router_counts {
		uint64_t created, updated, closed, refused;
	} total, pending;
	int64_t status_at;
};

/*
 * bus_apply_fn for intake's events: route reports into tasks, apply
 * progress, completion and commands, publish what changed, all in t.
 */
int router_apply(void *arg, struct store_txn *t, const struct bus_event *ev);

/* bus_done_fn: publish what a committed batch appended, or forget it. */
void router_done(void *arg, bool committed);

#endif
