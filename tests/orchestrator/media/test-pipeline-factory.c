/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-pipeline-factory.c: EchoPipelineFactory with the shipped pipelines/ directory and
 * with broken templates written to temporary directories. It proves that:
 *  - pipelines/share.pipeline loads, and builds a pipeline whose named elements carry the
 *    substituted values (session, latency, announce, token, Opus bitrate, caps);
 *  - an unknown placeholder, a gst-launch syntax error, an unknown element, a missing or
 *    mistyped named element, an unknown kind, a comment-only file and a missing
 *    share.pipeline are each refused with an error naming the file (and the line, for a
 *    placeholder);
 *  - caps-list braces are not placeholders;
 *  - values cannot inject into the description: a token with quotes, backslashes and
 *    " ! fakesink" reaches sharerelay's property byte for byte and adds no element;
 *    non-digit sessions, out-of-range numbers, bad booleans, control characters, unknown
 *    and missing values are refused.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>

#include "echo-pipeline-factory.h"

/* A template with every placeholder, which builds (fakesink stands in for nothing: the
 * named elements are the real ones). */
#define GOOD_TEMPLATE \
  "# a comment\n" \
  "appsrc name=input format=time is-live=true\n" \
  "  caps=\"audio/x-raw,format=F32LE,layout=interleaved,rate={rate},channels={channels}," \
  "channel-mask=(bitmask){channel_mask}\"\n" \
  "  ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels={out_channels}\n" \
  "  ! tee name=t\n" \
  "   # an indented comment between description lines\n" \
  "t. ! queue ! sharerelay name=relay session={session} port=0 latency={latency}\n" \
  "     announce={announce} token={token} channels={out_channels}\n" \
  "t. ! valve name=opusgate ! queue ! opusenc bitrate={opus_bitrate}\n" \
  "  ! appsink name=opus\n"

static char *
pipelines_dir (void)
{
  const char *root = g_getenv ("ECHO_SOURCE_ROOT");

  g_assert_nonnull (root);
  return g_build_filename (root, "pipelines", NULL);
}

/* A fresh directory holding share.pipeline = @contents (and more files by name/contents
 * pairs). */
static char *
template_dir (const char *contents, ...)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp (NULL, &error);
  g_autofree char *path = NULL;
  const char *name;
  va_list ap;

  g_assert_no_error (error);
  if (contents != NULL) {
    path = g_build_filename (dir, "share.pipeline", NULL);
    g_assert_true (g_file_set_contents (path, contents, -1, &error));
    g_assert_no_error (error);
  }
  va_start (ap, contents);
  while ((name = va_arg (ap, const char *)) != NULL) {
    const char *text = va_arg (ap, const char *);
    g_autofree char *other = g_build_filename (dir, name, NULL);

    g_assert_true (g_file_set_contents (other, text, -1, &error));
    g_assert_no_error (error);
  }
  va_end (ap);
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);

    g_assert_cmpint (g_remove (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static GHashTable *
share_values (void)
{
  GHashTable *v = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);

  g_hash_table_insert (v, "session", "424242");
  g_hash_table_insert (v, "rate", "44100");
  g_hash_table_insert (v, "channels", "2");
  g_hash_table_insert (v, "out_channels", "2");
  g_hash_table_insert (v, "channel_mask", "0x3");
  g_hash_table_insert (v, "latency", "150");
  g_hash_table_insert (v, "token", "");
  g_hash_table_insert (v, "announce", "false");
  g_hash_table_insert (v, "opus_bitrate", "64000");
  return v;
}

static GstElement *
get_named (GstPipeline * pipeline, const char *name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);

  g_assert_nonnull (e);
  return e;
}

static guint
count_elements (GstPipeline * pipeline)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  guint n = 0;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    n++;
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return n;
}

