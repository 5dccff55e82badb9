/* Tests for echo-metrics: the exposition format read back by a small parser written for it,
 * escaping, histogram buckets, thread safety and the process metrics. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "echo-metrics.h"

/* One sample line: name{labels} value. */
typedef struct
{
  char *name;
  GHashTable *labels; /* unescaped name -> value */
  double value;
} Sample;

static void
sample_free (gpointer data)
{
  Sample *sample = data;

  g_free (sample->name);
  g_hash_table_unref (sample->labels);
  g_free (sample);
}

/* Parses the text format strictly; any deviation fails the test. Also returns HELP and TYPE of
 * every family, and checks each family's comments come before its samples. */
typedef struct
{
  GPtrArray *samples;    /* of Sample* */
  GHashTable *types;     /* family name -> type */
  GHashTable *helps;     /* family name -> help (escaped form) */
} Exposition;

static void
exposition_free (Exposition *exposition)
{
  g_ptr_array_unref (exposition->samples);
  g_hash_table_unref (exposition->types);
  g_hash_table_unref (exposition->helps);
  g_free (exposition);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Exposition, exposition_free)

static gboolean
is_name_char (char c, gboolean first)
{
  return g_ascii_isalpha (c) || c == '_' || c == ':' || (!first && g_ascii_isdigit (c));
}

static const char *
family_of (const char *name, GHashTable *types)
{
  static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

  if (g_hash_table_contains (types, name))
    return name;
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      if (g_str_has_suffix (name, suffixes[i]))
        {
          g_autofree char *base = g_strndup (name, strlen (name) - strlen (suffixes[i]));
          gpointer key = NULL;

          if (g_hash_table_lookup_extended (types, base, &key, NULL)
              && g_str_equal (g_hash_table_lookup (types, base), "histogram"))
            return key;
        }
    }
  return NULL;
}

static Sample *
parse_sample (const char *line)
{
  Sample *sample = g_new0 (Sample, 1);
  const char *p = line;
  char *end = NULL;

  sample->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_assert_true (is_name_char (*p, TRUE));
  while (is_name_char (*p, FALSE))
    p++;
  sample->name = g_strndup (line, p - line);
  if (*p == '{')
    {
      p++;
      while (*p != '}')
        {
          const char *name_start = p;
          g_autofree char *label_name = NULL;
          GString *value = g_string_new (NULL);

          g_assert_true (is_name_char (*p, TRUE) && *p != ':');
          while (is_name_char (*p, FALSE) && *p != ':')
            p++;
          label_name = g_strndup (name_start, p - name_start);
          g_assert_cmpint (*p++, ==, '=');
          g_assert_cmpint (*p++, ==, '"');
          while (*p != '"')
            {
              g_assert_cmpint (*p, !=, '\0');
              g_assert_cmpint (*p, !=, '\n');
              if (*p == '\\')
                {
                  p++;
                  if (*p == 'n')
                    g_string_append_c (value, '\n');
                  else if (*p == '\\' || *p == '"')
                    g_string_append_c (value, *p);
                  else
                    g_error ("bad escape \\%c in %s", *p, line);
                  p++;
                  continue;
                }
              g_string_append_c (value, *p++);
            }
          p++;
          g_assert_false (g_hash_table_contains (sample->labels, label_name));
          g_hash_table_insert (sample->labels, g_steal_pointer (&label_name),
                               g_string_free (value, FALSE));
          if (*p == ',')
            p++;
          else
            g_assert_cmpint (*p, ==, '}');
        }
      p++;
    }
  g_assert_cmpint (*p++, ==, ' ');
  if (g_str_equal (p, "+Inf"))
    sample->value = INFINITY;
  else if (g_str_equal (p, "-Inf"))
    sample->value = -INFINITY;
  else if (g_str_equal (p, "NaN"))
    sample->value = NAN;
  else
    {
      sample->value = g_ascii_strtod (p, &end);
      g_assert_true (end != p && *end == '\0');
    }
  return sample;
}

