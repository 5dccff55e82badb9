/* echo-front-metrics.c: see echo-front-metrics.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-front-metrics.h"

#include "config.h"

static gpointer
register_metrics (gpointer data)
{
  EchoFrontMetrics *m = g_new0 (EchoFrontMetrics, 1);
  EchoMetrics *registry = echo_metrics_default ();
  EchoMetric *build_info;

  m->http_requests = echo_metrics_counter (registry, "echo_http_requests_total",
      "HTTP requests answered, by method, route pattern and status",
      (const char *[]) { "method", "route", "status", NULL });
  m->http_duration = echo_metrics_histogram (registry, "echo_http_request_duration_seconds",
      "Time from a request's arrival to the end of its reply",
      (const char *[]) { "route", NULL }, echo_metrics_http_duration_buckets,
      ECHO_METRICS_HTTP_DURATION_N_BUCKETS);
  m->errors = echo_metrics_counter (registry, "echo_errors_total",
      "Error replies, by error code", (const char *[]) { "code", NULL });
  m->auth_failures = echo_metrics_counter (registry, "echo_auth_failures_total",
      "Requests refused for missing or wrong credentials", NULL);
  m->websocket_clients = echo_metrics_gauge (registry, "echo_websocket_clients",
      "Open WebSocket connections", NULL);
  m->websocket_dropped = echo_metrics_counter (registry,
      "echo_websocket_dropped_messages_total",
      "Audio messages not sent to a WebSocket client that had ~2 s of audio unread", NULL);
  m->pipeline_errors = echo_metrics_counter (registry, "echo_pipeline_errors_total",
      "Errors of share sessions' media pipelines", NULL);
  m->opus_sessions = echo_metrics_gauge (registry, "echo_share_opus_sessions",
      "Share sessions encoding Opus now, for a format=opus WebSocket client or a poll in "
      "the last 5 s", NULL);
  m->opus_packets = echo_metrics_counter (registry, "echo_share_opus_packets_total",
      "Opus packets the share pipelines encoded for HTTP/WebSocket listeners", NULL);
  build_info = echo_metrics_gauge (registry, "echo_build_info", "echod's version",
      (const char *[]) { "version", NULL });
  echo_metric_set (build_info, (const char *[]) { VERSION }, 1);

  /* series that are zero must still show up for dashboards and alerts */
  echo_metric_add (m->auth_failures, NULL, 0);
  echo_metric_add (m->websocket_dropped, NULL, 0);
  echo_metric_add (m->pipeline_errors, NULL, 0);
  echo_metric_add (m->opus_packets, NULL, 0);
  echo_metric_set (m->websocket_clients, NULL, 0);
  echo_metric_set (m->opus_sessions, NULL, 0);
  return m;
}

const EchoFrontMetrics *
echo_front_metrics (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, register_metrics, NULL);
  return once.retval;
}
