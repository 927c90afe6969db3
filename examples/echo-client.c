/* echo-client: sends each MESSAGE to a Unix datagram server and prints the
 * reply, with plain POSIX sockets (what any peer of a udgram server does).
 *
 *   echo-client PATH MESSAGE...
 *
 * The client autobinds an abstract name so that the server can answer.
 * Exits 1 if a reply does not come within 2 seconds.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <udgram/udgram.h>

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgAddress) server = NULL;
  struct sockaddr_un sa, self = { .sun_family = AF_UNIX };
  socklen_t len;
  int fd;

  if (argc < 3)
    {
      fprintf (stderr, "usage: %s PATH MESSAGE...\n", argv[0]);
      return 2;
    }
  server = udg_address_new_from_string (argv[1], &error);
  if (server == NULL)
    {
      fprintf (stderr, "echo-client: %s\n", error->message);
      return 2;
    }
  len = udg_address_to_sockaddr (server, &sa);
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  /* An unbound client cannot be answered: autobind an abstract name. */
  if (fd < 0 || bind (fd, (struct sockaddr *) &self, sizeof (sa_family_t)) < 0)
    {
      perror ("echo-client");
      return 1;
    }
  for (int i = 2; i < argc; i++)
    {
      char reply[65536];
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;

      if (sendto (fd, argv[i], strlen (argv[i]), 0, (struct sockaddr *) &sa, len) < 0)
        {
          fprintf (stderr, "echo-client: cannot send to %s: %s\n", argv[1], strerror (errno));
          close (fd);
          return 1;
        }
      if (poll (&pfd, 1, 2000) != 1 || (n = recv (fd, reply, sizeof reply, 0)) < 0)
        {
          fprintf (stderr, "echo-client: no reply from %s\n", argv[1]);
          close (fd);
          return 1;
        }
      printf ("%.*s\n", (int) n, reply);
    }
  close (fd);
  return 0;
}
