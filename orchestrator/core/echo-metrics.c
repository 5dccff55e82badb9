/* echo-metrics.c: the metrics registry and its text exposition (see echo-metrics.h). */
#include "echo-metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const double echo_metrics_http_duration_buckets[ECHO_METRICS_HTTP_DURATION_N_BUCKETS] = {
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

typedef enum
{
  METRIC_COUNTER,
  METRIC_GAUGE,
  METRIC_HISTOGRAM,
} MetricKind;

/* One combination of label values. */
typedef struct
{
  char **label_values;
  double value;            /* counter, gauge */
  guint64 *bucket_counts;  /* histogram: observations per bucket, not cumulative */
  guint64 count;
  double sum;
} Series;

struct _EchoMetric
{
  EchoMetrics *registry;
  MetricKind kind;
  char *name;
  char *help;
  char **label_names;
  guint n_labels;
  double *bounds;
  gsize n_bounds;
  GPtrArray *series;       /* of Series*, in creation order */
  GHashTable *series_by_key;
  EchoMetricsValueFunc func;
  gpointer func_data;
  GDestroyNotify func_destroy;
};

struct _EchoMetrics
{
  GMutex lock;
  GPtrArray *metrics;      /* of EchoMetric*, in registration order */
};

static double read_resident_memory_bytes (gpointer user_data);
static double read_cpu_seconds (gpointer user_data);

static void
series_free (gpointer data)
{
  Series *series = data;

  g_strfreev (series->label_values);
  g_free (series->bucket_counts);
  g_free (series);
}

static void
metric_free (gpointer data)
{
  EchoMetric *metric = data;

  if (metric->func_destroy != NULL)
    metric->func_destroy (metric->func_data);
  g_free (metric->name);
  g_free (metric->help);
  g_strfreev (metric->label_names);
  g_free (metric->bounds);
  g_hash_table_unref (metric->series_by_key);
  g_ptr_array_unref (metric->series);
  g_free (metric);
}

EchoMetrics *
echo_metrics_new (void)
{
  EchoMetrics *metrics = g_new0 (EchoMetrics, 1);

  g_mutex_init (&metrics->lock);
  metrics->metrics = g_ptr_array_new_with_free_func (metric_free);
  echo_metrics_gauge_func (metrics, "process_resident_memory_bytes",
                           "Resident memory size in bytes.", read_resident_memory_bytes, NULL,
                           NULL);
  echo_metrics_counter_func (metrics, "process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.", read_cpu_seconds,
                             NULL, NULL);
  return metrics;
}

void
echo_metrics_free (EchoMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_ptr_array_unref (metrics->metrics);
  g_mutex_clear (&metrics->lock);
  g_free (metrics);
}

EchoMetrics *
echo_metrics_default (void)
{
  static EchoMetrics *default_metrics = NULL;

  if (g_once_init_enter (&default_metrics))
    g_once_init_leave (&default_metrics, echo_metrics_new ());
  return default_metrics;
}

static gboolean
is_valid_name (const char *name, gboolean allow_colon)
{
  if (name == NULL || *name == '\0' || g_ascii_isdigit (*name))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      if (!(g_ascii_isalnum (*p) || *p == '_' || (allow_colon && *p == ':')))
        return FALSE;
    }
  return TRUE;
}

static gboolean
label_names_valid (MetricKind kind, const char *const *label_names)
{
  for (gsize i = 0; label_names != NULL && label_names[i] != NULL; i++)
    {
      if (!is_valid_name (label_names[i], FALSE) || g_str_has_prefix (label_names[i], "__"))
        return FALSE;
      if (kind == METRIC_HISTOGRAM && g_str_equal (label_names[i], "le"))
        return FALSE;
    }
  return TRUE;
}

static EchoMetric *
find_metric_locked (EchoMetrics *metrics, const char *name)
{
  for (guint i = 0; i < metrics->metrics->len; i++)
    {
      EchoMetric *metric = g_ptr_array_index (metrics->metrics, i);

      if (g_str_equal (metric->name, name))
        return metric;
    }
  return NULL;
}

static gboolean
same_shape (const EchoMetric *metric, MetricKind kind, const char *const *label_names,
            const double *bounds, gsize n_bounds, EchoMetricsValueFunc func)
{
  guint n_labels = label_names != NULL ? g_strv_length ((char **) label_names) : 0;

  if (metric->kind != kind || metric->n_labels != n_labels || metric->n_bounds != n_bounds
      || (metric->func != NULL) != (func != NULL))
    return FALSE;
  for (guint i = 0; i < n_labels; i++)
    if (!g_str_equal (metric->label_names[i], label_names[i]))
      return FALSE;
  return n_bounds == 0 || memcmp (metric->bounds, bounds, n_bounds * sizeof (double)) == 0;
}

