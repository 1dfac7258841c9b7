# Old helpers of tests/test_worker.c -> the test kit (tests/testkit_*.h).
# For tests written against the old helpers: sed -E -i -f tests/testkit_rename_worker.sed tests/test_worker.c
# then clang-format -i tests/test_worker.c
s/\bs_broker_t\b/testkit_broker_t/g
s/\bs_broker_new_heartbeat\b/testkit_broker_new_heartbeat/g
s/\bs_broker_new\b/testkit_broker_new/g
s/\bs_broker_destroy\b/testkit_broker_destroy/g
s/\bs_recv\b/testkit_broker_recv/g
s/\bs_expect_ready\b/testkit_broker_expect_ready/g
s/\bs_expect_quiet\b/testkit_broker_expect_quiet/g
s/\bs_expect_done_int\b/testkit_broker_expect_done_int/g
s/\bs_expect_done\b/testkit_broker_expect_done/g
s/\bs_expect_failed\b/testkit_broker_expect_failed/g
s/\bs_expect\b/testkit_broker_expect/g
s/\bs_send_task_int_timeout\b/testkit_broker_send_task_int_timeout/g
s/\bs_send_task_int\b/testkit_broker_send_task_int/g
s/\bs_send_task_pack\b/testkit_broker_send_task_pack/g
s/\bs_send_task_timeout\b/testkit_broker_send_task_timeout/g
s/\bs_send_task\b/testkit_broker_send_task/g
s/\bs_send_command\b/testkit_broker_send/g
s/\bs_send_cancel\b/testkit_broker_send_cancel/g
s/\bs_send_raw\b/testkit_broker_send_raw/g
s/\bs_plugin \(\)/testkit_plugin ()/g
s/\bs_process_t\b/testkit_process_t/g
s/\bs_process_start_piped\b/testkit_process_start_piped/g
s/\bs_process_start\b/testkit_process_start/g
s/\bs_process_line\b/testkit_process_line/g
s/\bs_process_wait\b/testkit_process_wait/g
s/\bs_process_stop\b/testkit_process_stop/g
s/\bs_process_output\b/testkit_process_output/g
s/\bs_run_program\b/testkit_process_run/g
s/\bs_pipe\b/testkit_pipe/g
s/\bS_STDOUT\b/TESTKIT_STDOUT/g
s/\bS_STDERR\b/TESTKIT_STDERR/g