static Exposition *
parse_exposition (const char *text)
{
  Exposition *exposition = g_new0 (Exposition, 1);
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) sampled = g_hash_table_new (g_str_hash, g_str_equal);

  exposition->samples = g_ptr_array_new_with_free_func (sample_free);
  exposition->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  exposition->helps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_assert_true (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (*line == '\0')
        {
          g_assert_null (lines[i + 1]); /* only the final newline makes an empty line */
          continue;
        }
      if (g_str_has_prefix (line, "# HELP "))
        {
          const char *name = line + 7;
          const char *space = strchr (name, ' ');

          g_assert_nonnull (space);
          g_assert_false (g_hash_table_contains (exposition->helps, name));
          g_hash_table_insert (exposition->helps, g_strndup (name, space - name),
                               g_strdup (space + 1));
        }
      else if (g_str_has_prefix (line, "# TYPE "))
        {
          g_auto (GStrv) parts = g_strsplit (line + 7, " ", -1);

          g_assert_cmpuint (g_strv_length (parts), ==, 2);
          g_assert_true (g_str_equal (parts[1], "counter") || g_str_equal (parts[1], "gauge")
                         || g_str_equal (parts[1], "histogram"));
          /* TYPE comes once, before any sample of the family. */
          g_assert_false (g_hash_table_contains (exposition->types, parts[0]));
          g_hash_table_insert (exposition->types, g_strdup (parts[0]), g_strdup (parts[1]));
        }
      else
        {
          Sample *sample = parse_sample (line);
          const char *family = family_of (sample->name, exposition->types);

          if (family == NULL)
            g_error ("sample %s has no TYPE before it", line);
          g_assert_true (g_hash_table_contains (exposition->helps, family));
          g_hash_table_add (sampled, (gpointer) family);
          g_ptr_array_add (exposition->samples, sample);
        }
    }
  return exposition;
}

/* The sample named name whose labels include all of the given name/value pairs. */
static const Sample *
find_sample (Exposition *exposition, const char *name, ...)
{
  const Sample *found = NULL;

  for (guint i = 0; i < exposition->samples->len; i++)
    {
      const Sample *sample = g_ptr_array_index (exposition->samples, i);
      gboolean match = g_str_equal (sample->name, name);
      va_list args;
      const char *label;

      va_start (args, name);
      while (match && (label = va_arg (args, const char *)) != NULL)
        match = g_strcmp0 (g_hash_table_lookup (sample->labels, label),
                           va_arg (args, const char *)) == 0;
      va_end (args);
      if (match)
        {
          g_assert_null (found); /* exactly one */
          found = sample;
        }
    }
  return found;
}

static char *
render (EchoMetrics *metrics)
{
  GString *out = g_string_new (NULL);

  echo_metrics_render (metrics, out);
  return g_string_free (out, FALSE);
}

static void
test_counter_and_gauge (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  EchoMetric *requests = echo_metrics_counter (metrics, "echo_http_requests_total",
                                               "HTTP requests.",
                                               (const char *[]) { "method", "route", "status",
                                                                  NULL });
  EchoMetric *sessions = echo_metrics_gauge (metrics, "echo_share_sessions", "Active sessions.",
                                             NULL);
  EchoMetric *bytes = echo_metrics_counter (metrics, "echo_share_audio_bytes_in_total",
                                            "Decoded audio bytes received.", NULL);
  g_autofree char *text = NULL;
  g_autoptr (Exposition) exposition = NULL;
  const Sample *sample;

  echo_metric_inc (requests, (const char *[]) { "GET", "/health", "200" });
  echo_metric_inc (requests, (const char *[]) { "GET", "/health", "200" });
  echo_metric_inc (requests, (const char *[]) { "POST", "/api/share/start", "401" });
  echo_metric_set (sessions, NULL, 3);
  echo_metric_add (sessions, NULL, -1);
  echo_metric_add (bytes, NULL, 1.5e12);

  g_assert_cmpfloat (echo_metric_get (requests, (const char *[]) { "GET", "/health", "200" }), ==, 2);
  g_assert_cmpfloat (echo_metric_get (sessions, NULL), ==, 2);
  /* Asking about a series does not create it. */
  g_assert_cmpfloat (echo_metric_get (requests, (const char *[]) { "PUT", "/x", "500" }), ==, 0);

  text = render (metrics);
  g_test_message ("%s", text);
  exposition = parse_exposition (text);
  g_assert_cmpstr (g_hash_table_lookup (exposition->types, "echo_http_requests_total"), ==,
                   "counter");
  g_assert_cmpstr (g_hash_table_lookup (exposition->types, "echo_share_sessions"), ==, "gauge");
  g_assert_cmpstr (g_hash_table_lookup (exposition->helps, "echo_share_sessions"), ==,
                   "Active sessions.");
  sample = find_sample (exposition, "echo_http_requests_total", "method", "GET", "route",
                        "/health", "status", "200", NULL);
  g_assert_nonnull (sample);
  g_assert_cmpfloat (sample->value, ==, 2);
  g_assert_cmpuint (g_hash_table_size (sample->labels), ==, 3);
  sample = find_sample (exposition, "echo_http_requests_total", "status", "401", NULL);
  g_assert_nonnull (sample);
  g_assert_cmpfloat (sample->value, ==, 1);
  sample = find_sample (exposition, "echo_share_sessions", NULL);
  g_assert_cmpfloat (sample->value, ==, 2);
  /* Large integral values print as integers, exactly. */
  g_assert_nonnull (strstr (text, "\necho_share_audio_bytes_in_total 1500000000000\n"));
  /* Label order is the registration order. */
  g_assert_nonnull (strstr (text, "echo_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2\n"));
  g_assert_null (strstr (text, "PUT"));
}

