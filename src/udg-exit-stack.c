/* udgram - cleanup callbacks run in reverse order
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

/**
 * SECTION:udg-exit-stack
 * @title: UdgExitStack
 * @short_description: what to undo when the service stops
 *
 * A #UdgExitStack (Python's `contextlib.ExitStack`) collects cleanup
 * callbacks and runs them last-in first-out when closed.  The server hands
 * one to `service_init` and closes it at teardown, after the handlers
 * stopped.  It is not thread-safe: use it from one thread.
 */

/**
 * UdgExitStack:
 *
 * Cleanup callbacks run last-in first-out when closed.
 */

typedef struct
{
  GDestroyNotify callback;
  gpointer data;
} Entry;

struct _UdgExitStack
{
  GArray *entries; /* (element-type Entry) */
};

/**
 * udg_exit_stack_new: (skip)
 *
 * A stack of cleanups of one's own; the server gives `service_init` its
 * own.  Not for bindings: it is neither copied nor shared.
 *
 * Returns: (transfer full): a new, empty #UdgExitStack
 *
 * Since: 0.1
 */
UdgExitStack *
udg_exit_stack_new (void)
{
  UdgExitStack *stack = g_new0 (UdgExitStack, 1);

  stack->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  return stack;
}

/**
 * udg_exit_stack_free:
 * @stack: (transfer full): a #UdgExitStack
 *
 * Closes @stack (see udg_exit_stack_close()) and frees it.
 *
 * Since: 0.1
 */
void
udg_exit_stack_free (UdgExitStack *stack)
{
  g_return_if_fail (stack != NULL);
  udg_exit_stack_close (stack);
  g_array_unref (stack->entries);
  g_free (stack);
}

/**
 * udg_exit_stack_push:
 * @stack: a #UdgExitStack
 * @callback: (scope async): called with @data when the stack closes
 * @data: (closure callback): its argument
 *
 * Registers a cleanup (Python's `exit_stack.callback()`).
 *
 * Since: 0.1
 */
void
udg_exit_stack_push (UdgExitStack  *stack,
                     GDestroyNotify callback,
                     gpointer       data)
{
  Entry e = { callback, data };

  g_return_if_fail (stack != NULL);
  g_return_if_fail (callback != NULL);
  g_array_append_val (stack->entries, e);
}

static void
destroy_source (gpointer data)
{
  GSource *source = data;

  g_source_destroy (source);
  g_source_unref (source);
}

/**
 * udg_exit_stack_push_source:
 * @stack: a #UdgExitStack
 * @source: (transfer full): an attached #GSource, such as a background
 *   timer
 *
 * Destroys @source when the stack closes: the C form of entering a task
 * group in the exit stack.
 *
 * Since: 0.1
 */
void
udg_exit_stack_push_source (UdgExitStack *stack,
                            GSource      *source)
{
  g_return_if_fail (source != NULL);
  udg_exit_stack_push (stack, destroy_source, source);
}

/**
 * udg_exit_stack_get_size:
 * @stack: a #UdgExitStack
 *
 * Gets the number of callbacks registered on @stack that have not run yet.
 *
 * Returns: how many callbacks wait to run
 *
 * Since: 0.1
 */
guint
udg_exit_stack_get_size (UdgExitStack *stack)
{
  g_return_val_if_fail (stack != NULL, 0);
  return stack->entries->len;
}

/**
 * udg_exit_stack_close:
 * @stack: a #UdgExitStack
 *
 * Runs the callbacks, the last pushed first, and empties the stack.  A
 * callback may push more; they run too.
 *
 * Since: 0.1
 */
void
udg_exit_stack_close (UdgExitStack *stack)
{
  g_return_if_fail (stack != NULL);
  while (stack->entries->len > 0)
    {
      Entry e = g_array_index (stack->entries, Entry, stack->entries->len - 1);

      g_array_set_size (stack->entries, stack->entries->len - 1);
      e.callback (e.data);
    }
}
