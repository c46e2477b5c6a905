//! The driver scenarios on gun-io-tokio.
gun_tests::all_scenarios!(gun_tests::Tokio::new());
