/* test-echod-music.c: the music sessions' REST API of a real echod on its real store (file
 * store, or PostgreSQL under tests/lib/pg-sandbox), with the resolver pointed at a replay
 * server of recorded provider answers. It proves, item by item from seed 000's MVP list and
 * seed 001's queue:
 *  - session/start creates a session per voice channel once, then gets it;
 *  - resolve: YouTube and Spotify tracks with their durations through the providers' APIs,
 *    cached by (source, sourceId); a provider that fails is 502; a URL of no known provider
 *    is refused;
 *  - upload: init, then the bytes of a real WAV and MP3 to the signed URL make tracks with
 *    their durations; bogus bytes are 415 and leave nothing behind or queued; a forged or
 *    expired signature is 403; too large is 413 (declared or sent);
 *  - the queue: auto-start when idle, votes reorder it with voting on (a repeated vote is
 *    ignored), reorder and remove by position otherwise;
 *  - playback: skip into history, back, seek, loop ONE and ALL, shuffle, history and stats;
 *  - permissions: membership told by the host application only, djMode, canControl, user
 *    JWTs from `echod token`, X-Echo-User with the host's bearer token only;
 *  - ifVersion, bad JSON and bad ids change nothing; rate limits answer 429 + Retry-After;
 *  - a restart of echod keeps sessions, queues, history and settings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "echod-music-util.h"

#define YT(id) "https://www.youtube.com/watch?v=" id
#define SP_URL "https://open.spotify.com/track/" MUSIC_SP_TRACK

static JsonObject *
session_of (JsonObject *state)
{
  return json_object_get_object_member (state, "session");
}

static gint64
version_of (MusicEchod *m, const char *sid)
{
  g_autoptr (JsonObject) state = music_state (m, sid);

  return music_int (session_of (state), "version");
}

/* The queued items' track ids, in play order. */
static char **
queue_tracks (MusicEchod *m, const char *sid)
{
  g_autoptr (JsonObject) state = music_state (m, sid);

  return music_queue_ids (json_object_get_array_member (state, "queue"), "trackId");
}

static void
assert_strv (char **got, ...)
{
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  const char *s;
  va_list args;
  guint i;

  va_start (args, got);
  while ((s = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (want, (gpointer) s);
  va_end (args);
  for (i = 0; i < want->len && got[i] != NULL; i++)
    if (strcmp (got[i], g_ptr_array_index (want, i)) != 0)
      break;
  if (i < want->len || got[i] != NULL) {
    g_autofree char *got_text = g_strjoinv (" ", got);

    g_ptr_array_add (want, NULL);
    g_error ("expected [%s], got [%s]", g_strjoinv (" ", (char **) want->pdata), got_text);
  }
}

static JsonArray *
history_of (MusicEchod *m, const char *sid, JsonObject **holder)
{
  g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
      "/api/music/session/%s/history?limit=50", sid);

  *holder = json_object_ref (echod_reply_object (reply));
  return json_object_get_array_member (*holder, "history");
}

static void
control (MusicEchod *m, const char *sid, const char *as, const char *body, guint status)
{
  g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, status, "POST", as, body,
      "/api/music/session/%s/control", sid);
}

static void
settings (MusicEchod *m, const char *sid, const char *as, const char *body, guint status)
{
  g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, status, "PATCH", as, body,
      "/api/music/session/%s/settings", sid);
}

/* --- sessions --- */

static void
test_session_start (void)
{
  g_autoptr (MusicEchod) m = music_echod_start (NULL);
  g_autofree char *bob = music_token (m, "bob", NULL);
  const char *body = "{\"serverId\":\"guild-1\",\"voiceChannelId\":\"vc-1\"}";
  g_autofree char *sid = NULL;
  JsonObject *session;

  {
    g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", "alice", body,
        "/api/music/session/start");

    g_assert_true (json_object_get_boolean_member (echod_reply_object (reply), "created"));
    session = json_object_get_object_member (echod_reply_object (reply), "session");
    sid = g_strdup (music_str (session, "id"));
    g_assert_cmpstr (music_str (session, "serverId"), ==, "guild-1");
    g_assert_cmpstr (music_str (session, "voiceChannelId"), ==, "vc-1");
    g_assert_cmpstr (music_str (session, "createdById"), ==, "alice");
    g_assert_cmpstr (music_str (session, "state"), ==, "IDLE");
    g_assert_cmpstr (music_str (session, "loopMode"), ==, "OFF");
    g_assert_cmpint (music_int (session, "volume"), ==, 100);
    g_assert_false (json_object_get_boolean_member (session, "shuffle"));
    g_assert_false (json_object_get_boolean_member (session, "djMode"));
  }
  /* get: the same session for the same channel, whoever asks (a user JWT here) */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/start");

    g_assert_false (json_object_get_boolean_member (echod_reply_object (reply), "created"));
    g_assert_cmpstr (music_str (json_object_get_object_member (echod_reply_object (reply),
                "session"), "id"), ==, sid);
  }
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", bob, body,
        "/api/music/session/start");

    session = json_object_get_object_member (echod_reply_object (reply), "session");
    g_assert_cmpstr (music_str (session, "id"), ==, sid);
    g_assert_cmpstr (music_str (session, "createdById"), ==, "alice");
  }
  /* another channel: another session, created by the JWT's user */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", bob,
        "{\"serverId\":\"guild-1\",\"voiceChannelId\":\"vc-2\"}", "/api/music/session/start");

    session = json_object_get_object_member (echod_reply_object (reply), "session");
    g_assert_cmpstr (music_str (session, "id"), !=, sid);
    g_assert_cmpstr (music_str (session, "createdById"), ==, "bob");
  }
  /* refused: no user, missing or wrong members, not JSON, no credential */
  {
    g_autoptr (EchodReply) r1 = music_call (m, "POST", "/api/music/session/start", NULL, body);
    g_autoptr (EchodReply) r2 = music_call (m, "POST", "/api/music/session/start", "alice",
        "{\"serverId\":\"guild-1\"}");
    g_autoptr (EchodReply) r3 = music_call (m, "POST", "/api/music/session/start", "alice",
        "{\"serverId\":7,\"voiceChannelId\":\"vc-3\"}");
    g_autoptr (EchodReply) r4 = music_call (m, "POST", "/api/music/session/start", "alice",
        "{\"serverId\":");
    g_autoptr (EchodReply) r5 = echod_harness_request_full (music_echod_harness (m), "POST",
        "/api/music/session/start", "", body, -1, NULL);

    echod_reply_assert_error (r1, 400, "INVALID_REQUEST");
    echod_reply_assert_error (r2, 400, "INVALID_REQUEST");
    echod_reply_assert_error (r3, 400, "INVALID_REQUEST");
    echod_reply_assert_error (r4, 400, "INVALID_REQUEST");
    g_assert_cmpuint (r5->status, ==, 401);
  }
  /* the list: the host application's, with exactly the two sessions */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/sessions");
    g_autoptr (EchodReply) refused = music_call (m, "GET", "/api/music/sessions", bob, NULL);
    g_autoptr (EchodReply) for_user = music_call (m, "GET", "/api/music/sessions", "alice",
        NULL);

    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                echod_reply_object (reply), "sessions")), ==, 2);
    echod_reply_assert_error (refused, 403, "FORBIDDEN");
    /* the host application acting for a user has that user's rights */
    echod_reply_assert_error (for_user, 403, "FORBIDDEN");
  }
}

