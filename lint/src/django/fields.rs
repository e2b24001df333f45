//! Django model fields as a migration writes them (`models.CharField(max_length=20, null=True)`),
//! read into what decides their database effect: nullability, defaults, uniqueness, the column
//! and its type.
//!
//! Only Django's own field classes are judged: a class mrt does not know (a third-party or
//! project field) may give itself a default, a type or `blank=True`, so whatever depends on
//! that stays unknown instead of guessed.

use super::parse::Source;
use crate::model::{norm, DefaultKind};
use rustpython_parser::ast::{self, Expr};

/// A field class Django ships, with what its database effect depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownClass {
    pub name: &'static str,
    /// The column type family (`None`: it depends on something mrt does not follow, such as
    /// the primary key type a foreign key points at).
    family: Option<Family>,
    /// `Field.empty_strings_allowed`: with `blank=True` and NOT NULL, Django fills existing
    /// rows with `""` when it adds the column.
    pub empty_strings_allowed: bool,
    /// Django's `max_length` when the field does not set one.
    default_max_length: Option<u64>,
    pub relation: Relation,
    /// `DateField`, `DateTimeField`, `TimeField`: `auto_now`/`auto_now_add` give a default.
    pub dated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    None,
    /// `ForeignKey`, `OneToOneField`: the column is `<name>_id`.
    ForeignKey,
    /// `ManyToManyField`: no column, a table of its own.
    ManyToMany,
}

/// The database type family of a column, compared to tell whether `AlterField` changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Varchar,
    Text,
    SmallInt,
    Int,
    BigInt,
    Bool,
    Numeric,
    Float,
    Date,
    DateTime,
    Time,
    Duration,
    Uuid,
    Json,
    Binary,
    Inet,
}

const fn class(
    name: &'static str,
    family: Option<Family>,
    empty_strings_allowed: bool,
    default_max_length: Option<u64>,
) -> KnownClass {
    KnownClass {
        name,
        family,
        empty_strings_allowed,
        default_max_length,
        relation: Relation::None,
        dated: false,
    }
}

const fn dated(name: &'static str, family: Family) -> KnownClass {
    KnownClass {
        dated: true,
        ..class(name, Some(family), false, None)
    }
}

const fn related(name: &'static str, relation: Relation) -> KnownClass {
    KnownClass {
        relation,
        ..class(name, None, false, None)
    }
}

/// Django's field classes (`django.db.models.fields`), read from its source: the type family,
/// `empty_strings_allowed` and the default `max_length` of each.
const KNOWN: &[KnownClass] = &[
    class("AutoField", Some(Family::Int), false, None),
    class("BigAutoField", Some(Family::BigInt), false, None),
    class("SmallAutoField", Some(Family::SmallInt), false, None),
    class("IntegerField", Some(Family::Int), false, None),
    class("PositiveIntegerField", Some(Family::Int), false, None),
    class("BigIntegerField", Some(Family::BigInt), false, None),
    class("PositiveBigIntegerField", Some(Family::BigInt), false, None),
    class("SmallIntegerField", Some(Family::SmallInt), false, None),
    class(
        "PositiveSmallIntegerField",
        Some(Family::SmallInt),
        false,
        None,
    ),
    class("BooleanField", Some(Family::Bool), false, None),
    class("NullBooleanField", Some(Family::Bool), false, None),
    class("CharField", Some(Family::Varchar), true, None),
    class("EmailField", Some(Family::Varchar), true, Some(254)),
    class("SlugField", Some(Family::Varchar), true, Some(50)),
    class("URLField", Some(Family::Varchar), true, Some(200)),
    class("FileField", Some(Family::Varchar), true, Some(100)),
    class("ImageField", Some(Family::Varchar), true, Some(100)),
    class("FilePathField", Some(Family::Varchar), true, Some(100)),
    class(
        "CommaSeparatedIntegerField",
        Some(Family::Varchar),
        true,
        None,
    ),
    class("TextField", Some(Family::Text), true, None),
    class("DecimalField", Some(Family::Numeric), false, None),
    class("FloatField", Some(Family::Float), false, None),
    dated("DateField", Family::Date),
    dated("DateTimeField", Family::DateTime),
    dated("TimeField", Family::Time),
    class("DurationField", Some(Family::Duration), false, None),
    class("UUIDField", Some(Family::Uuid), false, None),
    class("JSONField", Some(Family::Json), false, None),
    class("BinaryField", Some(Family::Binary), true, None),
    class("GenericIPAddressField", Some(Family::Inet), false, None),
    class("IPAddressField", Some(Family::Inet), false, None),
    related("ForeignKey", Relation::ForeignKey),
    related("OneToOneField", Relation::ForeignKey),
    related("ManyToManyField", Relation::ManyToMany),
];

