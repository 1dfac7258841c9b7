/*  test_list - the intrusive list against an array model */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include "zhive_list.h"

typedef struct {
    int value;            //  What the model compares
    zhive_link_t link;    //  In the list under test
} item_t;

static int
s_value (zhive_link_t *link)
{
    return ZHIVE_LIST_ITEM (link, item_t, link)->value;
}

static void
test_push_remove_order (void **state)
{
    (void) state;
    zhive_list_t list;
    zhive_list_init (&list);
    assert_true (zhive_list_empty (&list));
    assert_null (zhive_list_first (&list));
    assert_null (zhive_list_last (&list));
    assert_null (zhive_list_pop_front (&list));
    item_t items [4];
    for (int i = 0; i < 4; i++) {
        items [i].value = i;
        zhive_link_init (&items [i].link);
        assert_false (zhive_link_listed (&items [i].link));
    }
    zhive_list_push_back (&list, &items [1].link);
    zhive_list_push_back (&list, &items [2].link);
    zhive_list_push_front (&list, &items [0].link);
    zhive_list_push_back (&list, &items [3].link);
    assert_int_equal (zhive_list_size (&list), 4);
    int expect = 0;
    for (zhive_link_t *l = zhive_list_first (&list); l; l = zhive_list_next (&list, l))
        assert_int_equal (s_value (l), expect++);
    assert_int_equal (expect, 4);
    for (zhive_link_t *l = zhive_list_last (&list); l; l = zhive_list_prev (&list, l))
        assert_int_equal (s_value (l), --expect);
    //  Remove from the middle, the head and the tail
    zhive_list_remove (&list, &items [2].link);
    assert_false (zhive_link_listed (&items [2].link));
    assert_int_equal (s_value (zhive_list_pop_front (&list)), 0);
    zhive_list_remove (&list, &items [3].link);
    assert_int_equal (zhive_list_size (&list), 1);
    assert_ptr_equal (zhive_list_first (&list), zhive_list_last (&list));
    assert_int_equal (s_value (zhive_list_first (&list)), 1);
    zhive_list_remove (&list, &items [1].link);
    assert_true (zhive_list_empty (&list));
    assert_null (zhive_list_first (&list));
}

//  Removing the current link while walking, as every user of the list
//  does when it drains one
static void
test_remove_while_walking (void **state)
{
    (void) state;
    zhive_list_t list;
    zhive_list_init (&list);
    item_t items [10];
    for (int i = 0; i < 10; i++) {
        items [i].value = i;
        zhive_list_push_back (&list, &items [i].link);
    }
    zhive_link_t *l = zhive_list_first (&list);
    while (l) {
        zhive_link_t *next = zhive_list_next (&list, l);
        if (s_value (l) % 2 == 0)
            zhive_list_remove (&list, l);
        l = next;
    }
    assert_int_equal (zhive_list_size (&list), 5);
    int expect = 1;
    for (l = zhive_list_first (&list); l; l = zhive_list_next (&list, l), expect += 2)
        assert_int_equal (s_value (l), expect);
}

static void
test_splice_front (void **state)
{
    (void) state;
    zhive_list_t queue, held, empty;
    zhive_list_init (&queue);
    zhive_list_init (&held);
    zhive_list_init (&empty);
    item_t items [6];
    for (int i = 0; i < 6; i++)
        items [i].value = i;
    for (int i = 3; i < 6; i++)
        zhive_list_push_back (&queue, &items [i].link);
    for (int i = 0; i < 3; i++)
        zhive_list_push_back (&held, &items [i].link);
    zhive_list_splice_front (&queue, &empty);    //  Nothing to move
    assert_int_equal (zhive_list_size (&queue), 3);
    zhive_list_splice_front (&queue, &held);
    assert_true (zhive_list_empty (&held));
    assert_null (zhive_list_first (&held));
    assert_int_equal (zhive_list_size (&queue), 6);
    int expect = 0;
    for (zhive_link_t *l = zhive_list_first (&queue); l; l = zhive_list_next (&queue, l))
        assert_int_equal (s_value (l), expect++);
    assert_int_equal (s_value (zhive_list_last (&queue)), 5);
    //  Into an empty list
    zhive_list_splice_front (&empty, &queue);
    assert_int_equal (zhive_list_size (&empty), 6);
    assert_int_equal (s_value (zhive_list_first (&empty)), 0);
    assert_int_equal (s_value (zhive_list_last (&empty)), 5);
}

//  Random pushes and removals against an array model
static void
test_against_model (void **state)
{
    (void) state;
    enum { N = 200, STEPS = 20000 };
    static item_t items [N];
    int model [N];    //  Values in list order
    int model_size = 0;
    zhive_list_t list;
    zhive_list_init (&list);
    for (int i = 0; i < N; i++) {
        items [i].value = i;
        zhive_link_init (&items [i].link);
    }
    srand (7);
    for (int step = 0; step < STEPS; step++) {
        int i = rand () % N;
        if (!zhive_link_listed (&items [i].link)) {
            if (rand () % 2) {
                zhive_list_push_back (&list, &items [i].link);
                model [model_size++] = i;
            }
            else {
                zhive_list_push_front (&list, &items [i].link);
                for (int k = model_size; k > 0; k--)
                    model [k] = model [k - 1];
                model [0] = i;
                model_size++;
            }
        }
        else {
            zhive_list_remove (&list, &items [i].link);
            int k = 0;
            while (model [k] != i)
                k++;
            for (; k < model_size - 1; k++)
                model [k] = model [k + 1];
            model_size--;
        }
        assert_int_equal (zhive_list_size (&list), model_size);
        if (step % 97 == 0) {
            int k = 0;
            for (zhive_link_t *l = zhive_list_first (&list); l; l = zhive_list_next (&list, l))
                assert_int_equal (s_value (l), model [k++]);
            assert_int_equal (k, model_size);
        }
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_push_remove_order),
        cmocka_unit_test (test_remove_while_walking),
        cmocka_unit_test (test_splice_front),
        cmocka_unit_test (test_against_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
