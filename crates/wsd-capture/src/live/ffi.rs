//! Bindings to the libpcap functions that live capture and packet filtering use,
//! resolved at run time with `libloading`.
//!
//! This is the only module of the workspace that may use `unsafe`. Everything it
//! exports is safe: each type owns its libpcap object, frees it on drop and keeps
//! the library loaded through an [`Arc`] for as long as the object lives. The
//! declarations follow `pcap/pcap.h` and `pcap/bpf.h` of libpcap 1.10 on Linux,
//! where `time_t` and `suseconds_t` are both `long`.

use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr, CString};
use std::ptr;
use std::sync::Arc;

/// `PCAP_ERRBUF_SIZE`: the size of the error buffers libpcap fills.
const ERRBUF_SIZE: usize = 256;

/// `PCAP_IF_LOOPBACK`, `PCAP_IF_UP` and `PCAP_IF_RUNNING` in `pcap_if_t::flags`.
const IF_LOOPBACK: u32 = 0x1;
const IF_UP: u32 = 0x2;
const IF_RUNNING: u32 = 0x4;

/// `PCAP_TSTAMP_PRECISION_NANO`.
const TSTAMP_PRECISION_NANO: c_int = 1;

/// `PCAP_NETMASK_UNKNOWN`: the netmask given to `pcap_compile` when none is known,
/// which only matters to the `ip broadcast` primitive.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

/// `pcap_t`, opaque.
#[repr(C)]
struct PcapT {
    _opaque: [u8; 0],
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut c_void,
}

/// `struct timeval` on Linux.
#[repr(C)]
#[derive(Clone, Copy)]
struct Timeval {
    tv_sec: c_long,
    tv_usec: c_long,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
#[derive(Clone, Copy)]
struct PktHdr {
    ts: Timeval,
    caplen: u32,
    len: u32,
}

/// `struct pcap_stat`.
#[repr(C)]
#[derive(Default)]
struct PcapStat {
    ps_recv: c_uint,
    ps_drop: c_uint,
    ps_ifdrop: c_uint,
}

/// `struct pcap_if` (`pcap_if_t`).
#[repr(C)]
struct PcapIf {
    next: *mut PcapIf,
    name: *mut c_char,
    description: *mut c_char,
    addresses: *mut c_void,
    flags: u32,
}

type CreateFn = unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut PcapT;
type SetIntFn = unsafe extern "C" fn(*mut PcapT, c_int) -> c_int;
type HandleFn = unsafe extern "C" fn(*mut PcapT) -> c_int;
type VoidHandleFn = unsafe extern "C" fn(*mut PcapT);
type GeterrFn = unsafe extern "C" fn(*mut PcapT) -> *mut c_char;
type StatusToStrFn = unsafe extern "C" fn(c_int) -> *const c_char;
type CompileFn =
    unsafe extern "C" fn(*mut PcapT, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type SetFilterFn = unsafe extern "C" fn(*mut PcapT, *mut BpfProgram) -> c_int;
type FreeCodeFn = unsafe extern "C" fn(*mut BpfProgram);
type NextExFn = unsafe extern "C" fn(*mut PcapT, *mut *mut PktHdr, *mut *const u8) -> c_int;
type StatsFn = unsafe extern "C" fn(*mut PcapT, *mut PcapStat) -> c_int;
type FindAllDevsFn = unsafe extern "C" fn(*mut *mut PcapIf, *mut c_char) -> c_int;
type FreeAllDevsFn = unsafe extern "C" fn(*mut PcapIf);
type OpenDeadFn = unsafe extern "C" fn(c_int, c_int) -> *mut PcapT;
type OfflineFilterFn = unsafe extern "C" fn(*const BpfProgram, *const PktHdr, *const u8) -> c_int;
type LibVersionFn = unsafe extern "C" fn() -> *const c_char;
type SetNonblockFn = unsafe extern "C" fn(*mut PcapT, c_int, *mut c_char) -> c_int;

/// `struct pollfd` of `poll.h`.
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

/// `POLLIN` of `poll.h`.
const POLLIN: i16 = 0x1;

extern "C" {
    /// `poll(2)` from the C library, which the Rust standard library links on Unix.
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: c_int) -> c_int;
}

/// The libpcap entry points, copied out of the loaded library.
struct Api {
    create: CreateFn,
    set_snaplen: SetIntFn,
    set_promisc: SetIntFn,
    set_timeout: SetIntFn,
    set_buffer_size: SetIntFn,
    /// Missing before libpcap 1.5, where timestamps are in microseconds only.
    set_tstamp_precision: Option<SetIntFn>,
    activate: HandleFn,
    datalink: HandleFn,
    geterr: GeterrFn,
    statustostr: StatusToStrFn,
    compile: CompileFn,
    setfilter: SetFilterFn,
    freecode: FreeCodeFn,
    next_ex: NextExFn,
    stats: StatsFn,
    close: VoidHandleFn,
    findalldevs: FindAllDevsFn,
    freealldevs: FreeAllDevsFn,
    open_dead: OpenDeadFn,
    offline_filter: OfflineFilterFn,
    lib_version: LibVersionFn,
    setnonblock: SetNonblockFn,
    get_selectable_fd: HandleFn,
}

/// A loaded libpcap.
pub(crate) struct Library {
    api: Api,
    name: String,
    /// Keeps the code behind `api` mapped; dropped last.
    _library: libloading::Library,
}

/// Failure to load libpcap.
pub(crate) enum LoadError {
    /// No name in the list could be loaded; the message of the last attempt.
    NotFound(String),
    /// A library loaded but lacks a function every supported libpcap has.
    MissingSymbol {
        library: String,
        symbol: &'static str,
        message: String,
    },
}

impl Library {
    /// Loads the first of `names` that the dynamic linker finds.
    pub(crate) fn load(names: &[&str]) -> Result<Arc<Library>, LoadError> {
        let mut last_error = String::from("no library name given");
        for name in names {
            // SAFETY: loading runs the library's initialisers. libpcap's have no
            // preconditions, and a library of another name that happens to load is
            // rejected below unless it exports every function this module calls.
            match unsafe { libloading::Library::new(*name) } {
                Ok(library) => return Library::resolve(library, name).map(Arc::new),
                Err(err) => last_error = error_chain(&err),
            }
        }
        Err(LoadError::NotFound(last_error))
    }

