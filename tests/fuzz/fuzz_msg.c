/*
 * fuzz_msg.c - the message decoder, in every context and on every topic.
 *
 * One input is read three ways, so that a seed of either shape feeds every
 * path:
 *  - as a body, by msg_decode() in each enum msg_context (and one past the
 *    last, which must be refused);
 *  - as a bus record, the first byte the topic's length and the topic
 *    after it, by msg_decode_event() on the rest;
 *  - as an event body, by msg_decode_event() under each topic the library
 *    names (and a few it must refuse).
 * Every decode goes through fuzz_msg_one(): the round trip through
 * msg_encode() and the promises of msg.h.
 */
#include "fuzz_msg.h"

#define CTX_COUNT	(MSG_CTX_REPLAY_END + 1)

static const char *ctx_names[CTX_COUNT + 1] = {
	[MSG_CTX_SUBMIT] = "msg_decode(submit)",
	[MSG_CTX_ANSWER] = "msg_decode(answer)",
	[MSG_CTX_EVENT] = "msg_decode(event)",
	[MSG_CTX_REPLAY] = "msg_decode(replay)",
	[MSG_CTX_REPLAY_END] = "msg_decode(replay-end)",
	[CTX_COUNT] = "msg_decode(unknown context)",
};

/* Every topic the library names, and some it must refuse. */
static const char *topics[32];
static size_t ntopics;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const refused[] = {
		"hb", "alert", "alert.", "report", "task", "",
	};
	const char *t;
	int i;

	for (i = MSG_NONE + 1; i < MSG_TYPE_COUNT; i++)
		if ((t = msg_topic((enum msg_type)i)) && ntopics < 32)
			topics[ntopics++] = t;
	for (i = ALERT_NONE + 1; (t = msg_alert_topic((enum msg_alert)i)); i++)
		if (ntopics < 32)
			topics[ntopics++] = t;
	for (i = 0; i < (int)(sizeof refused / sizeof refused[0]); i++)
		if (ntopics < 32)
			topics[ntopics++] = refused[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_way w = { .event = false };
	char name[96];
	size_t i, tlen;
	int r;

	/* A body, in every context. */
	for (i = 0; i <= CTX_COUNT; i++) {
		w.ctx = (enum msg_context)i;
		w.name = ctx_names[i];
		r = fuzz_msg_one(&w, data, size);
		FUZZ_CHECK(i < CTX_COUNT || r < 0,
			   "an unknown context decoded a body");
	}

	/* A topic from the first bytes, then its body. */
	w.event = true;
	if (size >= 1) {
		tlen = data[0];
		if (1 + tlen <= size) {
			w.topic = (const char *)data + 1;
			w.topic_len = tlen;
			snprintf(name, sizeof name,
				 "msg_decode_event(topic from input, %zu bytes)",
				 tlen);
			w.name = name;
			r = fuzz_msg_one(&w, data + 1 + tlen,
					 size - 1 - tlen);
			FUZZ_CHECK(r < 0 ||
				   msg_topic_type(w.topic, tlen) != MSG_NONE,
				   "%s: decoded on an unknown topic", name);
		}
	}

	/* The whole input as a body, under every topic. */
	for (i = 0; i < ntopics; i++) {
		w.topic = topics[i];
		w.topic_len = strlen(topics[i]);
		snprintf(name, sizeof name, "msg_decode_event(%s)", topics[i]);
		w.name = name;
		fuzz_msg_one(&w, data, size);
	}
	return 0;
}