/* --- resolve --- */

static void
test_resolve (void)
{
  g_autoptr (MusicEchod) m = music_echod_start (NULL);
  g_autofree char *yt = NULL, *again = NULL, *sp = NULL;

  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", "alice",
        "{\"url\":\"" YT (MUSIC_YT_LONG1) "\"}", "/api/music/resolve");
    JsonObject *track = json_object_get_object_member (echod_reply_object (reply), "track");

    yt = g_strdup (music_str (track, "id"));
    g_assert_cmpstr (music_str (track, "source"), ==, "YOUTUBE");
    g_assert_cmpstr (music_str (track, "sourceId"), ==, MUSIC_YT_LONG1);
    g_assert_cmpstr (music_str (track, "title"), ==, "Long One");
    g_assert_cmpint (music_int (track, "durationMs"), ==, 600000);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                echod_reply_object (reply), "playlist")), ==, 0);
  }
  /* one Track per (source, sourceId): another URL form of the same video */
  again = music_resolve (m, "bob", "https://youtu.be/" MUSIC_YT_LONG1);
  g_assert_cmpstr (again, ==, yt);
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", "alice",
        "{\"url\":\"" SP_URL "\"}", "/api/music/resolve");
    JsonObject *track = json_object_get_object_member (echod_reply_object (reply), "track");

    sp = g_strdup (music_str (track, "id"));
    g_assert_cmpstr (music_str (track, "source"), ==, "SPOTIFY");
    g_assert_cmpstr (music_str (track, "title"), ==, "Never Gonna Give You Up");
    g_assert_cmpint (music_int (track, "durationMs"), ==, MUSIC_SP_DURATION_MS);
  }
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/tracks/%s", sp);

    g_assert_cmpstr (music_str (echod_reply_object (reply), "sourceId"), ==, MUSIC_SP_TRACK);
  }
  /* the provider fails: 502, echod keeps answering */
  {
    g_autoptr (EchodReply) reply = music_call (m, "POST", "/api/music/resolve", "alice",
        "{\"url\":\"" YT (MUSIC_YT_DOWN) "\"}");

    echod_reply_assert_error (reply, 502, "PROVIDER_ERROR");
  }
  /* not a provider's URL, and no HTTP audio host is allowed: refused as the client's fault */
  {
    g_autoptr (EchodReply) r1 = music_call (m, "POST", "/api/music/resolve", "alice",
        "{\"url\":\"http://10.1.2.3/song.mp3\"}");
    g_autoptr (EchodReply) r2 = music_call (m, "POST", "/api/music/resolve", "alice",
        "{\"url\":42}");
    g_autoptr (EchodReply) r3 = music_call (m, "POST", "/api/music/resolve", "alice",
        "{\"url\":\"\"}");
    g_autoptr (EchodReply) r4 = music_call (m, "GET", "/api/music/tracks/no-such-track",
        NULL, NULL);

    g_assert_cmpuint (r1->status, >=, 400);
    g_assert_cmpuint (r1->status, <, 500);
    echod_reply_assert_error (r2, 400, "INVALID_REQUEST");
    echod_reply_assert_error (r3, 400, "INVALID_REQUEST");
    echod_reply_assert_error (r4, 404, "NOT_FOUND");
  }
}

/* --- uploads --- */

static char *
upload_url_with (const char *url, const char *name, const char *value)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED_QUERY, NULL);
  g_autoptr (GHashTable) params = g_uri_parse_params (g_uri_get_query (uri), -1, "&",
      G_URI_PARAMS_NONE, NULL);
  g_autofree char *query = NULL;

  g_assert_nonnull (g_hash_table_lookup (params, "expires"));
  g_assert_nonnull (g_hash_table_lookup (params, "signature"));
  g_hash_table_replace (params, g_strdup (name), g_strdup (value));
  query = g_strdup_printf ("expires=%s&signature=%s",
      (char *) g_hash_table_lookup (params, "expires"),
      (char *) g_hash_table_lookup (params, "signature"));
  return g_strdup_printf ("http://%s:%d%s?%s", g_uri_get_host (uri), g_uri_get_port (uri),
      g_uri_get_path (uri), query);
}

static JsonObject *
upload_init (MusicEchod *m, gsize size, const char *mime)
{
  g_autofree char *body = g_strdup_printf ("{\"filename\":\"x.wav\",\"size\":%" G_GSIZE_FORMAT
      ",\"mimeType\":\"%s\"}", size, mime);
  g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", "alice", body,
      "/api/music/upload");

  return json_object_ref (echod_reply_object (reply));
}

/* The files in data-dir/uploads. */
static guint
count_uploads (MusicEchod *m, guint *parts)
{
  g_autofree char *path = g_build_filename (echod_harness_data_dir (music_echod_harness (m)),
      "uploads", NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  *parts = 0;
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL) {
    n++;
    if (g_str_has_suffix (name, ".part"))
      (*parts)++;
  }
  return n;
}

