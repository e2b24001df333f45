//! diff_rows on hand-made tables: keyless multisets, column sets that differ, float edge cases.

use mrt_db::{diff_rows, Column, RowDiffKind, Table, Value};

fn table(cols: &[&str], pk: &[&str]) -> Table {
    Table {
        name: "t".into(),
        columns: cols
            .iter()
            .map(|c| Column {
                name: (*c).into(),
                data_type: "TEXT".into(),
                nullable: true,
                ..Column::default()
            })
            .collect(),
        primary_key: pk.iter().map(|c| (*c).to_string()).collect(),
        ..Table::default()
    }
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn keyless_multiset_counts_duplicates() {
    let tab = table(&["a", "b"], &[]);
    let before = vec![
        vec![t("x"), Value::Int(1)],
        vec![t("x"), Value::Int(1)],
        vec![t("y"), Value::Null],
    ];
    // One duplicate lost, order changed, one new row.
    let after = vec![
        vec![t("y"), Value::Null],
        vec![t("x"), Value::Int(1)],
        vec![t("z"), Value::Int(2)],
    ];
    let d: Vec<String> = diff_rows(&tab, &before, &tab, &after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        d,
        [
            "table t, row a='x', b=1: lost",
            "table t, row a='z', b=2: left behind (not there before)",
        ]
    );
    // Same multiset in another order: equal.
    let shuffled = vec![before[2].clone(), before[0].clone(), before[1].clone()];
    assert!(diff_rows(&tab, &before, &tab, &shuffled).is_empty());
}

#[test]
fn null_is_not_empty_string() {
    let tab = table(&["id", "v"], &["id"]);
    let d = diff_rows(
        &tab,
        &[vec![Value::Int(1), t("")]],
        &tab,
        &[vec![Value::Int(1), Value::Null]],
    );
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].kind,
        RowDiffKind::Changed {
            column: "v".into(),
            before: t(""),
            after: Value::Null
        }
    );
}

#[test]
fn composite_key_and_reordered_columns() {
    let before_t = table(&["a", "b", "v", "gone"], &["a", "b"]);
    // After: columns in another order, `gone` dropped (a schema difference, not a row one),
    // `extra` added.
    let after_t = table(&["v", "extra", "b", "a"], &["a", "b"]);
    let before = vec![vec![Value::Int(1), t("k"), t("same"), t("lost col")]];
    let after = vec![vec![t("same"), Value::Null, t("k"), Value::Int(1)]];
    assert!(diff_rows(&before_t, &before, &after_t, &after).is_empty());
    let changed = vec![vec![t("other"), Value::Null, t("k"), Value::Int(1)]];
    let d = diff_rows(&before_t, &before, &after_t, &changed);
    assert_eq!(
        d.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["table t, row a=1, b='k': column v was 'same', now 'other'"]
    );
}

#[test]
fn float_edge_cases() {
    let tab = table(&["id", "f"], &["id"]);
    let rows = |vals: &[f64]| -> Vec<Vec<Value>> {
        vals.iter()
            .enumerate()
            .map(|(i, f)| vec![Value::Int(i as i64), Value::Float(*f)])
            .collect()
    };
    let edge = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        f64::MIN_POSITIVE,
        1e308,
    ];
    assert!(diff_rows(&tab, &rows(&edge), &tab, &rows(&edge)).is_empty());
    // -0.0 equals 0.0; NaN equals NaN whatever its payload.
    let folded = [
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MIN_POSITIVE,
        1e308,
    ];
    assert!(diff_rows(&tab, &rows(&edge), &tab, &rows(&folded)).is_empty());
    // A lost bit of precision is a change; so is a float that became an integer.
    let d = diff_rows(&tab, &rows(&[0.1 + 0.2]), &tab, &rows(&[0.3]));
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].to_string(),
        "table t, row id=0: column f was 0.30000000000000004, now 0.3"
    );
    let d = diff_rows(
        &tab,
        &rows(&[1.0]),
        &tab,
        &[vec![Value::Int(0), Value::Int(1)]],
    );
    assert_eq!(
        d[0].to_string(),
        "table t, row id=0: column f was 1.0 (float), now 1 (integer)"
    );
}

#[test]
fn lost_key_column_falls_back_to_multiset() {
    let before_t = table(&["id", "v"], &["id"]);
    let after_t = table(&["v"], &[]);
    let before = vec![vec![Value::Int(1), t("a")], vec![Value::Int(2), t("b")]];
    let after = vec![vec![t("a")]];
    let d: Vec<String> = diff_rows(&before_t, &before, &after_t, &after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(d, ["table t, row v='b': lost"]);
}
