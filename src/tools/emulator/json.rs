//! A tiny validating scanner for the flat JSON objects the emulator receives.
//!
//! The emulator reads five small bodies (a payment and four admin settings),
//! each a top-level object of scalars. The scanner walks the object once and
//! hands every top-level field to a visitor as a raw slice of the body, so
//! nothing is allocated and each caller converts only the fields it knows.
//! Nested objects and arrays are validated and skipped, as the official
//! processor's deserializer ignores unknown members. A repeated field is
//! visited twice, so the last one wins, as in `System.Text.Json`.

/// Deepest nesting accepted inside a skipped value; keeps recursion (and so the
/// stack of a 64 KiB connection thread) bounded against hostile bodies.
const MAX_DEPTH: usize = 16;

/// One top-level field's value, borrowed from the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string: the raw bytes between the quotes, and whether a backslash
    /// escape occurs in them (callers that need exact text reject those).
    Str {
        /// The bytes between the quotes, escapes not decoded.
        raw: &'a [u8],
        /// Whether `raw` holds at least one `\` escape.
        escaped: bool,
    },
    /// A number in RFC 8259 grammar, as written.
    Number(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object or an array, validated and skipped.
    Nested,
}

/// The body is not one JSON object (or nests deeper than we accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotJson;

/// Calls `visit(key, value)` for each top-level field of the object in `body`.
///
/// Keys are raw like string values (escapes undecoded), which is fine for the
/// plain ASCII names the emulator looks for. Whitespace around the object is
/// allowed; anything else after it is [`NotJson`].
pub fn for_each_field<'a>(
    body: &'a [u8],
    mut visit: impl FnMut(&'a [u8], Value<'a>),
) -> Result<(), NotJson> {
    let mut cursor = Cursor {
        bytes: body,
        pos: 0,
    };
    cursor.skip_ws();
    if cursor.next() != Some(b'{') {
        return Err(NotJson);
    }
    cursor.object_members(0, &mut visit)?;
    cursor.skip_ws();
    match cursor.pos == body.len() {
        true => Ok(()),
        false => Err(NotJson),
    }
}

/// The values of the top-level fields named in `names` (the last occurrence
/// of each), in the same order; `None` for a field that is absent.
pub fn fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Value<'a>>; N], NotJson> {
    let mut found = [None; N];
    for_each_field(body, |key, value| {
        if let Some(index) = names.iter().position(|name| name.as_bytes() == key) {
            found[index] = Some(value);
        }
    })?;
    Ok(found)
}

/// A position in the body; `pos` never exceeds `bytes.len()`.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The members of an object whose `{` has been consumed, through its `}`.
    fn object_members(
        &mut self,
        depth: usize,
        visit: &mut dyn FnMut(&'a [u8], Value<'a>),
    ) -> Result<(), NotJson> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.next() != Some(b'"') {
                return Err(NotJson);
            }
            let (key, _) = self.string()?;
            self.skip_ws();
            if self.next() != Some(b':') {
                return Err(NotJson);
            }
            let value = self.value(depth)?;
            visit(key, value);
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(()),
                _ => return Err(NotJson),
            }
        }
    }

    /// The elements of an array whose `[` has been consumed, through its `]`.
    fn array_elements(&mut self, depth: usize) -> Result<(), NotJson> {
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(()),
                _ => return Err(NotJson),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, NotJson> {
        self.skip_ws();
        match self.next().ok_or(NotJson)? {
            b'"' => self
                .string()
                .map(|(raw, escaped)| Value::Str { raw, escaped }),
            open @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(NotJson);
                }
                match open {
                    b'{' => self.object_members(depth + 1, &mut |_, _| {})?,
                    _ => self.array_elements(depth + 1)?,
                }
                Ok(Value::Nested)
            }
            b't' => self.literal(b"rue", Value::Bool(true)),
            b'f' => self.literal(b"alse", Value::Bool(false)),
            b'n' => self.literal(b"ull", Value::Null),
            b'-' | b'0'..=b'9' => {
                self.pos -= 1;
                self.number()
            }
            _ => Err(NotJson),
        }
    }

    fn literal(&mut self, rest: &[u8], value: Value<'a>) -> Result<Value<'a>, NotJson> {
        match self.bytes[self.pos..].starts_with(rest) {
            true => {
                self.pos += rest.len();
                Ok(value)
            }
            false => Err(NotJson),
        }
    }

    /// A string whose opening quote has been consumed; returns its raw
    /// contents and whether they hold an escape.
    fn string(&mut self) -> Result<(&'a [u8], bool), NotJson> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.next().ok_or(NotJson)? {
                b'"' => return Ok((&self.bytes[start..self.pos - 1], escaped)),
                b'\\' => {
                    escaped = true;
                    match self.next().ok_or(NotJson)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                if !self.next().ok_or(NotJson)?.is_ascii_hexdigit() {
                                    return Err(NotJson);
                                }
                            }
                        }
                        _ => return Err(NotJson),
                    }
                }
                0..0x20 => return Err(NotJson),
                _ => {}
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<Value<'a>, NotJson> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(NotJson),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(Value::Number(&self.bytes[start..self.pos]))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), NotJson> {
        let start = self.pos;
        self.digits();
        match self.pos > start {
            true => Ok(()),
            false => Err(NotJson),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Result<Vec<(String, Value<'_>)>, NotJson> {
        let mut seen = Vec::new();
        for_each_field(body.as_bytes(), |key, value| {
            seen.push((String::from_utf8_lossy(key).into_owned(), value))
        })?;
        Ok(seen)
    }

    #[test]
    fn scalars_are_handed_over_raw() {
        let seen = fields(
            r#" { "a" : "x\"y" , "b":-1.5e+3, "c":true, "d":false, "e":null, "f":{"g":[1,{"h":[]}]}, "a":"" } "#,
        )
        .unwrap();
        let expected = [
            (
                "a",
                Value::Str {
                    raw: br#"x\"y"#,
                    escaped: true,
                },
            ),
            ("b", Value::Number(b"-1.5e+3")),
            ("c", Value::Bool(true)),
            ("d", Value::Bool(false)),
            ("e", Value::Null),
            ("f", Value::Nested),
            (
                "a",
                Value::Str {
                    raw: b"",
                    escaped: false,
                },
            ),
        ];
        assert_eq!(seen.len(), expected.len());
        for ((key, value), (want_key, want_value)) in seen.iter().zip(expected) {
            assert_eq!((key.as_str(), *value), (want_key, want_value));
        }
        assert!(fields("{}").unwrap().is_empty());
    }

    #[test]
    fn named_fields_come_back_in_order_last_one_winning() {
        let body = br#"{"b":true,"x":[1],"a":1,"b":false}"#;
        let found = super::fields(body, ["a", "b", "c"]).unwrap();
        assert_eq!(
            found,
            [Some(Value::Number(b"1")), Some(Value::Bool(false)), None]
        );
        assert_eq!(super::fields(b"{", ["a"]), Err(NotJson));
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
        for body in [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} x",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":[1 2]}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\"}}",
            "{a:1}",
            deep.as_str(),
        ] {
            assert_eq!(fields(body).err(), Some(NotJson), "{body:?}");
        }
    }
}
