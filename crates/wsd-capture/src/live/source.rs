//! [`LiveSource`]: packets from a network interface.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, warn};

use super::ffi::{Handle, NextStatus};
use super::{dlt_to_linktype, Libpcap, LiveError};
use crate::{Packet, PacketSource, Timestamp};

/// Settings of a live capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface to capture on.
    pub device: String,
    /// Bytes captured per packet at most.
    pub snaplen: u32,
    /// Put the interface into promiscuous mode.
    pub promiscuous: bool,
    /// Kernel capture buffer size in bytes; `None` keeps libpcap's default.
    pub buffer_size: Option<u32>,
    /// How long one read waits for packets before [`LiveSource::next_event`]
    /// returns [`LiveEvent::Idle`].
    pub read_timeout: Duration,
    /// BPF filter expression, if any.
    pub filter: Option<String>,
}

impl LiveConfig {
    /// Snapshot length that keeps every header the decoder reads for flow records.
    ///
    /// The deepest stack expected in practice takes about 280 bytes: Ethernet with
    /// two VLAN tags (22), outer IPv6 with extension headers (up to about 100), GRE
    /// with ERSPAN type III and its inner Ethernet and VLAN (about 50), inner IPv6
    /// (40 or more) and TCP with 40 bytes of options (60). 512 leaves room for a
    /// second tunnel level. Deeper stacks lose their innermost headers and count as
    /// truncated packets.
    pub const DEFAULT_SNAPLEN: u32 = 512;

    /// Read timeout: the delay after which a quiet link still lets flows time out
    /// and a stop request take effect.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_millis(250);

    /// Creates the default settings for `device`: the default snapshot length,
    /// promiscuous mode, libpcap's buffer size and no filter.
    pub fn new(device: impl Into<String>) -> LiveConfig {
        LiveConfig {
            device: device.into(),
            snaplen: LiveConfig::DEFAULT_SNAPLEN,
            promiscuous: true,
            buffer_size: None,
            read_timeout: LiveConfig::DEFAULT_READ_TIMEOUT,
            filter: None,
        }
    }
}

/// Result of one [`LiveSource::next_event`] call.
#[derive(Debug)]
pub enum LiveEvent<'a> {
    /// A captured packet.
    Packet(Packet<'a>),
    /// The read timeout passed with no packet. The value is the current time on the
    /// capture clock, to advance flow timeouts with.
    Idle(Timestamp),
    /// The capture ended: a stop was requested.
    End,
}

/// Counters of `pcap_stats` since the capture started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the kernel passed the filter (on Linux: before the drops below).
    pub received: u64,
    /// Packets the kernel dropped because the capture buffer was full.
    pub dropped: u64,
    /// Packets the interface or its driver dropped, if the system reports them.
    pub interface_dropped: u64,
}

/// Packets captured live from a network interface through libpcap.
///
/// [`LiveSource::next_event`] waits at most the read timeout, so that a caller can
/// advance flow timeouts and notice a stop request while the link is quiet. The
/// [`PacketSource`] implementation waits for the next packet instead and returns
/// the end of the input once [`LiveSource::stop_flag`] is set.
pub struct LiveSource {
    handle: Handle,
    device: String,
    linktype: u32,
    nanosecond_timestamps: bool,
    /// The latest packet's capture time and when it arrived, to map the wall clock
    /// onto the capture clock.
    latest: Option<(Timestamp, Instant)>,
    stop: Arc<AtomicBool>,
    /// The system time when the stop flag was first seen, and the moment
    /// after which reading the packets captured before it gives up.
    draining: Option<(Timestamp, Instant)>,
}

/// How long the packets captured before a stop request may take to read.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("device", &self.device)
            .field("linktype", &self.linktype)
            .finish()
    }
}

impl LiveSource {
    /// Opens `config.device` for capture and installs the filter.
    ///
    /// An invalid filter fails with [`LiveError::InvalidFilter`]; anything else
    /// libpcap rejects, such as a missing interface or missing privileges, fails
    /// with [`LiveError::Open`].
    pub fn open(libpcap: &Libpcap, config: &LiveConfig) -> Result<LiveSource, LiveError> {
        let device = config.device.clone();
        let open_error = |message: String| LiveError::Open {
            device: device.clone(),
            message,
        };

        let mut handle = Handle::create(&libpcap.library, &device).map_err(open_error)?;
        let snaplen = c_int::try_from(config.snaplen).unwrap_or(c_int::MAX);
        handle.set_snaplen(snaplen).map_err(open_error)?;
        handle.set_promisc(config.promiscuous).map_err(open_error)?;
        let timeout = c_int::try_from(config.read_timeout.as_millis())
            .unwrap_or(c_int::MAX)
            .max(1);
        handle.set_timeout(timeout).map_err(open_error)?;
        if let Some(bytes) = config.buffer_size {
            let bytes = c_int::try_from(bytes).unwrap_or(c_int::MAX);
            handle.set_buffer_size(bytes).map_err(open_error)?;
        }
        let nanosecond_timestamps = handle.set_nanosecond_precision();

        match handle.activate() {
            Ok(None) => {}
            Ok(Some(warning)) => warn!(device = %device, "libpcap warning: {warning}"),
            Err((_, message)) => return Err(open_error(message)),
        }

        handle.wait_with_poll(timeout).map_err(open_error)?;
        if let Some(expression) = &config.filter {
            let mut program =
                handle
                    .compile(expression)
                    .map_err(|message| LiveError::InvalidFilter {
                        expression: expression.clone(),
                        message,
                    })?;
            handle.set_filter(&mut program).map_err(open_error)?;
        }
        let linktype = dlt_to_linktype(u32::try_from(handle.datalink()).unwrap_or(0));
        debug!(device = %device, linktype, nanosecond_timestamps, "capture started");
        Ok(LiveSource {
            handle,
            device,
            linktype,
            nanosecond_timestamps,
            latest: None,
            stop: Arc::new(AtomicBool::new(false)),
            draining: None,
        })
    }

