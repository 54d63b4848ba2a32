//! The text of the manual pages beyond what the clap definitions give.
//!
//! Marks: `` `word` `` is bold, `<word>` is italic (see [`super::Block`]).

use clap::CommandFactory;

use super::{Block, Page, Section};

/// Returns every page that `cargo xtask man` writes.
pub fn all() -> Vec<Page> {
    vec![
        Page {
            file_name: "wsd.1",
            command: wsd::cli::Cli::command(),
            description: WSD_DESCRIPTION,
            sections: WSD_SECTIONS,
        },
        Page {
            file_name: "flowcache.1",
            command: flowcache::cli::Cli::command(),
            description: FLOWCACHE_DESCRIPTION,
            sections: FLOWCACHE_SECTIONS,
        },
    ]
}

const WSD_DESCRIPTION: &[Block] = &[
    Block::Paragraph(
        "A record has the keys `startTime` (local time of the first packet), `sourceMac`, \
         `sourceIp`, `sourcePort`, `destMac`, `destIp`, `destPort`, `duration` (whole \
         seconds), `packetsIn`, `packetsOut`, `bytesIn` and `bytesOut`. The source is the \
         client, the side that opened the connection. Out counts client to server and In \
         server to client. Bytes are TCP segment bytes (header with options, plus payload) \
         taken from the IP header, so a packet cut by the snapshot length counts its real \
         size.",
    ),
    Block::Paragraph(
        "Passive capture loses packets, so no record depends on a whole connection being \
         captured. The client is found from whatever part of the handshake was seen, or \
         guessed from the ports when none was. A connection is reported when it has been \
         closed by FINs or a RST and has lingered for late packets (`--linger`), when it \
         has been idle for `--idle-timeout`, when a full table evicts it (`--max-flows`), \
         or at the end of the input.",
    ),
    Block::Paragraph(
        "Records go to the file given with `-L`, to standard output with `-L -`, or \
         without `-L` to a new file <HOSTNAME>_<YYYYMMDD>_<HHMMSS>.log in the log \
         directory (`-l`). A second run in the same second gets `_002`, `_003` and so \
         on appended to the name, so a generated name never replaces an existing log \
         and the names sort in the order the logs were created. \
         `-L` <FILE> replaces <FILE> if it exists. `wsd` rejects a log file or flow \
         cache that is one of its inputs, also when the path reaches the input through \
         a symbolic or hard link.",
    ),
    Block::Paragraph(
        "The flow cache continues connections across runs: `-R` <FILE> loads the flows \
         that an earlier run saved with `-W` <FILE>, so that a series of capture files \
         read one run at a time gives the same flow records as one run over all of \
         them. Statistics records (`--stats`) are not carried over: each run writes its \
         own, with counts since that run started and one at its end. A missing `-R` \
         file means no flows. A cache that cannot be loaded stops the run \
         with exit status 2 and is left untouched, unless `--discard-bad-cache` is given.",
    ),
    Block::Paragraph(
        "Diagnostics go to standard error. The summary line of a run, which starts with \
         `finished:`, counts packets, bytes, flow records (and how many of them a full \
         table evicted), unreadable capture records and the packets that could not be \
         fully decoded, by reason. Only when there are any, it also counts the records \
         not written after a failed write, the records dropped while the log's file \
         system was full past `--hold-size`, the bytes of input passed over after damage, \
         the packet times out of range, the lone packet times replaced, the packet times \
         with a sub-second field of a \
         second or more, the IP fragments without a transport header and \
         the packets that a live capture dropped. It comes after the other diagnostics \
         of the run, except a warning that the pid file could not be removed and the \
         error of a run that fails. On a terminal a progress line shows while reading.",
    ),
    Block::Paragraph(
        "At the end of the input, and on a first SIGINT or SIGTERM, the records are \
         flushed and the open flows are saved to the `-W` cache, or reported. When \
         the signal stopped the reading of a capture file, `wsd` then says so and \
         ends by that signal, so that a shell loop around it stops too.",
    ),
    Block::Paragraph(
        "Without `-r`, `wsd` captures live from the interface given with `-i`, or else \
         from the first interface that is up, not a loopback interface and not the \
         `any` pseudo-device. Live capture loads libpcap (`libpcap.so.1` or \
         `libpcap.so.0.8`) when it starts, and needs the right to capture, usually \
         root. Each packet is captured up to `-s` bytes (512 by default: the headers, \
         not the payload), the interface is put into promiscuous mode unless `-p` is \
         given, and the kernel drop counters are read every minute and at the end. \
         While the link is quiet, flows still time out by the clock.",
    ),
    Block::Paragraph(
        "A filter expression in libpcap's syntax may follow the options, as with \
         tcpdump: `wsd -i eth0 -F not port 22`. It applies to `-r` files too, compiled \
         for each file's link type. Filtering needs libpcap even for files; without \
         it, file reading still works and a filter fails with a message naming the \
         package to install. An invalid expression is a usage error, and so is one \
         that does not compile for the link type of the first packet. The packets of \
         a link type that comes later, such as a second pcapng interface, are left \
         out with a warning when the expression does not compile for it.",
    ),
    Block::Paragraph(
        "SIGHUP closes the current log in the log directory and opens a new one with a \
         new generated name; `--rotate-interval` and `--rotate-size` do the same by time \
         and by size. A rotation happens between two records after the old log is \
         flushed, so no record is lost or split. A SIGHUP is acted on between two \
         packets, and between the records written at the end of the input: on a \
         quiet link within the 250 ms read timeout of a live capture, but with \
         `-r -` only when the next packet arrives. Logs named with `-L` do not \
         rotate, and SIGHUP then only logs a warning. SIGUSR1 logs the packets and \
         bytes read, the flow records written, the flows open and those evicted \
         from a full table so far, within 250 ms while packets arrive or the link \
         is quiet.",
    ),
    Block::Paragraph(
        "A live capture (a run without `-r`) detaches from the terminal unless `-F` is \
         given. It first opens the interface, the log directory and the pid file \
         (`-P`, locked while it runs) and drops privileges (`-u`, `-g`, `-c`), \
         with its diagnostics still on the terminal, so that a start-up error gives a \
         message and a non-zero exit status. It then logs \"wsd v<VERSION> starting in \
         daemon mode\", starts a new session, changes to / and sends its diagnostics to \
         syslog (facility daemon) or to the `--diag-file`. A second `wsd` with the same \
         pid file is rejected with the running one's pid.",
    ),
    Block::Paragraph(
        "`-u`, `-g` and `-c` also apply to file runs. The inputs, the `-R` cache and \
         the log directory are opened before the drop, and new logs are created in the \
         open log directory, so rotation works inside the chroot. Paths of `-W` are \
         resolved inside the chroot, and checked at start for the user after the \
         drop. The pid file is removed at exit if the user after \
         the drop may remove it, and emptied otherwise.",
    ),
];