static void
test_upload (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("max-upload-bytes=150000\n"
      "upload-url-ttl-seconds=10\nupload-burst=20\nupload-rate=20\n");
  g_autoptr (GBytes) wav = music_make_tone ("wav", 2.0);
  g_autoptr (GBytes) mp3 = music_make_tone ("mp3", 2.0);
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
    'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89 };
  g_autoptr (GBytes) bogus_png = g_bytes_new_static (png, sizeof png);
  g_autoptr (GBytes) bogus_text = g_bytes_new_static ("this is not audio, only text\n", 29);
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *wav_id = NULL, *mp3_id = NULL, *png_id = NULL, *text_id = NULL;
  guint parts;

  g_assert_cmpuint (g_bytes_get_size (wav), <, 150000);
  /* a real WAV and MP3: tracks with their durations, files kept */
  {
    g_autoptr (EchodReply) put = music_upload (m, "alice", "tone.wav", "audio/wav", wav,
        &wav_id);
    JsonObject *track;

    if (put->status != 200)
      g_error ("WAV upload: %u %s", put->status, put->text);
    track = json_object_get_object_member (echod_reply_object (put), "track");
    g_assert_cmpstr (music_str (track, "id"), ==, wav_id);
    g_assert_cmpstr (music_str (track, "source"), ==, "UPLOADED");
    g_assert_cmpstr (music_str (track, "title"), ==, "tone");
    g_assert_cmpint (music_int (track, "durationMs"), >=, 1900);
    g_assert_cmpint (music_int (track, "durationMs"), <=, 2100);
  }
  {
    g_autoptr (EchodReply) put = music_upload (m, "alice", "tone.mp3", "audio/mpeg", mp3,
        &mp3_id);
    JsonObject *track;

    if (put->status != 200)
      g_error ("MP3 upload: %u %s", put->status, put->text);
    track = json_object_get_object_member (echod_reply_object (put), "track");
    g_assert_cmpint (music_int (track, "durationMs"), >=, 1800);
    g_assert_cmpint (music_int (track, "durationMs"), <=, 2200);
  }
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/tracks/%s", wav_id);

    g_assert_cmpint (music_int (echod_reply_object (reply), "durationMs"), >=, 1900);
  }
  g_assert_cmpuint (count_uploads (m, &parts), ==, 2);
  g_assert_cmpuint (parts, ==, 0);

  /* bogus bytes: 415, no file kept, and the track cannot be queued */
  {
    g_autoptr (EchodReply) put = music_upload (m, "alice", "cover.mp3", "audio/mpeg",
        bogus_png, &png_id);

    echod_reply_assert_error (put, 415, "UNSUPPORTED_MEDIA");
  }
  {
    g_autoptr (EchodReply) put = music_upload (m, "alice", "notes.wav", "audio/wav",
        bogus_text, &text_id);

    echod_reply_assert_error (put, 415, "UNSUPPORTED_MEDIA");
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"trackId\":\"%s\"}", png_id);
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/queue/add", sid);
    g_autoptr (EchodReply) reply = music_call (m, "POST", path, "alice", body);
    g_autoptr (JsonObject) state = music_state (m, sid);

    g_assert_cmpuint (reply->status, ==, 409);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (state, "queue")),
        ==, 0);
    g_assert_cmpstr (music_str (session_of (state), "state"), ==, "IDLE");
  }
  g_assert_cmpuint (count_uploads (m, &parts), ==, 2);
  g_assert_cmpuint (parts, ==, 0);

  /* a declared type or size echod does not take: refused at init */
  {
    g_autoptr (EchodReply) r1 = music_call (m, "POST", "/api/music/upload", "alice",
        "{\"filename\":\"a.png\",\"size\":100,\"mimeType\":\"image/png\"}");
    g_autoptr (EchodReply) r2 = music_call (m, "POST", "/api/music/upload", "alice",
        "{\"filename\":\"a.wav\",\"size\":150001,\"mimeType\":\"audio/wav\"}");
    g_autoptr (EchodReply) r3 = music_call (m, "POST", "/api/music/upload", "alice",
        "{\"filename\":\"../a.wav\",\"size\":100,\"mimeType\":\"audio/wav\"}");

    echod_reply_assert_error (r1, 415, "UNSUPPORTED_MEDIA");
    echod_reply_assert_error (r2, 413, "FILE_TOO_LARGE");
    echod_reply_assert_error (r3, 400, "INVALID_REQUEST");
  }
  /* forged signatures and a moved expiry: 403; the URL itself still works afterwards */
  {
    g_autoptr (JsonObject) init = upload_init (m, g_bytes_get_size (wav), "audio/wav");
    const char *url = music_str (init, "uploadUrl");
    g_autofree char *forged = upload_url_with (url, "signature",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    g_autofree char *later = upload_url_with (url, "expires", "99999999999999");
    g_autoptr (EchodReply) r1 = music_put_url (m, forged, wav);
    g_autoptr (EchodReply) r2 = music_put_url (m, later, wav);
    g_autoptr (EchodReply) r3 = music_put_url (m, url, wav);

    echod_reply_assert_error (r1, 403, "FORBIDDEN");
    echod_reply_assert_error (r2, 403, "FORBIDDEN");
    g_assert_cmpuint (r3->status, ==, 200);
  }
  /* more bytes than the limit, whatever was declared: 413 */
  {
    g_autoptr (JsonObject) init = upload_init (m, 1000, "audio/wav");
    g_autofree guint8 *big = g_malloc0 (160000);
    g_autoptr (GBytes) bytes = NULL;
    g_autoptr (EchodReply) put = NULL;

    memcpy (big, g_bytes_get_data (wav, NULL), 44);
    bytes = g_bytes_new_take (g_steal_pointer (&big), 160000);
    put = music_put_url (m, music_str (init, "uploadUrl"), bytes);
    g_assert_cmpuint (put->status, ==, 413);
  }
  /* an expired URL: 403 */
  {
    g_autoptr (JsonObject) init = upload_init (m, g_bytes_get_size (wav), "audio/wav");
    g_autoptr (EchodReply) put = NULL;

    echod_harness_spin (11000);
    put = music_put_url (m, music_str (init, "uploadUrl"), wav);
    echod_reply_assert_error (put, 403, "FORBIDDEN");
  }
  g_assert_cmpuint (count_uploads (m, &parts), ==, 3);
  g_assert_cmpuint (parts, ==, 0);
  /* the real upload plays: queued into the idle session, it starts */
  {
    g_autofree char *item G_GNUC_UNUSED = music_add (m, sid, "alice", wav_id);
    g_autofree char *current = music_current_track (m, sid);

    g_assert_cmpstr (current, ==, wav_id);
  }
}

/* --- the queue: auto-start, votes, reorder, remove --- */

