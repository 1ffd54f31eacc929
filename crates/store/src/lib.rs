//! Durable storage behind one trait, with two real backends: SQLite (embedded, the
//! default) and PostgreSQL (shared by several instances).
