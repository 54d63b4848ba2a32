//! Live capture and BPF filtering through libpcap, loaded at run time.
//!
//! The workspace builds without libpcap, and file reading never needs it. Only live
//! capture and filter expressions do: [`Libpcap::load`] finds the shared library
//! when they are first used and fails with a [`LiveError`] that names the package
//! to install.

mod device;
mod filter;
mod source;

#[allow(unsafe_code)]
mod ffi;

use std::sync::Arc;

pub use device::{select_device, Device};
pub use filter::PacketFilter;
pub use source::{CaptureStats, LiveConfig, LiveEvent, LiveSource};

/// The library names tried in turn by [`Libpcap::load`]: the soname of libpcap on
/// Fedora and most other systems, then the one Debian and Ubuntu use.
pub const LIBPCAP_NAMES: [&str; 2] = ["libpcap.so.1", "libpcap.so.0.8"];

/// Advice appended to the errors about a missing libpcap.
const INSTALL_HINT: &str =
    "install the libpcap0.8 package (Debian, Ubuntu) or the libpcap package (Fedora)";

/// A loaded libpcap, shared by the sources and filters made from it.
#[derive(Clone)]
pub struct Libpcap {
    library: Arc<ffi::Library>,
}

impl std::fmt::Debug for Libpcap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libpcap")
            .field("name", &self.library.name())
            .finish()
    }
}

impl Libpcap {
    /// Loads libpcap under one of the [`LIBPCAP_NAMES`].
    pub fn load() -> Result<Libpcap, LiveError> {
        Libpcap::load_from(&LIBPCAP_NAMES)
    }

    /// Loads the first of `names` that the dynamic linker finds and that exports
    /// every function this crate calls.
    pub fn load_from(names: &[&str]) -> Result<Libpcap, LiveError> {
        match ffi::Library::load(names) {
            Ok(library) => Ok(Libpcap { library }),
            Err(ffi::LoadError::NotFound(message)) => Err(LiveError::LibraryNotFound {
                tried: names.join(", "),
                message,
            }),
            Err(ffi::LoadError::MissingSymbol {
                library,
                symbol,
                message,
            }) => Err(LiveError::MissingSymbol {
                library,
                symbol,
                message,
            }),
        }
    }

    /// Returns the file name the library was loaded under.
    pub fn name(&self) -> &str {
        self.library.name()
    }

    /// Returns libpcap's version string (`pcap_lib_version`).
    pub fn version(&self) -> String {
        self.library.version()
    }

    /// Lists the capture devices (`pcap_findalldevs`).
    pub fn devices(&self) -> Result<Vec<Device>, LiveError> {
        let devices = self
            .library
            .find_all_devices()
            .map_err(|message| LiveError::Devices { message })?;
        Ok(devices
            .into_iter()
            .map(|raw| Device {
                name: raw.name,
                description: raw.description,
                loopback: raw.loopback,
                up: raw.up,
                running: raw.running,
            })
            .collect())
    }
}

/// An error of live capture or of packet filtering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// No libpcap could be loaded.
    #[error("cannot load libpcap (tried {tried}): {message}; {INSTALL_HINT}")]
    LibraryNotFound {
        /// The library names tried, comma-separated.
        tried: String,
        /// The dynamic linker's message for the last name.
        message: String,
    },

    /// A library loaded but lacks a function this crate calls.
    #[error("{library} is not a usable libpcap: {symbol} not found ({message}); {INSTALL_HINT}")]
    MissingSymbol {
        /// The library file name.
        library: String,
        /// The missing function.
        symbol: &'static str,
        /// The dynamic linker's message.
        message: String,
    },

    /// `pcap_findalldevs` failed.
    #[error("cannot list the capture interfaces: {message}")]
    Devices {
        /// libpcap's message.
        message: String,
    },

    /// No interface qualifies for capture without `-i`.
    #[error(
        "no interface to capture on: none is up apart from loopback and the \"any\" \
         pseudo-device; choose one with -i"
    )]
    NoDevice,

    /// The interface could not be opened for capture.
    #[error("cannot capture on {device}: {message}")]
    Open {
        /// The interface.
        device: String,
        /// libpcap's message.
        message: String,
    },

    /// The filter expression does not compile.
    #[error("invalid filter expression \"{expression}\": {message}")]
    InvalidFilter {
        /// The expression as given.
        expression: String,
        /// libpcap's message.
        message: String,
    },

    /// Reading packets or counters failed after the capture started.
    #[error("capture on {device} failed: {message}")]
    Read {
        /// The interface.
        device: String,
        /// libpcap's message.
        message: String,
    },
}

impl LiveError {
    /// Returns true when the command line is at fault: an invalid filter expression.
    pub fn is_usage_error(&self) -> bool {
        matches!(self, LiveError::InvalidFilter { .. })
    }
}

/// `DLT_RAW` as Linux and most systems define it; OpenBSD uses 14. pcap files store
/// `LINKTYPE_RAW` (101) for the same link type.
const DLT_RAW: u32 = 12;
const DLT_RAW_OPENBSD: u32 = 14;
const LINKTYPE_RAW: u32 = 101;

/// Converts a `DLT_*` value of a live handle to the `LINKTYPE_*` number that
/// [`Packet::linktype`](crate::Packet::linktype) carries. The two agree except for
/// a few values that differ between systems, of which raw IP is the one Linux uses.
fn dlt_to_linktype(dlt: u32) -> u32 {
    match dlt {
        DLT_RAW | DLT_RAW_OPENBSD => LINKTYPE_RAW,
        other => other,
    }
}

/// Converts a file's `LINKTYPE_*` number to the `DLT_*` value `pcap_open_dead`
/// expects.
fn linktype_to_dlt(linktype: u32) -> u32 {
    match linktype {
        LINKTYPE_RAW => DLT_RAW,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ip_linktype_mapped() {
        assert_eq!(dlt_to_linktype(12), 101);
        assert_eq!(dlt_to_linktype(14), 101);
        assert_eq!(linktype_to_dlt(101), 12);
        assert_eq!(dlt_to_linktype(1), 1);
        assert_eq!(linktype_to_dlt(113), 113);
    }

    #[test]
    fn missing_library_names_package() {
        let err = Libpcap::load_from(&["libpcap-not-installed.so.9"]).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, LiveError::LibraryNotFound { .. }),
            "{message}"
        );
        assert!(message.contains("libpcap-not-installed.so.9"), "{message}");
        assert!(message.contains("libpcap0.8"), "{message}");
        assert!(!err.is_usage_error());
    }
}
