//! The one reader of `docker-compose.yml` in the Rust tests
//! (`tests/compose_rules.rs` checks the contest's rules on it,
//! `tests/docker_e2e.rs` runs it); `bench/compose.py` is the bench scripts'
//! reader of the same subset, and a test in `compose_rules.rs` pins the two
//! to read the same facts from the real file.
//!
//! No YAML crate is a dependency, and this module does not add one: the
//! compose file is read by the small parser below, which understands the
//! block subset the file is written in (mappings, `- item` sequences,
//! `[a, b]` flow sequences, quoted and plain scalars) and *refuses*
//! everything else (anchors, aliases, merge keys, block scalars, flow
//! mappings, tabs). A construct it refuses fails the test with the line
//! number, so nobody can slip a rule past it by writing YAML it misreads.
//!
//! Units follow Docker's: `M`/`MB` and `G`/`GB` are binary (MiB, GiB), as
//! `docker` and Compose parse memory limits.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;

/// The file at `path`, parsed; panics with the file's name and the line
/// the parser refused.
pub fn read(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the tests and benches act on for one service: its image and its
/// `deploy.resources.limits` (thousandths of a CPU, bytes), where declared
/// and readable.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub cpus_milli: Option<u64>,
    pub memory_bytes: Option<u64>,
}

/// The services in file order.
pub fn services(compose: &Yaml) -> Vec<Service> {
    let services = compose
        .get("services")
        .and_then(Yaml::as_map)
        .unwrap_or(&[]);
    services
        .iter()
        .map(|(name, service)| {
            let limit = |key: &str| {
                service
                    .path(&["deploy", "resources", "limits", key])
                    .and_then(Yaml::as_str)
            };
            Service {
                name: name.clone(),
                image: service
                    .get("image")
                    .and_then(Yaml::as_str)
                    .map(String::from),
                cpus_milli: limit("cpus").and_then(parse_cpus),
                memory_bytes: limit("memory").and_then(parse_bytes),
            }
        })
        .collect()
}

/// `"0.5"` → 500 thousandths; at most three decimals, like Docker.
pub fn parse_cpus(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > 3 {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(3 - frac.len() as u32)
    };
    Some(int * 1000 + frac)
}

/// Docker's memory sizes: a number with `b`, `k`, `m`, `g` (optionally
/// followed by `b`), case-insensitive, binary multiples.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let multiple = match unit.strip_suffix('b').unwrap_or(unit) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiple)
}

// ------------------------------------------------------ the YAML subset

