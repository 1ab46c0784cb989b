CREATE TABLE IF NOT EXISTS monkey_events (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    day TEXT NOT NULL,
    group_key TEXT NOT NULL,
    instance TEXT,
    mode TEXT NOT NULL,
    leashed BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    planned_at TEXT
);
CREATE INDEX IF NOT EXISTS monkey_events_group ON monkey_events (group_key, at_ms);
CREATE INDEX IF NOT EXISTS monkey_events_at ON monkey_events (at_ms);
CREATE TABLE IF NOT EXISTS monkey_plans (
    monkey TEXT NOT NULL,
    day TEXT NOT NULL,
    group_key TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    seed BIGINT NOT NULL,
    made_at TEXT NOT NULL,
    done BIGINT NOT NULL,
    PRIMARY KEY (monkey, day, group_key)
);
CREATE TABLE IF NOT EXISTS monkey_lock (
    group_key TEXT PRIMARY KEY,
    n BIGINT NOT NULL
)
