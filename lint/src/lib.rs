//! Static rollback-safety rules over parsed migrations: the rule registry, findings, suppression
//! and severity overrides. Kept apart from execution so `mrt check` never needs a database.
