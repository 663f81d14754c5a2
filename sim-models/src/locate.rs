//! Find where a [`FieldPath`] points in RON source text.
//!
//! serde and ron report positions only for syntax and type errors. Semantic validation
//! (e.g. "services[1].workers must be >= 1") runs after deserialization, when all
//! positions are gone, and yields a [`FieldPath`]. To print `file:line:col` for such a
//! problem we re-scan the source: a small tokenizer plus a walk that follows the path
//! and skips every value it does not need. It never fails: for a path that is only
//! partly present, or for invalid RON, it answers with the deepest value it reached.

use sim_core::path::{FieldPath, PathSeg};

/// 1-based line and column (column counted in chars, like ron's own error positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

/// Where the value at `path` starts in RON `src`.
///
/// A value starts at its first token: the struct or variant name if it has one
/// (`Service(` → the `S`), else its bracket, literal or sign.
///
/// If the full path is not present (e.g. the field was omitted and took its default, or
/// an index is out of range), returns the start of the deepest enclosing value that is
/// present: for `services[0].timeout` with no `timeout` field, where `services[0]`
/// starts. For an empty path or nothing found: the start of the top-level value. Never
/// panics on any input, including invalid RON (then it returns the best position it
/// reached, or line 1 col 1 if there is no value at all).
pub fn locate(src: &str, path: &FieldPath) -> Position {
    Locator::new(src).locate(path)
}

/// [`locate`] for many paths in one source: the source is tokenized once, not once per
/// path (a file with thousands of problems would otherwise be tokenized thousands of times).
pub struct Locator<'a> {
    tokens: Vec<Token<'a>>,
}

impl<'a> Locator<'a> {
    pub fn new(src: &'a str) -> Self {
        Locator {
            tokens: tokenize(src),
        }
    }

    /// Where the value at `path` starts, as [`locate`] says.
    pub fn locate(&self, path: &FieldPath) -> Position {
        let keys: Vec<Key<'_>> = path
            .0
            .iter()
            .map(|seg| match *seg {
                PathSeg::Field(name) => Key::Field(name),
                PathSeg::Index(n) => Key::Index(n),
            })
            .collect();
        locate_in(&self.tokens, &keys)
    }

    /// [`Locator::locate`] for a path whose field names are only known at run time (a
    /// key named in a JSON file). JSON is RON's syntax for maps, lists, strings and
    /// numbers, so the same walk finds `"steps": [..]` entries by their quoted keys.
    pub fn locate_keys(&self, path: &[Key<'_>]) -> Position {
        locate_in(&self.tokens, path)
    }
}

/// One step of a path given by name at run time: see [`Locator::locate_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'s> {
    Field(&'s str),
    Index(usize),
}

fn locate_in(tokens: &[Token<'_>], path: &[Key<'_>]) -> Position {
    let walk = Walk { tokens };
    let mut at = walk.skip_extensions(0);
    if !walk.starts_value(at) {
        return if walk.kind(at) == Kind::Eof {
            Position { line: 1, col: 1 }
        } else {
            walk.pos(at)
        };
    }
    for seg in path {
        match walk.descend(at, *seg) {
            Some(next) => at = next,
            None => break,
        }
    }
    walk.pos(at)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `(`, `[` or `{`.
    Open(char),
    /// `)`, `]` or `}`.
    Close,
    Colon,
    Comma,
    /// An identifier; `text` is its name without any `r#`.
    Ident,
    /// A string; `text` is its content between the quotes, escapes not decoded.
    Str,
    /// Anything else that can be part of a value: numbers, chars, byte strings, `-`, `..`, ...
    Atom,
    Eof,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    pos: Position,
}

/// A char cursor over the source that tracks line and column.
struct Cursor<'a> {
    src: &'a str,
    /// Byte offset; always on a char boundary because it only moves by whole chars.
    at: usize,
    pos: Position,
}

impl<'a> Cursor<'a> {
    fn peek_nth(&self, n: usize) -> Option<char> {
        self.src[self.at..].chars().nth(n)
    }

