/* echo-metrics.h: a small Prometheus metrics registry for echod.
 *
 * Counters, gauges (set by code, or evaluated by a callback at scrape time) and histograms with
 * fixed buckets, each with a fixed list of label names; label values are given with every
 * observation, in the order of the names. Every call is thread-safe (pipeline streaming threads
 * bump counters). echo_metrics_render() writes the Prometheus text format 0.0.4, including
 * process_resident_memory_bytes and process_cpu_seconds_total read from /proc/self.
 *
 *   EchoMetric *requests = echo_metrics_counter (m, "echo_http_requests_total", "HTTP requests",
 *                                                (const char *[]) { "method", "route", "status", NULL });
 *   echo_metric_inc (requests, (const char *[]) { "GET", "/health", "200" });
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoMetrics EchoMetrics;
typedef struct _EchoMetric EchoMetric; /* owned by its registry */

/* Evaluated at render time with the registry locked: must not call into the registry. Return NAN
 * to leave the metric out of this scrape. */
typedef double (*EchoMetricsValueFunc) (gpointer user_data);

/* The contract's buckets for echo_http_request_duration_seconds. */
#define ECHO_METRICS_HTTP_DURATION_N_BUCKETS 12
extern const double echo_metrics_http_duration_buckets[ECHO_METRICS_HTTP_DURATION_N_BUCKETS];

EchoMetrics *echo_metrics_new (void);
void         echo_metrics_free (EchoMetrics *metrics);
/* One process-wide registry, created on first use and never freed: what GET /metrics renders. */
EchoMetrics *echo_metrics_default (void);

/* Registering a name again returns the same metric when kind, label names (and buckets) match;
 * anything else is a programmer error. label_names is NULL-terminated, NULL for none. */
EchoMetric *echo_metrics_counter (EchoMetrics *metrics, const char *name, const char *help,
                                  const char *const *label_names);
EchoMetric *echo_metrics_gauge (EchoMetrics *metrics, const char *name, const char *help,
                                const char *const *label_names);
/* bounds: strictly increasing upper bounds; +Inf is implicit. */
EchoMetric *echo_metrics_histogram (EchoMetrics *metrics, const char *name, const char *help,
                                    const char *const *label_names, const double *bounds,
                                    gsize n_bounds);
/* Unlabelled metrics whose value a callback supplies at scrape time. */
void echo_metrics_gauge_func (EchoMetrics *metrics, const char *name, const char *help,
                              EchoMetricsValueFunc func, gpointer user_data,
                              GDestroyNotify destroy);
void echo_metrics_counter_func (EchoMetrics *metrics, const char *name, const char *help,
                                EchoMetricsValueFunc func, gpointer user_data,
                                GDestroyNotify destroy);

/* label_values: one per label name (NULL when the metric has none). */
void   echo_metric_inc (EchoMetric *metric, const char *const *label_values);
void   echo_metric_add (EchoMetric *metric, const char *const *label_values, double delta);
void   echo_metric_set (EchoMetric *metric, const char *const *label_values, double value);
void   echo_metric_observe (EchoMetric *metric, const char *const *label_values, double value);
/* A counter's or gauge's current value (0 for a series never touched). */
double echo_metric_get (EchoMetric *metric, const char *const *label_values);

/* Appends the text exposition format (Content-Type: text/plain; version=0.0.4). */
void echo_metrics_render (EchoMetrics *metrics, GString *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMetrics, echo_metrics_free)

G_END_DECLS