static void
test_unlabelled_start_at_zero (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  g_autofree char *text = NULL;

  echo_metrics_counter (metrics, "echo_auth_failures_total", "Failed auth.", NULL);
  echo_metrics_counter (metrics, "echo_errors_total", "Errors by code.",
                        (const char *[]) { "code", NULL });
  text = render (metrics);
  g_assert_nonnull (strstr (text, "\necho_auth_failures_total 0\n"));
  /* A labelled family with no series yet shows only its comments. */
  g_assert_nonnull (strstr (text, "# TYPE echo_errors_total counter\n"));
  g_assert_null (strstr (text, "echo_errors_total{"));
}

static void
test_histogram (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  EchoMetric *duration = echo_metrics_histogram (metrics, "echo_http_request_duration_seconds",
                                                 "Request duration.",
                                                 (const char *[]) { "route", NULL },
                                                 echo_metrics_http_duration_buckets,
                                                 ECHO_METRICS_HTTP_DURATION_N_BUCKETS);
  static const double observations[] = { 0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 2.5, 7 };
  static const char *const expected_le[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01",
                                             "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
                                             "+Inf" };
  /* Cumulative counts for the observations above at each bound. */
  static const double expected_counts[] = { 2, 3, 3, 5, 5, 5, 5, 5, 6, 6, 6, 7, 8 };
  g_autofree char *text = NULL;
  g_autoptr (Exposition) exposition = NULL;
  double sum = 0;
  guint n_buckets = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (observations); i++)
    {
      echo_metric_observe (duration, (const char *[]) { "/health" }, observations[i]);
      sum += observations[i];
    }
  echo_metric_observe (duration, (const char *[]) { "/metrics" }, 0.01);

  text = render (metrics);
  exposition = parse_exposition (text);
  g_assert_cmpstr (g_hash_table_lookup (exposition->types, "echo_http_request_duration_seconds"),
                   ==, "histogram");
  for (gsize i = 0; i < G_N_ELEMENTS (expected_le); i++)
    {
      const Sample *bucket = find_sample (exposition, "echo_http_request_duration_seconds_bucket",
                                          "route", "/health", "le", expected_le[i], NULL);

      g_test_message ("le=%s", expected_le[i]);
      g_assert_nonnull (bucket);
      g_assert_cmpfloat (bucket->value, ==, expected_counts[i]);
    }
  for (guint i = 0; i < exposition->samples->len; i++)
    {
      const Sample *sample = g_ptr_array_index (exposition->samples, i);

      if (g_str_equal (sample->name, "echo_http_request_duration_seconds_bucket")
          && g_str_equal (g_hash_table_lookup (sample->labels, "route"), "/health"))
        n_buckets++;
    }
  g_assert_cmpuint (n_buckets, ==, G_N_ELEMENTS (expected_le));
  g_assert_cmpfloat (find_sample (exposition, "echo_http_request_duration_seconds_count", "route",
                                  "/health", NULL)->value, ==, 8);
  g_assert_cmpfloat_with_epsilon (find_sample (exposition, "echo_http_request_duration_seconds_sum",
                                               "route", "/health", NULL)->value, sum, 1e-9);
  g_assert_cmpfloat (find_sample (exposition, "echo_http_request_duration_seconds_bucket", "route",
                                  "/metrics", "le", "0.005", NULL)->value, ==, 0);
  g_assert_cmpfloat (find_sample (exposition, "echo_http_request_duration_seconds_bucket", "route",
                                  "/metrics", "le", "0.01", NULL)->value, ==, 1);
  /* _sum and _count carry no le label. */
  g_assert_false (g_hash_table_contains (
    find_sample (exposition, "echo_http_request_duration_seconds_sum", "route", "/health", NULL)->labels,
    "le"));
}

