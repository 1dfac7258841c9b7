/*  =========================================================================
    zhive_socket - the one place that sets zhive's socket options
    =========================================================================
*/
#include "zhive_socket.h"
#include "zhive_proto.h"

void
zhive_socket_configure (zsock_t *sock, zhive_socket_role_t role)
{
    int hwm = role == ZHIVE_SOCKET_BROKER_CLIENTS   ? ZHIVE_HWM_BROKER_CLIENT
              : role == ZHIVE_SOCKET_BROKER_WORKERS ? ZHIVE_HWM_BROKER_WORKER
              : role == ZHIVE_SOCKET_CLIENT         ? ZHIVE_HWM_CLIENT
                                                    : ZHIVE_HWM_WORKER;
    zsock_set_sndhwm (sock, hwm);
    zsock_set_rcvhwm (sock, hwm);
    //  A peer announcing a huge frame is cut off before libzmq allocates it
    zsock_set_maxmsgsize (sock, ZHIVE_MESSAGE_SIZE_MAX);
    //  A send never waits: a full pipe is EAGAIN, for the caller to decide
    zsock_set_sndtimeo (sock, 0);
    if (role == ZHIVE_SOCKET_BROKER_CLIENTS || role == ZHIVE_SOCKET_BROKER_WORKERS) {
        zsock_set_router_mandatory (sock, 1);
        //  A client that reconnects with its routing id takes it over
        if (role == ZHIVE_SOCKET_BROKER_CLIENTS)
            zsock_set_router_handover (sock, 1);
    }
    else {
        zsock_set_reconnect_ivl (sock, ZHIVE_RECONNECT_MS);
        zsock_set_reconnect_ivl_max (sock, ZHIVE_RECONNECT_MAX_MS);
    }
}

void
zhive_heartbeat_clamp (int *interval_ms, int *liveness)
{
    if (*interval_ms <= 0)
        *interval_ms = ZHIVE_HEARTBEAT_MS;
    if (*interval_ms > ZHIVE_HEARTBEAT_MAX)
        *interval_ms = ZHIVE_HEARTBEAT_MAX;
    if (*liveness <= 0)
        *liveness = ZHIVE_LIVENESS;
    if (*liveness > ZHIVE_HEARTBEAT_MAX / *interval_ms)
        *liveness = ZHIVE_HEARTBEAT_MAX / *interval_ms;
    if (*liveness < 1)
        *liveness = 1;
}

void
zhive_socket_set_heartbeat (zsock_t *sock, int interval_ms, int liveness)
{
    zhive_heartbeat_clamp (&interval_ms, &liveness);
    int timeout = interval_ms * liveness;    //  At most ZHIVE_HEARTBEAT_MAX
    zsock_set_heartbeat_ivl (sock, interval_ms);
    zsock_set_heartbeat_timeout (sock, timeout);
    zsock_set_heartbeat_ttl (sock, timeout < ZHIVE_HEARTBEAT_TTL ? timeout : ZHIVE_HEARTBEAT_TTL);
}

int64_t
zhive_grace_ms (int interval_ms, int liveness)
{
    zhive_heartbeat_clamp (&interval_ms, &liveness);
    int64_t grace = 2 * (int64_t) interval_ms * liveness;
    return grace > ZHIVE_GRACE_MIN_MS ? grace : ZHIVE_GRACE_MIN_MS;
}

int
zhive_endpoint_check (const char *endpoint)
{
    zsock_t *probe = endpoint && *endpoint ? zsock_new (ZMQ_DEALER) : NULL;
    int rc = probe ? 0 : -1;
    if (probe) {
        zsock_set_linger (probe, 0);
        rc = zsock_connect (probe, "%s", endpoint);
        zsock_destroy (&probe);
    }
    if (rc)
        errno = EINVAL;
    return rc ? -1 : 0;
}