static Series *lookup_series_locked (EchoMetric *metric, const char *const *label_values);

static EchoMetric *
register_metric (EchoMetrics *metrics, MetricKind kind, const char *name, const char *help,
                 const char *const *label_names, const double *bounds, gsize n_bounds,
                 EchoMetricsValueFunc func, gpointer func_data, GDestroyNotify func_destroy)
{
  EchoMetric *metric;

  g_return_val_if_fail (metrics != NULL, NULL);
  g_return_val_if_fail (is_valid_name (name, TRUE), NULL);
  g_return_val_if_fail (help != NULL, NULL);
  g_return_val_if_fail (label_names_valid (kind, label_names), NULL);

  g_mutex_lock (&metrics->lock);
  metric = find_metric_locked (metrics, name);
  if (metric != NULL)
    {
      gboolean same = func == NULL && same_shape (metric, kind, label_names, bounds, n_bounds, func);

      g_mutex_unlock (&metrics->lock);
      if (func_destroy != NULL)
        func_destroy (func_data);
      if (!same)
        {
          g_critical ("metric %s registered twice with different kinds, labels or buckets", name);
          return NULL;
        }
      return metric;
    }

  metric = g_new0 (EchoMetric, 1);
  metric->registry = metrics;
  metric->kind = kind;
  metric->name = g_strdup (name);
  metric->help = g_strdup (help);
  metric->label_names = g_strdupv ((char **) label_names);
  if (metric->label_names == NULL)
    metric->label_names = g_new0 (char *, 1);
  metric->n_labels = g_strv_length (metric->label_names);
  metric->bounds = n_bounds > 0 ? g_memdup2 (bounds, n_bounds * sizeof (double)) : NULL;
  metric->n_bounds = n_bounds;
  metric->series = g_ptr_array_new_with_free_func (series_free);
  metric->series_by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  metric->func = func;
  metric->func_data = func_data;
  metric->func_destroy = func_destroy;
  /* An unlabelled metric is exposed from the start, at zero. */
  if (metric->n_labels == 0 && func == NULL)
    lookup_series_locked (metric, NULL);
  g_ptr_array_add (metrics->metrics, metric);
  g_mutex_unlock (&metrics->lock);
  return metric;
}

EchoMetric *
echo_metrics_counter (EchoMetrics *metrics, const char *name, const char *help,
                      const char *const *label_names)
{
  return register_metric (metrics, METRIC_COUNTER, name, help, label_names, NULL, 0, NULL, NULL,
                          NULL);
}

EchoMetric *
echo_metrics_gauge (EchoMetrics *metrics, const char *name, const char *help,
                    const char *const *label_names)
{
  return register_metric (metrics, METRIC_GAUGE, name, help, label_names, NULL, 0, NULL, NULL,
                          NULL);
}

EchoMetric *
echo_metrics_histogram (EchoMetrics *metrics, const char *name, const char *help,
                        const char *const *label_names, const double *bounds, gsize n_bounds)
{
  g_return_val_if_fail (bounds != NULL && n_bounds > 0, NULL);
  for (gsize i = 0; i < n_bounds; i++)
    {
      g_return_val_if_fail (isfinite (bounds[i]), NULL);
      g_return_val_if_fail (i == 0 || bounds[i] > bounds[i - 1], NULL);
    }
  return register_metric (metrics, METRIC_HISTOGRAM, name, help, label_names, bounds, n_bounds,
                          NULL, NULL, NULL);
}

void
echo_metrics_gauge_func (EchoMetrics *metrics, const char *name, const char *help,
                         EchoMetricsValueFunc func, gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (func != NULL);
  register_metric (metrics, METRIC_GAUGE, name, help, NULL, NULL, 0, func, user_data, destroy);
}

void
echo_metrics_counter_func (EchoMetrics *metrics, const char *name, const char *help,
                           EchoMetricsValueFunc func, gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (func != NULL);
  register_metric (metrics, METRIC_COUNTER, name, help, NULL, NULL, 0, func, user_data, destroy);
}

