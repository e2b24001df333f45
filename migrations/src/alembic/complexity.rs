//! Files too deeply nested to analyse. The parser and every walk over its tree recurse once per
//! level of nesting, so a file of 100,000 nested brackets (or one expression of 100,000 `+`)
//! overflows the stack and aborts the whole process, leaving databases and temp dirs behind.
//! Python itself refuses such files (more than 200 nested brackets, 100 indentation levels, or
//! an expression its compiler cannot recurse through), so none is a real migration; they are
//! found here with the lexer, which does not recurse, and reported instead of parsed.

use rustpython_parser::{lexer, Mode, Tok};

/// Nested brackets Python accepts ("too many nested parentheses" past this).
const MAX_BRACKETS: usize = 200;
/// Indentation levels Python accepts ("too many levels of indentation" past this).
const MAX_INDENT: usize = 100;
/// Operators in one run of an expression (no comma or bracket between them): each nests the
/// tree one level deeper. Python's compiler gives up somewhere between 1,000 and 10,000.
const MAX_CHAIN: usize = 5_000;

/// Why `source` is too complex to analyse, with the 1-based line where the limit was passed.
pub fn too_complex(source: &str) -> Option<(usize, String)> {
    let mut brackets = 0usize;
    let mut indent = 0usize;
    // Operators since the last comma or bracket, per open bracket (index 0: outside any).
    let mut chains: Vec<usize> = vec![0];
    for token in lexer::lex(source, Mode::Module) {
        let Ok((tok, range)) = token else {
            return None; // a syntax error: the parser reports it
        };
        let line = || {
            source[..usize::from(range.start()).min(source.len())]
                .matches('\n')
                .count()
                + 1
        };
        match tok {
            Tok::Lpar | Tok::Lsqb | Tok::Lbrace => {
                brackets += 1;
                chains.push(0);
                if brackets > MAX_BRACKETS {
                    return Some((line(), format!("more than {MAX_BRACKETS} nested brackets (Python itself allows {MAX_BRACKETS})")));
                }
            }
            Tok::Rpar | Tok::Rsqb | Tok::Rbrace => {
                brackets = brackets.saturating_sub(1);
                if chains.len() > 1 {
                    chains.pop();
                }
            }
            Tok::Indent => {
                indent += 1;
                if indent > MAX_INDENT {
                    return Some((line(), format!("more than {MAX_INDENT} levels of indentation (Python itself allows {MAX_INDENT})")));
                }
            }
            Tok::Dedent => indent = indent.saturating_sub(1),
            Tok::Comma | Tok::Newline | Tok::Colon | Tok::Semi => {
                if let Some(run) = chains.last_mut() {
                    *run = 0;
                }
            }
            t if nests(&t) => {
                let run = chains.last_mut()?;
                *run += 1;
                if *run > MAX_CHAIN {
                    return Some((line(), format!("an expression of more than {MAX_CHAIN} operators in a row (Python cannot compile it)")));
                }
            }
            _ => {}
        }
    }
    None
}

/// Tokens that make an expression one level deeper: operators, attribute dots, `not`, `lambda`,
/// `await`, conditional expressions.
fn nests(tok: &Tok) -> bool {
    use Tok::*;
    matches!(
        tok,
        Plus | Minus
            | Star
            | Slash
            | DoubleSlash
            | Percent
            | DoubleStar
            | At
            | Vbar
            | Amper
            | CircumFlex
            | LeftShift
            | RightShift
            | Tilde
            | Less
            | Greater
            | EqEqual
            | NotEqual
            | LessEqual
            | GreaterEqual
            | Dot
            | And
            | Or
            | Not
            | Is
            | In
            | Lambda
            | Await
            | If
            | Else
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_files_are_named_and_ordinary_ones_pass() {
        let brackets = format!("x = {}1{}\n", "(".repeat(201), ")".repeat(201));
        assert!(too_complex(&brackets).is_some_and(|(_, why)| why.contains("nested brackets")));
        let chain = format!("\n\nx = {}\n", vec!["a"; 5_002].join("+"));
        let (line, why) = too_complex(&chain).expect("a long chain");
        assert_eq!(line, 3);
        assert!(why.contains("operators"), "{why}");
        let dots = format!("x = a{}\n", ".b".repeat(6_000));
        assert!(too_complex(&dots).is_some());
        // Large but flat: a data migration's bulk insert of many rows, long sums split by commas.
        let rows: Vec<String> = (0..20_000)
            .map(|i| format!("{{'id': {i}, 'v': {i} + 1}}"))
            .collect();
        let bulk = format!("op.bulk_insert(t, [{}])\n", rows.join(", "));
        assert_eq!(too_complex(&bulk), None);
        assert_eq!(
            too_complex(&format!("x = {}1{}\n", "(".repeat(200), ")".repeat(200))),
            None
        );
        assert_eq!(
            too_complex("def f(:\n"),
            None,
            "syntax errors are the parser's to report"
        );
    }
}
