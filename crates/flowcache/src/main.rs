//! `flowcache`: inspect wirespy flow-cache files.

fn main() {
    // TODO: read and print flow-cache files once the cache format exists.
    eprintln!("flowcache: the flow-cache format is not implemented yet");
    std::process::exit(2);
}
