# Old helpers of tests/test_broker.c -> the test kit (tests/testkit_*.h).
# For tests written against the old helpers: sed -E -i -f tests/testkit_rename_broker.sed tests/test_broker.c
# then clang-format -i tests/test_broker.c
s/\bs_fixture_t\b/testkit_pool_t/g
s/\bs_client \(fixture\)/testkit_pool_fake_client (fixture)/g
s/\bs_worker \(fixture\)/testkit_pool_fake_worker (fixture)/g
s/\bs_client_with_id \(fixture, /testkit_peer_new_id (zhive_broker_clients_endpoint (fixture->broker), /g
s/\bs_send_simple\b/testkit_peer_send/g
s/\bs_submit\b/testkit_peer_submit/g
s/\bs_ready_max\b/testkit_peer_ready_max/g
s/\bs_ready\b/testkit_peer_ready/g
s/\bs_done\b/testkit_peer_done/g
s/\bs_failed\b/testkit_peer_failed/g
s/\bs_expect_quiet\b/testkit_peer_expect_quiet/g
s/\bs_expect_task\b/testkit_peer_expect_task/g
s/\bs_expect_cancel\b/testkit_peer_expect_cancel/g
s/\bs_expect_result\b/testkit_peer_expect_result/g
s/\bs_expect_error\b/testkit_peer_expect_error/g
s/\bs_expect\b/testkit_peer_expect/g
s/\bs_wait_workers\b/testkit_pool_wait_workers/g
s/\bs_status_destroy\b/testkit_peer_status_destroy/g
s/\bs_status\b/testkit_peer_status/g
s/\bs_field_int\b/testkit_field_int/g
s/\bs_field_is\b/testkit_field_is/g
s/\bs_process_end \(([a-z_]+)\)/testkit_reap (\1, SIGKILL, S_TIMEOUT)/g
