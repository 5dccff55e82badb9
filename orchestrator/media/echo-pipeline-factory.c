/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-pipeline-factory.c: loading, validating and instantiating pipeline templates.
 *
 * A template is parsed once into a list of segments, literal text or a placeholder, so
 * that substitution is a single pass: a value that itself contains "{name}" stays text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-pipeline-factory.h"

#include <string.h>

#define TEMPLATE_SUFFIX ".pipeline"
/* a session id is a DNS label for sharerelay's announcement: keep it short */
#define SESSION_ID_MAX 64
#define STRING_VALUE_MAX 255

G_DEFINE_QUARK (echo-pipeline-error-quark, echo_pipeline_error)

/* ---------------------------------------------------------------------------------- */
/* What each kind of pipeline has                                                       */

typedef enum
{
  VALUE_DIGITS,                 /* [0-9]{1,SESSION_ID_MAX} */
  VALUE_UUID,                   /* [0-9a-f-]{1,SESSION_ID_MAX}: a uuid, lower case */
  VALUE_INT,                    /* a decimal integer in [min, max] */
  VALUE_BOOL,                   /* true/false (also yes/no, 1/0 on input) */
  VALUE_STRING,                 /* printable ASCII, substituted as a quoted string */
  VALUE_BITMASK,                /* an unsigned 64-bit number, substituted as 0x... */
} ValueType;

typedef struct
{
  const char *name;
  ValueType type;
  gint64 min, max;              /* VALUE_INT only */
  const char *sample;           /* what load-time validation substitutes */
} PlaceholderSpec;

typedef struct
{
  const char *name;             /* the element's name= */
  const char *factory;          /* the element factory it must come from */
} NamedElementSpec;

typedef struct
{
  const char *kind;
  const PlaceholderSpec *placeholders;  /* terminated by a NULL name */
  const NamedElementSpec *elements;     /* terminated by a NULL name */
  gboolean optional;            /* a pipelines directory may lack this kind's template */
} KindSpec;

static const PlaceholderSpec share_placeholders[] = {
  {ECHO_PIPELINE_VALUE_SESSION, VALUE_DIGITS, 0, 0, "123456"},
  {ECHO_PIPELINE_VALUE_RATE, VALUE_INT, 8000, 192000, "44100"},
  {ECHO_PIPELINE_VALUE_CHANNELS, VALUE_INT, 1, 8, "2"},
  {ECHO_PIPELINE_VALUE_OUT_CHANNELS, VALUE_INT, 1, 2, "2"},
  {ECHO_PIPELINE_VALUE_CHANNEL_MASK, VALUE_BITMASK, 0, 0, "0x3"},
  {ECHO_PIPELINE_VALUE_LATENCY, VALUE_INT, 20, 5000, "100"},
  {ECHO_PIPELINE_VALUE_TOKEN, VALUE_STRING, 0, 0, ""},
  {ECHO_PIPELINE_VALUE_ANNOUNCE, VALUE_BOOL, 0, 0, "false"},
  {ECHO_PIPELINE_VALUE_OPUS_BITRATE, VALUE_INT, 6000, 510000, "96000"},
  {NULL},
};

static const NamedElementSpec share_elements[] = {
  {ECHO_PIPELINE_ELEMENT_INPUT, "appsrc"},
  {ECHO_PIPELINE_ELEMENT_RELAY, "sharerelay"},
  {ECHO_PIPELINE_ELEMENT_OPUS, "appsink"},
  {ECHO_PIPELINE_ELEMENT_OPUS_GATE, "valve"},
  {NULL},
};

static const PlaceholderSpec music_placeholders[] = {
  {ECHO_PIPELINE_VALUE_SESSION, VALUE_UUID, 0, 0, "0f8fad5b-d9cb-469f-a165-70867728950e"},
  {ECHO_PIPELINE_VALUE_LATENCY, VALUE_INT, 20, 5000, "100"},
  {ECHO_PIPELINE_VALUE_TOKEN, VALUE_STRING, 0, 0, ""},
  {ECHO_PIPELINE_VALUE_ANNOUNCE, VALUE_BOOL, 0, 0, "false"},
  {NULL},
};

