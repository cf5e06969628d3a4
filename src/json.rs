//! The crate's one JSON scanner: a validating walk over one object that
//! hands each top-level field to a visitor.
//!
//! Every JSON body the crate reads is a single object whose interesting
//! fields are scalars at the top level: a client's payment, a processor's
//! lookup and health answers, the emulator's payments and admin settings.
//! So the scanner validates the *whole* body (RFC 8259: strings, escapes,
//! UTF-8, numbers, literals, nesting, nothing but whitespace after it) and
//! calls `visit(key, value)` for each top-level member, with both borrowed
//! from the body: nothing is allocated and nothing is converted, so each
//! caller parses only the values it cares about, its own way.
//!
//! What this module deliberately leaves to its callers:
//!
//! - **Repeated keys.** Every occurrence is visited, in order, and
//!   [`named_fields`] reports that a name repeated. The payment
//!   parser refuses a repeated field, the emulator lets the last one win (as
//!   the official processor's deserializer does), the processor client
//!   distrusts the answer.
//! - **Errors inside a valid body.** The visitor cannot fail: a value of the
//!   wrong kind is the caller's error, reported after the scan has proven
//!   the body is JSON, so invalid JSON always wins over field errors.
//! - **The depth limit.** A parameter, because the bound protects the
//!   caller's stack and the callers run on different stacks.
//!
//! Keys and strings come raw (escapes undecoded) with a flag saying whether
//! they hold any escape; [`JsonStr::is`] and [`JsonStr::unescape_ascii`]
//! decode them when it matters, so `"\u0061mount"` is `amount` as any JSON
//! parser would see it.

/// Why a body is not one JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not valid JSON, or nested deeper than the caller allows.
    Invalid,
    /// Valid JSON (within the depth limit), but not an object.
    NotAnObject,
}

/// A string token's content between its quotes, escapes still escaped.
/// The scanner has checked its escapes, control characters and UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonStr<'a> {
    /// The bytes between the quotes, escapes not decoded.
    pub raw: &'a [u8],
    /// Whether `raw` holds at least one `\` escape.
    pub escaped: bool,
}

/// One top-level field's value, borrowed from the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string.
    Str(JsonStr<'a>),
    /// A number in RFC 8259 grammar, exactly as written.
    Number(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object or an array, validated and skipped.
    Nested,
}

/// Calls `visit(key, value)` for each top-level member of the object in
/// `body`, in order, after which the rest of the body must be whitespace.
///
/// `max_depth` is the deepest nesting of objects and arrays accepted, the
/// body's own object included (so 1 allows only scalar members). It bounds
/// the scanner's recursion, which hostile input (`[[[[…`) would otherwise
/// drive into a stack overflow.
///
/// The visitor may run for some members before a later syntax error is
/// found: callers must act on what they collected only on `Ok`.
pub fn for_each_field<'a>(
    body: &'a [u8],
    max_depth: usize,
    mut visit: impl FnMut(JsonStr<'a>, Value<'a>),
) -> Result<(), JsonError> {
    let mut cursor = Cursor {
        bytes: body,
        pos: 0,
        max_depth,
    };
    cursor.skip_ws();
    if cursor.peek() != Some(b'{') {
        return Err(cursor.classify_non_object());
    }
    cursor.pos += 1;
    cursor.members(1, &mut visit).ok_or(JsonError::Invalid)?;
    cursor.at_clean_end().ok_or(JsonError::Invalid)
}

/// The top-level fields a caller asked for by name; see [`named_fields`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named<'a, const N: usize> {
    /// The value of each name, in the order asked (the last occurrence of
    /// a repeated one); `None` for a name that does not occur.
    pub values: [Option<Value<'a>>; N],
    /// Whether any of the names occurs more than once.
    pub repeated: bool,
}

/// Scans the object in `body` (see [`for_each_field`]) for the top-level
/// fields named in `names`, matched after unescaping.
///
/// Every other field is skipped. A repeat is reported, not judged: the
/// last occurrence is in `values`, and `repeated` lets a caller refuse
/// the body instead.
pub fn named_fields<'a, const N: usize>(
    body: &'a [u8],
    max_depth: usize,
    names: [&str; N],
) -> Result<Named<'a, N>, JsonError> {
    let mut named = Named {
        values: [None; N],
        repeated: false,
    };
    for_each_field(body, max_depth, |key, value| {
        if let Some(index) = names.iter().position(|name| key.is(name)) {
            named.repeated |= named.values[index].replace(value).is_some();
        }
    })?;
    Ok(named)
}

