//! The driver scenarios on gun-io-blocking (OS threads).
gun_tests::all_scenarios!(gun_tests::Blocking);