static const NamedElementSpec music_elements[] = {
  {ECHO_PIPELINE_ELEMENT_TRACKS, "appsrc"},
  {ECHO_PIPELINE_ELEMENT_VOLUME, "volume"},
  {ECHO_PIPELINE_ELEMENT_RELAY, "sharerelay"},
  {NULL},
};

/* the radio pipeline's placeholders are the music pipeline's */
static const NamedElementSpec radio_elements[] = {
  {ECHO_PIPELINE_ELEMENT_STATION, "bin"},
  {ECHO_PIPELINE_ELEMENT_HTTP, "souphttpsrc"},
  {ECHO_PIPELINE_ELEMENT_DECODED, "appsink"},
  {ECHO_PIPELINE_ELEMENT_STREAM, "appsrc"},
  {ECHO_PIPELINE_ELEMENT_VOLUME, "volume"},
  {ECHO_PIPELINE_ELEMENT_RELAY, "sharerelay"},
  {NULL},
};

static const KindSpec kinds[] = {
  {ECHO_PIPELINE_KIND_SHARE, share_placeholders, share_elements, FALSE},
  /* optional: pipelines directories written before music or radio sessions stay valid */
  {ECHO_PIPELINE_KIND_MUSIC, music_placeholders, music_elements, TRUE},
  {ECHO_PIPELINE_KIND_RADIO, music_placeholders, radio_elements, TRUE},
};

static const KindSpec *
find_kind (const char *kind)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
    if (strcmp (kinds[i].kind, kind) == 0)
      return &kinds[i];
  }
  return NULL;
}

static const PlaceholderSpec *
find_placeholder (const KindSpec * spec, const char *name)
{
  const PlaceholderSpec *p;

  for (p = spec->placeholders; p->name != NULL; p++) {
    if (strcmp (p->name, name) == 0)
      return p;
  }
  return NULL;
}

static char *
known_names (const KindSpec * spec)
{
  GString *s = g_string_new (NULL);
  const PlaceholderSpec *p;

  for (p = spec->placeholders; p->name != NULL; p++)
    g_string_append_printf (s, "%s{%s}", s->len > 0 ? " " : "", p->name);
  return g_string_free (s, FALSE);
}

/* ---------------------------------------------------------------------------------- */
/* Values                                                                               */

/* Checks @value for @p and returns what goes into the description. */
static char *
escape_value (const PlaceholderSpec * p, const char *value, GError ** error)
{
  gint64 n;
  guint64 u;
  const char *c;
  GString *quoted;
  g_autoptr (GError) parse_error = NULL;

  switch (p->type) {
    case VALUE_DIGITS:
      if (*value == '\0' || strlen (value) > SESSION_ID_MAX)
        break;
      if (value[strspn (value, "0123456789")] != '\0')
        break;
      return g_strdup (value);
    case VALUE_UUID:
      if (*value == '\0' || strlen (value) > SESSION_ID_MAX)
        break;
      if (value[strspn (value, "0123456789abcdef-")] != '\0')
        break;
      return g_strdup (value);
    case VALUE_INT:
      if (!g_ascii_string_to_signed (value, 10, p->min, p->max, &n, &parse_error))
        break;
      return g_strdup_printf ("%" G_GINT64_FORMAT, n);
    case VALUE_BOOL:
      if (g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0
          || strcmp (value, "1") == 0)
        return g_strdup ("true");
      if (g_ascii_strcasecmp (value, "false") == 0 || g_ascii_strcasecmp (value, "no") == 0
          || strcmp (value, "0") == 0)
        return g_strdup ("false");
      break;
    case VALUE_STRING:
      if (strlen (value) > STRING_VALUE_MAX)
        break;
      /* gst-launch unquotes "..." and undoes \" and \\ (gst_value_deserialize of a
       * string, gst_string_unwrap); nothing else is special inside the quotes */
      quoted = g_string_new ("\"");
      for (c = value; *c != '\0'; c++) {
        if (*c < 0x20 || *c > 0x7e) {
          g_string_free (quoted, TRUE);
          goto invalid;
        }
        if (*c == '"' || *c == '\\')
          g_string_append_c (quoted, '\\');
        g_string_append_c (quoted, *c);
      }
      g_string_append_c (quoted, '"');
      return g_string_free (quoted, FALSE);
    case VALUE_BITMASK:
      if (g_str_has_prefix (value, "0x") || g_str_has_prefix (value, "0X")) {
        if (value[2] == '\0' || !g_ascii_string_to_unsigned (value + 2, 16, 0, G_MAXUINT64,
                &u, &parse_error))
          break;
      } else if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &u,
              &parse_error)) {
        break;
      }
      return g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x", u);
  }

