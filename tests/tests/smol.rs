//! The driver scenarios on gun-io-async-std under smol.
gun_tests::all_scenarios!(gun_tests::Smol);