static void
test_queue_votes (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *l3 = music_resolve (m, "alice", YT (MUSIC_YT_LONG3));
  g_autofree char *sp = music_resolve (m, "alice", SP_URL);
  g_autofree char *i1 = NULL, *i2 = NULL, *i3 = NULL, *isp = NULL;
  gint64 version;

  music_add_member (m, sid, "bob", NULL);
  music_add_member (m, sid, "carol", NULL);
  music_add_member (m, sid, "dave", NULL);
  /* the first add starts the idle session */
  {
    g_autofree char *body = g_strdup_printf ("{\"trackId\":\"%s\"}", l1);
    g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/%s/queue/add", sid);

    g_assert_cmpstr (music_str (echod_reply_object (reply), "state"), ==, "PLAYING");
    i1 = g_strdup (music_str (json_array_get_object_element (json_object_get_array_member (
                    echod_reply_object (reply), "added"), 0), "id"));
  }
  {
    g_autoptr (JsonObject) state = music_state (m, sid);
    JsonObject *session = session_of (state);

    g_assert_cmpstr (music_str (session, "currentItemId"), ==, i1);
    g_assert_cmpint (music_int (session, "startedAt"), >, 0);
  }
  i2 = music_add (m, sid, "bob", l2);
  i3 = music_add (m, sid, "carol", l3);
  isp = music_add (m, sid, "dave", sp);
  {
    g_auto (GStrv) q = queue_tracks (m, sid);
    assert_strv (q, l2, l3, sp, NULL);
  }

  /* votes order the queue while voting is on: (-votes, requestedAt) */
  settings (m, sid, "alice", "{\"voting\":true}", 200);
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":1}", isp);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "bob", body,
        "/api/music/session/%s/queue/vote", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    assert_strv (q, sp, l2, l3, NULL);
  }
  /* bob again: ignored, nothing changes (not even the version) */
  version = version_of (m, sid);
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":1}", isp);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "bob", body,
        "/api/music/session/%s/queue/vote", sid);
    g_autoptr (JsonObject) state = music_state (m, sid);
    JsonObject *first = json_array_get_object_element (json_object_get_array_member (state,
            "queue"), 0);

    g_assert_cmpint (music_int (first, "votes"), ==, 1);
    g_assert_cmpint (version_of (m, sid), ==, version);
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":1}", i3);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "carol", body,
        "/api/music/session/%s/queue/vote", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    /* a tie at 1: the earlier request first */
    assert_strv (q, l3, sp, l2, NULL);
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":-1}", i3);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "dave", body,
        "/api/music/session/%s/queue/vote", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    assert_strv (q, sp, l2, l3, NULL);
  }
  /* votes: value, item and voter checked, nothing changes on refusal */
  version = version_of (m, sid);
  {
    g_autofree char *b1 = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":2}", i2);
    g_autofree char *b2 = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":0}", i2);
    g_autofree char *b4 = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":1}", i2);
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 400, "POST", "bob", b1,
        "/api/music/session/%s/queue/vote", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 400, "POST", "bob", b2,
        "/api/music/session/%s/queue/vote", sid);
    g_autoptr (EchodReply) r3 G_GNUC_UNUSED = music_expect (m, 404, "POST", "bob",
        "{\"itemId\":\"no-such-item\",\"value\":1}", "/api/music/session/%s/queue/vote", sid);
    g_autoptr (EchodReply) r4 G_GNUC_UNUSED = music_expect (m, 403, "POST", "eve", b4,
        "/api/music/session/%s/queue/vote", sid);

    g_assert_cmpint (version_of (m, sid), ==, version);
  }

  /* voting off: the order the votes made stays, and is the manual order from now on */
  settings (m, sid, "alice", "{\"voting\":false}", 200);
  {
    g_auto (GStrv) q = queue_tracks (m, sid);
    assert_strv (q, sp, l2, l3, NULL);
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"position\":2}", isp);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/%s/queue/reorder", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    assert_strv (q, l2, l3, sp, NULL);
  }
  {
    /* reorder is a DJ's: bob is not */
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"position\":0}", isp);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 403, "POST", "bob", body,
        "/api/music/session/%s/queue/reorder", sid);
  }
  {
    /* removing carol's item: not bob's, alice's as the DJ */
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\"}", i3);
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 403, "POST", "bob", body,
        "/api/music/session/%s/queue/remove", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/%s/queue/remove", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    assert_strv (q, l2, sp, NULL);
  }
  {
    /* bob removes his own */
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\"}", i2);
    g_autoptr (EchodReply) r G_GNUC_UNUSED = music_expect (m, 200, "POST", "bob", body,
        "/api/music/session/%s/queue/remove", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    assert_strv (q, sp, NULL);
  }
  {
    g_autoptr (EchodReply) r = music_expect (m, 200, "POST", "alice", NULL,
        "/api/music/session/%s/queue/clear", sid);
    g_auto (GStrv) q = queue_tracks (m, sid);

    g_assert_cmpint (music_int (echod_reply_object (r), "removed"), ==, 1);
    assert_strv (q, NULL);
  }
  /* what played is untouched by all this */
  {
    g_autoptr (JsonObject) state = music_state (m, sid);

    g_assert_cmpstr (music_str (session_of (state), "currentItemId"), ==, i1);
    g_assert_cmpstr (music_str (session_of (state), "state"), ==, "PLAYING");
  }
}

/* --- playback: skip, back, seek, history, loop, shuffle, stats --- */

/* Polls the current track until @n changes are seen; returns the sequence of current track
 * ids seen (first included). */
static GPtrArray *
watch_tracks (MusicEchod *m, const char *sid, guint n)
{
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);
  gint64 until = g_get_monotonic_time () + (gint64) MUSIC_TIMEOUT_MS * 1000 * (n + 1);

  while (seen->len < n + 1 && g_get_monotonic_time () < until) {
    g_autofree char *now = music_current_track (m, sid);

    if (now != NULL && (seen->len == 0 ||
            strcmp (g_ptr_array_index (seen, seen->len - 1), now) != 0))
      g_ptr_array_add (seen, g_steal_pointer (&now));
    echod_harness_spin (40);
  }
  if (seen->len < n + 1)
    g_error ("saw %u track changes, wanted %u", seen->len - 1, n);
  return seen;
}

