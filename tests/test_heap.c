/*  test_heap - the deadline heap against a brute-force model */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "zhive_heap.h"

typedef struct {
    int id;                    //  Which item
    zhive_heap_node_t node;    //  In the heap under test
} item_t;

static void
test_order_and_remove (void **state)
{
    (void) state;
    zhive_heap_t heap;
    zhive_heap_init (&heap);
    assert_null (zhive_heap_top (&heap));
    item_t items [5];
    int64_t keys [5] = { 50, 10, 40, 10, 30 };
    for (int i = 0; i < 5; i++) {
        items [i].id = i;
        zhive_heap_node_init (&items [i].node);
        assert_false (zhive_heap_node_queued (&items [i].node));
        items [i].node.key = keys [i];
        assert_int_equal (zhive_heap_push (&heap, &items [i].node), 0);
        assert_true (zhive_heap_node_queued (&items [i].node));
    }
    assert_int_equal (zhive_heap_size (&heap), 5);
    assert_int_equal (zhive_heap_top (&heap)->key, 10);
    //  Take out one in the middle, then re-key one to the front
    zhive_heap_remove (&heap, &items [2].node);
    assert_false (zhive_heap_node_queued (&items [2].node));
    zhive_heap_update (&heap, &items [0].node, 5);
    assert_ptr_equal (ZHIVE_HEAP_ITEM (zhive_heap_top (&heap), item_t, node), &items [0]);
    int64_t expect [] = { 5, 10, 10, 30 };
    for (int i = 0; i < 4; i++) {
        zhive_heap_node_t *top = zhive_heap_top (&heap);
        assert_int_equal (top->key, expect [i]);
        zhive_heap_remove (&heap, top);
    }
    assert_null (zhive_heap_top (&heap));
    zhive_heap_fini (&heap);
}

static void
test_fini_unqueues (void **state)
{
    (void) state;
    zhive_heap_t heap;
    zhive_heap_init (&heap);
    item_t items [100];
    for (int i = 0; i < 100; i++) {
        zhive_heap_node_init (&items [i].node);
        items [i].node.key = 100 - i;
        assert_int_equal (zhive_heap_push (&heap, &items [i].node), 0);
    }
    zhive_heap_fini (&heap);
    for (int i = 0; i < 100; i++)
        assert_false (zhive_heap_node_queued (&items [i].node));
    assert_int_equal (zhive_heap_size (&heap), 0);
    zhive_heap_fini (&heap);    //  Twice is fine
}

//  Random pushes, removals, re-keys and pops against a linear scan
static void
test_against_model (void **state)
{
    (void) state;
    enum { N = 300, STEPS = 30000 };
    static item_t items [N];
    zhive_heap_t heap;
    zhive_heap_init (&heap);
    for (int i = 0; i < N; i++) {
        items [i].id = i;
        zhive_heap_node_init (&items [i].node);
    }
    srand (11);
    size_t queued = 0;
    for (int step = 0; step < STEPS; step++) {
        int i = rand () % N;
        item_t *item = &items [i];
        int op = rand () % 4;
        if (!zhive_heap_node_queued (&item->node)) {
            item->node.key = rand () % 1000;
            assert_int_equal (zhive_heap_push (&heap, &item->node), 0);
            queued++;
        }
        else if (op == 0) {
            zhive_heap_remove (&heap, &item->node);
            queued--;
        }
        else if (op == 1)
            zhive_heap_update (&heap, &item->node, rand () % 1000);
        else if (op == 2) {
            //  Pop: the top must hold the smallest key of all queued
            int64_t least = INT64_MAX;
            for (int k = 0; k < N; k++)
                if (zhive_heap_node_queued (&items [k].node) && items [k].node.key < least)
                    least = items [k].node.key;
            zhive_heap_node_t *top = zhive_heap_top (&heap);
            assert_non_null (top);
            assert_int_equal (top->key, least);
            zhive_heap_remove (&heap, top);
            queued--;
        }
        assert_int_equal (zhive_heap_size (&heap), queued);
        //  Every node knows its place
        for (size_t k = 0; k < heap.size; k++)
            assert_int_equal (heap.nodes [k]->index, k);
    }
    //  Drained in order
    int64_t last = -1;
    zhive_heap_node_t *top;
    while ((top = zhive_heap_top (&heap))) {
        assert_true (top->key >= last);
        last = top->key;
        zhive_heap_remove (&heap, top);
    }
    zhive_heap_fini (&heap);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_order_and_remove),
        cmocka_unit_test (test_fini_unqueues),
        cmocka_unit_test (test_against_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