/// The class of a field: one Django ships, or another (named as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldClass {
    Known(&'static KnownClass),
    Unknown(String),
}

/// A field definition as the migration gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub class: FieldClass,
    /// `null=`; `None` when it is not a literal.
    pub null: Option<bool>,
    pub blank: bool,
    /// `default=` given (and not `NOT_PROVIDED`).
    pub has_default: bool,
    /// `db_default=` given: the database keeps it as the column default.
    pub db_default: Option<DefaultKind>,
    pub unique: bool,
    /// `db_index=` when given.
    pub db_index: Option<bool>,
    pub primary_key: bool,
    /// `auto_now=True` or `auto_now_add=True`.
    pub auto_now: bool,
    pub db_column: Option<String>,
    /// `through=` on a many-to-many field: its table belongs to another model.
    pub through: bool,
    max_length: Option<Option<u64>>,
    max_digits: Option<Option<u64>>,
    decimal_places: Option<Option<u64>>,
}

/// A column type as far as mrt can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbType {
    family: Family,
    params: [Option<u64>; 2],
}

impl FieldDef {
    pub fn known(&self) -> Option<&'static KnownClass> {
        match &self.class {
            FieldClass::Known(k) => Some(k),
            FieldClass::Unknown(_) => None,
        }
    }

    pub fn is_m2m(&self) -> bool {
        self.known()
            .is_some_and(|k| k.relation == Relation::ManyToMany)
    }

    /// The column it has in the table (`db_column`, `<name>_id` for a foreign key, or its
    /// name), normalised; `None` for a many-to-many field.
    pub fn column(&self, name: &str) -> Option<String> {
        if self.is_m2m() {
            return None;
        }
        if let Some(c) = &self.db_column {
            return Some(norm(c));
        }
        let fk = self
            .known()
            .is_some_and(|k| k.relation == Relation::ForeignKey);
        Some(if fk {
            norm(&format!("{name}_id"))
        } else {
            norm(name)
        })
    }

    /// Django gives the column an index of its own: `db_index=True`, or a foreign key that
    /// does not say `db_index=False` (unique and primary key columns have theirs through the
    /// constraint).
    pub fn indexed(&self) -> bool {
        let fk = self
            .known()
            .is_some_and(|k| k.relation == Relation::ForeignKey);
        !self.unique && !self.primary_key && self.db_index.unwrap_or(fk)
    }

    /// NOT NULL in the database (the field does not say `null=True`); `None` when `null=` is
    /// not a literal.
    pub fn not_null(&self) -> Option<bool> {
        self.null.map(|n| !n)
    }

    /// What existing rows get when Django adds the column (`BaseDatabaseSchemaEditor.
    /// effective_default` and `db_default`): a database default it keeps, a value it fills in
    /// once (`default=`, `""` for a blank text field, the time for `auto_now`), nothing, or
    /// unknown for a class mrt does not know.
    pub fn added_default(&self) -> DefaultKind {
        if let Some(kind) = self.db_default {
            return kind;
        }
        if self.has_default {
            return DefaultKind::Backfill;
        }
        let Some(known) = self.known() else {
            return DefaultKind::Unknown;
        };
        let blank_string = self.blank && known.empty_strings_allowed && self.null == Some(false);
        if blank_string || (known.dated && self.auto_now) {
            DefaultKind::Backfill
        } else {
            DefaultKind::None
        }
    }

    /// The column type, when the class is known and its size is written as a literal.
    pub fn db_type(&self) -> Option<DbType> {
        let known = self.known()?;
        let family = known.family?;
        let lit = |v: Option<Option<u64>>, default: Option<u64>| match v {
            Some(Some(n)) => Some(Some(n)),
            Some(None) => None,
            None => Some(default),
        };
        let params = match family {
            Family::Varchar => [lit(self.max_length, known.default_max_length)?, None],
            Family::Numeric => [lit(self.max_digits, None)?, lit(self.decimal_places, None)?],
            _ => [None, None],
        };
        Some(DbType { family, params })
    }
}