invalid:
  switch (p->type) {
    case VALUE_DIGITS:
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: '%s' is not 1 to %d digits", p->name, value, SESSION_ID_MAX);
      break;
    case VALUE_UUID:
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: '%s' is not 1 to %d lower-case hex digits and dashes", p->name, value,
          SESSION_ID_MAX);
      break;
    case VALUE_INT:
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: '%s' is not an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
          p->name, value, p->min, p->max);
      break;
    case VALUE_BOOL:
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: '%s' is not true or false", p->name, value);
      break;
    case VALUE_STRING:
      /* the value may be a secret: do not repeat it */
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: the value must be at most %d characters of printable ASCII", p->name,
          STRING_VALUE_MAX);
      break;
    case VALUE_BITMASK:
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "{%s}: '%s' is not an unsigned 64-bit number", p->name, value);
      break;
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Templates                                                                            */

typedef struct
{
  const PlaceholderSpec *placeholder;   /* NULL: literal text */
  char *text;
} Segment;

typedef struct
{
  const KindSpec *spec;
  char *path;
  GArray *segments;             /* of Segment */
} Template;

static void
segment_clear (gpointer data)
{
  Segment *s = data;

  g_free (s->text);
}

static void
template_free (Template * t)
{
  if (t == NULL)
    return;
  g_free (t->path);
  if (t->segments != NULL)
    g_array_unref (t->segments);
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Template, template_free)

static void
append_literal (Template * t, const char *text, gsize len)
{
  Segment s = { NULL, NULL };
  Segment *last;

  if (len == 0)
    return;
  if (t->segments->len > 0) {
    last = &g_array_index (t->segments, Segment, t->segments->len - 1);
    if (last->placeholder == NULL) {
      char *joined = g_strdup_printf ("%s%.*s", last->text, (int) len, text);

      g_free (last->text);
      last->text = joined;
      return;
    }
  }
  s.text = g_strndup (text, len);
  g_array_append_val (t->segments, s);
}

/* The length of a placeholder name at @p ([a-z_][a-z0-9_]*) when "}" follows it, else 0. */
static gsize
placeholder_length (const char *p)
{
  gsize n = 0;

  if (!(g_ascii_islower (p[0]) || p[0] == '_'))
    return 0;
  while (g_ascii_islower (p[n]) || g_ascii_isdigit (p[n]) || p[n] == '_')
    n++;
  return p[n] == '}' ? n : 0;
}

/* Splits one description line into segments. */
static gboolean
template_add_line (Template * t, const char *line, guint lineno, GError ** error)
{
  const char *p = line, *start = line;

  while ((p = strchr (p, '{')) != NULL) {
    gsize n = placeholder_length (p + 1);
    g_autofree char *name = NULL;
    Segment s = { NULL, NULL };

    if (n == 0) {
      /* a caps list or similar: literal */
      p++;
      continue;
    }
    name = g_strndup (p + 1, n);
    s.placeholder = find_placeholder (t->spec, name);
    if (s.placeholder == NULL) {
      g_autofree char *known = known_names (t->spec);

      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
          "%s:%u: unknown placeholder {%s}; a %s pipeline knows %s", t->path, lineno,
          name, t->spec->kind, known);
      return FALSE;
    }
    append_literal (t, start, p - start);
    g_array_append_val (t->segments, s);
    p += n + 2;
    start = p;
  }
  append_literal (t, start, strlen (start));
  return TRUE;
}

