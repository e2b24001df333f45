//! MRT101/MRT102: is there a downgrade at all, and does it do anything.

use super::Ctx;
use crate::finding::Hit;
use crate::model::Kind;
use crate::registry::Frontend;

pub fn missing_downgrade(ctx: &Ctx) -> Vec<Hit> {
    match (&ctx.m.upgrade, &ctx.m.downgrade) {
        (Some(up), None) => vec![Hit::new(
            "MRT101",
            up.def_start,
            up.header,
            if ctx.frontend == Frontend::SqlFiles {
                "this up migration has no down migration, although the layout has them: rolling back past it fails"
            } else {
                "migration has upgrade() but no downgrade(); `alembic downgrade` will fail here"
            },
        )],
        _ => Vec::new(),
    }
}

/// An empty downgrade is right when the upgrade changes nothing in the database (it is
/// empty, or only logs and computes), or for a merge revision, whose only job is to join
/// heads. When all the upgrade does is add enum values, MRT304 says the same more precisely.
pub fn noop_downgrade(ctx: &Ctx) -> Vec<Hit> {
    let (Some(up), Some(down)) = (&ctx.m.upgrade, &ctx.m.downgrade) else {
        return Vec::new();
    };
    if !down.noop || !up.changes_db() || ctx.is_merge {
        return Vec::new();
    }
    let hit = Hit::new(
        "MRT102",
        down.def_start,
        down.whole,
        "downgrade() does nothing but upgrade() changes the database",
    );
    let only_enum_values = !up.opaque_effects
        && up
            .actions
            .iter()
            .all(|a| matches!(a.kind, Kind::AddEnumValue { .. }));
    vec![if only_enum_values {
        hit.yielding_in_file("MRT304")
    } else {
        hit
    }]
}