    fn resolve(library: libloading::Library, name: &str) -> Result<Library, LoadError> {
        macro_rules! symbol {
            ($symbol:literal) => {
                // SAFETY: the type written at each use is the prototype of the
                // function of that name in libpcap's pcap.h, and the pointer is only
                // called while `_library` keeps the code mapped.
                match unsafe { library.get(concat!($symbol, "\0").as_bytes()) } {
                    Ok(symbol) => *symbol,
                    Err(err) => {
                        return Err(LoadError::MissingSymbol {
                            library: name.to_string(),
                            symbol: $symbol,
                            message: error_chain(&err),
                        })
                    }
                }
            };
        }
        // SAFETY: as in `symbol!`; this one is optional because it is newer.
        let set_tstamp_precision: Option<SetIntFn> =
            unsafe { library.get::<SetIntFn>(b"pcap_set_tstamp_precision\0") }
                .ok()
                .map(|symbol| *symbol);
        let api = Api {
            create: symbol!("pcap_create"),
            set_snaplen: symbol!("pcap_set_snaplen"),
            set_promisc: symbol!("pcap_set_promisc"),
            set_timeout: symbol!("pcap_set_timeout"),
            set_buffer_size: symbol!("pcap_set_buffer_size"),
            set_tstamp_precision,
            activate: symbol!("pcap_activate"),
            datalink: symbol!("pcap_datalink"),
            geterr: symbol!("pcap_geterr"),
            statustostr: symbol!("pcap_statustostr"),
            compile: symbol!("pcap_compile"),
            setfilter: symbol!("pcap_setfilter"),
            freecode: symbol!("pcap_freecode"),
            next_ex: symbol!("pcap_next_ex"),
            stats: symbol!("pcap_stats"),
            close: symbol!("pcap_close"),
            findalldevs: symbol!("pcap_findalldevs"),
            freealldevs: symbol!("pcap_freealldevs"),
            open_dead: symbol!("pcap_open_dead"),
            offline_filter: symbol!("pcap_offline_filter"),
            lib_version: symbol!("pcap_lib_version"),
            setnonblock: symbol!("pcap_setnonblock"),
            get_selectable_fd: symbol!("pcap_get_selectable_fd"),
        };
        Ok(Library {
            api,
            name: name.to_string(),
            _library: library,
        })
    }