/* Label values are length-prefixed in the key so no value can imitate another combination. */
static GString *
series_key (EchoMetric *metric, const char *const *label_values)
{
  GString *key = g_string_new (NULL);

  for (guint i = 0; i < metric->n_labels; i++)
    g_string_append_printf (key, "%zu:%s", strlen (label_values[i]), label_values[i]);
  return key;
}

static Series *
find_series_locked (EchoMetric *metric, const char *const *label_values)
{
  g_autoptr (GString) key = series_key (metric, label_values);

  return g_hash_table_lookup (metric->series_by_key, key->str);
}

/* Finds or creates the series. */
static Series *
lookup_series_locked (EchoMetric *metric, const char *const *label_values)
{
  g_autoptr (GString) key = series_key (metric, label_values);
  Series *series = g_hash_table_lookup (metric->series_by_key, key->str);

  if (series != NULL)
    return series;

  series = g_new0 (Series, 1);
  series->label_values = g_new0 (char *, metric->n_labels + 1);
  for (guint i = 0; i < metric->n_labels; i++)
    series->label_values[i] = g_strdup (label_values[i]);
  if (metric->kind == METRIC_HISTOGRAM)
    series->bucket_counts = g_new0 (guint64, metric->n_bounds);
  g_ptr_array_add (metric->series, series);
  g_hash_table_insert (metric->series_by_key, g_string_free (g_steal_pointer (&key), FALSE),
                       series);
  return series;
}

static gboolean
label_values_valid (EchoMetric *metric, const char *const *label_values)
{
  if (metric->n_labels == 0)
    return TRUE;
  if (label_values == NULL)
    return FALSE;
  for (guint i = 0; i < metric->n_labels; i++)
    if (label_values[i] == NULL)
      return FALSE;
  return TRUE;
}

void
echo_metric_add (EchoMetric *metric, const char *const *label_values, double delta)
{
  g_return_if_fail (metric != NULL && metric->func == NULL);
  g_return_if_fail (metric->kind != METRIC_HISTOGRAM);
  g_return_if_fail (metric->kind != METRIC_COUNTER || delta >= 0);
  g_return_if_fail (label_values_valid (metric, label_values));

  g_mutex_lock (&metric->registry->lock);
  lookup_series_locked (metric, label_values)->value += delta;
  g_mutex_unlock (&metric->registry->lock);
}

void
echo_metric_inc (EchoMetric *metric, const char *const *label_values)
{
  echo_metric_add (metric, label_values, 1);
}

void
echo_metric_set (EchoMetric *metric, const char *const *label_values, double value)
{
  g_return_if_fail (metric != NULL && metric->func == NULL);
  g_return_if_fail (metric->kind == METRIC_GAUGE);
  g_return_if_fail (label_values_valid (metric, label_values));

  g_mutex_lock (&metric->registry->lock);
  lookup_series_locked (metric, label_values)->value = value;
  g_mutex_unlock (&metric->registry->lock);
}

void
echo_metric_observe (EchoMetric *metric, const char *const *label_values, double value)
{
  Series *series;

  g_return_if_fail (metric != NULL);
  g_return_if_fail (metric->kind == METRIC_HISTOGRAM);
  g_return_if_fail (!isnan (value));
  g_return_if_fail (label_values_valid (metric, label_values));

  g_mutex_lock (&metric->registry->lock);
  series = lookup_series_locked (metric, label_values);
  for (gsize i = 0; i < metric->n_bounds; i++)
    {
      if (value <= metric->bounds[i])
        {
          series->bucket_counts[i]++;
          break;
        }
    }
  series->count++;
  series->sum += value;
  g_mutex_unlock (&metric->registry->lock);
}

double
echo_metric_get (EchoMetric *metric, const char *const *label_values)
{
  const Series *series;
  double value;

  g_return_val_if_fail (metric != NULL && metric->func == NULL, 0);
  g_return_val_if_fail (metric->kind != METRIC_HISTOGRAM, 0);
  g_return_val_if_fail (label_values_valid (metric, label_values), 0);

  g_mutex_lock (&metric->registry->lock);
  series = find_series_locked (metric, label_values);
  value = series != NULL ? series->value : 0;
  g_mutex_unlock (&metric->registry->lock);
  return value;
}

/* ---- rendering ---- */

/* Integers print as integers; other values in the shortest form that reads back exactly. */
static void
append_number (GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    {
      static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };

      for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
        {
          g_ascii_formatd (buffer, sizeof buffer, formats[i], value);
          if (g_ascii_strtod (buffer, NULL) == value)
            break;
        }
      g_string_append (out, buffer);
    }
}

