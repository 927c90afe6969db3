/* A Vala client through udgram-1.vapi (generated from Udgram-1.0.gir):
 * sends each argument after the first to the server at the first, and
 * prints each reply.  tests/test-bindings.sh runs it against
 * `udgram serve --upper`. */
int main (string[] args) {
    if (args.length < 3) {
        stderr.printf ("usage: %s SERVER-PATH MESSAGE...\n", args[0]);
        return 2;
    }
    try {
        var endpoint = new Udg.Endpoint (args[1], null, null);
        for (int i = 2; i < args.length; i++) {
            endpoint.send_bytes (new GLib.Bytes (args[i].data), 5.0);
            var reply = endpoint.recv_bytes (5.0);
            /* The bytes are not NUL-terminated: take their length. */
            stdout.printf ("%s\n", ((string) reply.get_data ()).substring (0, (long) reply.get_size ()));
        }
        endpoint.close ();
    } catch (GLib.Error e) {
        stderr.printf ("%s\n", e.message);
        return 1;
    }
    return 0;
}