impl JsonStr<'_> {
    /// Whether the string, unescaped, is exactly `name` (an ASCII name, as
    /// every key we look for is). Case-sensitive, as JSON keys are.
    pub fn is(&self, name: &str) -> bool {
        if !self.escaped {
            return self.raw == name.as_bytes();
        }
        self.units().eq(name.bytes().map(u32::from))
    }

    /// The string unescaped into `buffer`, if it is all ASCII and fits;
    /// `None` otherwise. For values with a short ASCII syntax (UUIDs,
    /// timestamps) that a client may still have written with escapes.
    pub fn unescape_ascii<'b>(&self, buffer: &'b mut [u8]) -> Option<&'b [u8]> {
        let mut len = 0;
        for unit in self.units() {
            let slot = buffer.get_mut(len)?;
            *slot = u8::try_from(unit).ok().filter(u8::is_ascii)?;
            len += 1;
        }
        Some(&buffer[..len])
    }

    /// The content unescaped: plain bytes as themselves (UTF-8 bytes ≥ 0x80
    /// stay single units), escapes as their UTF-16 code unit. Surrogate
    /// pairs are not combined; that only matters for non-ASCII text, which
    /// never equals the ASCII we compare with.
    fn units(&self) -> Unescaped<'_> {
        Unescaped { raw: self.raw }
    }
}

/// Iterator behind [`JsonStr::units`].
struct Unescaped<'a> {
    raw: &'a [u8],
}

impl Iterator for Unescaped<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (&first, rest) = self.raw.split_first()?;
        if first != b'\\' {
            self.raw = rest;
            return Some(u32::from(first));
        }
        let (unit, tail) = match rest {
            [b'u', a, b, c, d, tail @ ..] => {
                ([a, b, c, d].iter().fold(0, |n, &&h| n * 16 + hex(h)), tail)
            }
            [escaped, tail @ ..] => (u32::from(unescape_char(*escaped)), tail),
            [] => return None,
        };
        self.raw = tail;
        Some(unit)
    }
}

fn hex(digit: u8) -> u32 {
    // Validated by the scanner, so `to_digit` always succeeds.
    char::from(digit).to_digit(16).unwrap_or(0)
}

fn unescape_char(escaped: u8) -> u8 {
    match escaped {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        other => other, // '"', '\\' and '/' stand for themselves
    }
}

/// A position in the body. Every scanning method returns `None` on a syntax
/// error, leaving `pos` wherever it stopped (the caller gives up);
/// `pos` never exceeds `bytes.len()`.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.bump()? == byte).then_some(())
    }

    /// JSON whitespace is exactly space, tab, LF and CR.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Only whitespace remains.
    fn at_clean_end(&mut self) -> Option<()> {
        self.skip_ws();
        (self.pos == self.bytes.len()).then_some(())
    }

    /// A body that does not start with `{`: still JSON, or not at all?
    fn classify_non_object(&mut self) -> JsonError {
        match self.value(0).and_then(|_| self.at_clean_end()) {
            Some(()) => JsonError::NotAnObject,
            None => JsonError::Invalid,
        }
    }

    /// The members of an object whose `{` has been consumed, through its
    /// `}`; the object is the `depth`-th open container.
    fn members(
        &mut self,
        depth: usize,
        visit: &mut impl FnMut(JsonStr<'a>, Value<'a>),
    ) -> Option<()> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            self.expect(b'"')?;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value(depth)?;
            visit(key, value);
            self.skip_ws();
            match self.bump()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The elements of an array whose `[` has been consumed, through its
    /// `]`; the array is the `depth`-th open container.
    fn elements(&mut self, depth: usize) -> Option<()> {
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.bump()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// One value (leading whitespace skipped) inside `depth` open containers.
    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        self.skip_ws();
        match self.bump()? {
            b'"' => self.string().map(Value::Str),
            b'{' | b'[' if depth + 1 > self.max_depth => None,
            b'{' => self
                .members(depth + 1, &mut |_, _| {})
                .map(|()| Value::Nested),
            b'[' => self.elements(depth + 1).map(|()| Value::Nested),
            b't' => self.literal(b"rue", Value::Bool(true)),
            b'f' => self.literal(b"alse", Value::Bool(false)),
            b'n' => self.literal(b"ull", Value::Null),
            b'-' | b'0'..=b'9' => {
                self.pos -= 1;
                self.number()
            }
            _ => None,
        }
    }

    fn literal(&mut self, rest: &[u8], value: Value<'a>) -> Option<Value<'a>> {
        let end = self.pos + rest.len();
        (self.bytes.get(self.pos..end)? == rest).then(|| {
            self.pos = end;
            value
        })
    }

    /// A string whose opening quote has been consumed, through its closing one.
    fn string(&mut self) -> Option<JsonStr<'a>> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.bump()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0x00..=0x1f => return None,
                _ => {}
            }
        }
        let raw = &self.bytes[start..self.pos - 1];
        std::str::from_utf8(raw).ok()?;
        Some(JsonStr { raw, escaped })
    }

    /// The rest of an escape, after its backslash.
    fn escape(&mut self) -> Option<()> {
        match self.bump()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                for _ in 0..4 {
                    self.bump().filter(u8::is_ascii_hexdigit)?;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.bump()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Some(Value::Number(&self.bytes[start..self.pos]))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }
}

#[cfg(test)]
mod tests;
