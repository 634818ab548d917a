//! A request waiting for its answer: a server that keeps the connection up (it answers
//! pings) but lets one request drop would leave a room joining, or a catch-up waiting,
//! forever. What a room or node waits for is checked on every tick of the session loop.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Disconnect;

/// How long one request may wait for its answer, by default.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one room or node waits for, and since when.
#[derive(Debug, Default)]
pub(crate) struct Waiting(Option<(String, Instant)>);

impl Waiting {
    /// `request` names what is awaited now (`None`: nothing). The same request unanswered
    /// for longer than `limit` is an error: the connection is to be replaced.
    pub fn check(
        &mut self,
        request: Option<String>,
        now: Instant,
        limit: Duration,
    ) -> Result<(), Disconnect> {
        match (request, &self.0) {
            (None, _) => {
                self.0 = None;
                Ok(())
            }
            (Some(r), Some((w, since))) if *w == r => {
                if now.duration_since(*since) > limit {
                    Err(Disconnect::RequestTimeout {
                        what: r,
                        after: limit,
                    })
                } else {
                    Ok(())
                }
            }
            (Some(r), _) => {
                self.0 = Some((r, now));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_request_unanswered_too_long_is_an_error_and_progress_resets_the_clock() {
        const LIMIT: Duration = REQUEST_TIMEOUT;
        let t0 = Instant::now();
        let mut w = Waiting::default();
        let join = || Some("the join of a@b".to_owned());
        assert!(w.check(join(), t0, LIMIT).is_ok());
        assert!(w.check(join(), t0 + LIMIT, LIMIT).is_ok());
        let late = w.check(join(), t0 + LIMIT + Duration::from_secs(1), LIMIT);
        assert!(
            matches!(late, Err(Disconnect::RequestTimeout { .. })),
            "{late:?}"
        );
        // Another request (a new archive page) starts its own clock; nothing awaited resets.
        let mut w = Waiting::default();
        let page = |n: u32| Some(format!("page {n}"));
        assert!(w.check(page(1), t0, LIMIT).is_ok());
        let t1 = t0 + LIMIT;
        assert!(w.check(page(2), t1, LIMIT).is_ok());
        assert!(w.check(page(2), t1 + LIMIT, LIMIT).is_ok());
        assert!(w.check(None, t1 + LIMIT * 3, LIMIT).is_ok());
        assert!(w.check(page(2), t1 + LIMIT * 3, LIMIT).is_ok());
    }
}