    fn peek(&self) -> Option<char> {
        self.peek_nth(0)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&f) {
            self.bump();
        }
    }

    /// If a raw string's `#`s and opening quote start `n` chars ahead, how many `#`s.
    fn raw_string_hashes(&self, n: usize) -> Option<usize> {
        let hashes = self.src[self.at..]
            .chars()
            .skip(n)
            .take_while(|&c| c == '#')
            .count();
        (self.peek_nth(n + hashes) == Some('"')).then_some(hashes)
    }

    /// Consumes a quoted string or char after its opening `quote`, honouring `\` escapes.
    /// Returns the content (without quotes). Unterminated: runs to the end of input.
    fn quoted(&mut self, quote: char) -> &'a str {
        let start = self.at;
        let mut end = self.src.len();
        while let Some(c) = self.peek() {
            if c == quote {
                end = self.at;
                self.bump();
                break;
            }
            self.bump();
            if c == '\\' {
                self.bump();
            }
        }
        &self.src[start..end]
    }

    /// Consumes a raw string's body after `#`*hashes and the opening `"`.
    fn raw(&mut self, hashes: usize) -> &'a str {
        let start = self.at;
        while self.peek().is_some() {
            let end = self.at;
            if self.bump() == Some('"')
                && self.src[self.at..]
                    .chars()
                    .take_while(|&c| c == '#')
                    .count()
                    >= hashes
            {
                self.bump_n(hashes);
                return &self.src[start..end];
            }
        }
        &self.src[start..]
    }

    /// Skips whitespace and (nested) comments.
    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(), self.peek_nth(1)) {
                (Some(c), _) if is_whitespace(c) => {
                    self.bump();
                }
                (Some('/'), Some('/')) => self.eat_while(|c| c != '\n'),
                (Some('/'), Some('*')) => {
                    self.bump_n(2);
                    let mut depth = 1;
                    while depth > 0 {
                        match (self.peek(), self.peek_nth(1)) {
                            (None, _) => return,
                            (Some('/'), Some('*')) => {
                                depth += 1;
                                self.bump_n(2);
                            }
                            (Some('*'), Some('/')) => {
                                depth -= 1;
                                self.bump_n(2);
                            }
                            _ => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return,
            }
        }
    }
}

fn is_whitespace(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200E}' | '\u{200F}')
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens, ending with one `Eof` token. Accepts any input.
fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut cur = Cursor {
        src,
        at: 0,
        pos: Position { line: 1, col: 1 },
    };
    let mut tokens = Vec::new();
    loop {
        cur.skip_trivia();
        let (start, pos) = (cur.at, cur.pos);
        let Some(c) = cur.bump() else {
            tokens.push(Token {
                kind: Kind::Eof,
                text: "",
                pos,
            });
            return tokens;
        };
        let next = cur.peek();
        let (kind, text) = match c {
            '(' | '[' | '{' => (Kind::Open(c), ""),
            ')' | ']' | '}' => (Kind::Close, ""),
            ':' => (Kind::Colon, ""),
            ',' => (Kind::Comma, ""),
            '"' => (Kind::Str, cur.quoted('"')),
            '\'' => (Kind::Atom, cur.quoted('\'')),
            // Raw string r"..." / r#"..."#.
            'r' if cur.raw_string_hashes(0).is_some() => {
                let hashes = cur.raw_string_hashes(0).unwrap_or(0);
                cur.bump_n(hashes + 1);
                (Kind::Str, cur.raw(hashes))
            }
            // Raw identifier r#name.
            'r' if next == Some('#') && cur.peek_nth(1).is_some_and(is_ident_char) => {
                cur.bump();
                let name_start = cur.at;
                cur.eat_while(|c| is_ident_char(c) || matches!(c, '.' | '+' | '-'));
                (Kind::Ident, &src[name_start..cur.at])
            }
            // Byte string b"..." and byte b'x': not usable as field names.
            'b' if matches!(next, Some('"' | '\'')) => {
                if let Some(quote) = cur.bump() {
                    cur.quoted(quote);
                }
                (Kind::Atom, "")
            }
            // Raw byte string br"..." / br#"..."#.
            'b' if next == Some('r') && cur.raw_string_hashes(1).is_some() => {
                let hashes = cur.raw_string_hashes(1).unwrap_or(0);
                cur.bump_n(hashes + 2);
                cur.raw(hashes);
                (Kind::Atom, "")
            }
            c if is_ident_start(c) => {
                cur.eat_while(is_ident_char);
                (Kind::Ident, &src[start..cur.at])
            }
            // Numbers, with an optional sign or leading `.`; a range like `1..5` may end up
            // as one token, which is fine: we only need where values start and end.
            c if c.is_ascii_digit()
                || (matches!(c, '+' | '-' | '.') && next.is_some_and(|n| n.is_ascii_digit())) =>
            {
                let hex = matches!(
                    src[start..].trim_start_matches(['+', '-']).get(..2),
                    Some("0x" | "0X")
                );
                let mut prev = c;
                while let Some(n) = cur.peek() {
                    let exp_sign = matches!(n, '+' | '-') && matches!(prev, 'e' | 'E') && !hex;
                    if !(n.is_alphanumeric() || matches!(n, '_' | '.') || exp_sign) {
                        break;
                    }
                    prev = n;
                    cur.bump();
                }
                (Kind::Atom, &src[start..cur.at])
            }
            // `;`, `#`, `!`, `-`, `.`, `=` and anything unexpected: one char each.
            _ => (Kind::Atom, &src[start..cur.at]),
        };
        tokens.push(Token { kind, text, pos });
    }
}

