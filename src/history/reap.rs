//! Runs whose process died (SIGKILL, OOM, the machine went down) stay `running` in the store; the
//! next process that opens the history marks them `interrupted`. A run belongs to a process on a
//! host in one boot: a different boot id means the machine restarted, and on the same boot the
//! pid plus its start time (as the ledger checks lease owners) tells a live run from a dead one
//! whose pid was reused. Runs of other hosts are left alone: only their own host can tell.

use jiff::Timestamp;
use sqlx::Row;

use super::HistoryError;
use crate::experiment::event::Stamped;
use crate::experiment::journal;
use crate::store::Store;
use crate::target::process::ProcessIdentity;

/// Where and as what a run executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id`: new at every boot.
    pub boot_id: String,
    pub process: ProcessIdentity,
}

impl HostIdentity {
    /// This process on this host in this boot.
    pub fn current() -> HostIdentity {
        HostIdentity {
            host: crate::experiment::event::host_name(),
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            process: ProcessIdentity::current(),
        }
    }

    /// Whether the run recorded with this identity still has its process.
    fn still_runs(&self, me: &HostIdentity) -> bool {
        if self.host != me.host {
            return true;
        }
        if self.boot_id != me.boot_id {
            return false;
        }
        self.process == me.process || self.process.is_alive()
    }
}

/// Marks every `running` run of this host whose process is gone as `interrupted`, with the journal
/// its stored events rebuild; returns their ids.
pub async fn reap_interrupted(
    store: &Store,
    me: &HostIdentity,
) -> Result<Vec<String>, HistoryError> {
    let rows = sqlx::query(
        "SELECT id, host, boot_id, pid, pid_start, started_ms FROM runs WHERE status = 'running'",
    )
    .fetch_all(store.pool())
    .await?;
    let mut reaped = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        let recorded = HostIdentity {
            host: row.try_get("host")?,
            boot_id: row.try_get("boot_id")?,
            process: ProcessIdentity {
                pid: row.try_get::<i64, _>("pid")? as i32,
                start_time: row.try_get::<i64, _>("pid_start")? as u64,
            },
        };
        if recorded.still_runs(me) {
            continue;
        }
        let started_ms: i64 = row.try_get("started_ms")?;
        let events = super::query::History::new(store.clone())
            .events(&id)
            .await?;
        let stamped: Vec<Stamped> = events
            .iter()
            .filter_map(|e| serde_json::from_value(e.event.clone()).ok())
            .collect();
        let last_ms = events.last().map(|e| e.at_ms).unwrap_or(started_ms);
        let ended = Timestamp::from_millisecond(last_ms).unwrap_or_else(|_| Timestamp::now());
        let journal = (!stamped.is_empty()).then(|| journal::from_events(&stamped).to_string());
        let note = if recorded.boot_id != me.boot_id {
            "the machine restarted while the run was going"
        } else {
            "the run's process died (killed or crashed) before the run finished"
        };
        let done = sqlx::query(
            "UPDATE runs SET status = 'interrupted', ended_ms = $1, ended_at = $2, note = $3, journal = $4 WHERE id = $5 AND status = 'running'",
        )
        .bind(last_ms)
        .bind(ended.to_string())
        .bind(note)
        .bind(journal)
        .bind(&id)
        .execute(store.pool())
        .await?;
        if done.rows_affected() > 0 {
            reaped.push(id);
        }
    }
    Ok(reaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_dead_after_a_reboot_or_when_its_process_is_gone() {
        let me = HostIdentity::current();
        assert!(me.still_runs(&me));
        let rebooted = HostIdentity {
            boot_id: "another-boot".into(),
            ..me.clone()
        };
        assert!(!rebooted.still_runs(&me));
        let recycled = HostIdentity {
            process: ProcessIdentity {
                pid: me.process.pid,
                start_time: me.process.start_time + 1,
            },
            ..me.clone()
        };
        assert!(!recycled.still_runs(&me));
        let elsewhere = HostIdentity {
            host: format!("{}-other", me.host),
            boot_id: "x".into(),
            ..me.clone()
        };
        assert!(
            elsewhere.still_runs(&me),
            "other hosts judge their own runs"
        );
    }
}