const WSD_SECTIONS: &[Section] = &[
    Section {
        heading: "EXIT STATUS",
        blocks: &[
            Block::Item("0", "Success."),
            Block::Item(
                "1",
                "A failure during the run, such as a log or flow cache that could not be \
                 written, or an interface that exists but could not be opened for \
                 capture (no permission, or down), or \
                 libpcap missing when a live capture or a filter needs it, or a live \
                 capture that dropped records because its log's file system was full \
                 and `--hold-size` was reached. When the cache cannot be written, the open flows are written to \
                 the log as records instead, so none is lost. When the log cannot be \
                 written, the open flows are still saved to the `-W` cache.",
            ),
            Block::Item(
                "2",
                "Bad usage, or a problem found before the first packet: an invalid filter \
                 expression, an interface that does not exist, an input that is missing, \
                 not a pcap or pcapng capture or cut short inside its file header, a \
                 flow cache that cannot be \
                 loaded, a `-R` or `-W` path that is not a regular file, or an output \
                 that names an input or another output. \
                 A capture damaged after its start is read up to the damage with a \
                 warning, and past it when another capture's header follows, and \
                 does not change the exit status.",
            ),
            Block::Item(
                "73",
                "The system does not let `wsd` create the log or save the `-W` flow \
                 cache, for example a directory that the user it runs as may not \
                 write, a read-only file system or a missing directory. Found at \
                 start, before anything is read; run again once that is fixed.",
            ),
            Block::Item(
                "75",
                "Another process, usually another run of `wsd`, has the `-R` or `-W` flow \
                 cache locked: nothing was read or written. Or it holds the lock of the `-L` log \
                 file: the run stops before it reads any packet, after loading the `-R` \
                 cache. Run again later.",
            ),
            Block::Item(
                "130, 143",
                "As the shell shows it: SIGINT or SIGTERM stopped the reading of a \
                 capture file, and `wsd` ended by that signal after flushing the records \
                 and saving the `-W` cache. The capture was read only in part. A run \
                 stopped while reading a pipe, with no capture file after it, ends with 0 \
                 instead.",
            ),
        ],
    },
    Section {
        heading: "ENVIRONMENT",
        blocks: &[
            Block::Item(
                "`TZ`",
                "Time zone of `startTime` in the records, for example `TZ=UTC`. Without \
                 it the system time zone is used. A zone that cannot be loaded gives a \
                 warning, and times are then in UTC.",
            ),
            Block::Item(
                "`RUST_LOG`",
                "Diagnostic filter in the syntax of the Rust tracing-subscriber crate, \
                 such as `debug`; it overrides `-d`.",
            ),
            Block::Item(
                "`WSD_LIBPCAP`",
                "File name of libpcap to load instead of `libpcap.so.1` and \
                 `libpcap.so.0.8`, for a system that installs it under another name. The \
                 tests point it at a missing name to check `wsd` without libpcap.",
            ),
        ],
    },
    Section {
        heading: "FILES",
        blocks: &[
            Block::Item(
                "/var/log/wsd",
                "Default log directory for the generated log names (see `-l`).",
            ),
            Block::Item(
                "/var/run/wsd.pid",
                "Default pid file of a live capture that detaches (see `--pid-file`).",
            ),
            Block::Item(
                "/dev/log",
                "Syslog socket that a daemon sends its diagnostics to, connected before \
                 the chroot.",
            ),
            Block::Item(
                "<FILE>.bad-<SECONDS>",
                "A flow cache that could not be loaded, moved aside by \
                 `--discard-bad-cache`; <SECONDS> is the Unix time of the move. A \
                 second cache moved aside in the same second gets -2 after it, the \
                 next -3, and so on.",
            ),
            Block::Item(
                ".<NAME>.lock",
                "Lock file beside the flow cache <NAME>. A run with `-W` holds an \
                 exclusive lock on it until it exits, so that a second run on the same \
                 cache stops at start with exit status 75. It is created if missing and \
                 never removed.",
            ),
            Block::Item(
                ".<NAME>.tmp-<PID>",
                "Temporary file beside the flow cache <NAME> while `-W` writes it. It is \
                 renamed over the cache when complete, so a crash leaves either the old \
                 cache or the new one. At start `wsd` also creates and removes it, as \
                 the user and in the root directory of the run, to check that the cache \
                 can be saved.",
            ),
        ],
    },
    Section {
        heading: "EXAMPLES",
        blocks: &[
            Block::Example(
                "Print the flow records of a capture:",
                "wsd -r capture.pcap -L -",
            ),
            Block::Example(
                "Read two files as one stream into one log, with a line per packet:",
                "wsd -V -r a.pcap -r b.pcapng -L flows.log",
            ),
            Block::Example(
                "Write records in UTC to a new file in the default log directory:",
                "TZ=UTC wsd -r capture.pcap",
            ),
            Block::Example(
                "Capture live on eth0 in the foreground, leaving out SSH, until SIGINT \
                 or SIGTERM:",
                "wsd -i eth0 -F -L /var/log/wsd/eth0.log not port 22",
            ),
            Block::Example(
                "Records of the HTTPS connections in a capture file:",
                "wsd -r capture.pcap -L - tcp port 443",
            ),
            Block::Example(
                "Read a capture from a pipe as the user nobody inside /var/empty, with a \
                 new log every 100 MiB and on SIGHUP:",
                "tcpdump -w - | wsd -r - -u nobody -c /var/empty -l /var/log/wsd \\\n\
                 \x20 --rotate-size 100M",
            ),
            Block::Example(
                "Process a directory of capture files one at a time, in name order, \
                 carrying open connections from each file to the next:",
                "for f in $(ls /data/*.pcap | sort); do\n\
                 \x20 wsd -R /var/lib/wsd/flows.cache -W /var/lib/wsd/flows.cache \\\n\
                 \x20     -r \"$f\" -L \"$f.wsd\"\n\
                 done",
            ),
        ],
    },
    Section {
        heading: "SEE ALSO",
        blocks: &[Block::Paragraph(
            "flowcache(1), pcap-savefile(5), pcap-filter(7). The source distribution describes the record \
             fields in docs/flow-records.md, the tracker in docs/tracker.md, the flow-cache \
             format in docs/flow-cache-format.md and unattended post-processing in \
             docs/operations.md.",
        )],
    },
];