static void
test_load_shipped (void)
{
  g_autofree char *dir = pipelines_dir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoPipelineFactory) factory = echo_pipeline_factory_new (dir, &error);
  g_autoptr (GHashTable) values = share_values ();
  g_autoptr (GstPipeline) pipeline = NULL;
  g_autoptr (GstElement) relay = NULL;
  g_autoptr (GstElement) input = NULL;
  g_autoptr (GstElement) opus = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autofree char *session = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GstElement) gate = NULL;
  gboolean drop = FALSE, idle_encode = TRUE;
  GstElement *encoder = NULL;
  GstStructure *s;
  guint latency = 0, channels = 0;
  gboolean announce = TRUE;
  gint rate = 0, bitrate = 0;
  GstPad *pad;

  g_assert_no_error (error);
  g_assert_nonnull (factory);
  path = g_build_filename (dir, "share.pipeline", NULL);
  g_assert_cmpstr (echo_pipeline_factory_get_path (factory, "share"), ==, path);
  g_assert_null (echo_pipeline_factory_get_path (factory, "karaoke"));

  pipeline = echo_pipeline_factory_build (factory, "share", values, &error);
  g_assert_no_error (error);
  g_assert_true (GST_IS_PIPELINE (pipeline));
  g_assert_false (g_object_is_floating (pipeline));

  relay = get_named (pipeline, "relay");
  g_object_get (relay, "session", &session, "latency", &latency, "announce", &announce,
      "channels", &channels, NULL);
  g_assert_cmpstr (session, ==, "424242");
  g_assert_cmpuint (latency, ==, 150);
  g_assert_false (announce);
  g_assert_cmpuint (channels, ==, 2);

  input = get_named (pipeline, "input");
  g_object_get (input, "caps", &caps, NULL);
  g_assert_nonnull (caps);
  s = gst_caps_get_structure (caps, 0);
  g_assert_true (gst_structure_get_int (s, "rate", &rate));
  g_assert_cmpint (rate, ==, 44100);
  g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, "F32LE");

  /* the element feeding the appsink is the Opus encoder, at the given bitrate */
  opus = get_named (pipeline, "opus");
  pad = gst_element_get_static_pad (opus, "sink");
  {
    GstPad *peer = gst_pad_get_peer (pad);

    g_assert_nonnull (peer);
    encoder = gst_pad_get_parent_element (peer);
    gst_object_unref (peer);
  }
  gst_object_unref (pad);
  g_assert_cmpstr (GST_OBJECT_NAME (gst_element_get_factory (encoder)), ==, "opusenc");
  g_object_get (encoder, "bitrate", &bitrate, NULL);
  g_assert_cmpint (bitrate, ==, 64000);
  gst_object_unref (encoder);

  /* the Opus branch starts switched off: echod opens the valve on demand */
  gate = get_named (pipeline, "opusgate");
  g_object_get (gate, "drop", &drop, NULL);
  g_assert_true (drop);
  /* sharerelay does not encode for nobody */
  g_object_get (relay, "idle-encode", &idle_encode, NULL);
  g_assert_false (idle_encode);
}

/* Loads a directory expected to fail; returns the message. */
static char *
load_error (const char *dir)
{
  g_autoptr (GError) error = NULL;
  EchoPipelineFactory *factory = echo_pipeline_factory_new (dir, &error);

  g_assert_null (factory);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE);
  g_test_message ("refused: %s", error->message);
  return g_strdup (error->message);
}

static void
assert_names_file (const char *message, const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);

  if (strstr (message, path) == NULL)
    g_error ("'%s' does not name %s", message, path);
}

static void
test_good_template (void)
{
  g_autofree char *dir = template_dir (GOOD_TEMPLATE, NULL);
  g_autoptr (GError) error = NULL;
  EchoPipelineFactory *factory = echo_pipeline_factory_new (dir, &error);

  g_assert_no_error (error);
  echo_pipeline_factory_free (factory);
  remove_dir (dir);
}

