/*  =========================================================================
    zhive_proto - the one wire codec of zhive (private to the project)

    Every zhive message is, after the ROUTER routing id if any:
        frame 1  "ZHV" %x01 COMMAND       signature, version, command byte
        frame 2  msgpack array            the command's fields (the header)
        frame 3  msgpack bytes, optional  the payload: args or result,
                                          forwarded by the broker untouched
    docs/protocol.md is the contract; this file is its only implementation.
    Decoding checks every length and type and returns -2 (malformed).
    =========================================================================
*/
#ifndef ZHIVE_PROTO_H_INCLUDED
#define ZHIVE_PROTO_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_PROTO_VERSION 1
#define ZHIVE_NAME_MAX      255        //  function, worker, host, error type
#define ZHIVE_MESSAGE_MAX   65535      //  error message bytes
#define ZHIVE_FUNCTIONS_MAX 1024       //  functions one worker may offer
#define ZHIVE_CHUNK_MAX     1000000    //  items in one chunked task
#define ZHIVE_HEADER_MAX    (512 * 1024)
#define ZHIVE_TOKEN_MAX     64    //  READY token bytes (a local worker's proof)
#define ZHIVE_SAMPLE_MAX    32    //  Bytes of a malformed frame shown in logs
//  The sample of a malformed frame: each byte at most 4 characters (\xNN)
#define ZHIVE_SAMPLE_SIZE (4 * ZHIVE_SAMPLE_MAX + 1)
//  The environment variable by which a broker hands a local worker its token
#define ZHIVE_TOKEN_ENV "ZHIVE_WORKER_TOKEN"
//  Largest frame any zhive socket accepts (ZMQ_MAXMSGSIZE)
#define ZHIVE_MESSAGE_SIZE_MAX (256LL * 1024 * 1024)
//  Largest args or value a sender sends: the frame limit less header room
#define ZHIVE_PAYLOAD_MAX (ZHIVE_MESSAGE_SIZE_MAX - ZHIVE_HEADER_MAX)

//  Commands. C: client, B: broker, W: worker.
#define ZHIVE_PING         0x01    //  C->B, B<->W  []
#define ZHIVE_PONG         0x02    //  B->C, B<->W  []
#define ZHIVE_HEARTBEAT    0x03    //  any   []  (no reply; any message shows life)
#define ZHIVE_SUBMIT       0x10    //  C->B  [id, function, timeout_ms, retries, chunk] + args
#define ZHIVE_CANCEL       0x11    //  C->B  [id];  B->W  [ticket]
#define ZHIVE_STATUS       0x12    //  C->B  [id]
#define ZHIVE_RESULT       0x20    //  B->C  [id] + value
#define ZHIVE_ERROR        0x21    //  B->C  [id, type, message, worker]
#define ZHIVE_STATUS_REPLY 0x22    //  B->C  [id] + msgpack map
#define ZHIVE_READY        0x30    //  W->B  [name, host, pid, concurrency, [function...], max_tasks]
#define ZHIVE_DONE         0x31    //  W->B  [ticket] + value
#define ZHIVE_FAILED       0x32    //  W->B  [ticket, type, message]
#define ZHIVE_DRAINING     0x33    //  W->B  []  (send me no more tasks)
#define ZHIVE_WELCOME      0x34    //  B->W  [incarnation]  (answer to READY)
#define ZHIVE_DRAINED      0x35    //  B->W  []  (answer to DRAINING: nothing more follows)
#define ZHIVE_TASK         0x40    //  B->W  [ticket, function, timeout_ms, chunk] + args
#define ZHIVE_BYE          0x50    //  any   [reason]
//  READY may end with a token (a string) after max_tasks: see docs/protocol.md

