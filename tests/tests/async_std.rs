//! The driver scenarios on gun-io-async-std under async-std.
gun_tests::all_scenarios!(gun_tests::AsyncStd);