/// Reads a field constructor call. `None` when the expression is not a call.
pub fn field_def(expr: &Expr, src: &Source) -> Option<FieldDef> {
    let Expr::Call(call) = expr else {
        return None;
    };
    let class = match django_class(&call.func, src) {
        Some(name) => match KNOWN.iter().find(|k| k.name == name) {
            Some(k) => FieldClass::Known(k),
            None => FieldClass::Unknown(name.to_string()),
        },
        None => FieldClass::Unknown(
            super::parse::callee_name(&call.func)
                .unwrap_or("?")
                .to_string(),
        ),
    };
    let kw = |name: &str| keyword(&call.keywords, name);
    let flag = |name: &str| kw(name).and_then(bool_const).unwrap_or(false);
    let given = |name: &str| kw(name).is_some_and(|e| !is_not_provided(e));
    let size = |name: &str| kw(name).map(int_const);
    Some(FieldDef {
        class,
        null: match kw("null") {
            None => Some(false),
            Some(e) => bool_const(e),
        },
        blank: flag("blank"),
        has_default: given("default"),
        db_default: kw("db_default")
            .filter(|e| !is_not_provided(e))
            .map(db_default_kind),
        unique: flag("unique"),
        db_index: kw("db_index").and_then(bool_const),
        primary_key: flag("primary_key"),
        auto_now: flag("auto_now") || flag("auto_now_add"),
        db_column: kw("db_column").and_then(|e| src.string(e)),
        through: given("through"),
        max_length: size("max_length"),
        max_digits: size("max_digits"),
        decimal_places: size("decimal_places"),
    })
}

/// The class name when the callee is one of Django's model fields: `models.X`,
/// `django.db.models.X`, or `X` imported from `django.db.models`.
fn django_class<'a>(func: &'a Expr, src: &Source) -> Option<&'a str> {
    match func {
        Expr::Attribute(a) => {
            let name = a.attr.as_str();
            let module = dotted(&a.value)?;
            let from_models = module == "models"
                || module.starts_with("django.db.models")
                || src
                    .imported_from(module.split('.').next().unwrap_or(""))
                    .is_some_and(|m| m.starts_with("django.db"));
            from_models.then_some(name)
        }
        Expr::Name(n) => src
            .imported_from(n.id.as_str())
            .filter(|m| m.starts_with("django.db.models"))
            .map(|_| n.id.as_str()),
        _ => None,
    }
}

/// `a.b.c` as text.
pub fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr)),
        _ => None,
    }
}

/// A database function as `db_default`: volatile ones give every existing row its own value.
fn db_default_kind(e: &Expr) -> DefaultKind {
    let name = match e {
        Expr::Call(c) => super::parse::callee_name(&c.func).unwrap_or(""),
        _ => "",
    };
    match name {
        "Random" | "RandomUUID" | "UUID4" | "GenRandomUUID" => DefaultKind::Volatile,
        _ => DefaultKind::Static,
    }
}