static Template *
template_load (const char *path, const KindSpec * spec, GError ** error)
{
  g_autoptr (Template) t = g_new0 (Template, 1);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) read_error = NULL;
  gboolean any = FALSE;
  guint i;

  t->spec = spec;
  t->path = g_strdup (path);
  t->segments = g_array_new (FALSE, TRUE, sizeof (Segment));
  g_array_set_clear_func (t->segments, segment_clear);

  if (!g_file_get_contents (path, &contents, NULL, &read_error)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: %s", path, read_error->message);
    return NULL;
  }
  if (!g_utf8_validate (contents, -1, NULL)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: not UTF-8 text", path);
    return NULL;
  }

  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i] != NULL; i++) {
    char *line = g_strstrip (lines[i]); /* also drops a '\r' */

    if (*line == '\0' || *line == '#')
      continue;
    if (any)
      append_literal (t, " ", 1);
    if (!template_add_line (t, line, i + 1, error))
      return NULL;
    any = TRUE;
  }
  if (!any) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: no pipeline description, only comments", path);
    return NULL;
  }
  return g_steal_pointer (&t);
}

static char *
template_expand (const Template * t, GHashTable * values, GError ** error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key;
  guint i;

  if (values != NULL) {
    g_hash_table_iter_init (&iter, values);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
      if (find_placeholder (t->spec, key) == NULL) {
        g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
            "a %s pipeline has no placeholder {%s}", t->spec->kind,
            (const char *) key);
        return NULL;
      }
    }
  }

  for (i = 0; i < t->segments->len; i++) {
    const Segment *s = &g_array_index (t->segments, Segment, i);
    const char *value;
    g_autofree char *escaped = NULL;

    if (s->placeholder == NULL) {
      g_string_append (out, s->text);
      continue;
    }
    value = values != NULL ? g_hash_table_lookup (values, s->placeholder->name) : NULL;
    if (value == NULL) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "%s uses {%s} but no value was given for it", t->path, s->placeholder->name);
      return NULL;
    }
    escaped = escape_value (s->placeholder, value, error);
    if (escaped == NULL)
      return NULL;
    g_string_append (out, escaped);
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Parses @description and checks the named elements @t's kind needs. */
static GstPipeline *
template_parse (const Template * t, const char *description, GError ** error)
{
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (GstElement) element = NULL;
  const NamedElementSpec *e;

  element = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &parse_error);
  if (element != NULL)
    gst_object_ref_sink (element);
  if (parse_error != NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: not a valid pipeline description: %s", t->path, parse_error->message);
    return NULL;
  }
  if (!GST_IS_PIPELINE (element)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: the description is a single element, not a pipeline", t->path);
    return NULL;
  }

  for (e = t->spec->elements; e->name != NULL; e++) {
    g_autoptr (GstElement) child = gst_bin_get_by_name (GST_BIN (element), e->name);
    GstElementFactory *f;

    if (child == NULL) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
          "%s: a %s pipeline needs an element '%s name=%s'", t->path, t->spec->kind,
          e->factory, e->name);
      return NULL;
    }
    f = gst_element_get_factory (child);
    if (f == NULL || strcmp (GST_OBJECT_NAME (f), e->factory) != 0) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
          "%s: the element named '%s' is a %s, it must be a %s", t->path, e->name,
          f != NULL ? GST_OBJECT_NAME (f) : G_OBJECT_TYPE_NAME (child), e->factory);
      return NULL;
    }
  }
  return GST_PIPELINE (g_steal_pointer (&element));
}

static gboolean
template_validate (const Template * t, GError ** error)
{
  g_autoptr (GHashTable) samples = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *description = NULL;
  g_autoptr (GstPipeline) pipeline = NULL;
  const PlaceholderSpec *p;

  for (p = t->spec->placeholders; p->name != NULL; p++)
    g_hash_table_insert (samples, (gpointer) p->name, (gpointer) p->sample);
  description = template_expand (t, samples, error);
  if (description == NULL)
    return FALSE;
  pipeline = template_parse (t, description, error);
  return pipeline != NULL;
}