    /// Returns the file name the library was loaded under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Returns libpcap's version string, such as `libpcap version 1.10.3 (...)`.
    pub(crate) fn version(&self) -> String {
        // SAFETY: pcap_lib_version takes no argument and returns a pointer to a
        // static NUL-terminated string.
        let text = unsafe { (self.api.lib_version)() };
        // SAFETY: checked for null; the string is static, so it outlives the copy.
        unsafe { copy_c_string(text) }.unwrap_or_default()
    }

    /// Lists the capture devices, in libpcap's order.
    pub(crate) fn find_all_devices(&self) -> Result<Vec<RawDevice>, String> {
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        let mut list: *mut PcapIf = ptr::null_mut();
        // SAFETY: both pointers are valid for writes, and errbuf has the size
        // libpcap requires.
        let status = unsafe { (self.api.findalldevs)(&mut list, errbuf.as_mut_ptr()) };
        if status != 0 {
            return Err(errbuf_message(&errbuf));
        }
        let mut devices = Vec::new();
        let mut node = list;
        while !node.is_null() {
            // SAFETY: `node` is a non-null element of the list pcap_findalldevs
            // returned, which stays valid until pcap_freealldevs below.
            let entry = unsafe { &*node };
            // SAFETY: name and description are null or NUL-terminated strings
            // owned by the list, copied before it is freed.
            let name = unsafe { copy_c_string(entry.name) };
            // SAFETY: as above.
            let description = unsafe { copy_c_string(entry.description) };
            if let Some(name) = name {
                devices.push(RawDevice {
                    name,
                    description,
                    loopback: entry.flags & IF_LOOPBACK != 0,
                    up: entry.flags & IF_UP != 0,
                    running: entry.flags & IF_RUNNING != 0,
                });
            }
            node = entry.next;
        }
        if !list.is_null() {
            // SAFETY: `list` came from pcap_findalldevs and is freed once.
            unsafe { (self.api.freealldevs)(list) };
        }
        Ok(devices)
    }
}

/// One entry of `pcap_findalldevs`.
pub(crate) struct RawDevice {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) loopback: bool,
    pub(crate) up: bool,
    pub(crate) running: bool,
}

/// The outcome of one `pcap_next_ex` call.
pub(crate) enum NextStatus {
    /// A packet is available through [`Handle::current_packet`].
    Packet,
    /// The read timeout passed with no packet.
    Timeout,
    /// `pcap_breakloop` was called, or a savefile ended.
    End,
}

/// A packet as libpcap returned it, borrowed from its buffer.
pub(crate) struct RawPacket<'a> {
    /// Seconds of the capture time.
    pub(crate) secs: i64,
    /// Fraction of the second, in the handle's timestamp precision.
    pub(crate) fraction: u64,
    pub(crate) orig_len: u32,
    pub(crate) data: &'a [u8],
}

/// Kernel and interface counters of `pcap_stats`.
pub(crate) struct RawStats {
    pub(crate) received: u32,
    pub(crate) dropped: u32,
    pub(crate) interface_dropped: u32,
}

/// An owned `pcap_t`: a live capture handle or a "dead" one used only to compile
/// filters. It is closed on drop.
pub(crate) struct Handle {
    library: Arc<Library>,
    pcap: *mut PcapT,
    /// The header and data of the latest packet: valid until the next
    /// `pcap_next_ex` call on this handle, which needs `&mut self`.
    current: Option<(PktHdr, *const u8)>,
    /// The descriptor to wait on and the wait limit in milliseconds, once
    /// [`Handle::wait_with_poll`] put the handle into non-blocking mode.
    poll: Option<(c_int, c_int)>,
}