/// `django.db.models.fields.NOT_PROVIDED`: what Django writes for "no default".
fn is_not_provided(e: &Expr) -> bool {
    matches!(e, Expr::Attribute(a) if a.attr.as_str() == "NOT_PROVIDED")
        || matches!(e, Expr::Name(n) if n.id.as_str() == "NOT_PROVIDED")
}

pub fn keyword<'a>(keywords: &'a [ast::Keyword], name: &str) -> Option<&'a Expr> {
    keywords
        .iter()
        .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
        .map(|k| &k.value)
}

pub fn bool_const(e: &Expr) -> Option<bool> {
    match e {
        Expr::Constant(c) => match c.value {
            ast::Constant::Bool(b) => Some(b),
            _ => None,
        },
        _ => None,
    }
}

fn int_const(e: &Expr) -> Option<u64> {
    match e {
        Expr::Constant(c) => match &c.value {
            ast::Constant::Int(i) => u64::try_from(i).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustpython_parser::{ast, Parse};

    fn def(src: &str) -> FieldDef {
        let text = format!("from django.db import models\nx = {src}\n");
        let suite = ast::Suite::parse(&text, "t.py").unwrap();
        let source = Source::new(&suite);
        let ast::Stmt::Assign(a) = &suite[1] else {
            panic!()
        };
        field_def(&a.value, &source).unwrap()
    }

    #[test]
    fn defaults_follow_effective_default() {
        assert_eq!(
            def("models.IntegerField()").added_default(),
            DefaultKind::None
        );
        assert_eq!(
            def("models.IntegerField(default=0)").added_default(),
            DefaultKind::Backfill
        );
        assert_eq!(
            def("models.CharField(max_length=5, blank=True)").added_default(),
            DefaultKind::Backfill
        );
        assert_eq!(
            def("models.IntegerField(blank=True)").added_default(),
            DefaultKind::None
        );
        assert_eq!(
            def("models.DateTimeField(auto_now_add=True)").added_default(),
            DefaultKind::Backfill
        );
        assert_eq!(
            def("models.IntegerField(db_default=0)").added_default(),
            DefaultKind::Static
        );
        assert_eq!(
            def("models.UUIDField(db_default=RandomUUID())").added_default(),
            DefaultKind::Volatile
        );
        assert_eq!(
            def("models.IntegerField(default=django.db.models.fields.NOT_PROVIDED)")
                .added_default(),
            DefaultKind::None
        );
        assert_eq!(
            def("phonenumber_field.PhoneNumberField()").added_default(),
            DefaultKind::Unknown
        );
    }

    #[test]
    fn columns_and_types() {
        assert_eq!(
            def("models.ForeignKey(on_delete=models.CASCADE, to='shop.customer')")
                .column("customer")
                .as_deref(),
            Some("customer_id")
        );
        assert_eq!(
            def("models.CharField(db_column='Legacy', max_length=3)")
                .column("x")
                .as_deref(),
            Some("legacy")
        );
        assert_eq!(
            def("models.ManyToManyField(to='shop.tag')").column("tags"),
            None
        );
        let a = def("models.CharField(max_length=10)").db_type();
        let b = def("models.CharField(max_length=20)").db_type();
        let c = def("models.SlugField(max_length=50)").db_type();
        let d = def("models.SlugField()").db_type();
        assert!(a.is_some() && a != b);
        assert_eq!(c, d);
        assert_eq!(def("models.CharField(max_length=N)").db_type(), None);
        assert_eq!(
            def("models.ForeignKey(to='a.b', on_delete=models.CASCADE)").db_type(),
            None
        );
        assert_eq!(
            def("models.IntegerField(null=True)").not_null(),
            Some(false)
        );
        assert_eq!(def("models.IntegerField(null=flag)").not_null(), None);
    }
}
