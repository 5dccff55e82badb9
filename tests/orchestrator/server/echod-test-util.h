/* echod-test-util.h: small helpers shared by the echod test programs (on top of
 * echod-harness.h): a started echod, a started session, posted chunks, sample data.
 *
 * Every helper asserts what it needs, so a test reads as the behaviour it checks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echod-harness.h"

G_BEGIN_DECLS

/* A started echod; config_text (nullable) becomes its --config file, scale (0: none) its
 * ECHO_TEST_TIME_SCALE. */
EchodHarness *echod_test_start (const char *config_text, double scale);

/* POST /api/share/start for id, asserting 200 and the reply's shape. */
void echod_test_start_session (EchodHarness *h, const char *id);

/* Deterministic float samples (n of them) for chunk seed, including values whose bits
 * must survive exactly (signed zeros, subnormals, extremes, NaN with a payload,
 * infinity), then a sine of seeded random amplitude. */
float *echod_test_samples (guint seed, gsize n);

/* POSTs one chunk; returns the reply. */
EchodReply *echod_test_post_chunk (EchodHarness *h, const char *id, gint64 sequence,
    guint rate, guint channels, const float *samples, guint n_frames);

/* POSTs chunk seq with echod_test_samples (seq, ...) asserting 200 buffered:true. */
void echod_test_post_chunk_ok (EchodHarness *h, const char *id, gint64 sequence, guint rate,
    guint channels, guint n_frames);

/* Asserts that chunk object holds exactly echod_test_samples (seq, n) for its sequence. */
void echod_test_assert_chunk (JsonObject *chunk, guint rate, guint channels, guint n_frames);

/* An integer member of a reply's JSON object (asserting it is there). */
gint64 echod_test_member_int (EchodReply *reply, const char *member);

/* The path of a session route: "/api/share/<id><suffix>". */
char *echod_test_path (const char *id, const char *suffix);

/* GET /metrics text. */
char *echod_test_metrics (EchodHarness *h);

/* main's last call: returns @status once GLib's idle pool threads have ended. LeakSanitizer
 * stops the world at exit, and its tracer crashes on a thread that exits under it (a pool
 * thread ending its idle wait at that moment). */
int echod_test_exit (int status);

G_END_DECLS