static void
test_playback (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *s1 = music_resolve (m, "alice", YT (MUSIC_YT_SHORT1));
  g_autofree char *s2 = music_resolve (m, "alice", YT (MUSIC_YT_SHORT2));
  g_autofree char *s3 = music_resolve (m, "alice", YT (MUSIC_YT_SHORT3));
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *l3 = music_resolve (m, "alice", YT (MUSIC_YT_LONG3));
  g_autofree char *i1 = NULL, *i2 = NULL, *i3 = NULL, *tmp = NULL;
  g_autoptr (JsonObject) holder = NULL;
  JsonArray *history;

  music_add_member (m, sid, "bob", NULL);
  /* skip: into history as skipped, the next plays */
  i1 = music_add (m, sid, "alice", l1);
  i2 = music_add (m, sid, "bob", l2);
  i3 = music_add (m, sid, "alice", l3);
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  tmp = music_current_track (m, sid);
  g_assert_cmpstr (tmp, ==, l2);
  g_clear_pointer (&tmp, g_free);
  history = history_of (m, sid, &holder);
  g_assert_cmpuint (json_array_get_length (history), ==, 1);
  g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "id"), ==, i1);
  g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "status"), ==,
      "skipped");
  g_clear_pointer (&holder, json_object_unref);
  /* back: the same item again, l2 back at the front */
  control (m, sid, "alice", "{\"action\":\"back\"}", 200);
  {
    g_autoptr (JsonObject) state = music_state (m, sid);
    g_auto (GStrv) q = music_queue_ids (json_object_get_array_member (state, "queue"), "id");

    g_assert_cmpstr (music_str (session_of (state), "currentItemId"), ==, i1);
    assert_strv (q, i2, i3, NULL);
  }
  /* seek within the track; outside it or no number: 400 */
  control (m, sid, "alice", "{\"action\":\"seek\",\"value\":5000}", 200);
  {
    g_autoptr (JsonObject) state = music_state (m, sid);

    g_assert_cmpint (music_int (session_of (state), "offsetMs"), ==, 5000);
    g_assert_cmpint (music_int (session_of (state), "positionMs"), >=, 5000);
  }
  control (m, sid, "alice", "{\"action\":\"seek\",\"value\":-1}", 400);
  control (m, sid, "alice", "{\"action\":\"seek\",\"value\":600001}", 400);
  control (m, sid, "alice", "{\"action\":\"seek\"}", 400);
  /* pause keeps the position, play goes on from it */
  control (m, sid, "alice", "{\"action\":\"pause\"}", 200);
  control (m, sid, "alice", "{\"action\":\"pause\"}", 409);
  {
    g_autoptr (JsonObject) state = music_state (m, sid);

    g_assert_cmpstr (music_str (session_of (state), "state"), ==, "PAUSED");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (session_of (state),
                "startedAt")));
    g_assert_cmpint (music_int (session_of (state), "offsetMs"), >=, 5000);
  }
  control (m, sid, "alice", "{\"action\":\"play\"}", 200);
  music_wait_state (m, sid, "PLAYING");
  /* skip to the end: idle, everything in history */
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  music_wait_state (m, sid, "IDLE");
  control (m, sid, "alice", "{\"action\":\"skip\"}", 409);
  control (m, sid, "alice", "{\"action\":\"play\"}", 409);

  /* a client-played track ends at its deadline: played, the session idles */
  g_free (music_add (m, sid, "bob", s1));
  music_wait_state (m, sid, "IDLE");
  history = history_of (m, sid, &holder);
  g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "trackId"), ==, s1);
  g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "status"), ==,
      "played");
  g_clear_pointer (&holder, json_object_unref);

  /* loop ONE: the same track again and again */
  settings (m, sid, "alice", "{\"loopMode\":\"ONE\"}", 200);
  g_free (music_add (m, sid, "alice", s2));
  g_free (music_add (m, sid, "alice", s3));
  {
    gint64 until = g_get_monotonic_time () + (gint64) MUSIC_TIMEOUT_MS * 1000;
    guint s2_played = 0;

    while (s2_played < 2 && g_get_monotonic_time () < until) {
      guint i;

      echod_harness_spin (100);
      history = history_of (m, sid, &holder);
      s2_played = 0;
      for (i = 0; i < json_array_get_length (history); i++)
        if (strcmp (music_str (json_array_get_object_element (history, i), "trackId"),
                s2) == 0)
          s2_played++;
      g_clear_pointer (&holder, json_object_unref);
    }
    g_assert_cmpuint (s2_played, >=, 2);
    tmp = music_current_track (m, sid);
    g_assert_cmpstr (tmp, ==, s2);
    g_clear_pointer (&tmp, g_free);
  }
  /* loop ALL: s2, s3, s2, s3... (each played item comes back at the end) */
  settings (m, sid, "alice", "{\"loopMode\":\"ALL\"}", 200);
  {
    g_autoptr (GPtrArray) seen = watch_tracks (m, sid, 3);
    guint i;

    for (i = 1; i < seen->len; i++)
      g_assert_cmpstr (g_ptr_array_index (seen, i), !=, g_ptr_array_index (seen, i - 1));
    g_assert_true (g_ptr_array_find_with_equal_func (seen, s2, g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (seen, s3, g_str_equal, NULL));
    /* two tracks alternating: the third is the first again */
    g_assert_cmpstr (g_ptr_array_index (seen, 2), ==, g_ptr_array_index (seen, 0));
  }
  settings (m, sid, "alice", "{\"loopMode\":\"OFF\"}", 200);
  music_wait_state (m, sid, "IDLE");

  /* shuffle: every queued item plays once, then idle */
  settings (m, sid, "alice", "{\"shuffle\":true}", 200);
  g_free (music_add (m, sid, "alice", l1));
  g_free (music_add (m, sid, "alice", l2));
  g_free (music_add (m, sid, "alice", l3));
  g_free (music_add (m, sid, "alice", s1));
  {
    g_autoptr (GPtrArray) played = g_ptr_array_new_with_free_func (g_free);
    guint i;

    for (i = 0; i < 4; i++) {
      g_ptr_array_add (played, music_current_track (m, sid));
      g_assert_nonnull (g_ptr_array_index (played, i));
      control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
    }
    music_wait_state (m, sid, "IDLE");
    g_assert_cmpstr (g_ptr_array_index (played, 0), ==, l1);
    for (i = 0; i < 4; i++) {
      const char *want[] = { l1, l2, l3, s1 };
      g_assert_true (g_ptr_array_find_with_equal_func (played, want[i], g_str_equal, NULL));
    }
  }

  /* stats: what played and was skipped, who asked most */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/session/%s/stats?top=2", sid);
    JsonObject *stats = echod_reply_object (reply);
    JsonArray *top = json_object_get_array_member (stats, "topRequesters");

    g_assert_cmpint (music_int (stats, "played"), >=, 4);
    g_assert_cmpint (music_int (stats, "skipped"), >=, 8);
    g_assert_cmpint (music_int (stats, "queued"), ==, 0);
    g_assert_cmpuint (json_array_get_length (top), ==, 2);
    g_assert_cmpstr (music_str (json_array_get_object_element (top, 0), "userId"), ==,
        "alice");
    g_assert_cmpstr (music_str (json_array_get_object_element (top, 1), "userId"), ==, "bob");
    g_assert_cmpint (music_int (json_array_get_object_element (top, 1), "count"), ==, 2);
  }
}

/* --- permissions --- */

