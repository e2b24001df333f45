//! MRT101/MRT102: is there a downgrade at all, and does it do anything.

use super::Ctx;
use crate::finding::Hit;

pub fn missing_downgrade(ctx: &Ctx) -> Vec<Hit> {
    match (&ctx.m.upgrade, &ctx.m.downgrade) {
        (Some(up), None) => vec![Hit::new(
            "MRT101",
            up.def_start,
            up.header,
            "migration has upgrade() but no downgrade(); `alembic downgrade` will fail here",
        )],
        _ => Vec::new(),
    }
}

/// An empty downgrade is right when the upgrade is empty too, or for a merge revision, whose
/// only job is to join heads.
pub fn noop_downgrade(ctx: &Ctx) -> Vec<Hit> {
    let (Some(up), Some(down)) = (&ctx.m.upgrade, &ctx.m.downgrade) else {
        return Vec::new();
    };
    if !down.noop || up.noop || ctx.is_merge {
        return Vec::new();
    }
    vec![Hit::new(
        "MRT102",
        down.def_start,
        down.whole,
        "downgrade() does nothing but upgrade() changes the database",
    )]
}
