//! Puts/s and latency between two peers over a WebRTC data channel, beside
//! the same two peers through a WebSocket relay, in one run on 127.0.0.1.
//!
//! Alice writes; Bob listens. Latency: one put at a time to `bench.l`, from
//! Alice's call to Bob's callback. Throughput: Alice writes `0..--puts` to
//! `bench.t` as fast as she can, and the run ends when Bob sees the last
//! value (or nothing for a second). The channel is Gun.js's (unordered, at
//! most 2 retransmits): what it drops under load is counted as not seen.
//!
//! All on gun-io-tokio (the `gun` relay's driver).
//!
//! Run: `cargo run --release --example webrtc_bench -- --puts 20000 --samples 1000`
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use gun_io_tokio::{Gun, GunError, GunOptions};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Puts in the throughput run.
    #[arg(long, default_value_t = 20_000)]
    puts: usize,
    /// Puts timed one at a time.
    #[arg(long, default_value_t = 1_000)]
    samples: usize,
    /// Send on Gun.js's channel (unordered, at most 2 retransmits) instead
    /// of our default (reliable, ordered).
    #[arg(long)]
    gunjs_channel: bool,
}

async fn peer(url: &str, rtc: bool, gunjs_channel: bool) -> Result<Gun, GunError> {
    let mut opts = GunOptions::with_relay(url);
    if gunjs_channel {
        opts.webrtc.data_channel.ordered = Some(false);
        opts.webrtc.data_channel.max_retransmits = Some(2);
    }
    opts.webrtc.enabled = rtc;
    opts.webrtc.room = Some("bench".into());
    opts.webrtc.ice_servers.clear();
    opts.webrtc.bind = Some("127.0.0.1:0".parse().expect("an address"));
    Gun::without_keys(opts).await
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times `args` over one path: through the relay, or over the channel
/// with the relay stopped.
async fn run(args: &Args, rtc: bool) -> Result<(), GunError> {
    let relay = Gun::without_keys(GunOptions::relay_server(0)).await?;
    let addr = relay
        .local_addr()
        .ok_or_else(|| GunError::Io("relay not bound".into()))?;
    let url = format!("ws://{addr}/gun");
    let alice = peer(&url, rtc, args.gunjs_channel).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bob = peer(&url, rtc, args.gunjs_channel).await?;
    if !alice.wait_for_connection(5_000).await || !bob.wait_for_connection(5_000).await {
        return Err(GunError::Network("no relay".into()));
    }
    let path = if rtc {
        let deadline = Instant::now() + Duration::from_secs(20);
        while alice.webrtc_peers() == 0 || bob.webrtc_peers() == 0 {
            if Instant::now() > deadline {
                return Err(GunError::Network("no WebRTC connection".into()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        relay.shutdown().await?;
        "WebRTC data channel"
    } else {
        "WebSocket relay"
    };
    let (ltx, lrx) = mpsc::channel::<(serde_json::Value, Instant)>();
    bob.get("bench").get("l").on(move |v, _| {
        let _ = ltx.send((v, Instant::now()));
    });
    let (ttx, trx) = mpsc::channel::<(serde_json::Value, Instant)>();
    bob.get("bench").get("t").on(move |v, _| {
        let _ = ttx.send((v, Instant::now()));
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut lat = Vec::with_capacity(args.samples);
    let mut lost = 0;
    for i in 0..args.samples {
        let t0 = Instant::now();
        alice.get("bench").get("l").put(json!(i)).await?;
        loop {
            match lrx.recv_timeout(Duration::from_millis(500)) {
                Ok((v, at)) if v == json!(i) => {
                    lat.push(at - t0);
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    lat.sort();

    let t0 = Instant::now();
    for i in 0..args.puts {
        alice.get("bench").get("t").put(json!(i)).await?;
    }
    let last_value = json!(args.puts - 1);
    let (mut got, mut last, mut ended) = (0usize, t0, false);
    while let Ok((v, at)) = trx.recv_timeout(Duration::from_secs(1)) {
        got += 1;
        last = at;
        if v == last_value {
            ended = true;
            break;
        }
    }
    let secs = (last - t0).as_secs_f64().max(1e-9);
    println!(
        "{path:<20}  latency p50 {:>7.0} µs  p99 {:>7.0} µs  (lost {lost}/{})  |  {:>8.0} puts/s, {} of {} seen, the last {}",
        pct(&lat, 0.5).as_secs_f64() * 1e6,
        pct(&lat, 0.99).as_secs_f64() * 1e6,
        args.samples,
        args.puts as f64 / secs,
        got,
        args.puts,
        if ended { "seen" } else { "not seen" },
    );
    for g in [alice, bob] {
        g.shutdown().await?;
    }
    if !rtc {
        relay.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GunError> {
    let args = Args::parse();
    run(&args, false).await?;
    run(&args, true).await?;
    Ok(())
}