static void
test_escaping (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  EchoMetric *errors = echo_metrics_counter (metrics, "echo_errors_total",
                                             "Errors \\ by \"code\"\nsecond line",
                                             (const char *[]) { "code", NULL });
  const char *nasty = "a\\b\"c\nd}e,f=g";
  g_autofree char *text = NULL;
  g_autoptr (Exposition) exposition = NULL;
  const Sample *sample;

  echo_metric_inc (errors, (const char *[]) { nasty });
  echo_metric_inc (errors, (const char *[]) { "" });
  text = render (metrics);
  g_assert_nonnull (strstr (text, "echo_errors_total{code=\"a\\\\b\\\"c\\nd}e,f=g\"} 1\n"));
  /* HELP escapes backslash and newline only. */
  g_assert_nonnull (strstr (text, "# HELP echo_errors_total Errors \\\\ by \"code\"\\nsecond line\n"));
  exposition = parse_exposition (text);
  sample = find_sample (exposition, "echo_errors_total", "code", nasty, NULL);
  g_assert_nonnull (sample);
  sample = find_sample (exposition, "echo_errors_total", "code", "", NULL);
  g_assert_nonnull (sample);
  g_assert_cmpfloat (sample->value, ==, 1);
}

typedef struct
{
  EchoMetric *counter;
  EchoMetric *histogram;
  guint thread_index;
} WorkerData;

#define N_THREADS 8
#define N_INCREMENTS 20000

