/*
 * deadline.h - baton-deadline's context, shared by main.c (life cycle),
 * plan.c (what each router event does to the timers) and fire.c (what is
 * due now becomes alerts).
 */
#ifndef BATON_DEADLINE_H
#define BATON_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "calendar.h"
#include "config.h"
#include "curve.h"
#include "service.h"
#include "store.h"
#include "timer.h"
#include "zap.h"

/* A step that fires this much after its instant says so: late is true. */
#define DEADLINE_LATE_MS	1000
/*
 * Steps fired in one transaction. Small, because no alert of a round goes
 * out before the round commits: after a slow disk flush the oldest alerts
 * commit first instead of waiting for everything due behind them, and a
 * restart after a long downtime fires in rounds with the sockets served
 * between them.
 */
#define DEADLINE_FIRE_BATCH	128
/* A round firing more alerts than this logs one line, not one per alert:
 * bursts must not flood the journal (or hit its rate limit). */
#define DEADLINE_LOG_EACH	32

struct deadline {
	const struct config *conf;	/* owned by main() */
	struct calendar *cal;		/* NULL without [baton] calendar;
					   replaced whole on SIGHUP */
	void *zctx;
	struct store *store;
	struct timer_store timers;
	struct bus_pub *pub;		/* alert.* events */
	struct bus_sub *sub;		/* the router's events */
	struct service *svc;
	struct curve_keys keys;		/* auth = curve: the daemons' pair */
	struct zap *zap;		/* and who may use the bus: them */

	instant_t next_due;		/* first timer's instant, INT64_MAX:
					   none; may be early, never late */
	int64_t started_mono;
	bool fired_unsynced;		/* said so once */

	/* Counters for STATUS= and the stop line; pending until commit. */
	struct deadline_counts {
		uint64_t planned, fired, late, skipped;
	} total, pending;
	instant_t pending_next;		/* earliest step planned in the batch */
	int64_t status_at;
};

/*
 * bus_apply_fn for the router's events: replace the task's plan and its
 * timers, in t.
 */
int deadline_apply(void *arg, struct store_txn *t, const struct bus_event *ev);

/*
 * bus_done_fn, and the end of a firing round: count and announce what a
 * committed transaction did (plans made, alerts fired), or forget it.
 */
void deadline_done(void *arg, bool committed);

/*
 * Fire every step due at now, at most DEADLINE_FIRE_BATCH of them, in one
 * transaction, and publish the alerts. Returns how many were due (fired or
 * skipped), or a negative errno.
 */
int deadline_fire(struct deadline *dl, instant_t now);

/* Read the first timer's instant into dl->next_due. Returns 0 or -errno. */
int deadline_next_due(struct deadline *dl);

#endif
