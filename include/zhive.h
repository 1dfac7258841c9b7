/*  =========================================================================
    zhive.h - umbrella header: a task pool for C programs over ZeroMQ

    #include <zhive.h> and link libzhive (pkg-config --cflags --libs zhive).

    The library installs no signal handler: SIGINT and SIGTERM stay the
    program's (see "Signals" in zhive_client.h).
    =========================================================================
*/
#ifndef ZHIVE_H_INCLUDED
#define ZHIVE_H_INCLUDED

#define ZHIVE_VERSION_MAJOR 0
#define ZHIVE_VERSION_MINOR 1
#define ZHIVE_VERSION_PATCH 0

//  Only the C library and msgpack-c: neither czmq nor libzmq (a program
//  that uses them includes them itself). errno.h: calls report errors in errno.
#include <errno.h>
#include "zhive_export.h"
#include "zhive_logging.h"
#include "zhive_pack.h"
#include "zhive_result.h"
#include "zhive_client.h"
#include "zhive_worker.h"
#include "zhive_broker.h"

#endif