/// A YAML node of the subset docker-compose.yml is written in. Scalars stay
/// text (`true`, `0.5`): each rule decides what it expects.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    Map(Vec<(String, Yaml)>),
    Seq(Vec<Yaml>),
    Str(String),
    Null,
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn path(&self, keys: &[&str]) -> Option<&Yaml> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_map(&self) -> Option<&[(String, Yaml)]> {
        match self {
            Yaml::Map(pairs) => Some(pairs),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Yaml]> {
        match self {
            Yaml::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// One meaningful line: its 1-based number, indentation and content with
/// the comment and trailing blanks removed.
struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

pub fn parse(source: &str) -> Result<Yaml, String> {
    let mut lines = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let number = index + 1;
        let body = raw.trim_start_matches(' ');
        if body.starts_with('\t') {
            return Err(format!("line {number}: tab in indentation"));
        }
        let text = strip_comment(body).trim_end();
        if text.is_empty() {
            continue;
        }
        if text == "---" || text == "..." {
            return Err(format!("line {number}: document markers are not supported"));
        }
        lines.push(Line {
            number,
            indent: raw.len() - body.len(),
            text,
        });
    }
    let mut parser = Parser { lines, pos: 0 };
    if parser.lines.is_empty() {
        return Ok(Yaml::Null);
    }
    let root = parser.block(0)?;
    match parser.lines.get(parser.pos) {
        Some(line) => Err(format!("line {}: unexpected indentation", line.number)),
        None => Ok(root),
    }
}

/// Cuts a `#` comment that starts the line or follows a blank, outside quotes.
fn strip_comment(text: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && previous == ' ' => return &text[..i],
            None => {}
        }
        previous = c;
    }
    text
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

impl Parser<'_> {
    /// The mapping or sequence whose lines start at `indent`.
    fn block(&mut self, indent: usize) -> Result<Yaml, String> {
        let line = &self.lines[self.pos];
        if line.indent != indent {
            return Err(format!("line {}: unexpected indentation", line.number));
        }
        if is_item(line.text) {
            self.sequence(indent)
        } else {
            self.mapping(indent)
        }
    }

    fn mapping(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut pairs: Vec<(String, Yaml)> = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent < indent || (line.indent == indent && is_item(line.text)) {
                break;
            }
            if line.indent > indent {
                return Err(format!("line {}: unexpected indentation", line.number));
            }
            let number = line.number;
            let (key, rest) = split_key(line.text)
                .ok_or_else(|| format!("line {number}: expected `key: value`"))?;
            let key = scalar(key, number)?
                .as_str()
                .map(String::from)
                .ok_or_else(|| format!("line {number}: unsupported key"))?;
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(format!("line {number}: duplicate key {key}"));
            }
            self.pos += 1;
            let value = if rest.is_empty() {
                self.nested(indent, true)?
            } else {
                scalar(rest, number)?
            };
            pairs.push((key, value));
        }
        Ok(Yaml::Map(pairs))
    }

    fn sequence(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent != indent || !is_item(line.text) {
                if line.indent > indent {
                    return Err(format!("line {}: unexpected indentation", line.number));
                }
                break;
            }
            let number = line.number;
            let rest = line.text[1..].trim_start();
            self.pos += 1;
            if rest.is_empty() {
                items.push(self.nested(indent, false)?);
            } else if split_key(rest).is_some() {
                return Err(format!(
                    "line {number}: mappings inside sequence items are not supported"
                ));
            } else {
                items.push(scalar(rest, number)?);
            }
        }
        Ok(Yaml::Seq(items))
    }

    /// The value of a `key:` or `-` with nothing after it: a deeper block,
    /// or (for keys) a sequence at the same indentation, or null.
    fn nested(&mut self, indent: usize, after_key: bool) -> Result<Yaml, String> {
        match self.lines.get(self.pos) {
            Some(next) if next.indent > indent => self.block(next.indent),
            Some(next) if after_key && next.indent == indent && is_item(next.text) => {
                self.sequence(indent)
            }
            _ => Ok(Yaml::Null),
        }
    }
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` or `key:` split at the first `: ` (or final `:`) outside quotes.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let c = b as char;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') => {
                return Some((text[..i].trim_end(), text[i + 1..].trim_start()));
            }
            None => {}
        }
    }
    None
}

fn scalar(text: &str, number: usize) -> Result<Yaml, String> {
    let unsupported = |what: &str| Err(format!("line {number}: {what} are not supported"));
    match text.as_bytes()[0] {
        b'&' | b'*' => return unsupported("anchors and aliases"),
        b'|' | b'>' => return unsupported("block scalars"),
        b'{' => return unsupported("flow mappings"),
        b'!' => return unsupported("tags"),
        b'?' => return unsupported("complex keys"),
        _ => {}
    }
    if text == "<<" {
        return unsupported("merge keys");
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("line {number}: unterminated flow sequence"))?;
        let mut items = Vec::new();
        for part in split_flow(inner) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            items.push(scalar(part, number)?);
        }
        return Ok(Yaml::Seq(items));
    }
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("line {number}: unterminated string"))?;
        if inner.contains('\\') {
            return unsupported("escapes in strings");
        }
        return Ok(Yaml::Str(inner.to_string()));
    }
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| format!("line {number}: unterminated string"))?;
        return Ok(Yaml::Str(inner.replace("''", "'")));
    }
    match text {
        "~" | "null" => Ok(Yaml::Null),
        _ => Ok(Yaml::Str(text.to_string())),
    }
}

/// Splits a flow sequence's inside at commas outside quotes.
fn split_flow(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ',' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            None => {}
        }
    }
    parts.push(&text[start..]);
    parts
}