static void
test_permissions (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *bob = music_token (m, "bob", NULL);
  const char *mod_roles[] = { "mod", NULL };
  g_autofree char *maria = music_token (m, "maria", mod_roles);
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *add_l1 = g_strdup_printf ("{\"trackId\":\"%s\"}", l1);
  g_autofree char *add_path = g_strdup_printf ("/api/music/session/%s/queue/add", sid);

  /* not in the voice channel: no queueing, no watching */
  {
    g_autoptr (EchodReply) r = music_call (m, "POST", add_path, bob, add_l1);
    g_autoptr (MusicWs) ws = music_ws_connect (m, bob);
    g_autoptr (JsonObject) error = NULL;
    g_autofree char *join = g_strdup_printf ("{\"type\":\"music:join_session\","
        "\"sessionId\":\"%s\"}", sid);

    g_autoptr (MusicWs) ws_for_bob = music_ws_connect (m, "bob");
    g_autoptr (JsonObject) error2 = NULL;

    echod_reply_assert_error (r, 403, "FORBIDDEN");
    music_ws_send (ws, join);
    error = music_ws_wait (ws, "music:error", NULL, NULL);
    g_assert_cmpstr (music_str (error, "code"), ==, "FORBIDDEN");
    /* the same through the host application acting for bob */
    music_ws_send (ws_for_bob, join);
    error2 = music_ws_wait (ws_for_bob, "music:error", NULL, NULL);
    g_assert_cmpstr (music_str (error2, "code"), ==, "FORBIDDEN");
  }
  /* only the host application says who is in the channel */
  {
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 403, "PUT", bob, "{}",
        "/api/music/session/%s/members/bob", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 403, "PUT", "alice", "{}",
        "/api/music/session/%s/members/bob", sid);
  }
  music_add_member (m, sid, "bob", NULL);
  music_add_member (m, sid, "carol", NULL);
  music_add_member (m, sid, "maria", NULL);
  {
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 403, "DELETE", bob, NULL,
        "/api/music/session/%s/members/carol", sid);
  }
  {
    g_autoptr (EchodReply) r = music_expect (m, 200, "POST", bob, add_l1, "%s", add_path);

    g_assert_cmpstr (music_str (echod_reply_object (r), "state"), ==, "PLAYING");
  }
  /* a user JWT cannot act for someone else */
  {
    const char *headers[] = { "X-Echo-User", "alice", NULL };
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/control", sid);
    g_autoptr (EchodReply) r = echod_harness_request_full (music_echod_harness (m), "POST",
        path, bob, "{\"action\":\"pause\"}", -1, headers);
    g_autofree char *state = music_state_name (m, sid);

    g_assert_cmpuint (r->status, >=, 400);
    g_assert_cmpuint (r->status, <, 500);
    g_assert_cmpstr (state, ==, "PLAYING");
  }
  /* a forged JWT: 401 */
  {
    g_autofree char *forged = g_strconcat (bob, "x", NULL);
    g_autoptr (EchodReply) r = music_call (m, "POST", add_path, forged, add_l1);

    g_assert_cmpuint (r->status, ==, 401);
  }
  /* djMode: control is for DJs (the creator, a JWT's mod role, the host application) */
  settings (m, sid, bob, "{\"djMode\":true}", 403);
  settings (m, sid, "alice", "{\"djMode\":true}", 200);
  control (m, sid, bob, "{\"action\":\"pause\"}", 403);
  control (m, sid, "carol", "{\"action\":\"pause\"}", 403);
  settings (m, sid, "carol", "{\"volume\":10}", 403);
  {
    g_autofree char *state = music_state_name (m, sid);

    g_assert_cmpstr (state, ==, "PLAYING");
  }
  control (m, sid, maria, "{\"action\":\"pause\"}", 200);
  control (m, sid, "alice", "{\"action\":\"play\"}", 200);
  control (m, sid, NULL, "{\"action\":\"pause\"}", 200);
  control (m, sid, NULL, "{\"action\":\"play\"}", 200);
  /* roles the host application vouches for in X-Echo-Roles count too */
  {
    const char *headers[] = { "X-Echo-User", "carol", "X-Echo-Roles", "dj", NULL };
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/control", sid);
    g_autoptr (EchodReply) r = echod_harness_request_full (music_echod_harness (m), "POST",
        path, NULL, "{\"action\":\"pause\"}", -1, headers);

    g_assert_cmpuint (r->status, ==, 200);
  }
  control (m, sid, "alice", "{\"action\":\"play\"}", 200);
  settings (m, sid, "alice", "{\"djMode\":false}", 200);

  /* canControl false: bob still queues, but does not control */
  {
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 403, "PUT", bob, "{\"canControl\":false}",
        "/api/music/session/%s/permissions/bob", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 200, "PUT", "alice",
        "{\"canControl\":false}", "/api/music/session/%s/permissions/bob", sid);
  }
  control (m, sid, bob, "{\"action\":\"pause\"}", 403);
  control (m, sid, "carol", "{\"action\":\"pause\"}", 200);
  control (m, sid, "carol", "{\"action\":\"play\"}", 200);
  {
    g_autoptr (EchodReply) r G_GNUC_UNUSED = music_expect (m, 200, "POST", bob, add_l1, "%s", add_path);
  }
  /* bob leaves the channel: nothing more from him */
  {
    g_autoptr (EchodReply) r G_GNUC_UNUSED = music_expect (m, 200, "DELETE", NULL, NULL,
        "/api/music/session/%s/members/bob", sid);
    g_autoptr (EchodReply) again G_GNUC_UNUSED = music_expect (m, 404, "DELETE", NULL, NULL,
        "/api/music/session/%s/members/bob", sid);
    g_autoptr (EchodReply) add = music_call (m, "POST", add_path, bob, add_l1);

    echod_reply_assert_error (add, 403, "FORBIDDEN");
  }
  /* ending the session: a DJ's */
  {
    g_autoptr (EchodReply) r1 G_GNUC_UNUSED = music_expect (m, 403, "DELETE", "carol", NULL,
        "/api/music/session/%s", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 204, "DELETE", "alice", NULL,
        "/api/music/session/%s", sid);
    g_autoptr (EchodReply) r3 G_GNUC_UNUSED = music_expect (m, 404, "GET", NULL, NULL,
        "/api/music/session/%s/state", sid);
  }
}

/* --- bad input, stale versions, rate limits --- */

