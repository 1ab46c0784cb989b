CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    title TEXT NOT NULL,
    file_path TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    run_trigger TEXT NOT NULL,
    trigger_detail TEXT,
    host TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    pid_start BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    ended_ms BIGINT,
    ended_at TEXT,
    status TEXT NOT NULL,
    outcome TEXT,
    deviated BIGINT NOT NULL DEFAULT 0,
    exit_code BIGINT,
    note TEXT,
    journal TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_ms, id);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment, started_ms, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, started_ms, id);
CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
)
