/*  fuzz_reader - libFuzzer harness for the msgpack readers (common/zhive_reader)

    zhive_msgpack_skip is checked against msgpack-c on every input. msgpack-c's
    unpacker allocates what a container header declares before it sees the
    items (5 bytes can ask for 100 GB), so the harness first runs msgpack-c's
    own parser, unpack_template.h, with callbacks that allocate nothing: it
    says how many bytes msgpack-c consumes, whether it fails, and the largest
    container count declared. msgpack_unpack itself is then run whenever those
    counts fit the input, and must agree with the template run. The rules:
      - msgpack-c succeeds within ZHIVE_DEPTH_MAX: skip returns what it consumed
      - msgpack-c finds it malformed, cut short or too deep: skip returns -1
    The cursor reads (int, uint, array, str_ref, str, str_alloc, skip) are
    checked against msgpack_unpack at the start of the input and at each item
    of a top-level array.
*/
#include "zhive_reader.h"
#include "zhive_pack.h"
#include <msgpack.h>
#include <msgpack/unpack_define.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  msgpack-c's parser with callbacks that allocate nothing

typedef struct {
    unsigned depth;    //  Levels of containers in the value (0 for a scalar)
} s_ref_object_t;

typedef struct {
    uint64_t max_count;    //  Largest count a container header declared
} s_ref_user_t;

#define S_SCALAR(name, arg_type)                                                                   \
    static int s_cb##name (s_ref_user_t *u, arg_type d, s_ref_object_t *o)                         \
    {                                                                                              \
        (void) u;                                                                                  \
        (void) d;                                                                                  \
        o->depth = 0;                                                                              \
        return 0;                                                                                  \
    }
S_SCALAR (_uint8, uint8_t)
S_SCALAR (_uint16, uint16_t)
S_SCALAR (_uint32, uint32_t)
S_SCALAR (_uint64, uint64_t)
S_SCALAR (_int8, int8_t)
S_SCALAR (_int16, int16_t)
S_SCALAR (_int32, int32_t)
S_SCALAR (_int64, int64_t)
S_SCALAR (_float, float)
S_SCALAR (_double, double)

static s_ref_object_t
s_cb_root (s_ref_user_t *u)
{
    (void) u;
    s_ref_object_t o = { 0 };
    return o;
}

static int
s_cb_simple (s_ref_user_t *u, s_ref_object_t *o)
{
    (void) u;
    o->depth = 0;
    return 0;
}
#define s_cb_nil   s_cb_simple
#define s_cb_true  s_cb_simple
#define s_cb_false s_cb_simple

static int
s_cb_container (s_ref_user_t *u, unsigned int n, s_ref_object_t *o)
{
    if (n > u->max_count)
        u->max_count = n;
    o->depth = 1;
    return 0;
}
#define s_cb_array s_cb_container
#define s_cb_map   s_cb_container

static int
s_cb_array_item (s_ref_user_t *u, s_ref_object_t *c, s_ref_object_t o)
{
    (void) u;
    if (o.depth + 1 > c->depth)
        c->depth = o.depth + 1;
    return 0;
}

static int
s_cb_map_item (s_ref_user_t *u, s_ref_object_t *c, s_ref_object_t k, s_ref_object_t v)
{
    s_cb_array_item (u, c, k);
    return s_cb_array_item (u, c, v);
}

static int
s_cb_raw (s_ref_user_t *u, const char *b, const char *p, unsigned int l, s_ref_object_t *o)
{
    (void) u;
    (void) b;
    (void) p;
    (void) l;
    o->depth = 0;
    return 0;
}
#define s_cb_str s_cb_raw
#define s_cb_bin s_cb_raw

//  As msgpack-c's own: an ext always has its type byte, so l == 0 can only
//  be ext 32's length + 1 wrapping around, which it refuses
static int
s_cb_ext (s_ref_user_t *u, const char *b, const char *p, unsigned int l, s_ref_object_t *o)
{
    return l == 0 ? MSGPACK_UNPACK_PARSE_ERROR : s_cb_raw (u, b, p, l, o);
}

#define msgpack_unpack_struct(name)    struct s_ref##name
#define msgpack_unpack_func(ret, name) static ret s_ref##name
#define msgpack_unpack_callback(name)  s_cb##name
#define msgpack_unpack_object          s_ref_object_t
#define msgpack_unpack_user            s_ref_user_t
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <msgpack/unpack_template.h>