impl Handle {
    /// Creates an inactive handle for `device` (`pcap_create`).
    pub(crate) fn create(library: &Arc<Library>, device: &str) -> Result<Handle, String> {
        let device = CString::new(device)
            .map_err(|_| format!("invalid interface name {device:?}: it contains a NUL byte"))?;
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `device` is NUL-terminated and errbuf has the size libpcap needs.
        let pcap = unsafe { (library.api.create)(device.as_ptr(), errbuf.as_mut_ptr()) };
        if pcap.is_null() {
            return Err(errbuf_message(&errbuf));
        }
        Ok(Handle {
            library: Arc::clone(library),
            pcap,
            current: None,
            poll: None,
        })
    }

    /// Creates a handle that only compiles filters for `linktype` (a `DLT_*` value).
    pub(crate) fn open_dead(
        library: &Arc<Library>,
        linktype: c_int,
        snaplen: c_int,
    ) -> Result<Handle, String> {
        // SAFETY: pcap_open_dead takes two integers and returns null or a handle.
        let pcap = unsafe { (library.api.open_dead)(linktype, snaplen) };
        if pcap.is_null() {
            return Err("pcap_open_dead failed: out of memory".to_string());
        }
        Ok(Handle {
            library: Arc::clone(library),
            pcap,
            current: None,
            poll: None,
        })
    }

    fn api(&self) -> &Api {
        &self.library.api
    }

    /// Calls a `pcap_set_*` function that takes one integer.
    fn set_int(&mut self, function: SetIntFn, name: &str, value: c_int) -> Result<(), String> {
        // SAFETY: `self.pcap` is a live handle, and every `SetIntFn` takes a handle
        // and an int.
        let status = unsafe { function(self.pcap, value) };
        if status == 0 {
            Ok(())
        } else {
            Err(format!(
                "{name}({value}) failed: {}",
                self.status_text(status)
            ))
        }
    }

    pub(crate) fn set_snaplen(&mut self, bytes: c_int) -> Result<(), String> {
        self.set_int(self.api().set_snaplen, "pcap_set_snaplen", bytes)
    }

    pub(crate) fn set_promisc(&mut self, on: bool) -> Result<(), String> {
        self.set_int(self.api().set_promisc, "pcap_set_promisc", c_int::from(on))
    }

    pub(crate) fn set_timeout(&mut self, milliseconds: c_int) -> Result<(), String> {
        self.set_int(self.api().set_timeout, "pcap_set_timeout", milliseconds)
    }

    pub(crate) fn set_buffer_size(&mut self, bytes: c_int) -> Result<(), String> {
        self.set_int(self.api().set_buffer_size, "pcap_set_buffer_size", bytes)
    }

    /// Asks for nanosecond timestamps. Returns false when this libpcap or the
    /// device offers only microseconds.
    pub(crate) fn set_nanosecond_precision(&mut self) -> bool {
        match self.api().set_tstamp_precision {
            Some(function) => self
                .set_int(function, "pcap_set_tstamp_precision", TSTAMP_PRECISION_NANO)
                .is_ok(),
            None => false,
        }
    }

    /// Activates the handle. Returns libpcap's warning, if any, or its error with
    /// the status code.
    pub(crate) fn activate(&mut self) -> Result<Option<String>, (c_int, String)> {
        // SAFETY: `self.pcap` is a live handle that was not activated before.
        let status = unsafe { (self.api().activate)(self.pcap) };
        match status {
            0 => Ok(None),
            warning if warning > 0 => Ok(Some(self.status_text(warning))),
            error => Err((error, self.status_text(error))),
        }
    }

    /// Returns the link type (`DLT_*`) of an activated or dead handle.
    pub(crate) fn datalink(&self) -> c_int {
        // SAFETY: `self.pcap` is a live handle.
        unsafe { (self.api().datalink)(self.pcap) }
    }

