ALTER TABLE leases ADD COLUMN settle_by_ms BIGINT
