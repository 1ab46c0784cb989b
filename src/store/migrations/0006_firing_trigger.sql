ALTER TABLE firings ADD COLUMN trigger_name TEXT NOT NULL DEFAULT 'schedule';
ALTER TABLE firings ADD COLUMN requested_by TEXT;
ALTER TABLE schedules ADD COLUMN last_trigger TEXT
