//! Database objects beside tables: sequences, triggers, types; and SQL mrt cannot see
//! (MRT100, MRT501-MRT503).

use super::{each, each_up, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, Kind, Obj};

pub fn runtime_sql(ctx: &Ctx) -> Vec<Hit> {
    let msg = |a: &crate::model::Action| {
        matches!(a.kind, Kind::DynamicSql).then(|| {
            "SQL built at run time cannot be checked statically; review it by hand".to_string()
        })
    };
    let mut hits = each(ctx.m.up_actions(), "MRT100", msg);
    hits.extend(each(ctx.m.down_actions(), "MRT100", msg));
    hits
}

pub fn sequence(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    let down_has = |obj_drop: bool, name: &crate::model::Name| {
        m.down_any(|k| match k {
            Kind::Drop {
                obj: Obj::Sequence,
                name: n,
            } if obj_drop => same(n, name),
            Kind::Create {
                obj: Obj::Sequence,
                name: n,
                ..
            } if !obj_drop => same(n, name),
            _ => false,
        })
    };
    each_up(ctx, "MRT501", |a| {
        match &a.kind {
        Kind::AlterSequence { name } => Some(format!(
            "upgrade() changes sequence `{}`: its previous value or settings are not restored by downgrade()",
            show(name)
        )),
        // Pairing with a downgrade that does not exist by design says nothing.
        Kind::Create { .. } | Kind::Drop { .. } if ctx.forward_only => None,
        Kind::Create { obj: Obj::Sequence, name, .. } if !down_has(true, name) => Some(format!(
            "upgrade() creates sequence `{}` and downgrade() does not drop it",
            show(name)
        )),
        Kind::Drop { obj: Obj::Sequence, name } if !down_has(false, name) => Some(format!(
            "upgrade() drops sequence `{}` and downgrade() does not re-create it",
            show(name)
        )),
        _ => None,
    }
    })
}

pub fn trigger(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT502", |a| {
        let Kind::Create {
            obj: Obj::Trigger,
            name,
            table,
        } = &a.kind
        else {
            return None;
        };
        let dropped = m.down_any(|k| match k {
            Kind::Drop {
                obj: Obj::Trigger,
                name: n,
            } => same(n, name),
            // Dropping the table drops its triggers.
            Kind::Drop {
                obj: Obj::Table,
                name: t,
            } => table.is_some() && same(t, table),
            _ => false,
        });
        (!dropped).then(|| {
            format!(
                "upgrade() creates trigger `{}` and downgrade() does not drop it",
                show(name)
            )
        })
    })
}

pub fn create_type(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT503", |a| {
        let Kind::Create {
            obj: Obj::Type,
            name,
            ..
        } = &a.kind
        else {
            return None;
        };
        let dropped =
            m.down_any(|k| matches!(k, Kind::Drop { obj: Obj::Type, name: n } if same(n, name)));
        (!dropped).then(|| {
            format!(
                "upgrade() creates type `{}` and downgrade() does not drop it: the next upgrade fails with \"already exists\"",
                show(name)
            )
        })
    })
}
