/*  test_header_clean - the public headers stand alone: they include
    neither czmq nor libzmq, so a program may have its own `byte` (czmq
    has typedef unsigned char byte) and still include <zhive.h>. Built with
    include/ only on its include path, linked with libzhive. */
#include <stdint.h>
typedef int8_t byte;    //  Conflicts with czmq's if czmq.h gets included
#include <zhive.h>
#include <stdio.h>

#if defined(__CZMQ_H_INCLUDED__) || defined(ZMQ_VERSION_MAJOR)
#error "a public header includes czmq or libzmq"
#endif

int
main (void)
{
    byte mine = -1;
    zhive_pack_t *pack = zhive_pack_new ();
    ssize_t list = zhive_pack_array_begin (pack);
    zhive_pack_int (pack, mine);
    int rc = zhive_pack_array_end (pack, list);
    //  [-1]: a fixarray of one negative fixint
    int ok = rc == 0 && zhive_pack_size (pack) == 2 &&
             (unsigned char) zhive_pack_data (pack) [0] == 0x91 &&
             (unsigned char) zhive_pack_data (pack) [1] == 0xff;
    zhive_pack_destroy (&pack);
    zhive_opts_t opts = { .retries = ZHIVE_NO_RETRIES };
    ok = ok && opts.retries == -1 && zhive_client_new ("", 0) == NULL;
    printf ("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