typedef struct {
    int rc;                //  1 complete, 0 cut short, -1 malformed, -2 too deep
    size_t consumed;       //  Bytes of the value when complete
    unsigned depth;        //  Its levels of nesting
    uint64_t max_count;    //  Largest declared container count
} s_ref_t;

static s_ref_t
s_reference (const uint8_t *data, size_t size)
{
    struct s_ref_context ctx;
    memset (&ctx, 0, sizeof ctx);
    s_ref_init (&ctx);
    size_t off = 0;
    s_ref_t ref = { 0, 0, 0, 0 };
    ref.rc = s_ref_execute (&ctx, (const char *) data, size, &off);
    ref.max_count = ctx.user.max_count;
    if (ref.rc == 1) {
        ref.consumed = off;
        ref.depth = s_ref_data (&ctx).depth;
    }
    return ref;
}

//  ---------------------------------------------------------------------

static void
s_fail (const char *why, const uint8_t *data, size_t size)
{
    fprintf (stderr, "fuzz_reader: %s (%zu bytes, first 0x%02x)\n", why, size, size ? data [0] : 0);
    abort ();
}

static unsigned
s_depth (const msgpack_object *o)
{
    unsigned deepest = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            unsigned d = s_depth (&o->via.array.ptr [i]);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            unsigned k = s_depth (&o->via.map.ptr [i].key);
            unsigned v = s_depth (&o->via.map.ptr [i].val);
            deepest = k > deepest ? k : deepest;
            deepest = v > deepest ? v : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

//  Runs msgpack_unpack when what it would allocate is bounded by the input;
//  returns its result code, or 99 when it was not run
static int
s_unpack (const uint8_t *data, size_t size, const s_ref_t *ref, msgpack_zone *zone,
          msgpack_object *object, size_t *consumed)
{
    if (ref->max_count > size)
        return 99;
    msgpack_zone_clear (zone);
    *consumed = 0;
    int rc = msgpack_unpack ((const char *) data, size, consumed, zone, object);
    bool ok = rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES;
    //  The template run and msgpack_unpack are the same parser
    if (ok != (ref->rc == 1) || (ok && *consumed != ref->consumed))
        s_fail ("msgpack_unpack and its template disagree", data, size);
    if (ok && s_depth (object) != ref->depth)
        s_fail ("depth counted wrong", data, size);
    if (!ok && rc != MSGPACK_UNPACK_NOMEM_ERROR &&
        (rc == MSGPACK_UNPACK_CONTINUE) != (ref->rc == 0))
        s_fail ("msgpack_unpack and its template disagree on the failure", data, size);
    return ok ? 1 : rc;
}

//  zhive_msgpack_skip against msgpack-c
static ssize_t
s_check_skip (const uint8_t *data, size_t size, const s_ref_t *ref)
{
    ssize_t skip = zhive_msgpack_skip (data, size);
    if (skip > (ssize_t) size || skip == 0 || skip < -1)
        s_fail ("skip returned an impossible size", data, size);
    if (ref->rc == 1 && ref->depth <= ZHIVE_DEPTH_MAX && skip != (ssize_t) ref->consumed)
        s_fail ("skip differs from what msgpack-c consumes", data, size);
    if (ref->rc == 0 || ref->rc == -1)
        if (skip != -1)
            s_fail ("skip accepts what msgpack-c finds malformed or cut short", data, size);
    //  Too deep for msgpack-c's stack: too deep for zhive as well
    if (ref->rc == -2 && ZHIVE_DEPTH_MAX >= MSGPACK_EMBED_STACK_SIZE && skip != -1)
        s_fail ("skip accepts a value msgpack-c cannot unpack (too deep)", data, size);
    if (ref->rc == 1 && ref->depth > ZHIVE_DEPTH_MAX && skip != -1)
        s_fail ("skip accepts a value nested deeper than ZHIVE_DEPTH_MAX", data, size);
    return skip;
}

//  Every cursor read at data, against what msgpack-c makes of it
static void
s_check_cursor (const uint8_t *data, size_t size, msgpack_zone *zone)
{
    s_ref_t ref = s_reference (data, size);
    ssize_t skip = s_check_skip (data, size, &ref);
    msgpack_object o;
    size_t used = 0;
    int unpacked = s_unpack (data, size, &ref, zone, &o, &used);
    bool known = unpacked != 99;    //  o is valid when known && unpacked == 1
    bool whole = known && unpacked == 1;
    zhive_reader_t cur;

    //  zhive_reader_skip
    zhive_reader_init (&cur, data, size);
    int rc = zhive_reader_skip (&cur);
    if ((rc == 0) != (skip > 0) || (rc == 0 && cur.data != data + skip) ||
        (rc != 0 && cur.data != data))
        s_fail ("zhive_reader_skip disagrees with zhive_msgpack_skip", data, size);

    //  zhive_reader_int
    zhive_reader_init (&cur, data, size);
    int64_t value;
    bool big;
    rc = zhive_reader_int (&cur, &value, &big);
    if (cur.data > cur.end)
        s_fail ("int read past the end", data, size);
    if (known) {
        bool is_int = whole && (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                                o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
        if ((rc == 0) != is_int)
            s_fail ("zhive_reader_int disagrees on what is an integer", data, size);
        if (rc == 0 && (cur.data != data + used ||
                        (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER
                             ? o.via.u64 != (uint64_t) value || big != (o.via.u64 > INT64_MAX)
                             : o.via.i64 != value)))
            s_fail ("zhive_reader_int read another value", data, size);
    }

    //  zhive_reader_uint
    zhive_reader_init (&cur, data, size);
    uint64_t unsigned_value;
    rc = zhive_reader_uint (&cur, &unsigned_value);
    if (cur.data > cur.end)
        s_fail ("uint read past the end", data, size);
    if (known) {
        bool is_uint = whole && o.type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if ((rc == 0) != is_uint || (rc == 0 && o.via.u64 != unsigned_value))
            s_fail ("zhive_reader_uint disagrees", data, size);
    }

    //  zhive_reader_array and zhive_msgpack_array_header
    zhive_reader_init (&cur, data, size);
    size_t count = 0, header_count = 0;
    rc = zhive_reader_array (&cur, &count);
    size_t header = zhive_msgpack_array_header (data, size, &header_count);
    if ((rc == 0) != (header > 0) ||
        (rc == 0 && (count != header_count || cur.data != data + header)))
        s_fail ("zhive_reader_array disagrees with zhive_msgpack_array_header", data, size);
    if (whole && o.type == MSGPACK_OBJECT_ARRAY && (rc != 0 || count != o.via.array.size))
        s_fail ("zhive_reader_array misread an array", data, size);
    if (whole && o.type != MSGPACK_OBJECT_ARRAY && rc == 0)
        s_fail ("zhive_reader_array read an array header in something else", data, size);

    //  zhive_reader_str_ref, zhive_reader_str, zhive_reader_str_alloc
    zhive_reader_init (&cur, data, size);
    const char *ptr = NULL;
    size_t length = 0;
    rc = zhive_reader_str_ref (&cur, &ptr, &length);
    if (cur.data > cur.end)
        s_fail ("str read past the end", data, size);
    if (known) {
        bool is_str = whole && o.type == MSGPACK_OBJECT_STR;
        if ((rc == 0) != is_str)
            s_fail ("zhive_reader_str_ref disagrees on what is a str", data, size);
        if (rc == 0 && (length != o.via.str.size || cur.data != data + used ||
                        (length && memcmp (ptr, o.via.str.ptr, length))))
            s_fail ("zhive_reader_str_ref read another str", data, size);
    }
    bool fits = rc == 0 && !memchr (ptr, 0, length);
    char field [256];
    zhive_reader_init (&cur, data, size);
    rc = zhive_reader_str (&cur, field, sizeof field - 1);
    if ((rc == 0) != (fits && length <= sizeof field - 1) ||
        (rc == 0 && (strlen (field) != length || memcmp (field, ptr, length))))
        s_fail ("zhive_reader_str disagrees with zhive_reader_str_ref", data, size);
    char *copy = NULL;
    zhive_reader_init (&cur, data, size);
    rc = zhive_reader_str_alloc (&cur, &copy, 1000);
    if ((rc == 0) != (fits && length <= 1000) ||
        (rc == 0 && (strlen (copy) != length || memcmp (copy, ptr, length))))
        s_fail ("zhive_reader_str_alloc disagrees with zhive_reader_str_ref", data, size);
    free (copy);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    if (!zone)
        abort ();
    s_check_cursor (data, size, zone);
    //  The items of a top-level array, each where it starts
    zhive_reader_t cur;
    zhive_reader_init (&cur, data, size);
    size_t count;
    if (zhive_reader_array (&cur, &count) == 0)
        for (size_t i = 0; i < count && zhive_reader_left (&cur) > 0; i++) {
            s_check_cursor (cur.data, zhive_reader_left (&cur), zone);
            if (zhive_reader_skip (&cur))
                break;
        }
    msgpack_zone_free (zone);
    return 0;
}
