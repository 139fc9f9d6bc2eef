//! A value read from the database at most every few seconds and, after the first read, never on
//! a reader's path: a reader gets the last value at once, and one that finds it older than its
//! window has it read again in the background for the next reader (one read at a time). The
//! `/metrics` gauges and Platform → Queue's depth use it, so a count that turns slow (PostgreSQL
//! walks a million dead index entries after a burst, until vacuum) delays a background task,
//! not a page or a scrape.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sea_orm::DbErr;

pub struct Refreshed<T> {
    fresh: Duration,
    state: Arc<Mutex<State<T>>>,
}

impl<T> Clone for Refreshed<T> {
    fn clone(&self) -> Self {
        Refreshed { fresh: self.fresh, state: self.state.clone() }
    }
}

struct State<T> {
    /// The last value read, and when.
    last: Option<(T, Instant)>,
    reading: bool,
}

impl<T: Clone + Send + 'static> Refreshed<T> {
    /// A value that may be `fresh` old before it is read again.
    pub fn new(fresh: Duration) -> Self {
        Refreshed { fresh, state: Arc::new(Mutex::new(State { last: None, reading: false })) }
    }

    /// The last value `read` gave; the first call (and any while nothing was read yet) waits for
    /// `read`. A read that fails in the background keeps the last value, and the next call tries
    /// again.
    pub async fn get<R>(&self, read: R) -> Result<T, DbErr>
    where
        R: Future<Output = Result<T, DbErr>> + Send + 'static,
    {
        let (last, refresh) = {
            let mut state = self.lock();
            let stale = state.last.as_ref().is_none_or(|(_, at)| at.elapsed() >= self.fresh);
            let refresh = stale && !state.reading;
            state.reading |= refresh;
            (state.last.as_ref().map(|(value, _)| value.clone()), refresh)
        };
        let Some(last) = last else {
            let value = read.await;
            if refresh {
                self.store(value.as_ref().ok().cloned());
            }
            return value;
        };
        if refresh {
            let this = self.clone();
            tokio::spawn(async move {
                let value = read.await;
                if let Err(err) = &value {
                    tracing::warn!(error = %err, "could not read a figure again; showing the last value");
                }
                this.store(value.ok());
            });
        }
        Ok(last)
    }

    fn store(&self, value: Option<T>) {
        let mut state = self.lock();
        state.reading = false;
        if let Some(value) = value {
            state.last = Some((value, Instant::now()));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Reads the count of calls so far, after `delay`.
    fn counting(calls: &Arc<AtomicU32>, delay: Duration) -> impl Future<Output = Result<u32, DbErr>> + Send + 'static {
        let calls = calls.clone();
        async move {
            tokio::time::sleep(delay).await;
            Ok(calls.fetch_add(1, Ordering::SeqCst) + 1)
        }
    }

    #[tokio::test]
    async fn the_first_reader_waits_later_ones_get_the_last_value_while_it_is_read_again_behind_them() {
        let calls = Arc::new(AtomicU32::new(0));
        let value = Refreshed::new(Duration::from_millis(100));
        assert_eq!(value.get(counting(&calls, Duration::ZERO)).await.unwrap(), 1, "nothing read yet: it waits");
        assert_eq!(value.get(counting(&calls, Duration::ZERO)).await.unwrap(), 1, "fresh: not read again");
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        tokio::time::sleep(Duration::from_millis(150)).await;
        let slow = Duration::from_millis(300);
        let asked = Instant::now();
        assert_eq!(value.get(counting(&calls, slow)).await.unwrap(), 1, "stale: the last value, at once");
        assert!(asked.elapsed() < slow, "the reader did not wait for the slow read");
        assert_eq!(value.get(counting(&calls, slow)).await.unwrap(), 1, "one read again at a time");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(value.get(counting(&calls, Duration::ZERO)).await.unwrap(), 2, "the read behind them has landed");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_read_behind_the_readers_keeps_the_last_value() {
        let value = Refreshed::new(Duration::ZERO);
        assert_eq!(value.get(async { Ok(7) }).await.unwrap(), 7);
        let failing = async { Err(DbErr::Custom("the database is away".into())) };
        assert_eq!(value.get(failing).await.unwrap(), 7);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(value.get(async { Ok(8) }).await.unwrap(), 7, "the last value, while 8 is read behind it");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(value.get(async { Ok(9) }).await.unwrap(), 8);
    }
}
