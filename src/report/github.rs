//! `--format github`: GitHub Actions workflow commands, which the runner turns into annotations on
//! the pull request: `::error file=PATH,line=L,col=C,title=CODE::MESSAGE`.

use super::Report;
use mrt_lint::Severity;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for item in &report.items {
        let f = &item.finding;
        writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            command(f.severity),
            property(&item.path),
            f.line,
            f.column,
            property(f.code),
            data(&f.message)
        )?;
    }
    for s in &report.skipped {
        writeln!(
            out,
            "::notice file={},title={}::{}",
            property(&s.path),
            property("mrt: skipped"),
            data(&format!("revision {} skipped: {}", s.revision, s.reason))
        )?;
    }
    writeln!(out, "{}", report.summary())
}

fn command(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// The message part: control characters made visible first (so no text from a file can end the
/// annotation and start a line of its own), then escaped as the runner's `escapeData`: `%`,
/// `\r`, `\n`.
pub fn data(s: &str) -> String {
    mrt_migrations::escape(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value, escaped as the runner's `escapeProperty`: also `:` and `,`.
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        // CR and LF from a file are shown as `\r` `\n` (escaped before the runner's encoding),
        // so a message stays one annotation line whatever the file holds.
        assert_eq!(data("50% done\r\nnext: a,b"), "50%25 done\\r\\nnext: a,b");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25\\n");
        assert_eq!(data("\x1b[2J::x"), "\\x1b[2J::x");
    }
}
