CREATE TABLE IF NOT EXISTS schedules (
    experiment TEXT PRIMARY KEY,
    paused BIGINT NOT NULL DEFAULT 0,
    next_planned_ms BIGINT,
    last_planned_ms BIGINT,
    last_state TEXT,
    last_reason TEXT,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS firings (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    planned_ms BIGINT NOT NULL,
    planned_at TEXT NOT NULL,
    due_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    server TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    run_id TEXT,
    finished_at TEXT,
    UNIQUE (experiment, planned_ms)
);
CREATE INDEX IF NOT EXISTS firings_state ON firings (state)
