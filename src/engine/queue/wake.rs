//! When a worker looks for runs: at once when runs are announced (PostgreSQL's NOTIFY, or this
//! process's own inserts on SQLite), and every poll interval for runs that become due later.
//!
//! apalis's own interval and stream strategies re-arm without registering the worker's waker
//! (a new timer is created but not polled; a stream is not polled again after an item), so a
//! worker whose next poll came late was not woken until its next heartbeat: runs waited up to
//! 3 s (seen as 1 s late scheduled runs and 2.4 s pickup stalls on PostgreSQL). This strategy
//! always leaves the waker registered with both sources before it answers.
//!
//! apalis polls the storage whenever the worker is woken, whatever the strategy answers, but
//! while a fetch is in flight a wake-up only polls that fetch: runs announced during it may be
//! committed after its snapshot, and when it comes back empty nothing woke the worker again
//! until the next interval (25 ms). So an announcement also wakes the worker at its next poll,
//! which comes after the fetch in flight, and that poll fetches again.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

/// PostgreSQL: apalis's insert trigger announces each inserted row with its own NOTIFY, a JSON
/// payload built in PL/pgSQL per row: 8 of the 50 ms of a start of 1,000 runs, and every worker
/// process then read 1,000 messages. This trigger announces once per statement and queue, with
/// the payload apalis's listener reads (`Pubsub`), for the rows due now, as apalis's did.
pub(super) const ANNOUNCE_ONCE_PER_INSERT: [&str; 2] = [
    "CREATE OR REPLACE FUNCTION apalis.offstage_announce_inserted() RETURNS trigger AS $$
     DECLARE due record;
     BEGIN
         FOR due IN SELECT job_type, min(id) AS id FROM inserted WHERE run_at <= now() GROUP BY job_type LOOP
             PERFORM pg_notify('apalis::job::insert',
                 json_build_object('job_type', due.job_type, 'id', due.id, 'run_at', now())::text);
         END LOOP;
         RETURN NULL;
     END;
     $$ LANGUAGE plpgsql",
    // Only when not done yet: changing a table's triggers waits for every transaction using it.
    "DO $$ BEGIN
         IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'apalis.jobs'::regclass AND tgname = 'notify_workers') THEN
             DROP TRIGGER notify_workers ON apalis.jobs;
         END IF;
         IF NOT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgrelid = 'apalis.jobs'::regclass AND tgname = 'offstage_announce_inserted') THEN
             CREATE TRIGGER offstage_announce_inserted AFTER INSERT ON apalis.jobs REFERENCING NEW TABLE AS inserted
                 FOR EACH STATEMENT EXECUTE FUNCTION apalis.offstage_announce_inserted();
         END IF;
     END $$",
];

/// This process's announcements of inserted runs, for SQLite, which has no NOTIFY. The
/// inserting transaction holds the one pooled SQLite connection, so the fetch an announcement
/// wakes runs after that transaction ends.
static RUNS_INSERTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Announces that runs were inserted (one stored wake at most: a worker busy now looks once
/// more when it is done).
pub(super) fn announce_inserted_runs() {
    RUNS_INSERTED.notify_one();
}

/// A stream that yields whenever runs were inserted in this process since it last yielded.
pub(super) fn inserted_runs() -> impl Stream<Item = ()> + Unpin + Send + 'static {
    Box::pin(futures::stream::unfold((), |()| async {
        RUNS_INSERTED.notified().await;
        Some(((), ()))
    }))
}

pub(super) struct WakeUp<S> {
    announcements: Option<S>,
    every: Duration,
    timer: Pin<Box<Sleep>>,
    /// Runs were announced at the last poll: wake the worker at the next one as well.
    look_again: bool,
}

impl<S> WakeUp<S> {
    /// Wakes on each item of `announcements` and every `every`.
    pub(super) fn new(announcements: S, every: Duration) -> WakeUp<S> {
        WakeUp {
            announcements: Some(announcements),
            every,
            timer: Box::pin(tokio::time::sleep(every)),
            look_again: false,
        }
    }
}

impl<S: Stream + Unpin> PollStrategy for WakeUp<S> {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        if std::mem::take(&mut self.look_again) {
            cx.waker().wake_by_ref();
        }
        let mut woken = false;
        // Take every announcement waiting, until the stream registers the waker (Pending).
        while let Some(stream) = self.announcements.as_mut() {
            match stream.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => {
                    woken = true;
                    self.look_again = true;
                }
                // The listener is gone (its connection dropped): the interval still polls.
                Poll::Ready(None) => self.announcements = None,
                Poll::Pending => break,
            }
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            woken = true;
            self.timer.as_mut().reset(Instant::now() + self.every);
            // Registers the waker with the next tick.
            let _ = self.timer.as_mut().poll(cx);
        }
        if woken { Poll::Ready(Some(())) } else { Poll::Pending }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::task::{ArcWake, waker};
    use std::task::Waker;

    use super::*;

    #[derive(Default)]
    struct Flag(AtomicBool);

    impl ArcWake for Flag {
        fn wake_by_ref(flag: &Arc<Self>) {
            flag.0.store(true, Ordering::SeqCst);
        }
    }

    fn woken(flag: &Flag) -> bool {
        flag.0.swap(false, Ordering::SeqCst)
    }

    type Announcements = futures::channel::mpsc::UnboundedReceiver<u32>;

    /// A strategy woken only by announcements (the interval is an hour), the sender of those
    /// announcements, and the waker it wakes with its flag.
    fn woken_by_announcements()
    -> (WakeUp<Announcements>, futures::channel::mpsc::UnboundedSender<u32>, Waker, Arc<Flag>) {
        let flag = Arc::new(Flag::default());
        let (sender, receiver) = futures::channel::mpsc::unbounded::<u32>();
        (WakeUp::new(receiver, Duration::from_secs(3600)), sender, waker(flag.clone()), flag)
    }

    #[tokio::test]
    async fn after_a_tick_the_next_tick_wakes_the_worker_without_another_poll() {
        let flag = Arc::new(Flag::default());
        let waker = waker(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wake = WakeUp::new(futures::stream::pending::<()>(), Duration::from_millis(20));
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_pending());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(woken(&flag));
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_ready());
        // No poll_drive from here on: the next tick must still wake.
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(woken(&flag), "the tick after a ready one did not wake the worker");
    }

    #[tokio::test]
    async fn after_an_announcement_the_next_one_wakes_the_worker_without_another_poll() {
        let (mut wake, sender, waker, flag) = woken_by_announcements();
        let mut cx = Context::from_waker(&waker);
        sender.unbounded_send(1).unwrap();
        sender.unbounded_send(2).unwrap();
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_ready());
        assert!(!woken(&flag));
        sender.unbounded_send(3).unwrap();
        assert!(woken(&flag), "an announcement after a ready poll did not wake the worker");
    }

    #[tokio::test]
    async fn an_announcement_wakes_the_worker_again_at_its_next_poll_so_a_fetch_in_flight_is_followed_by_another() {
        let (mut wake, sender, waker, flag) = woken_by_announcements();
        let mut cx = Context::from_waker(&waker);
        // Announced while a fetch is in flight: this poll only polls that fetch.
        sender.unbounded_send(1).unwrap();
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_ready());
        assert!(!woken(&flag));
        // The fetch came back (empty, say): at this poll the worker is woken once more.
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_pending());
        assert!(woken(&flag), "the announcement was not followed by another poll");
        // And only once.
        assert!(wake.poll_drive(&mut cx, &PollSnapshot::default()).is_pending());
        assert!(!woken(&flag));
    }
}