static void
test_bad_input (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\ncontrol-rate=1\n"
      "control-burst=3\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *i1 = NULL;
  g_autoptr (JsonObject) before = NULL;
  g_autofree char *before_text = NULL;
  gint64 version;
  guint i;
  static const struct {
    const char *method;
    const char *suffix;
    const char *body;
    guint status;
  } bad[] = {
    { "POST", "/queue/add", "{\"trackId\":", 400 },
    { "POST", "/queue/add", "[1,2]", 400 },
    { "POST", "/queue/add", "{\"trackId\":5}", 400 },
    { "POST", "/queue/add", "{\"trackIds\":[]}", 400 },
    { "POST", "/queue/add", "{\"trackIds\":[5]}", 400 },
    { "POST", "/queue/add", "{\"trackIds\":\"x\"}", 400 },
    { "POST", "/queue/add", "{\"trackId\":\"no such track\"}", 400 },
    { "POST", "/queue/add", "{\"trackId\":\"unknown-track\"}", 404 },
    { "POST", "/queue/add", "{\"trackIds\":[\"\",\"ok\"]}", 400 },
    { "POST", "/queue/add", "{}", 400 },
    { "POST", "/queue/remove", "{\"itemId\":7}", 400 },
    { "POST", "/queue/remove", "{\"itemId\":\"\"}", 400 },
    { "POST", "/queue/remove", "{\"itemId\":\"a\\tb\"}", 400 },
    { "POST", "/queue/remove", "{\"itemId\":\"nope\"}", 404 },
    { "POST", "/queue/reorder", "{\"itemId\":\"nope\",\"position\":-1}", 400 },
    { "POST", "/queue/vote", "{\"itemId\":\"nope\",\"value\":\"up\"}", 400 },
    { "POST", "/control", "{\"action\":\"dance\"}", 400 },
    { "POST", "/control", "{\"action\":7}", 400 },
    { "POST", "/control", "{\"action\":\"seek\",\"value\":\"soon\"}", 400 },
    { "POST", "/control", "\xff\xfe{}", 400 },
    { "PATCH", "/settings", "{}", 400 },
    { "PATCH", "/settings", "{\"volume\":101}", 400 },
    { "PATCH", "/settings", "{\"volume\":50,\"loopMode\":\"SOMETIMES\"}", 400 },
    { "PATCH", "/settings", "{\"volume\":50,\"shuffle\":\"yes\"}", 400 },
    { "PATCH", "/settings", "{\"volume\":50,\"ifVersion\":\"x\"}", 400 },
    { "PUT", "/permissions/bob", "{\"canControl\":1}", 400 },
    { "PUT", "/members/bob", "{\"roles\":[\"a b\"]}", 400 },
    { "PUT", "/members/bob", "{\"roles\":\"dj\"}", 400 },
    { "GET", "/history?limit=0", NULL, 400 },
    { "GET", "/history?limit=abc", NULL, 400 },
    { "GET", "/stats?top=1000", NULL, 400 },
  };

  music_add_member (m, sid, "bob", NULL);
  i1 = music_add (m, sid, "alice", l1);
  g_free (music_add (m, sid, "alice", l2));
  before = music_state (m, sid);
  json_object_remove_member (session_of (before), "positionMs");
  json_object_remove_member (session_of (before), "serverTime");
  {
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), before);
    before_text = json_to_string (node, FALSE);
  }
  version = music_int (session_of (before), "version");

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s%s", sid, bad[i].suffix);
    /* members are the host application's to say */
    g_autoptr (EchodReply) r = music_call (m, bad[i].method, path,
        g_str_has_prefix (bad[i].suffix, "/members") ? NULL : "alice", bad[i].body);

    if (r->status != bad[i].status)
      g_error ("%s %s %s: expected %u, got %u %s", bad[i].method, bad[i].suffix,
          bad[i].body != NULL ? bad[i].body : "", bad[i].status, r->status, r->text);
    echod_reply_assert_error (r, bad[i].status, bad[i].status == 400 ? "INVALID_REQUEST" :
        "NOT_FOUND");
  }
  /* all or nothing: one unknown id among known ones adds none */
  {
    g_autofree char *body = g_strdup_printf ("{\"trackIds\":[\"%s\",\"unknown\"]}", l2);
    g_autoptr (EchodReply) r G_GNUC_UNUSED = music_expect (m, 404, "POST", "alice", body,
        "/api/music/session/%s/queue/add", sid);
  }
  /* stale ifVersion: 409 CONFLICT */
  {
    g_autofree char *b1 = g_strdup_printf ("{\"volume\":10,\"ifVersion\":%" G_GINT64_FORMAT
        "}", version - 1);
    g_autofree char *b2 = g_strdup_printf ("{\"trackId\":\"%s\",\"ifVersion\":%"
        G_GINT64_FORMAT "}", l2, version + 5);
    g_autofree char *b3 = g_strdup_printf ("{\"action\":\"pause\",\"ifVersion\":%"
        G_GINT64_FORMAT "}", version - 1);
    g_autoptr (EchodReply) r1 = music_expect (m, 409, "PATCH", "alice", b1,
        "/api/music/session/%s/settings", sid);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED = music_expect (m, 409, "POST", "alice", b2,
        "/api/music/session/%s/queue/add", sid);
    g_autoptr (EchodReply) r3 G_GNUC_UNUSED = music_expect (m, 409, "POST", "alice", b3,
        "/api/music/session/%s/control", sid);

    echod_reply_assert_error (r1, 409, "CONFLICT");
  }
  /* unknown and malformed session ids */
  {
    g_autoptr (EchodReply) r1 = music_call (m, "GET",
        "/api/music/session/00000000-0000-0000-0000-000000000000/state", NULL, NULL);
    g_autoptr (EchodReply) r2 = music_call (m, "POST",
        "/api/music/session/%7F%01/control", "alice", "{\"action\":\"pause\"}");

    echod_reply_assert_error (r1, 404, "NOT_FOUND");
    g_assert_cmpuint (r2->status, >=, 400);
    g_assert_cmpuint (r2->status, <, 500);
  }
  /* nothing of the above changed anything */
  {
    g_autoptr (JsonObject) after = music_state (m, sid);
    g_autofree char *after_text = NULL;

    json_object_remove_member (session_of (after), "positionMs");
    json_object_remove_member (session_of (after), "serverTime");
    {
      g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
          json_object_ref (after));
      after_text = json_to_string (node, FALSE);
    }
    g_assert_cmpstr (after_text, ==, before_text);
  }
  /* the right version works and moves it on */
  {
    g_autofree char *body = g_strdup_printf ("{\"volume\":10,\"ifVersion\":%"
        G_GINT64_FORMAT "}", version);
    g_autoptr (EchodReply) r = music_expect (m, 200, "PATCH", "alice", body,
        "/api/music/session/%s/settings", sid);
    JsonObject *session = json_object_get_object_member (echod_reply_object (r), "session");

    g_assert_cmpint (music_int (session, "volume"), ==, 10);
    g_assert_cmpint (music_int (session, "version"), >, version);
  }

  /* bob's control bucket (burst 3, 1 per second): 429 with Retry-After, then fine again */
  {
    g_autoptr (EchodReply) limited = NULL;
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/control", sid);
    guint64 retry = 0;

    for (i = 0; i < 10 && limited == NULL; i++) {
      EchodReply *r = music_call (m, "POST", path, "bob", "{\"action\":\"play\"}");

      if (r->status == 429)
        limited = r;
      else {
        g_assert_cmpuint (r->status, ==, 200);
        echod_reply_free (r);
      }
    }
    g_assert_nonnull (limited);
    g_assert_cmpuint (i, >=, 3);
    echod_reply_assert_error (limited, 429, "RATE_LIMITED");
    g_assert_true (g_ascii_string_to_unsigned (soup_message_headers_get_one (
                limited->headers, "Retry-After"), 10, 1, 3600, &retry, NULL));
    /* others are not limited by bob's bucket */
    control (m, sid, "alice", "{\"action\":\"play\"}", 200);
    echod_harness_spin ((guint) retry * 1000 + 200);
    control (m, sid, "bob", "{\"action\":\"play\"}", 200);
  }
}