const FLOWCACHE_DESCRIPTION: &[Block] = &[
    Block::Paragraph(
        "The files are read in the order given. Flows are listed in the order a file \
         stores them, the order of the tracker's timeout queues. `--summary` prints one \
         block per file instead, and `--check` prints nothing and only reports files that \
         `wsd -R` would not load. `--host`, `--port`, `--state` and `--protocol` select \
         flows for the listing and the summary; a flow must meet all of them.",
    ),
    Block::Paragraph(
        "A file that is missing or not a valid flow cache is reported on standard error as \
         `flowcache:` <FILE>`:` <reason>, and the other files are still read. Each flow is \
         printed as it is decoded, after the checksum of the whole file matched, so a file \
         whose flows then fail to decode can have some of them listed before its error.",
    ),
];

const FLOWCACHE_SECTIONS: &[Section] = &[
    Section {
        heading: "OUTPUT",
        blocks: &[
            Block::Paragraph(
                "A listed flow is the start of the record line that `wsd` would write for \
                 it if its input ended now, its keys from `startTime` to `bytesOut`: \
                 `TCPFLOW` for TCP, and `UDPFLOW`, `ICMPFLOW` or `IPFLOW` for the flows of \
                 other protocols that the cache also keeps. Three keys follow:",
            ),
            Block::Item(
                "`state=open`|`fin`|`rst`",
                "`open` if the connection is not closed (always for UDP and other \
                 protocols); `fin` if both sides sent a FIN and the flow lingers for late \
                 packets; `rst` if a RST closed it and it lingers.",
            ),
            Block::Item(
                "`midstream=yes`|`no`",
                "`yes` if no handshake was seen, so the client was guessed from the ports.",
            ),
            Block::Item(
                "`lastTime=`",
                "Local time of the flow's latest packet, in the format of `startTime`.",
            ),
            Block::Paragraph(
                "With `--json` each flow is one JSON object per line, with its saved \
                 fields except the TCP sequence tracking and the time of the next interim \
                 record. Times are strings: keys ending in `_ts` are UTC seconds since the \
                 epoch with nine decimals, and keys ending in `_local` are local time.",
            ),
        ],
    },
    Section {
        heading: "EXIT STATUS",
        blocks: &[
            Block::Item("0", "Success."),
            Block::Item(
                "1",
                "Writing the output failed. A closed pipe, as in `flowcache` <FILE> `| \
                 head`, is not a failure: the output stops quietly.",
            ),
            Block::Item(
                "2",
                "Bad usage, or at least one file was missing or not a valid flow cache.",
            ),
        ],
    },
    Section {
        heading: "ENVIRONMENT",
        blocks: &[Block::Item(
            "`TZ`",
            "Time zone of `startTime`, `lastTime` and the `_local` JSON keys.",
        )],
    },
    Section {
        heading: "EXAMPLES",
        blocks: &[
            Block::Example(
                "List every cached flow:",
                "flowcache /var/lib/wsd/flows.cache",
            ),
            Block::Example(
                "Open connections to or from port 443:",
                "flowcache --state open --port 443 /var/lib/wsd/flows.cache",
            ),
            Block::Example(
                "One summary block per file:",
                "flowcache --summary a.cache b.cache",
            ),
            Block::Example(
                "Exit with status 0 only if `wsd -R` would load the cache:",
                "flowcache --check /var/lib/wsd/flows.cache",
            ),
        ],
    },
    Section {
        heading: "SEE ALSO",
        blocks: &[Block::Paragraph(
            "wsd(1). The source distribution specifies the listing in docs/flow-records.md \
             and the file format in docs/flow-cache-format.md.",
        )],
    },
];
