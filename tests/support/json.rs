//! Reading the few JSON values the tests look at, compact or pretty-printed,
//! without a JSON library: a number after a key, an object by name, and an
//! amount as exact cents (no floats).

/// The text of the JSON number after `"key":` (the first one), e.g. `19.90`.
pub fn number<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = json[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|n| !n.is_empty())
}

/// The number after `"key":` as `T`; fails, showing `json`, when there is
/// none or it does not parse.
pub fn parse<T: std::str::FromStr>(json: &str, key: &str) -> T {
    let text = number(json, key).unwrap_or_else(|| panic!("no number {key} in {json}"));
    text.parse()
        .unwrap_or_else(|_| panic!("{key} is not a number: {text:?}"))
}

/// The text of the object after `"name":`, up to its closing brace; fails,
/// showing `json`, when there is none.
pub fn object<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = json
        .find(&key)
        .map(|at| at + key.len())
        .map(|after| after + json[after..].len() - json[after..].trim_start().len())
        .filter(|&open| json[open..].starts_with('{'))
        .unwrap_or_else(|| panic!("no {name} object in {json}"));
    let mut depth = 0;
    for (i, c) in json[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &json[start..start + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unterminated {name} object");
}

/// `19.9` / `19.90` / `20` → cents, exactly (no floats); at most 2 decimals.
pub fn cents(number: &str) -> Option<u64> {
    let (units, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(units.parse::<u64>().ok()? * 100 + fraction.parse::<u64>().ok()?)
}
