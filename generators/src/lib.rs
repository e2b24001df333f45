//! Seed-row generation from an introspected schema (proptest strategies, FK order, edge values).
//! Kept apart because the data check is only as good as the rows it seeds.