/* ---------------------------------------------------------------------------------- */
/* The factory                                                                          */

struct _EchoPipelineFactory
{
  GHashTable *templates;        /* kind -> Template */
};

void
echo_pipeline_factory_free (EchoPipelineFactory * factory)
{
  if (factory == NULL)
    return;
  g_hash_table_unref (factory->templates);
  g_free (factory);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

EchoPipelineFactory *
echo_pipeline_factory_new (const char *dir, GError ** error)
{
  g_autoptr (EchoPipelineFactory) factory = NULL;
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) dir_error = NULL;
  const char *name;
  gsize i;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  d = g_dir_open (dir, 0, &dir_error);
  if (d == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "pipelines directory: %s", dir_error->message);
    return NULL;
  }
  while ((name = g_dir_read_name (d)) != NULL) {
    if (g_str_has_suffix (name, TEMPLATE_SUFFIX) && strlen (name) > strlen (TEMPLATE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  }
  /* the first error reported does not depend on the directory order */
  g_ptr_array_sort (names, compare_names);

  factory = g_new0 (EchoPipelineFactory, 1);
  factory->templates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) template_free);

  for (i = 0; i < names->len; i++) {
    const char *file = g_ptr_array_index (names, i);
    g_autofree char *path = g_build_filename (dir, file, NULL);
    g_autofree char *kind = g_strndup (file, strlen (file) - strlen (TEMPLATE_SUFFIX));
    const KindSpec *spec = find_kind (kind);
    Template *t;

    if (spec == NULL) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
          "%s: unknown pipeline kind '%s' (the file name says the kind; echod uses "
          "%s" TEMPLATE_SUFFIX ", %s" TEMPLATE_SUFFIX " and %s" TEMPLATE_SUFFIX ")", path,
          kind, kinds[0].kind, kinds[1].kind, kinds[2].kind);
      return NULL;
    }
    t = template_load (path, spec, error);
    if (t == NULL)
      return NULL;
    g_hash_table_insert (factory->templates, g_steal_pointer (&kind), t);
    if (!template_validate (t, error))
      return NULL;
    g_debug ("loaded the %s pipeline from %s", spec->kind, path);
  }

  for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
    if (!kinds[i].optional && !g_hash_table_contains (factory->templates, kinds[i].kind)) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
          "%s: missing %s" TEMPLATE_SUFFIX " (the %s pipeline's template)", dir,
          kinds[i].kind, kinds[i].kind);
      return NULL;
    }
  }
  return g_steal_pointer (&factory);
}

static const Template *
lookup_template (EchoPipelineFactory * factory, const char *kind, GError ** error)
{
  const Template *t = g_hash_table_lookup (factory->templates, kind);

  if (t == NULL)
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND,
        "no %s pipeline template is loaded", kind);
  return t;
}

const char *
echo_pipeline_factory_get_path (EchoPipelineFactory * factory, const char *kind)
{
  const Template *t;

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (kind != NULL, NULL);

  t = g_hash_table_lookup (factory->templates, kind);
  return t != NULL ? t->path : NULL;
}

char *
echo_pipeline_factory_expand (EchoPipelineFactory * factory, const char *kind,
    GHashTable * values, GError ** error)
{
  const Template *t;

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (kind != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  t = lookup_template (factory, kind, error);
  if (t == NULL)
    return NULL;
  return template_expand (t, values, error);
}

GstPipeline *
echo_pipeline_factory_build (EchoPipelineFactory * factory, const char *kind,
    GHashTable * values, GError ** error)
{
  const Template *t;
  g_autofree char *description = NULL;

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (kind != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  t = lookup_template (factory, kind, error);
  if (t == NULL)
    return NULL;
  description = template_expand (t, values, error);
  if (description == NULL)
    return NULL;
  return template_parse (t, description, error);
}