typedef struct {
    uint8_t routing [256];                 //  ROUTER routing id of the peer
    size_t routing_size;                   //  0 when there is none (DEALER side)
    int command;                           //  One of the ZHIVE_* commands
    uint64_t id;                           //  Client task id, broker ticket, or
                                           //  WELCOME: the broker's incarnation
    char function [ZHIVE_NAME_MAX + 1];    //  Function name (SUBMIT, TASK)
    int64_t timeout_ms;                    //  SUBMIT: deadline from submission; TASK:
                                           //  time left to run; -1 none
    int64_t retries;                       //  SUBMIT: retries after worker loss, -1 default
    uint32_t chunk;                        //  SUBMIT, TASK: items in a chunk, 0 = one task
    char type [ZHIVE_NAME_MAX + 1];        //  ERROR, FAILED: error type
    char *message;                         //  ERROR, FAILED: message; BYE: reason
    char worker [ZHIVE_NAME_MAX + 1];      //  ERROR: worker name; READY: name
    char host [ZHIVE_NAME_MAX + 1];        //  READY: host name
    uint64_t pid;                          //  READY: process id
    uint32_t concurrency;                  //  READY: task slots (initial credit)
    uint64_t max_tasks;                    //  READY: tasks it will take in all, 0 = no limit
    char **functions;                      //  READY: function names
    size_t functions_count;                //  READY: how many
    char token [ZHIVE_TOKEN_MAX + 1];      //  READY: the token its broker gave it, "" none
    zmq_msg_t payload;                     //  Args or value, forwarded untouched
    bool has_payload;                      //  True when payload holds a frame
    char error [128];                      //  Why the last recv said malformed
    char peer_address [64];                //  The sender's address if libzmq tells it, else ""
    char sample [ZHIVE_SAMPLE_SIZE];       //  Malformed: the bad frame's start, odd bytes \xNN
} zhive_proto_t;

//  Drop a frame's content, leaving it a valid empty frame (NULL: nothing)
static inline void
zhive_msg_empty (zmq_msg_t *msg)
{
    if (msg) {
        zmq_msg_close (msg);
        zmq_msg_init (msg);
    }
}

//  ---------------------------------------------------------------------
//  Create a message. Returns NULL only if out of memory.
zhive_proto_t *zhive_proto_new (void);

//  Destroy; safe with *self_p NULL.
void zhive_proto_destroy (zhive_proto_t **self_p);

//  Receive one message. flags: 0 or ZMQ_DONTWAIT. Returns 0 on success,
//  -1 if nothing was read (EAGAIN, interrupted, socket closed), -2 if a
//  message was read but is malformed: the whole message has been consumed,
//  routing holds the sender, and error says why.
int zhive_proto_recv (zhive_proto_t *self, zsock_t *sock, int flags);

//  Send the message: the routing id if routing_size > 0, then the frames
//  the command needs. The payload is sent (and emptied) if has_payload.
//  Returns 0, or -1 if the socket refused (errno tells).
int zhive_proto_send (zhive_proto_t *self, zsock_t *sock);

//  Decode a message from its frames after the routing id (frames [0] the
//  signature, [1] the header, [2] the payload); zhive_proto_recv uses it.
//  A count above 3 is "too many frames" (only the first three are read).
//  The payload frame is moved into self (left empty in frames). Returns 0,
//  or -2 if malformed (error says why); the routing fields are cleared.
int zhive_proto_decode (zhive_proto_t *self, zmq_msg_t *frames, size_t count);

//  Encode the message as zhive_proto_send sends it: the signature frame
//  into signature, the header frame's bytes in *header (borrowed, valid
//  until the next encode or send). The payload is not touched. Returns 0,
//  or -1 with errno EINVAL (unknown command, or a payload command
//  without a payload).
int zhive_proto_encode (zhive_proto_t *self, uint8_t signature [5], const void **header,
                        size_t *header_size);

//  Set the payload to a copy of size bytes.
int zhive_proto_set_payload (zhive_proto_t *self, const void *data, size_t size);

//  Move a frame into the payload (the source is left empty).
void zhive_proto_move_payload (zhive_proto_t *self, zmq_msg_t *source);

//  Drop the payload.
void zhive_proto_clear_payload (zhive_proto_t *self);

//  Set message (copied; truncated to ZHIVE_MESSAGE_MAX). NULL sets "".
void zhive_proto_set_message (zhive_proto_t *self, const char *message);

//  Copy a string into a fixed field of size ZHIVE_NAME_MAX + 1, truncating.
void zhive_proto_set_name (char *field, const char *value);

//  Name of a command for logs ("SUBMIT"), "?" if unknown.
const char *zhive_proto_command_name (int command);

#ifdef __cplusplus
}
#endif

#endif
