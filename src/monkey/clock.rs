//! The one clock every monkey decision reads. The system clock sleeps in bounded steps (so a
//! wall-clock jump is noticed within a minute); the simulated clock jumps straight to each
//! wake-up, so tests run weeks of schedule in milliseconds. (Tokio's paused time is not used: it
//! advances virtual time whenever the runtime idles, including while a SQLite query runs on its
//! worker thread, which would move "now" in the middle of a kill.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

/// A source of "now" and a way to wait for a moment.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// A clock that only moves when something waits on it; it stops at an optional end, where
    /// every wait returns false (as if cancelled).
    Simulated(Arc<Mutex<Timestamp>>, Option<Timestamp>),
}

impl Clock {
    /// A simulated clock starting at `start`, running until just before `end` (if given).
    pub fn simulated(start: Timestamp, end: Option<Timestamp>) -> Clock {
        Clock::Simulated(Arc::new(Mutex::new(start)), end)
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Simulated(t, _) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Waits until `at` (at once if it passed); false when cancelled first.
    pub async fn sleep_until(&self, at: Timestamp, cancel: &CancellationToken) -> bool {
        match self {
            Clock::System => loop {
                let left = at.duration_since(Timestamp::now());
                if left.is_zero() || left.is_negative() {
                    return !cancel.is_cancelled();
                }
                let step = Duration::try_from(left)
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(60));
                tokio::select! {
                    _ = tokio::time::sleep(step) => {}
                    _ = cancel.cancelled() => return false,
                }
            },
            Clock::Simulated(t, end) => {
                let reached = {
                    let mut now = t.lock().unwrap_or_else(|e| e.into_inner());
                    let target = end.map_or(at, |e| at.min(e));
                    if target > *now {
                        *now = target;
                    }
                    end.is_none_or(|e| at < e)
                };
                tokio::task::yield_now().await;
                reached && !cancel.is_cancelled()
            }
        }
    }
}