static void
test_unknown_placeholder (void)
{
  g_autofree char *dir = template_dir ("# line 1\n"
      "appsrc name=input ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session} volume={volume}\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);
  g_autofree char *path = g_build_filename (dir, "share.pipeline", NULL);
  g_autofree char *where = g_strdup_printf ("%s:3:", path);

  g_assert_nonnull (strstr (message, where));
  g_assert_nonnull (strstr (message, "{volume}"));
  /* and it says which ones exist */
  g_assert_nonnull (strstr (message, "{opus_bitrate}"));
  remove_dir (dir);
}

static void
test_syntax_error (void)
{
  g_autofree char *dir = template_dir ("appsrc name=input ! ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session}\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  remove_dir (dir);
}

static void
test_unknown_element (void)
{
  g_autofree char *dir = template_dir ("appsrc name=input ! echonosuchelement "
      "! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session}\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  g_assert_nonnull (strstr (message, "echonosuchelement"));
  remove_dir (dir);
}

static void
test_unknown_property (void)
{
  g_autofree char *dir = template_dir ("appsrc name=input ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session} loudness=11\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  g_assert_nonnull (strstr (message, "loudness"));
  remove_dir (dir);
}

static void
test_missing_element (void)
{
  /* no appsink name=opus */
  g_autofree char *dir = template_dir ("appsrc name=input ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session}\n"
      "t. ! queue ! fakesink\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  g_assert_nonnull (strstr (message, "appsink name=opus"));
  remove_dir (dir);
}

static void
test_missing_opus_gate (void)
{
  /* everything but the valve that switches the Opus branch */
  g_autofree char *dir = template_dir ("appsrc name=input ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session}\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  g_assert_nonnull (strstr (message, "valve name=opusgate"));
  remove_dir (dir);
}

static void
test_mistyped_element (void)
{
  /* "relay" is there, but not a sharerelay */
  g_autofree char *dir = template_dir ("appsrc name=input ! tee name=t\n"
      "t. ! queue ! fakesink name=relay\n"
      "t. ! queue ! appsink name=opus\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  g_assert_nonnull (strstr (message, "fakesink"));
  g_assert_nonnull (strstr (message, "sharerelay"));
  remove_dir (dir);
}

static void
test_single_element (void)
{
  g_autofree char *dir = template_dir ("appsrc name=input\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  remove_dir (dir);
}

static void
test_comments_only (void)
{
  g_autofree char *dir = template_dir ("# nothing\n\n   # here\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "share.pipeline");
  remove_dir (dir);
}

static void
test_unknown_kind (void)
{
  g_autofree char *dir = template_dir (GOOD_TEMPLATE, "karaoke.pipeline",
      "fakesrc ! fakesink\n", NULL);
  g_autofree char *message = load_error (dir);

  assert_names_file (message, dir, "karaoke.pipeline");
  remove_dir (dir);
}

static void
test_missing_share (void)
{
  g_autofree char *dir = template_dir (NULL, "README", "not a template\n", NULL);
  g_autofree char *message = load_error (dir);

  g_assert_nonnull (strstr (message, dir));
  g_assert_nonnull (strstr (message, "share.pipeline"));
  remove_dir (dir);
}

static void
test_missing_dir (void)
{
  g_autofree char *message = load_error ("/nonexistent/echo/pipelines");

  g_assert_nonnull (strstr (message, "/nonexistent/echo/pipelines"));
}

static void
test_caps_list_braces (void)
{
  g_autofree char *dir = template_dir ("appsrc name=input "
      "caps=\"audio/x-raw,format={ F32LE, S16LE },rate={rate},channels={channels}\"\n"
      "  ! audioconvert ! audio/x-raw,format={S16LE} ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session}\n"
      "t. ! valve name=opusgate ! queue ! appsink name=opus\n", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoPipelineFactory) factory = echo_pipeline_factory_new (dir, &error);
  g_autoptr (GHashTable) values = share_values ();
  g_autofree char *description = NULL;

  g_assert_no_error (error);
  description = echo_pipeline_factory_expand (factory, "share", values, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (description, "format={ F32LE, S16LE },rate=44100,channels=2"));
  g_assert_nonnull (strstr (description, "format={S16LE}"));
  g_assert_nonnull (strstr (description, "session=424242"));
  remove_dir (dir);
}

static EchoPipelineFactory *
good_factory (char **dir)
{
  g_autoptr (GError) error = NULL;
  EchoPipelineFactory *factory;

  *dir = template_dir (GOOD_TEMPLATE, NULL);
  factory = echo_pipeline_factory_new (*dir, &error);
  g_assert_no_error (error);
  return factory;
}

static void
test_token_escaping (void)
{
  const char *tokens[] = {
    "plain",
    "",
    "with space",
    "quote\" ! fakesink name=injected",
    "back\\slash\\",
    "\\\" ! fakesink name=injected sync=\"",
    "{session} {token}",
    "'single' # not a comment",
  };
  g_autofree char *dir = NULL;
  g_autoptr (EchoPipelineFactory) factory = good_factory (&dir);
  g_autoptr (GHashTable) plain = share_values ();
  g_autoptr (GstPipeline) reference = echo_pipeline_factory_build (factory, "share", plain,
      NULL);
  guint n_elements = count_elements (reference);
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (tokens); i++) {
    g_autoptr (GHashTable) values = share_values ();
    g_autoptr (GError) error = NULL;
    g_autoptr (GstPipeline) pipeline = NULL;
    g_autoptr (GstElement) relay = NULL;
    g_autoptr (GstElement) injected = NULL;
    g_autofree char *token = NULL;

    g_hash_table_insert (values, "token", (gpointer) tokens[i]);
    pipeline = echo_pipeline_factory_build (factory, "share", values, &error);
    g_assert_no_error (error);
    relay = get_named (pipeline, "relay");
    g_object_get (relay, "token", &token, NULL);
    /* sharerelay keeps "" as given or as NULL: both mean an open session */
    g_assert_cmpstr (token != NULL ? token : "", ==, tokens[i]);
    injected = gst_bin_get_by_name (GST_BIN (pipeline), "injected");
    g_assert_null (injected);
    g_assert_cmpuint (count_elements (pipeline), ==, n_elements);
  }
  remove_dir (dir);
}

static void
assert_invalid (EchoPipelineFactory * factory, const char *key, const char *value)
{
  g_autoptr (GHashTable) values = share_values ();
  g_autoptr (GError) error = NULL;
  GstPipeline *pipeline;

  if (value != NULL)
    g_hash_table_insert (values, (gpointer) key, (gpointer) value);
  else
    g_hash_table_remove (values, key);
  pipeline = echo_pipeline_factory_build (factory, "share", values, &error);
  g_assert_null (pipeline);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_test_message ("%s=%s refused: %s", key, value != NULL ? value : "(none)",
      error->message);
  if (strstr (error->message, key) == NULL)
    g_error ("'%s' does not name %s", error->message, key);
}

static void
test_value_validation (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (EchoPipelineFactory) factory = good_factory (&dir);
  g_autoptr (GHashTable) values = share_values ();
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;

  assert_invalid (factory, "session", "12a456");
  assert_invalid (factory, "session", "123 ! fakesink");
  assert_invalid (factory, "session", "");
  assert_invalid (factory, "session", "-1");
  assert_invalid (factory, "rate", "7999");
  assert_invalid (factory, "rate", "48000 ! fakesink");
  assert_invalid (factory, "rate", "0x10000");
  assert_invalid (factory, "channels", "9");
  assert_invalid (factory, "latency", "19");
  assert_invalid (factory, "opus_bitrate", "1000000");
  assert_invalid (factory, "announce", "maybe");
  assert_invalid (factory, "channel_mask", "-3");
  assert_invalid (factory, "channel_mask", "0x");
  assert_invalid (factory, "token", "line\nbreak");
  assert_invalid (factory, "token", "caf\xc3\xa9");
  /* a value the template uses is missing */
  assert_invalid (factory, "latency", NULL);
  /* a name the kind does not have */
  assert_invalid (factory, "volume", "11");

  /* numbers are normalised, booleans and masks spelled one way */
  g_hash_table_insert (values, "rate", "044100");
  g_hash_table_insert (values, "announce", "YES");
  g_hash_table_insert (values, "channel_mask", "63");
  description = echo_pipeline_factory_expand (factory, "share", values, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (description, "rate=44100,"));
  g_assert_nonnull (strstr (description, "announce=true"));
  g_assert_nonnull (strstr (description, "(bitmask)0x000000000000003f"));

  g_assert_null (echo_pipeline_factory_build (factory, "karaoke", values, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pipeline-factory/load/shipped", test_load_shipped);
  g_test_add_func ("/pipeline-factory/load/good", test_good_template);
  g_test_add_func ("/pipeline-factory/load/unknown-placeholder", test_unknown_placeholder);
  g_test_add_func ("/pipeline-factory/load/syntax-error", test_syntax_error);
  g_test_add_func ("/pipeline-factory/load/unknown-element", test_unknown_element);
  g_test_add_func ("/pipeline-factory/load/unknown-property", test_unknown_property);
  g_test_add_func ("/pipeline-factory/load/missing-element", test_missing_element);
  g_test_add_func ("/pipeline-factory/load/missing-opus-gate", test_missing_opus_gate);
  g_test_add_func ("/pipeline-factory/load/mistyped-element", test_mistyped_element);
  g_test_add_func ("/pipeline-factory/load/single-element", test_single_element);
  g_test_add_func ("/pipeline-factory/load/comments-only", test_comments_only);
  g_test_add_func ("/pipeline-factory/load/unknown-kind", test_unknown_kind);
  g_test_add_func ("/pipeline-factory/load/missing-share", test_missing_share);
  g_test_add_func ("/pipeline-factory/load/missing-dir", test_missing_dir);
  g_test_add_func ("/pipeline-factory/caps-list-braces", test_caps_list_braces);
  g_test_add_func ("/pipeline-factory/values/token-escaping", test_token_escaping);
  g_test_add_func ("/pipeline-factory/values/validation", test_value_validation);

  return g_test_run ();
}
