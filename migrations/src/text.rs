//! Text from migration files made safe to print. Revision ids, docstrings, SQL, file names and
//! error messages come from files anyone can commit; printed raw, an ESC or OSC sequence
//! rewrites the terminal (or hides a line), a CR overwrites what came before, and a line that
//! starts with `::` is a GitHub Actions workflow command. Every text output of mrt passes such
//! text through [`escape`] (or [`escape_lines`] for mrt's own multi-line messages); JSON and
//! SARIF carry it as data, escaped by their serializer.

use std::borrow::Cow;

/// `s` with every control character (C0 including tab, CR and LF, DEL, C1) and every Unicode
/// bidirectional control written as a visible escape (`\n`, `\r`, `\t`, `\0`, `\x1b`,
/// `\u{202e}`), and a leading `::` written `\x3a:` so no printed line can start a workflow
/// command. Idempotent: escaping escaped text changes nothing.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.starts_with("::") && !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let rest = match s.strip_prefix(':') {
        Some(rest) if rest.starts_with(':') => {
            out.push_str("\\x3a");
            rest
        }
        _ => s,
    };
    for c in rest.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`escape`] line by line, keeping the line breaks: for mrt's own multi-line messages (an error
/// and its hints) that may embed text from a file.
pub fn escape_lines(s: &str) -> String {
    s.split('\n')
        .map(|line| {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            format!("{}{}", escape(indent), escape(body))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Characters that reorder how a line is displayed ("Trojan Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if needs_escape(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(
            escape("plain text, 'quoted' \\ ok"),
            "plain text, 'quoted' \\ ok"
        );
        assert_eq!(escape("a\nb\rc\td\0e"), "a\\nb\\rc\\td\\0e");
        assert_eq!(
            escape("\x1b[31mred\x1b]8;;http://x\x07"),
            "\\x1b[31mred\\x1b]8;;http://x\\x07"
        );
        assert_eq!(escape("\u{9b}2J \u{7f}"), "\\u{9b}2J \\x7f");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("caf\u{e9} \u{1f600}"), "caf\u{e9} \u{1f600}");
    }

    #[test]
    fn no_value_can_start_a_workflow_command() {
        assert_eq!(escape("::error::pwned"), "\\x3a:error::pwned");
        assert_eq!(escape("x\n::error::pwned"), "x\\n::error::pwned");
        assert_eq!(escape("a::b"), "a::b");
        assert_eq!(escape(":x"), ":x");
    }

    #[test]
    fn escaping_is_idempotent() {
        for s in ["::a\n\x1b", "\u{202e}\r", "\\x1b"] {
            let once = escape(s).into_owned();
            assert_eq!(escape(&once), once);
        }
    }

    #[test]
    fn lines_keep_their_breaks_but_not_their_commands() {
        assert_eq!(
            escape_lines("error: x\n  ::warning::y\n\x1b[2Jz"),
            "error: x\n  \\x3a:warning::y\n\\x1b[2Jz"
        );
    }
}