/// One entry of a bracketed group: `value` or `key: value` (token indices).
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Where the key starts, if the entry has one.
    key: Option<usize>,
    value: usize,
}

/// Walks the token list by index. Every method is total: out-of-range indices read as `Eof`.
struct Walk<'t, 'a> {
    tokens: &'t [Token<'a>],
}

impl Walk<'_, '_> {
    fn kind(&self, i: usize) -> Kind {
        self.tokens.get(i).map_or(Kind::Eof, |t| t.kind)
    }

    fn pos(&self, i: usize) -> Position {
        self.tokens
            .get(i)
            .map_or(Position { line: 1, col: 1 }, |t| t.pos)
    }

    /// Whether a (non-empty) value starts at token `i`.
    fn starts_value(&self, i: usize) -> bool {
        !matches!(
            self.kind(i),
            Kind::Close | Kind::Colon | Kind::Comma | Kind::Eof
        )
    }

    /// Skips `#![enable(...)]` attributes at the start of the file.
    fn skip_extensions(&self, mut i: usize) -> usize {
        while self.kind(i) == Kind::Atom && self.tokens[i].text == "#" {
            i += 1;
            if self.kind(i) == Kind::Atom && self.tokens[i].text == "!" {
                i += 1;
            }
            if let Kind::Open(_) = self.kind(i) {
                let mut depth = 0usize;
                loop {
                    match self.kind(i) {
                        Kind::Open(_) => depth += 1,
                        Kind::Close => depth = depth.saturating_sub(1),
                        Kind::Eof => return i,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
        }
        i
    }

    /// The index just past the value starting at `i`: the next `,`, `:` or closing
    /// bracket outside any brackets the value opens, or `Eof`.
    fn value_end(&self, mut i: usize) -> usize {
        let mut depth = 0usize;
        loop {
            match self.kind(i) {
                Kind::Eof => return i,
                Kind::Open(_) => depth += 1,
                Kind::Close if depth == 0 => return i,
                Kind::Close => depth -= 1,
                Kind::Comma | Kind::Colon if depth == 0 => return i,
                _ => {}
            }
            i += 1;
        }
    }

    /// If the value at `i` has bracketed content (`(..)`, `Name(..)`, `[..]`, `{..}`),
    /// the index of its opening bracket and the bracket char.
    fn group(&self, i: usize) -> Option<(usize, char)> {
        match (self.kind(i), self.kind(i + 1)) {
            (Kind::Open(b), _) => Some((i, b)),
            (Kind::Ident, Kind::Open('(')) => Some((i + 1, '(')),
            _ => None,
        }
    }

    /// Whether the key starting at `k` is the identifier or string `name` alone.
    fn is_key(&self, k: usize, name: &str) -> bool {
        matches!(self.kind(k), Kind::Ident | Kind::Str)
            && self.kind(k + 1) == Kind::Colon
            && self.tokens[k].text == name
    }

    /// The entries of the group opened at `open`.
    fn entries(&self, open: usize) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut i = open + 1;
        while !matches!(self.kind(i), Kind::Close | Kind::Eof) {
            let first_end = self.value_end(i);
            let (entry, end) = if self.kind(first_end) == Kind::Colon {
                let value = first_end + 1;
                let entry = Entry {
                    key: Some(i),
                    value,
                };
                (entry, self.value_end(value))
            } else {
                (
                    Entry {
                        key: None,
                        value: i,
                    },
                    first_end,
                )
            };
            entries.push(entry);
            if self.kind(end) != Kind::Comma {
                break;
            }
            i = end + 1;
        }
        entries
    }

    /// The start of the value `seg` selects inside the value starting at `i`, if present.
    fn descend(&self, i: usize, seg: Key<'_>) -> Option<usize> {
        let mut at = i;
        loop {
            let (open, bracket) = self.group(at)?;
            let entries = self.entries(open);
            // A named newtype around a sequence, `Empirical([..])`, is transparent to indices:
            // `[2]` is the list's third element, as validation paths count it.
            if let (Key::Index(_), [only]) = (seg, entries.as_slice())
                && open > at
                && only.key.is_none()
                && self.group(only.value).is_some_and(|(_, b)| b == '[')
                && self.kind(only.value) == Kind::Open('[')
            {
                at = only.value;
                continue;
            }
            let found = match seg {
                Key::Index(n) if bracket != '{' => entries.get(n).map(|e| e.value),
                Key::Index(_) => None,
                Key::Field(name) if bracket != '[' => entries
                    .iter()
                    .find(|e| e.key.is_some_and(|k| self.is_key(k, name)))
                    .map(|e| e.value),
                Key::Field(_) => None,
            };
            if let Some(value) = found {
                return self.starts_value(value).then_some(value);
            }
            // Look through a newtype wrapper such as `Some(Foo(x: 1))` or `Variant((x: 1))`
            // for a field.
            match entries.as_slice() {
                [only] if matches!(seg, Key::Field(_)) && bracket == '(' && only.key.is_none() => {
                    at = only.value;
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r##"// simctl scenario
Scenario(
    name: "mm1",  /* a /* nested */ comment */
    horizon: "10m",
    clients: [
        Client(name: "load", target: "server", rate: 900.0),
    ],
    services: [
        Service(
            name: "server",
            workers: 1,
            queue: Bounded(64),
            service_time: Mixture([(0.99, Exponential(mean: "1ms")), (0.01, Constant("1s"))]),
            note: r#"a "raw" string, with ( parens ] and // not a comment"#,
            retries: 3,
        ),
    ],
)
"##;

    /// Parses `services[0].workers`-style text into a path (test input is `'static`).
    fn path(s: &'static str) -> FieldPath {
        let mut p = FieldPath::root();
        for part in s.split('.').filter(|part| !part.is_empty()) {
            let mut pieces = part.split('[');
            if let Some(name) = pieces.next().filter(|name| !name.is_empty()) {
                p = p.field(name);
            }
            for index in pieces {
                p = p.index(index.trim_end_matches(']').parse().expect("index"));
            }
        }
        assert_eq!(p.to_string(), s, "test path round-trips");
        p
    }

    /// The source text from `pos` to the end of its line.
    fn text_at(src: &str, pos: Position) -> &str {
        let line = src.split('\n').nth(pos.line - 1).expect("line exists");
        line.char_indices()
            .nth(pos.col - 1)
            .map_or("", |(at, _)| &line[at..])
    }

    /// The samples are real RON, so positions are checked against what users write.
    fn assert_valid_ron(src: &str) {
        if let Err(e) = ron::from_str::<ron::Value>(src) {
            panic!("sample is not valid RON: {e}");
        }
    }

    /// Asserts each `(path, line, col, text found there)` row against `src`.
    fn check(src: &str, rows: &[(&'static str, usize, usize, &str)]) {
        let mut failures = Vec::new();
        for &(p, line, col, snippet) in rows {
            let got = locate(src, &path(p));
            let text = text_at(src, got);
            if got != (Position { line, col }) || !text.starts_with(snippet) {
                failures.push(format!(
                    "`{p}`: got {}:{} {text:?}, want {line}:{col} {snippet:?}",
                    got.line, got.col
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    const SCENARIO_ROWS: &[(&str, usize, usize, &str)] = &[
        ("", 2, 1, "Scenario("),
        ("name", 3, 11, r#""mm1""#),
        ("horizon", 4, 14, r#""10m""#),
        ("clients[0]", 6, 9, "Client("),
        ("clients[0].rate", 6, 54, "900.0"),
        ("services[0].workers", 11, 22, "1,"),
        ("services[0].queue", 12, 20, "Bounded(64)"),
        ("services[0].queue[0]", 12, 28, "64"),
        // `Mixture([..])` is transparent to indices: `[0]` is the list's first element.
        ("services[0].service_time[0]", 13, 36, "(0.99"),
        ("services[0].service_time[1][0]", 13, 71, "0.01"),
        ("services[0].service_time[0][1].mean", 13, 61, r#""1ms")"#),
        ("services[0].service_time[1][1][0]", 13, 86, r#""1s""#),
        ("services[0].note", 14, 19, r##"r#"a "raw""##),
        // After the raw string: its brackets and `//` did not derail the tokenizer.
        ("services[0].retries", 15, 22, "3,"),
        // Missing field: where `services[0]` starts (the `Service` name).
        ("services[0].timeout", 9, 9, "Service("),
        ("services[0].timeout.p99", 9, 9, "Service("),
        // Index out of range: the list that was indexed.
        ("services[3]", 8, 15, "["),
        ("services[0].service_time[7][0]", 13, 27, "Mixture("),
        // Field on a list, index on a scalar: the deepest value that exists.
        ("services.name", 8, 15, "["),
        ("services[0].workers[0]", 11, 22, "1,"),
        // Unknown top-level field: the top-level value.
        ("nope", 2, 1, "Scenario("),
    ];

    #[test]
    fn locates_fields_in_a_scenario() {
        assert_valid_ron(SCENARIO);
        check(SCENARIO, SCENARIO_ROWS);
    }

    #[test]
    fn strings_and_comments_hide_brackets() {
        let src = r###"(
    a: "x ( [ { // /* \" ",
    b: 'q', c: '\'', d: b"bytes ) ", e: r##"raw "# still ( "##, f: /* ) */ 5,
    g: br#"]"#, h: b'(', i: "\u{1F600} )", // ) ]
    j: r#type, k: 'ü', l: -1.5e-3, m: 0x1F_u8, n: 1..=5,
    z: "tail",
)"###;
        assert_valid_ron(src);
        check(
            src,
            &[
                ("a", 2, 8, r#""x ("#),
                ("c", 3, 16, r"'\''"),
                ("e", 3, 41, "r##"),
                ("f", 3, 76, "5"),
                ("i", 4, 29, r#""\u{1F600}"#),
                ("j", 5, 8, "r#type"),
                ("l", 5, 27, "-1.5e-3"),
                ("n", 5, 51, "1..=5"),
                ("z", 6, 8, r#""tail""#),
            ],
        );
    }

    #[test]
    fn maps_with_string_and_identifier_keys() {
        let src = r#"{
    "alpha": 1,
    "beta": { "gamma": [10, 20] },
    delta: 3,
    r#type: 4,
    7: "number key",
    "last": (x: 1),
}"#;
        assert_valid_ron(src);
        check(
            src,
            &[
                ("alpha", 2, 14, "1"),
                ("beta.gamma[1]", 3, 29, "20"),
                ("delta", 4, 12, "3"),
                ("type", 5, 13, "4"),
                ("last.x", 7, 17, "1"),
                // Missing key: the map itself.
                ("missing", 1, 1, "{"),
                ("beta.missing", 3, 13, "{"),
                // Maps are not indexed.
                ("[0]", 1, 1, "{"),
            ],
        );
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        let src = "(note: \"héllo wörld ✓ 日本 😀\", x: 5)\n(é: 1)";
        check(src, &[("x", 1, 33, "5)")]);
        let crlf = "(\r\n  a: \"ü\",\r\n  b: 1\r\n)";
        assert_valid_ron(crlf);
        check(crlf, &[("b", 3, 6, "1")]);
    }

    #[test]
    fn looks_through_newtype_wrappers_for_fields() {
        let src = "(queue: Some(Bounded(cap: 3)), dist: Exp((mean: 2)), opt: Some((x: 1)))";
        assert_valid_ron(src);
        check(
            src,
            &[
                ("queue.cap", 1, 27, "3"),
                ("dist.mean", 1, 49, "2"),
                ("opt.x", 1, 68, "1"),
                // Indices address the wrapper's own content.
                ("queue[0]", 1, 14, "Bounded"),
                ("queue[0][0]", 1, 27, "3"),
                // Not found through the wrapper: the outer value.
                ("queue.limit", 1, 9, "Some("),
            ],
        );
    }

    #[test]
    fn skips_extension_attributes() {
        let src =
            "#![enable(implicit_some)]\n#![enable(unwrap_newtypes, implicit_some)]\n(a: [1, 2])";
        assert_valid_ron(src);
        check(src, &[("", 3, 1, "(a:"), ("a[1]", 3, 9, "2]")]);
    }

    #[test]
    fn garbage_does_not_panic() {
        let inputs = [
            "",
            "   \n ",
            "// only a comment",
            "/* unterminated /* nested */",
            "\"unterminated",
            "r#\"unterminated\"",
            "r##\"x\"#",
            "r#",
            "br#",
            "b",
            "'",
            "'\\",
            "\\",
            "#![",
            "#!",
            "#",
            "(((",
            ")))",
            "]]] [[[ }}",
            ":::",
            ",,,",
            "(a: ",
            "(a:: 1)",
            "(a: 1 b: 2)",
            "(a: 1: 2, services: [)",
            "{ \"a\" }",
            "\u{0}\u{FFFD}é😀",
            "-",
            "1e",
            "0x",
            "services[0].workers",
        ];
        for src in inputs {
            for (p, ..) in SCENARIO_ROWS {
                let got = locate(src, &path(p));
                assert!(got.line >= 1 && got.col >= 1, "{src:?} {p}: {got:?}");
                assert!(got.line <= src.split('\n').count(), "{src:?} {p}: {got:?}");
            }
        }
        let at = |line, col| Position { line, col };
        assert_eq!(locate("", &path("a")), at(1, 1));
        assert_eq!(locate("  // x\n", &FieldPath::root()), at(1, 1));
        assert_eq!(locate("\n  (a: ", &path("a")), at(2, 3));
        assert_eq!(locate("(a: 1", &path("a")), at(1, 5));
        assert_eq!(locate("(a: , b: 2)", &path("a")), at(1, 1));
        assert_eq!(locate("(a: 1 b: 2)", &path("b")), at(1, 1));
    }

    #[test]
    fn every_prefix_of_the_scenario_is_handled() {
        let mut count = 0;
        for (end, _) in SCENARIO.char_indices() {
            let prefix = &SCENARIO[..end];
            for (p, ..) in SCENARIO_ROWS {
                let got = locate(prefix, &path(p));
                assert!(got.line <= prefix.split('\n').count(), "{end} {p}: {got:?}");
                assert!(got.col >= 1, "{end} {p}: {got:?}");
                count += 1;
            }
        }
        assert!(count > 1000);
    }
}
