//! Scalar values as the wire writes them: ids, counts, flags and timestamps.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::Bad;

/// An unsigned id or count.
#[inline]
pub(crate) fn uint(name: &str, v: &str) -> Result<u64, Bad> {
    match digits(v) {
        Some(n) => Ok(n),
        None => v
            .parse()
            .map_err(|_| Bad::new(name, v, "an unsigned integer")),
    }
}

/// Up to 19 ASCII digits (no overflow possible) as a number, without `str::parse`'s
/// generality; `None` for anything else, which `str::parse` then reads or refuses.
#[inline]
fn digits(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.bytes().try_fold(0u64, |n, c| {
        let d = c.wrapping_sub(b'0');
        (d < 10).then_some(n * 10 + u64::from(d))
    })
}

/// An id where the API writes `0` for "none" (`old_revid="0"` on a new page).
#[inline]
pub(crate) fn id_or_zero(name: &str, v: &str) -> Result<Option<u64>, Bad> {
    uint(name, v).map(|n| (n != 0).then_some(n))
}

/// A namespace number (negative for Special: and Media:).
#[inline]
pub(crate) fn namespace(name: &str, v: &str) -> Result<i32, Bad> {
    match digits(v).filter(|_| v.len() <= 9) {
        Some(n) => Ok(n as i32),
        None => v
            .parse()
            .map_err(|_| Bad::new(name, v, "a namespace number")),
    }
}

/// An ISO 8601 UTC timestamp as the API writes it (`2026-11-23T08:59:04Z`), or any RFC 3339.
pub(crate) fn iso_timestamp(name: &str, v: &str) -> Result<DateTime<Utc>, Bad> {
    fast_iso(v.as_bytes())
        .or_else(|| DateTime::parse_from_rfc3339(v).ok().map(|t| t.to_utc()))
        .ok_or_else(|| Bad::new(name, v, "an ISO 8601 timestamp like 2026-11-23T08:59:04Z"))
}

/// A Unix timestamp in seconds, as the feeds write it.
pub(crate) fn unix_timestamp(name: &str, secs: i64) -> Result<DateTime<Utc>, Bad> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| Bad::new(name, &secs.to_string(), "a Unix timestamp in range"))
}

/// A Unix timestamp in seconds, written as text (the XML feed).
pub(crate) fn unix_timestamp_text(name: &str, v: &str) -> Result<DateTime<Utc>, Bad> {
    let secs = v
        .parse::<i64>()
        .map_err(|_| Bad::new(name, v, "a Unix timestamp in seconds"))?;
    unix_timestamp(name, secs)
}

/// `YYYY-MM-DDTHH:MM:SSZ` without the general RFC 3339 machinery.
fn fast_iso(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(time.and_utc())
}

/// Whether a user name is an IP address: MediaWiki's anonymous editors.
pub(crate) fn is_ip(user: &str) -> bool {
    user.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_fast_path_agrees_with_rfc3339() {
        let fast = iso_timestamp("t", "2026-11-23T08:59:04Z").unwrap();
        let slow = DateTime::parse_from_rfc3339("2026-11-23T08:59:04+00:00").unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.timestamp(), 1_795_424_344);
    }

    #[test]
    fn iso_rejects_impossible_dates() {
        let err = iso_timestamp("timestamp", "2026-02-30T08:59:04Z").unwrap_err();
        assert_eq!(err.value, "\"2026-02-30T08:59:04Z\"");
        assert!(err.expected.contains("ISO 8601"));
    }

    #[test]
    fn digits_read_as_str_parse_reads() {
        for v in [
            "0",
            "7",
            "0012",
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "+5",
            "-1",
            "",
            " 1",
            "1a",
            "٣",
        ] {
            assert_eq!(uint("n", v).ok(), v.parse::<u64>().ok(), "{v:?}");
        }
        for v in [
            "0",
            "-1",
            "2147483647",
            "2147483648",
            "999999999",
            "+3",
            "",
            "x",
        ] {
            assert_eq!(namespace("ns", v).ok(), v.parse::<i32>().ok(), "{v:?}");
        }
    }

    #[test]
    fn ip_users_are_anonymous() {
        assert!(is_ip("127.0.0.1"));
        assert!(is_ip("2001:DB8::1"));
        assert!(!is_ip("Admin"));
        assert!(!is_ip("~2024-1"));
    }
}
