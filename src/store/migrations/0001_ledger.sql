CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    activity TEXT NOT NULL,
    func TEXT NOT NULL,
    target TEXT NOT NULL,
    undo TEXT NOT NULL,
    owner_pid BIGINT NOT NULL,
    owner_start BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    applied_at TEXT,
    reverted_at TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS leases_state ON leases (state);
CREATE TABLE IF NOT EXISTS halt (
    id BIGINT PRIMARY KEY,
    halted BIGINT NOT NULL,
    reason TEXT,
    changed_at TEXT NOT NULL
);
