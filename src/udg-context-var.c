/* udgram - per-client context variables
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

/**
 * SECTION:udg-context-var
 * @title: UdgContextVar
 * @short_description: values seen by one handler invocation
 *
 * A #UdgContextVar is the C form of Python's `contextvars.ContextVar`: a key
 * whose value depends on which context is current.  Every handler
 * invocation runs in a context of its own, whose parent is the server's
 * context: a value set in `service_init` (which runs in the server's
 * context) is seen by every invocation; a value set inside `handle` lasts
 * for that invocation only and is never seen by another client, by a later
 * invocation, or by the server.  Outside any server, each thread has a
 * context of its own.  Values are freed with the variable's destroy notify
 * when their context ends or when they are replaced.
 */

/**
 * UdgContextVar:
 *
 * A context variable: a key whose value depends on the current handler invocation.
 */

struct _UdgContextVar
{
  gatomicrefcount ref_count;
  gchar *name;
  GDestroyNotify value_destroy;
};

typedef struct
{
  UdgContextVar *var;   /* (owned) */
  gpointer value;       /* (owned) (nullable) */
} Slot;

static _Thread_local UdgContext *current_context;
static void thread_context_free (gpointer data);
static GPrivate thread_context = G_PRIVATE_INIT (thread_context_free);

static void
slot_free (gpointer data)
{
  Slot *slot = data;

  if (slot->value != NULL && slot->var->value_destroy != NULL)
    slot->var->value_destroy (slot->value);
  udg_context_var_unref (slot->var);
  g_free (slot);
}

UdgContext *
udg_context_new (UdgContext *parent)
{
  UdgContext *context = g_new0 (UdgContext, 1);

  context->parent = parent;
  context->slots = NULL; /* created on first set: most invocations set nothing */
  return context;
}

void
udg_context_clear (UdgContext *context)
{
  g_clear_pointer (&context->slots, g_hash_table_unref);
}

void
udg_context_free (UdgContext *context)
{
  if (context == NULL)
    return;
  udg_context_clear (context);
  g_free (context);
}

static void
thread_context_free (gpointer data)
{
  udg_context_free (data);
}

/* Makes @context current in this thread; returns the previous one. */
UdgContext *
udg_context_push (UdgContext *context)
{
  UdgContext *previous = current_context;

  current_context = context;
  return previous;
}

void
udg_context_pop (UdgContext *previous)
{
  current_context = previous;
}

static UdgContext *
get_current (void)
{
  UdgContext *context = current_context;

  if (context == NULL)
    {
      context = g_private_get (&thread_context);
      if (context == NULL)
        {
          context = udg_context_new (NULL);
          g_private_set (&thread_context, context);
        }
    }
  return context;
}

/**
 * udg_context_var_new:
 * @name: a name, for debugging
 * @value_destroy: (nullable): frees values when their context ends or they
 *   are replaced
 *
 * Creates a context variable, typically once, in a static.
 *
 * Returns: (transfer full): a new #UdgContextVar
 *
 * Since: 0.1
 */
UdgContextVar *
udg_context_var_new (const gchar   *name,
                     GDestroyNotify value_destroy)
{
  UdgContextVar *var;

  g_return_val_if_fail (name != NULL, NULL);
  var = g_new0 (UdgContextVar, 1);
  g_atomic_ref_count_init (&var->ref_count);
  var->name = g_strdup (name);
  var->value_destroy = value_destroy;
  return var;
}

/**
 * udg_context_var_ref:
 * @var: a #UdgContextVar
 *
 * Takes a reference on @var.
 *
 * Returns: (transfer full): @var
 *
 * Since: 0.1
 */
UdgContextVar *
udg_context_var_ref (UdgContextVar *var)
{
  g_return_val_if_fail (var != NULL, NULL);
  g_atomic_ref_count_inc (&var->ref_count);
  return var;
}

/**
 * udg_context_var_unref:
 * @var: (transfer full): a #UdgContextVar
 *
 * Drops a reference.  Contexts that hold a value of @var keep it alive.
 *
 * Since: 0.1
 */
void
udg_context_var_unref (UdgContextVar *var)
{
  g_return_if_fail (var != NULL);
  if (!g_atomic_ref_count_dec (&var->ref_count))
    return;
  g_free (var->name);
  g_free (var);
}

/**
 * udg_context_var_get_name:
 * @var: a #UdgContextVar
 *
 * Gets the name of @var, as given to udg_context_var_new(), for logs and
 * debugging.
 *
 * Returns: (transfer none): the name given at creation
 *
 * Since: 0.1
 */
const gchar *
udg_context_var_get_name (UdgContextVar *var)
{
  g_return_val_if_fail (var != NULL, NULL);
  return var->name;
}

/**
 * udg_context_var_set:
 * @var: a #UdgContextVar
 * @value: (transfer full) (nullable): the new value
 *
 * Sets the value of @var in the current context: the handler invocation's
 * inside `handle`, the server's inside `service_init`, the thread's
 * elsewhere.  A value it replaces in the same context is freed.
 *
 * Since: 0.1
 */
void
udg_context_var_set (UdgContextVar *var,
                     gpointer       value)
{
  UdgContext *context;
  Slot *slot;

  g_return_if_fail (var != NULL);
  context = get_current ();
  if (context->slots == NULL)
    context->slots = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, slot_free);
  slot = g_new0 (Slot, 1);
  slot->var = udg_context_var_ref (var);
  slot->value = value;
  g_hash_table_replace (context->slots, var, slot);
}

static Slot *
lookup (UdgContextVar *var)
{
  for (UdgContext *context = get_current (); context != NULL; context = context->parent)
    {
      Slot *slot;

      if (context->slots != NULL && (slot = g_hash_table_lookup (context->slots, var)) != NULL)
        return slot;
    }
  return NULL;
}

/**
 * udg_context_var_get:
 * @var: a #UdgContextVar
 *
 * Looks @var up in the current context, then in the contexts it was copied
 * from (the server's, for a handler invocation).
 *
 * Returns: (transfer none) (nullable): the value, or %NULL when unset
 *
 * Since: 0.1
 */
gpointer
udg_context_var_get (UdgContextVar *var)
{
  Slot *slot;

  g_return_val_if_fail (var != NULL, NULL);
  slot = lookup (var);
  return slot != NULL ? slot->value : NULL;
}

/**
 * udg_context_var_is_set:
 * @var: a #UdgContextVar
 *
 * Tells whether @var was set in the current context: udg_context_var_get()
 * returns %NULL both when it was not and when it was set to %NULL.
 *
 * Returns: whether @var has a value (maybe %NULL) in the current context or
 *   the ones it was copied from
 *
 * Since: 0.1
 */
gboolean
udg_context_var_is_set (UdgContextVar *var)
{
  g_return_val_if_fail (var != NULL, FALSE);
  return lookup (var) != NULL;
}

/**
 * udg_context_var_get_type:
 *
 * The #GType of #UdgContextVar, a boxed type: bindings and #GValue copy it with
 * udg_context_var_ref() and free it with udg_context_var_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgContextVar, udg_context_var, udg_context_var_ref, udg_context_var_unref)
