//! `LocalTimeFormatter::system` takes its zone from `TZ`.
//!
//! This file is its own test binary with a single test, so setting the process's
//! environment cannot race with another test.

use wsd_capture::Timestamp;
use wsd_logfmt::LocalTimeFormatter;

#[test]
fn system_zone_follows_tz_variable() {
    // A POSIX TZ string: US Eastern time with the rules in force since 2007.
    std::env::set_var("TZ", "EST5EDT,M3.2.0,M11.1.0");
    let mut formatter = LocalTimeFormatter::system();

    // 2018-01-04 00:37:57 UTC is 19:37:57 EST the day before.
    let winter = formatter.format(Timestamp::from_parts(1_515_026_277, 0));
    assert_eq!(winter, b"2018/01/03 19:37:57");

    // 2018-07-04 16:00:00 UTC is 12:00:00 EDT.
    let summer = formatter.format(Timestamp::from_parts(1_530_720_000, 0));
    assert_eq!(summer, b"2018/07/04 12:00:00");
}
