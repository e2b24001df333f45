//! Custom seeds: rows the user writes for a table mrt cannot generate (a NOT NULL foreign key in
//! a cycle, a CHECK it cannot read, values only the application knows). They are converted by
//! column type with the same rules as generated values, so mistakes are reported with table,
//! row and column before anything touches a database.

use crate::constraints::read_checks;
use crate::strategy::{parse_for, render_array, Spec};
use crate::types::SqlType;
use mrt_db::{Table, Value};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One table's custom seed, as written in `mrt.toml` / `pyproject.toml` (or JSON):
/// `rows = [{ id = 1, status = "deleted" }]` and/or `file = "seeds/users.csv"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSeed {
    /// Inline rows: column name → value.
    pub rows: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    /// A `.json` file (array of objects) or `.csv` file (header row of column names). A relative
    /// path is taken as is (relative to the working directory): resolve it against the config
    /// file's folder before seeding.
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub mode: CustomMode,
}

/// Whether custom rows replace the generated ones or come in addition to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomMode {
    #[default]
    Replace,
    Extend,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CustomSeedError {
    #[error("custom seed for table {table}: cannot read {}: {message}", path.display())]
    File {
        table: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "custom seed for table {table} ({source_name}), row {row}, column {column}: {message}"
    )]
    Value {
        table: String,
        source_name: String,
        row: usize,
        column: String,
        message: String,
    },
    #[error("custom seed for table {table} ({source_name}), row {row}: unknown column {column}; the table has {known}")]
    UnknownColumn {
        table: String,
        source_name: String,
        row: usize,
        column: String,
        known: String,
    },
    #[error("custom seed for table {table} ({source_name}), row {row}, column {column}: no value given, and the column is NOT NULL and not auto-numbered")]
    Missing {
        table: String,
        source_name: String,
        row: usize,
        column: String,
    },
}

/// The custom rows for `table`, in column order: inline `rows` first, then the file's. Rows are
/// numbered from 1 within their source. Missing columns become NULL when nullable and the next
/// free number when auto-numbered; otherwise they are an error, as are unknown columns and
/// values that do not fit the column's type.
pub fn custom_rows(table: &Table, spec: &CustomSeed) -> Result<Vec<Vec<Value>>, CustomSeedError> {
    let specs = read_checks(table).specs;
    let conv = Converter {
        table,
        specs: &specs,
    };
    let mut out = Vec::new();
    if let Some(rows) = &spec.rows {
        for (i, row) in rows.iter().enumerate() {
            out.push(conv.json_row("rows", i + 1, row)?);
        }
    }
    if let Some(path) = &spec.file {
        out.extend(conv.file_rows(path)?);
    }
    conv.number_missing(&mut out);
    Ok(out)
}

/// Missing auto-numbered values are marked with this until numbered.
const PENDING: &str = "\u{0}mrt:auto";

struct Converter<'a> {
    table: &'a Table,
    specs: &'a [Spec],
}