    /// Returns the interface name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Returns the link type of the packets, as a `LINKTYPE_*` number.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Returns the flag that ends the capture: once it is set,
    /// [`LiveSource::next_event`] and [`PacketSource::next_packet`] return the
    /// packets captured before, for at most a second, then the end of the
    /// input. A signal handler may set it.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Uses `flag` as the stop flag instead of the source's own.
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = flag;
    }

    /// Waits up to the read timeout for the next packet.
    pub fn next_event(&mut self) -> Result<LiveEvent<'_>, LiveError> {
        // After a stop request, the packets that the kernel and libpcap already
        // hold are still read, up to the first one captured after the request
        // or the first read that finds none, for at most DRAIN_LIMIT.
        if self.draining.is_none() && self.stop.load(Ordering::Relaxed) {
            self.draining = Some((system_time(), Instant::now() + DRAIN_LIMIT));
        }
        if self
            .draining
            .is_some_and(|(_, give_up)| Instant::now() >= give_up)
        {
            return Ok(LiveEvent::End);
        }
        let status = self.handle.next().map_err(|message| LiveError::Read {
            device: self.device.clone(),
            message,
        })?;
        match status {
            NextStatus::Packet => {}
            NextStatus::Timeout if self.draining.is_some() => return Ok(LiveEvent::End),
            NextStatus::Timeout => return Ok(LiveEvent::Idle(self.capture_clock())),
            NextStatus::End => return Ok(LiveEvent::End),
        }
        let Some(raw) = self.handle.current_packet() else {
            return Ok(LiveEvent::Idle(self.capture_clock()));
        };
        let fraction = if self.nanosecond_timestamps {
            raw.fraction
        } else {
            raw.fraction.saturating_mul(1000)
        };
        let ts = Timestamp::from_parts(raw.secs, fraction);
        if self.draining.is_some_and(|(requested, _)| ts > requested) {
            return Ok(LiveEvent::End);
        }
        self.latest = Some((ts, Instant::now()));
        Ok(LiveEvent::Packet(Packet {
            ts,
            linktype: self.linktype,
            data: raw.data,
            orig_len: raw.orig_len,
        }))
    }

    /// Returns the current time on the capture clock: the latest packet's time plus
    /// the time elapsed since it arrived, or the system clock before any packet.
    ///
    /// Packet times come from the kernel's clock, which is the system clock, so the
    /// two agree. Counting from the latest packet keeps the result consistent with
    /// packet times even if the system clock is stepped.
    pub fn capture_clock(&self) -> Timestamp {
        match self.latest {
            Some((ts, arrived)) => {
                let elapsed = i64::try_from(arrived.elapsed().as_nanos()).unwrap_or(i64::MAX);
                ts.add_nanos(elapsed)
            }
            None => system_time(),
        }
    }

    /// Reads the kernel's and the interface's drop counters.
    pub fn stats(&mut self) -> Result<CaptureStats, LiveError> {
        let raw = self.handle.stats().map_err(|message| LiveError::Read {
            device: self.device.clone(),
            message,
        })?;
        Ok(CaptureStats {
            received: u64::from(raw.received),
            dropped: u64::from(raw.dropped),
            interface_dropped: u64::from(raw.interface_dropped),
        })
    }
}

impl PacketSource for LiveSource {
    type Error = LiveError;

    /// Waits for the next packet. Returns `Ok(None)` once the stop flag is set
    /// and the packets captured before it are read.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, LiveError> {
        // Each read timeout ends one call of `next_event`, so the loop only checks
        // the stop flag again. The packet is fetched by a second call because a
        // borrow returned from inside a loop would outlive the iteration.
        loop {
            match self.next_event()? {
                LiveEvent::Packet(_) => break,
                LiveEvent::Idle(_) => continue,
                LiveEvent::End => return Ok(None),
            }
        }
        Ok(self.current_packet())
    }
}

impl LiveSource {
    /// Returns the packet of the latest [`LiveEvent::Packet`] again.
    fn current_packet(&self) -> Option<Packet<'_>> {
        let (ts, _) = self.latest?;
        let raw = self.handle.current_packet()?;
        Some(Packet {
            ts,
            linktype: self.linktype,
            data: raw.data,
            orig_len: raw.orig_len,
        })
    }
}

fn system_time() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => Timestamp::from_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)),
        Err(_) => Timestamp::ZERO,
    }
}