static void
append_escaped (GString *out, const char *text, gboolean escape_quote)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '"' && escape_quote)
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *p);
    }
}

/* {a="x",b="y"} plus an optional le label; nothing at all when there are no labels. */
static void
append_labels (GString *out, const EchoMetric *metric, const Series *series, const char *le)
{
  if (metric->n_labels == 0 && le == NULL)
    return;
  g_string_append_c (out, '{');
  for (guint i = 0; i < metric->n_labels; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "%s=\"", metric->label_names[i]);
      append_escaped (out, series->label_values[i], TRUE);
      g_string_append_c (out, '"');
    }
  if (le != NULL)
    g_string_append_printf (out, "%sle=\"%s\"", metric->n_labels > 0 ? "," : "", le);
  g_string_append_c (out, '}');
}

static void
render_histogram_series (GString *out, const EchoMetric *metric, const Series *series)
{
  guint64 cumulative = 0;

  for (gsize b = 0; b < metric->n_bounds; b++)
    {
      g_autoptr (GString) le = g_string_new (NULL);

      append_number (le, metric->bounds[b]);
      cumulative += series->bucket_counts[b];
      g_string_append_printf (out, "%s_bucket", metric->name);
      append_labels (out, metric, series, le->str);
      g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", cumulative);
    }
  g_string_append_printf (out, "%s_bucket", metric->name);
  append_labels (out, metric, series, "+Inf");
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", series->count);
  g_string_append_printf (out, "%s_sum", metric->name);
  append_labels (out, metric, series, NULL);
  g_string_append_c (out, ' ');
  append_number (out, series->sum);
  g_string_append_printf (out, "\n%s_count", metric->name);
  append_labels (out, metric, series, NULL);
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", series->count);
}

static void
render_metric_locked (GString *out, const EchoMetric *metric)
{
  static const char *const kind_names[] = { "counter", "gauge", "histogram" };

  g_string_append_printf (out, "# HELP %s ", metric->name);
  append_escaped (out, metric->help, FALSE);
  g_string_append_printf (out, "\n# TYPE %s %s\n", metric->name, kind_names[metric->kind]);

  if (metric->func != NULL)
    {
      double value = metric->func (metric->func_data);

      if (!isnan (value))
        {
          g_string_append_printf (out, "%s ", metric->name);
          append_number (out, value);
          g_string_append_c (out, '\n');
        }
      return;
    }
  for (guint i = 0; i < metric->series->len; i++)
    {
      const Series *series = g_ptr_array_index (metric->series, i);

      if (metric->kind == METRIC_HISTOGRAM)
        {
          render_histogram_series (out, metric, series);
          continue;
        }
      g_string_append (out, metric->name);
      append_labels (out, metric, series, NULL);
      g_string_append_c (out, ' ');
      append_number (out, series->value);
      g_string_append_c (out, '\n');
    }
}

void
echo_metrics_render (EchoMetrics *metrics, GString *out)
{
  g_return_if_fail (metrics != NULL);
  g_return_if_fail (out != NULL);

  g_mutex_lock (&metrics->lock);
  for (guint i = 0; i < metrics->metrics->len; i++)
    render_metric_locked (out, g_ptr_array_index (metrics->metrics, i));
  g_mutex_unlock (&metrics->lock);
}

/* ---- /proc/self ---- */

static double
read_resident_memory_bytes (gpointer user_data)
{
  g_autofree char *statm = NULL;
  unsigned long long size_pages = 0, resident_pages = 0;

  /* statm: size resident shared text lib data dt, in pages. */
  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      || sscanf (statm, "%llu %llu", &size_pages, &resident_pages) != 2)
    return NAN;
  return (double) resident_pages * (double) sysconf (_SC_PAGESIZE);
}

static double
read_cpu_seconds (gpointer user_data)
{
  g_autofree char *stat = NULL;
  const char *after_comm;
  unsigned long long utime = 0, stime = 0;
  long ticks_per_second = sysconf (_SC_CLK_TCK);

  /* The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after
   * the last ')'. utime and stime are fields 14 and 15, in clock ticks. */
  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL) || ticks_per_second <= 0)
    return NAN;
  after_comm = strrchr (stat, ')');
  if (after_comm == NULL
      || sscanf (after_comm + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                 &stime) != 2)
    return NAN;
  return (double) (utime + stime) / (double) ticks_per_second;
}
