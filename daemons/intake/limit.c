/*
 * intake/limit.c - how fast each agency may submit: a token bucket each.
 *
 * A bucket holds up to [intake] burst tokens and refills at [intake] rate
 * a second; a submission takes one, and one that finds the bucket empty is
 * answered busy (and stored nothing), so a flood from one agency costs the
 * others nothing but the reading of it. Buckets are kept in an open-
 * addressed table of LIMIT_SLOTS: with auth = none the agency is whatever a
 * client writes, so the table is bounded; when it is full, buckets that
 * have refilled completely (the agency has been quiet) are forgotten, and
 * if none has, the newcomer shares the busiest verdict: busy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"

#define LIMIT_SLOTS	8192		/* a power of two */

struct bucket {
	char agency[MSG_AGENCY_MAX + 1];	/* "": free */
	double tokens;
	int64_t at;			/* monotonic ms of the last refill */
};

struct limit {
	double rate;			/* tokens a ms */
	double burst;
	size_t used;
	struct bucket slot[LIMIT_SLOTS];
};

int limit_new(uint32_t rate, uint32_t burst, struct limit **ret)
{
	struct limit *l;

	*ret = NULL;
	if (rate == 0)
		return 0;		/* no limit */
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->rate = rate / 1000.0;
	l->burst = burst;
	*ret = l;
	return 0;
}

void limit_free(struct limit *l)
{
	free(l);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void refill(const struct limit *l, struct bucket *b, int64_t now)
{
	if (now > b->at) {
		b->tokens += (double)(now - b->at) * l->rate;
		if (b->tokens > l->burst)
			b->tokens = l->burst;
		b->at = now;
	}
}

/* Forget every bucket that is full again; rebuild the table. */
static void sweep(struct limit *l, int64_t now)
{
	struct bucket *old = malloc(sizeof(l->slot));
	size_t n = 0;

	if (!old)
		return;
	memcpy(old, l->slot, sizeof(l->slot));
	memset(l->slot, 0, sizeof(l->slot));
	l->used = 0;
	for (size_t i = 0; i < LIMIT_SLOTS; i++) {
		struct bucket *b = &old[i];
		size_t j;

		if (!b->agency[0])
			continue;
		refill(l, b, now);
		if (b->tokens >= l->burst)
			continue;
		for (j = hash(b->agency) & (LIMIT_SLOTS - 1); l->slot[j].agency[0];
		     j = (j + 1) & (LIMIT_SLOTS - 1))
			;
		l->slot[j] = *b;
		n++;
	}
	l->used = n;
	free(old);
}

bool limit_take(struct limit *l, const char *agency, int64_t now)
{
	size_t i;

	if (!l)
		return true;
	if (l->used >= LIMIT_SLOTS * 3 / 4)
		sweep(l, now);
	for (i = hash(agency) & (LIMIT_SLOTS - 1); l->slot[i].agency[0];
	     i = (i + 1) & (LIMIT_SLOTS - 1))
		if (strcmp(l->slot[i].agency, agency) == 0)
			break;
	if (!l->slot[i].agency[0]) {
		if (l->used >= LIMIT_SLOTS * 3 / 4)
			return false;	/* every known agency is busy */
		snprintf(l->slot[i].agency, sizeof(l->slot[i].agency), "%s",
			 agency);
		l->slot[i].tokens = l->burst;
		l->slot[i].at = now;
		l->used++;
	}
	refill(l, &l->slot[i], now);
	if (l->slot[i].tokens < 1.0)
		return false;
	l->slot[i].tokens -= 1.0;
	return true;
}