/* --- restart --- */

static void
test_restart (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\nflush-interval-ms=20\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *sid2 = music_start_session (m, "bob", "guild-1", "vc-2");
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *l3 = music_resolve (m, "alice", YT (MUSIC_YT_LONG3));
  g_autofree char *sp = music_resolve (m, "alice", SP_URL);
  g_autoptr (GBytes) wav = music_make_tone ("wav", 30.0);
  g_autofree char *wav_id = NULL, *isp = NULL;
  g_autoptr (JsonObject) before = NULL;
  g_autoptr (JsonObject) before2 = NULL;
  g_autoptr (JsonObject) hist_before = NULL;
  g_autoptr (JsonObject) hist_after = NULL;
  JsonObject *s_before, *s_after;

  music_add_member (m, sid, "bob", "[\"dj\"]");
  g_free (music_add (m, sid, "alice", l1));
  g_free (music_add (m, sid, "alice", l2));
  g_free (music_add (m, sid, "bob", l3));
  isp = music_add (m, sid, "bob", sp);
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  settings (m, sid, "alice", "{\"loopMode\":\"ALL\",\"volume\":40,\"voting\":true}", 200);
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":1}", isp);
    g_autoptr (EchodReply) r G_GNUC_UNUSED = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/%s/queue/vote", sid);
  }
  /* a server-side track, paused */
  {
    g_autoptr (EchodReply) put = music_upload (m, "bob", "long.wav", "audio/wav", wav,
        &wav_id);

    g_assert_cmpuint (put->status, ==, 200);
  }
  g_free (music_add (m, sid2, "bob", wav_id));
  music_wait_state (m, sid2, "PLAYING");
  control (m, sid2, "bob", "{\"action\":\"pause\"}", 200);

  before = music_state (m, sid);
  before2 = music_state (m, sid2);
  (void) history_of (m, sid, &hist_before);
  echod_harness_spin (500);     /* past the flush interval */
  music_echod_restart (m);

  /* the client-played session: same timeline, queue, history, settings, members */
  {
    g_autoptr (JsonObject) after = music_state (m, sid);
    g_auto (GStrv) q_before = music_queue_ids (json_object_get_array_member (before, "queue"),
        "id");
    g_auto (GStrv) q_after = music_queue_ids (json_object_get_array_member (after, "queue"),
        "id");
    JsonArray *members;
    guint i;
    gboolean bob_there = FALSE;

    s_before = session_of (before);
    s_after = session_of (after);
    g_assert_cmpstr (music_str (s_after, "id"), ==, sid);
    g_assert_cmpstr (music_str (s_after, "state"), ==, "PLAYING");
    g_assert_cmpstr (music_str (s_after, "currentItemId"), ==,
        music_str (s_before, "currentItemId"));
    g_assert_cmpint (music_int (s_after, "startedAt"), ==, music_int (s_before, "startedAt"));
    g_assert_cmpint (music_int (s_after, "offsetMs"), ==, music_int (s_before, "offsetMs"));
    g_assert_cmpint (music_int (s_after, "version"), ==, music_int (s_before, "version"));
    g_assert_cmpstr (music_str (s_after, "loopMode"), ==, "ALL");
    g_assert_cmpint (music_int (s_after, "volume"), ==, 40);
    g_assert_true (json_object_get_boolean_member (s_after, "voting"));
    g_assert_cmpstr (music_str (s_after, "createdById"), ==, "alice");
    members = json_object_get_array_member (s_after, "members");
    for (i = 0; i < json_array_get_length (members); i++)
      if (strcmp (music_str (json_array_get_object_element (members, i), "userId"),
              "bob") == 0)
        bob_there = TRUE;
    g_assert_true (bob_there);
    g_assert_true (g_strv_equal ((const char *const *) q_after,
            (const char *const *) q_before));
    g_assert_cmpint (music_int (json_array_get_object_element (json_object_get_array_member (
                    after, "queue"), 0), "votes"), ==, 1);
  }
  {
    JsonArray *h_before = json_object_get_array_member (hist_before, "history");
    JsonArray *h_after = history_of (m, sid, &hist_after);
    g_auto (GStrv) ids_before = music_queue_ids (h_before, "id");
    g_auto (GStrv) ids_after = music_queue_ids (h_after, "id");

    g_assert_cmpuint (g_strv_length (ids_before), ==, 1);
    g_assert_true (g_strv_equal ((const char *const *) ids_before,
            (const char *const *) ids_after));
  }
  /* create-or-get finds it again; the tracks are still known */
  {
    g_autoptr (EchodReply) r = music_expect (m, 200, "POST", "alice",
        "{\"serverId\":\"guild-1\",\"voiceChannelId\":\"vc-1\"}", "/api/music/session/start");
    g_autoptr (EchodReply) t = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/tracks/%s", wav_id);

    g_assert_cmpstr (music_str (json_object_get_object_member (echod_reply_object (r),
                "session"), "id"), ==, sid);
    g_assert_cmpint (music_int (echod_reply_object (t), "durationMs"), >=, 29000);
  }
  /* the server-side session: paused where it was, and it plays again */
  {
    g_autoptr (JsonObject) after = music_state (m, sid2);

    g_assert_cmpstr (music_str (session_of (after), "state"), ==, "PAUSED");
    g_assert_cmpstr (music_str (session_of (after), "currentItemId"), ==,
        music_str (session_of (before2), "currentItemId"));
    g_assert_cmpint (music_int (session_of (after), "offsetMs"), ==,
        music_int (session_of (before2), "offsetMs"));
  }
  control (m, sid2, "bob", "{\"action\":\"play\"}", 200);
  music_wait_state (m, sid2, "PLAYING");
  /* and the restored session keeps working */
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  {
    g_autofree char *now = music_current_track (m, sid);

    g_assert_cmpstr (now, ==, sp);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod-music/session-start", test_session_start);
  g_test_add_func ("/echod-music/resolve", test_resolve);
  g_test_add_func ("/echod-music/upload", test_upload);
  g_test_add_func ("/echod-music/queue-votes", test_queue_votes);
  g_test_add_func ("/echod-music/playback", test_playback);
  g_test_add_func ("/echod-music/permissions", test_permissions);
  g_test_add_func ("/echod-music/bad-input", test_bad_input);
  g_test_add_func ("/echod-music/restart", test_restart);
  return echod_test_exit (g_test_run ());
}