    /// Compiles `expression` for this handle's link type and snapshot length.
    pub(crate) fn compile(&mut self, expression: &str) -> Result<Program, String> {
        let text = CString::new(expression)
            .map_err(|_| "the filter expression contains a NUL byte".to_string())?;
        let mut program = BpfProgram {
            bf_len: 0,
            bf_insns: ptr::null_mut(),
        };
        // SAFETY: `self.pcap` is a live handle, `program` is valid for writes and
        // `text` is NUL-terminated. Optimisation is on, as in tcpdump.
        let status = unsafe {
            (self.api().compile)(self.pcap, &mut program, text.as_ptr(), 1, NETMASK_UNKNOWN)
        };
        if status != 0 {
            return Err(self.last_error());
        }
        Ok(Program {
            library: Arc::clone(&self.library),
            program,
        })
    }

    /// Installs `program` as the handle's kernel or libpcap filter.
    pub(crate) fn set_filter(&mut self, program: &mut Program) -> Result<(), String> {
        // SAFETY: both pointers are live; libpcap copies the program.
        let status = unsafe { (self.api().setfilter)(self.pcap, &mut program.program) };
        if status != 0 {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Switches an activated handle to non-blocking reads, after which
    /// [`Handle::next`] waits for packets with `poll(2)` for at most `milliseconds`.
    ///
    /// With libpcap 1.10.3 on Linux (TPACKET_V3 ring), a blocking read on a quiet
    /// link did not return after the read timeout, so the timeout alone cannot
    /// bound the wait.
    pub(crate) fn wait_with_poll(&mut self, milliseconds: c_int) -> Result<(), String> {
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `self.pcap` is a live handle and errbuf has the size libpcap needs.
        let status = unsafe { (self.api().setnonblock)(self.pcap, 1, errbuf.as_mut_ptr()) };
        if status != 0 {
            return Err(format!(
                "pcap_setnonblock failed: {}",
                errbuf_message(&errbuf)
            ));
        }
        // SAFETY: `self.pcap` is a live, activated handle.
        let fd = unsafe { (self.api().get_selectable_fd)(self.pcap) };
        if fd < 0 {
            return Err("the capture has no descriptor to wait on".to_string());
        }
        self.poll = Some((fd, milliseconds));
        Ok(())
    }

    /// Returns the next packet's status (`pcap_next_ex`). In non-blocking mode it
    /// waits for packets for at most the poll limit first.
    pub(crate) fn next(&mut self) -> Result<NextStatus, String> {
        let status = self.next_ex()?;
        match (status, self.poll) {
            (NextStatus::Timeout, Some((fd, milliseconds))) => {
                let mut pollfd = PollFd {
                    fd,
                    events: POLLIN,
                    revents: 0,
                };
                // SAFETY: `pollfd` is one valid entry; the descriptor belongs to
                // the handle, which is still open. An interrupted or failed poll
                // returns at once, and the read below then finds no packet.
                unsafe { poll(&mut pollfd, 1, milliseconds) };
                self.next_ex()
            }
            (status, _) => Ok(status),
        }
    }

    fn next_ex(&mut self) -> Result<NextStatus, String> {
        self.current = None;
        let mut header: *mut PktHdr = ptr::null_mut();
        let mut data: *const u8 = ptr::null();
        // SAFETY: `self.pcap` is a live, activated handle and both out-pointers are
        // valid for writes.
        let status = unsafe { (self.api().next_ex)(self.pcap, &mut header, &mut data) };
        match status {
            1 if !header.is_null() && !data.is_null() => {
                // SAFETY: on success libpcap points `header` at a valid header,
                // copied here at once.
                self.current = Some((unsafe { *header }, data));
                Ok(NextStatus::Packet)
            }
            1 | 0 => Ok(NextStatus::Timeout),
            -2 => Ok(NextStatus::End),
            _ => Err(self.last_error()),
        }
    }

    /// Returns the packet of the latest successful [`Handle::next`] call.
    pub(crate) fn current_packet(&self) -> Option<RawPacket<'_>> {
        let (header, data) = self.current?;
        // SAFETY: libpcap guarantees `caplen` readable bytes at `data` until the next
        // pcap_next_ex or pcap_close on this handle. Both need `&mut self`, so the
        // borrow of `self` keeps the slice valid.
        let data = unsafe { std::slice::from_raw_parts(data, header.caplen as usize) };
        // `long` is 32 bits on some targets, where the conversion is not a no-op.
        #[allow(clippy::useless_conversion)]
        let secs = i64::from(header.ts.tv_sec);
        Some(RawPacket {
            secs,
            fraction: u64::try_from(header.ts.tv_usec).unwrap_or(0),
            orig_len: header.len,
            data,
        })
    }

    /// Reads the drop counters (`pcap_stats`).
    pub(crate) fn stats(&mut self) -> Result<RawStats, String> {
        let mut stats = PcapStat::default();
        // SAFETY: `self.pcap` is a live handle and `stats` is valid for writes.
        let status = unsafe { (self.api().stats)(self.pcap, &mut stats) };
        if status != 0 {
            return Err(self.last_error());
        }
        Ok(RawStats {
            received: stats.ps_recv,
            dropped: stats.ps_drop,
            interface_dropped: stats.ps_ifdrop,
        })
    }

    /// Returns the handle's latest error message (`pcap_geterr`).
    fn last_error(&self) -> String {
        // SAFETY: `self.pcap` is a live handle; the message lives in its buffer
        // and is copied before any other call on the handle.
        let text = unsafe { (self.api().geterr)(self.pcap) };
        // SAFETY: null or a NUL-terminated string inside the handle.
        unsafe { copy_c_string(text) }.unwrap_or_default()
    }

    /// Describes a `pcap_activate` or `pcap_set_*` status. For the generic errors
    /// and warnings libpcap leaves its detail in the handle's error buffer.
    fn status_text(&self, status: c_int) -> String {
        // SAFETY: pcap_statustostr accepts any int and returns a static string or
        // one in a static buffer, copied at once.
        let text = unsafe { copy_c_string((self.api().statustostr)(status)) }.unwrap_or_default();
        let detail = self.last_error();
        if detail.is_empty() || text.contains(&detail) {
            text
        } else if matches!(status, -1 | 1) {
            detail
        } else {
            format!("{text} ({detail})")
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: `self.pcap` is live and closed exactly once, here.
        unsafe { (self.library.api.close)(self.pcap) }
    }
}

/// A compiled BPF program, freed on drop.
pub(crate) struct Program {
    library: Arc<Library>,
    program: BpfProgram,
}

impl Program {
    /// Runs the program over one packet (`pcap_offline_filter`). Returns true if
    /// the packet passes. The header carries no timestamp, because no BPF primitive
    /// reads one.
    pub(crate) fn matches(&self, orig_len: u32, data: &[u8]) -> bool {
        let header = PktHdr {
            ts: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: u32::try_from(data.len()).unwrap_or(u32::MAX),
            len: orig_len,
        };
        // SAFETY: the program is a valid compiled filter, `header` is a valid
        // header, and `data` contains at least `header.caplen` bytes because caplen
        // is `data.len()` or smaller.
        let verdict =
            unsafe { (self.library.api.offline_filter)(&self.program, &header, data.as_ptr()) };
        verdict != 0
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program came from pcap_compile and is freed once, here.
        unsafe { (self.library.api.freecode)(&mut self.program) }
    }
}

/// Copies a NUL-terminated C string, or returns `None` for a null pointer.
///
/// # Safety
///
/// `text` must be null or point to a NUL-terminated string that stays valid
/// during the call.
unsafe fn copy_c_string(text: *const c_char) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Returns the message libpcap wrote into an error buffer.
fn errbuf_message(errbuf: &[c_char; ERRBUF_SIZE]) -> String {
    let bytes: Vec<u8> = errbuf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Returns an error's message followed by those of its sources, since libloading
/// keeps the dynamic linker's message in the source.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
