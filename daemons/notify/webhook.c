/*
 * notify/webhook.c - what an alert says to an agency's webhook.
 *
 * An HTTP POST of the alert as a JSON object: the feed's fields
 * (PROTOCOL.md section 3) plus the recipient and the delivery id. Headers:
 *  - Idempotency-Key: the alert id. An attempt repeated after a timeout or
 *    a crash carries the same key, so the receiver can drop it;
 *  - X-Baton-Signature: "sha256=" and the hex HMAC-SHA256 of the exact body
 *    bytes, keyed with the agency's webhook_secret: the receiver knows the
 *    request came from Baton and was not altered. The body carries the
 *    alert id and fired_at, so a replayed request is a duplicate;
 *  - X-Baton-Delivery: the delivery id, for the receiver's logs.
 * Keys are sorted, so the same alert always makes the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "notify.h"

/* The JSON object of alert a for recipient to. */
static json_t *object(const struct msg *a, const char *to, const char *id)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "v", json_integer(MSG_VERSION));
	json_object_set_new(o, "type", json_string("alert"));
	json_object_set_new(o, "alert_id", json_string(a->alert_id));
	json_object_set_new(o, "kind",
			    json_string(msg_alert_name(a->alert)));
	json_object_set_new(o, "agency", json_string(a->agency));
	json_object_set_new(o, "recipient", json_string(to));
	json_object_set_new(o, "delivery", json_string(id));
	json_object_set_new(o, "title", json_string(a->title));
	json_object_set_new(o, "fired_at", json_integer(a->fired_at));
	json_object_set_new(o, "late", json_boolean(a->late));
	json_object_set_new(o, "drill", json_boolean(a->drill));
	if (a->task)
		json_object_set_new(o, "task", json_string(a->task));
	if (a->alert != ALERT_REFUSED)
		json_object_set_new(o, "due_at", json_integer(a->due_at));
	if (a->alert == ALERT_ESCALATION) {
		json_object_set_new(o, "level",
				    json_integer((json_int_t)a->level));
		json_object_set_new(o, "to", json_string(a->to));
	}
	if (a->category != CATEGORY_NONE)
		json_object_set_new(o, "category", json_string(
			msg_category_name(a->category)));
	if (a->severity != SEVERITY_NONE)
		json_object_set_new(o, "severity", json_string(
			msg_severity_name(a->severity)));
	if (a->period)
		json_object_set_new(o, "period", json_string(a->period));
	if (a->rule)
		json_object_set_new(o, "rule", json_string(a->rule));
	if (a->reason)
		json_object_set_new(o, "reason", json_string(a->reason));
	return o;
}

/* "sha256=<hex>" of HMAC-SHA256(secret, body). */
static void sign(const char *secret, const char *body, size_t len,
		 char *out, size_t size)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
				    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, size, "sha256=%s", hex);
	sodium_memzero(&st, sizeof(st));
}

int notify_webhook(const struct notify *n, const struct msg *a,
		   const struct agency *ag, const char *id,
		   struct notify_request *req)
{
	char sig[128], line[4][OUTBOX_ID_MAX + 32];
	json_t *o;

	if (!ag->webhook || !ag->webhook_secret)
		return -EINVAL;
	o = object(a, ag->name, id);
	if (!o)
		return -ENOMEM;
	req->body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS |
			       JSON_ENSURE_ASCII);
	json_decref(o);
	if (!req->body)
		return -ENOMEM;
	req->body_len = strlen(req->body);
	sign(ag->webhook_secret, req->body, req->body_len, sig, sizeof(sig));
	req->list = calloc(5, sizeof(char *));
	if (!req->list)
		return -ENOMEM;
	snprintf(line[0], sizeof(line[0]), "Content-Type: application/json");
	snprintf(line[1], sizeof(line[1]), "Idempotency-Key: %s", a->alert_id);
	snprintf(line[2], sizeof(line[2]), "X-Baton-Signature: %s", sig);
	snprintf(line[3], sizeof(line[3]), "X-Baton-Delivery: %s", id);
	for (int i = 0; i < 4; i++)
		if (!(req->list[i] = strdup(line[i])))
			return -ENOMEM;	/* the request's free takes the rest */
	req->url = strdup(ag->webhook);
	if (!req->url)
		return -ENOMEM;
	snprintf(req->target, sizeof(req->target), "%s", ag->webhook);
	return 0;
}