static gpointer
bump_worker (gpointer data)
{
  WorkerData *worker = data;
  g_autofree char *label = g_strdup_printf ("t%u", worker->thread_index % 2);

  for (guint i = 0; i < N_INCREMENTS; i++)
    {
      echo_metric_inc (worker->counter, (const char *[]) { label });
      echo_metric_observe (worker->histogram, NULL, 0.001);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  EchoMetric *counter = echo_metrics_counter (metrics, "echo_share_buffer_overflows_total",
                                              "Overflows.", (const char *[]) { "thread", NULL });
  EchoMetric *histogram = echo_metrics_histogram (metrics, "echo_test_seconds", "Test.", NULL,
                                                  (const double[]) { 0.01 }, 1);
  WorkerData workers[N_THREADS];
  GThread *threads[N_THREADS];
  g_autofree char *text = NULL;
  g_autoptr (Exposition) exposition = NULL;

  for (guint i = 0; i < N_THREADS; i++)
    {
      workers[i] = (WorkerData) { counter, histogram, i };
      threads[i] = g_thread_new ("bump", bump_worker, &workers[i]);
    }
  /* Scrapes while the threads run must stay well-formed. */
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *partial = render (metrics);
      g_autoptr (Exposition) parsed = parse_exposition (partial);

      g_assert_nonnull (parsed);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpfloat (echo_metric_get (counter, (const char *[]) { "t0" }), ==,
                     N_THREADS / 2 * N_INCREMENTS);
  g_assert_cmpfloat (echo_metric_get (counter, (const char *[]) { "t1" }), ==,
                     N_THREADS / 2 * N_INCREMENTS);
  text = render (metrics);
  exposition = parse_exposition (text);
  g_assert_cmpfloat (find_sample (exposition, "echo_test_seconds_count", NULL)->value, ==,
                     N_THREADS * N_INCREMENTS);
  g_assert_cmpfloat (find_sample (exposition, "echo_test_seconds_bucket", "le", "0.01", NULL)->value,
                     ==, N_THREADS * N_INCREMENTS);
}

static void
test_process_metrics (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  g_autofree char *text = NULL;
  g_autoptr (Exposition) exposition = NULL;
  const Sample *rss, *cpu;
  volatile double spin = 0;

  /* Burn a little CPU so the counter has something to show beyond start-up. */
  for (guint i = 0; i < 20000000; i++)
    spin += i;
  g_assert_cmpfloat (spin, >, 0);
  text = render (metrics);
  exposition = parse_exposition (text);
  g_assert_cmpstr (g_hash_table_lookup (exposition->types, "process_resident_memory_bytes"), ==,
                   "gauge");
  g_assert_cmpstr (g_hash_table_lookup (exposition->types, "process_cpu_seconds_total"), ==,
                   "counter");
  rss = find_sample (exposition, "process_resident_memory_bytes", NULL);
  cpu = find_sample (exposition, "process_cpu_seconds_total", NULL);
  g_assert_nonnull (rss);
  g_assert_nonnull (cpu);
  /* A running process has at least a megabyte resident and under a terabyte. */
  g_assert_cmpfloat (rss->value, >=, 1 << 20);
  g_assert_cmpfloat (rss->value, <, 1e12);
  g_assert_cmpfloat (cpu->value, >, 0);
  g_assert_cmpfloat (cpu->value, <, 1e6);
}

static double
answer_func (gpointer user_data)
{
  return *(const double *) user_data;
}

static void
test_gauge_func_and_numbers (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  static double value = 0.1;
  static double absent = NAN;
  EchoMetric *gauge = echo_metrics_gauge (metrics, "echo_test_values", "Values.",
                                          (const char *[]) { "v", NULL });
  g_autofree char *text = NULL;

  echo_metrics_gauge_func (metrics, "echo_websocket_clients", "Clients.", answer_func, &value,
                           NULL);
  echo_metrics_gauge_func (metrics, "echo_test_absent", "Not this time.", answer_func, &absent,
                           NULL);
  echo_metric_set (gauge, (const char *[]) { "third" }, 1.0 / 3.0);
  echo_metric_set (gauge, (const char *[]) { "neg" }, -2);
  echo_metric_set (gauge, (const char *[]) { "inf" }, INFINITY);
  echo_metric_set (gauge, (const char *[]) { "nan" }, NAN);
  text = render (metrics);
  g_assert_nonnull (strstr (text, "\necho_websocket_clients 0.1\n"));
  /* Registered last, and its NAN leaves only the comments. */
  g_assert_true (g_str_has_suffix (text, "# TYPE echo_test_absent gauge\n"));
  g_assert_nonnull (strstr (text, "echo_test_values{v=\"third\"} 0.3333333333333333\n"));
  g_assert_nonnull (strstr (text, "echo_test_values{v=\"neg\"} -2\n"));
  g_assert_nonnull (strstr (text, "echo_test_values{v=\"inf\"} +Inf\n"));
  g_assert_nonnull (strstr (text, "echo_test_values{v=\"nan\"} NaN\n"));
  value = 42;
  g_free (text);
  text = render (metrics);
  g_assert_nonnull (strstr (text, "\necho_websocket_clients 42\n"));
}

static void
test_registration (void)
{
  g_autoptr (EchoMetrics) metrics = echo_metrics_new ();
  EchoMetric *first = echo_metrics_counter (metrics, "echo_pipeline_errors_total", "Errors.", NULL);
  EchoMetric *again = echo_metrics_counter (metrics, "echo_pipeline_errors_total", "Errors.", NULL);
  EchoMetric *clash;

  g_assert_true (first == again);
  g_test_expect_message ("echo-core", G_LOG_LEVEL_CRITICAL, "*registered twice*");
  clash = echo_metrics_gauge (metrics, "echo_pipeline_errors_total", "Errors.", NULL);
  g_test_assert_expected_messages ();
  g_assert_null (clash);
  g_assert_true (echo_metrics_default () == echo_metrics_default ());
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/metrics/counter-and-gauge", test_counter_and_gauge);
  g_test_add_func ("/core/metrics/unlabelled-start-at-zero", test_unlabelled_start_at_zero);
  g_test_add_func ("/core/metrics/histogram", test_histogram);
  g_test_add_func ("/core/metrics/escaping", test_escaping);
  g_test_add_func ("/core/metrics/threads", test_threads);
  g_test_add_func ("/core/metrics/process", test_process_metrics);
  g_test_add_func ("/core/metrics/gauge-func-and-numbers", test_gauge_func_and_numbers);
  g_test_add_func ("/core/metrics/registration", test_registration);
  return g_test_run ();
}