impl Converter<'_> {
    fn file_rows(&self, path: &Path) -> Result<Vec<Vec<Value>>, CustomSeedError> {
        let file_err = |message: String| CustomSeedError::File {
            table: self.table.name.clone(),
            path: path.to_path_buf(),
            message,
        };
        let source = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => {
                let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
                let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                    serde_json::from_str(&text)
                        .map_err(|e| file_err(format!("expected a JSON array of objects: {e}")))?;
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| self.json_row(&source, i + 1, r))
                    .collect()
            }
            Some("csv") => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_path(path)
                    .map_err(|e| file_err(e.to_string()))?;
                let headers: Vec<String> = reader
                    .headers()
                    .map_err(|e| file_err(e.to_string()))?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                let mut out = Vec::new();
                for (i, record) in reader.records().enumerate() {
                    let record = record.map_err(|e| file_err(format!("row {}: {e}", i + 1)))?;
                    let fields = headers.iter().map(String::as_str).zip(record.iter());
                    out.push(self.csv_row(&source, i + 1, fields)?);
                }
                Ok(out)
            }
            _ => Err(file_err(
                "unsupported file type; use .json (an array of objects) or .csv (with a header row)"
                    .into(),
            )),
        }
    }

    fn column(&self, source: &str, row: usize, name: &str) -> Result<usize, CustomSeedError> {
        self.table
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| CustomSeedError::UnknownColumn {
                table: self.table.name.clone(),
                source_name: source.to_string(),
                row,
                column: name.to_string(),
                known: self
                    .table
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn value_err(&self, source: &str, row: usize, c: usize, message: String) -> CustomSeedError {
        CustomSeedError::Value {
            table: self.table.name.clone(),
            source_name: source.to_string(),
            row,
            column: self.table.columns[c].name.clone(),
            message,
        }
    }

    fn json_row(
        &self,
        source: &str,
        row: usize,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Value>, CustomSeedError> {
        let mut given: BTreeMap<usize, Value> = BTreeMap::new();
        for (name, json) in object {
            let c = self.column(source, row, name)?;
            let value = self
                .convert_json(c, json)
                .map_err(|m| self.value_err(source, row, c, m))?;
            given.insert(c, value);
        }
        self.complete(source, row, given)
    }

    fn csv_row<'f>(
        &self,
        source: &str,
        row: usize,
        fields: impl Iterator<Item = (&'f str, &'f str)>,
    ) -> Result<Vec<Value>, CustomSeedError> {
        let mut given: BTreeMap<usize, Value> = BTreeMap::new();
        for (name, text) in fields {
            let c = self.column(source, row, name)?;
            let value = if text.is_empty() {
                if !self.table.columns[c].nullable {
                    return Err(self.value_err(
                        source,
                        row,
                        c,
                        "empty field (NULL) in a NOT NULL column".into(),
                    ));
                }
                Value::Null
            } else {
                parse_for(&self.specs[c], text).map_err(|m| self.value_err(source, row, c, m))?
            };
            given.insert(c, value);
        }
        self.complete(source, row, given)
    }

    /// Fills the columns not given: NULL, or a placeholder for auto-numbered ones.
    fn complete(
        &self,
        source: &str,
        row: usize,
        mut given: BTreeMap<usize, Value>,
    ) -> Result<Vec<Value>, CustomSeedError> {
        let mut out = Vec::with_capacity(self.table.columns.len());
        for (c, column) in self.table.columns.iter().enumerate() {
            let value = match given.remove(&c) {
                Some(v) => v,
                None if crate::is_auto(column) => Value::Text(PENDING.into()),
                None if column.nullable => Value::Null,
                None => {
                    return Err(CustomSeedError::Missing {
                        table: self.table.name.clone(),
                        source_name: source.to_string(),
                        row,
                        column: column.name.clone(),
                    })
                }
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Gives auto-numbered columns that were left out the next numbers after those given.
    fn number_missing(&self, rows: &mut [Vec<Value>]) {
        for c in 0..self.table.columns.len() {
            let mut next = rows
                .iter()
                .filter_map(|r| match r.get(c) {
                    Some(Value::Int(n)) => Some(*n),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            for row in rows.iter_mut() {
                if matches!(&row[c], Value::Text(t) if t == PENDING) {
                    next = next.saturating_add(1);
                    row[c] = Value::Int(next);
                }
            }
        }
    }

    fn convert_json(&self, c: usize, json: &serde_json::Value) -> Result<Value, String> {
        use serde_json::Value as J;
        let spec = &self.specs[c];
        let column = &self.table.columns[c];
        match (json, &spec.ty) {
            (J::Null, _) if column.nullable => Ok(Value::Null),
            (J::Null, _) => Err("null in a NOT NULL column".into()),
            (J::Bool(b), SqlType::Bool) => Ok(Value::Bool(*b)),
            (J::Bool(b), _) => parse_for(spec, if *b { "1" } else { "0" }),
            (J::Number(n), SqlType::Float { .. }) => n
                .as_f64()
                .map(Value::Float)
                .ok_or_else(|| format!("{n} is not a number")),
            (J::Number(n), _) => parse_for(spec, &n.to_string()),
            (J::String(s), _) => parse_for(spec, s),
            (J::Object(m), _) if m.len() == 1 && m.contains_key("$__toml_private_datetime") => {
                // A TOML date/time value arrives as this one-key map.
                match m.get("$__toml_private_datetime") {
                    Some(J::String(s)) => parse_for(spec, &s.replace('T', " ")),
                    _ => Err("unreadable TOML date".into()),
                }
            }
            (J::Array(_) | J::Object(_), SqlType::Json) => Ok(Value::Text(json.to_string())),
            (J::Array(items), SqlType::Array(_)) => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|i| match i {
                        J::Null => Value::Null,
                        J::Bool(b) => Value::Bool(*b),
                        J::Number(n) => n
                            .as_i64()
                            .map(Value::Int)
                            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
                        J::String(s) => Value::Text(s.clone()),
                        other => Value::Text(other.to_string()),
                    })
                    .collect();
                Ok(Value::Text(render_array(&items)))
            }
            (J::Array(items), SqlType::Bytes { .. }) => items
                .iter()
                .map(|i| {
                    i.as_u64()
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| format!("{i} is not a byte (0..=255)"))
                })
                .collect::<Result<Vec<u8>, _>>()
                .map(Value::Bytes),
            (other, _) => Err(format!(
                "{other} does not fit a {} column",
                column.data_type
            )),
        }
    }
}
