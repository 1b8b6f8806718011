"""The ledger: events, expected actions, deliveries, webhook dedupe and id maps, on SQLite or PostgreSQL."""
