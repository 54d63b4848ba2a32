//! Prints an input of the `tracker` target as its settings and packets, with each
//! frame in hex and its decoded layers, for turning a crash into a regression test.
//!
//! Usage: `show_script FILE`.

use std::error::Error;
use std::fs;

use wirespy_fuzz::script::Script;
use wsd_decode::{decode, linktype};

fn main() -> Result<(), Box<dyn Error>> {
    let Some(path) = std::env::args_os().nth(1) else {
        return Err("usage: show_script FILE".into());
    };
    let bytes = fs::read(&path)?;
    let Some(script) = Script::parse(&bytes) else {
        return Err(format!(
            "{} bytes are too few for a script (at least 2)",
            bytes.len()
        )
        .into());
    };
    println!("config: {:?}", script.config);
    println!(
        "the restored run snapshots before packet {} of {}",
        script.split,
        script.packets.len()
    );
    for (index, (ts, frame)) in script.packets.iter().enumerate() {
        let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
        println!("packet {index} at {ts} ({} ns), frame {hex}", ts.as_nanos());
        let decoded = decode(linktype::ETHERNET, frame);
        println!("  ip {:?}", decoded.ip);
        println!("  transport {:?}", decoded.transport);
        if let Some(stop) = decoded.stop {
            println!("  stopped: {stop:?}");
        }
    }
    Ok(())
}
