/* share-test-util.h: what the share tests have in common: audio bodies as the seed's client
 * builds them, a clock the test moves by hand, and a real file store in a temp directory. */
#pragma once

#include "echo-share-pool.h"
#include "echo-store.h"

G_BEGIN_DECLS

/* An audio POST body: @n_frames frames of a ramp (sample value = sequence + i / 1000.0). */
char *share_test_audio_body (gint64 sequence, guint sample_rate, guint channels, guint n_frames,
                             gint64 timestamp);
/* An audio POST body with the given "data" text (not checked) and integer fields. */
char *share_test_audio_body_with_data (const char *data, guint sample_rate, guint channels,
                                       gint64 sequence);

typedef struct {
  gint64 wall_ms;
  gint64 mono_us;
} ShareTestClock;

void share_test_clock_init (ShareTestClock *clock);
void share_test_clock_advance_ms (ShareTestClock *clock, gint64 ms);
/* Installs @clock on @pool. */
void share_test_clock_install (ShareTestClock *clock, EchoSharePool *pool);

typedef struct {
  char *dir;
  EchoStore *store;
} ShareTestStore;

void share_test_store_open (ShareTestStore *store);
/* Closes the store (keeping the files) so another open sees the same data. */
void share_test_store_reopen (ShareTestStore *store);
void share_test_store_close (ShareTestStore *store);   /* and removes the directory */

G_END_DECLS
