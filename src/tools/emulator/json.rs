//! The emulator's reading of the flat JSON objects it receives, over the
//! crate's one scanner ([`crate::json`]).
//!
//! The emulator reads five small bodies (a payment and four admin settings),
//! each a top-level object of scalars. What is the emulator's own is the
//! rule for a repeated field: the last one wins, as in the official
//! processor's deserializer (`System.Text.Json`), and keys match after
//! unescaping, as there.

pub use crate::json::{JsonStr, Value};

/// Deepest nesting accepted, the body's object included: the object and 16
/// levels inside it. Keeps recursion bounded on a handler thread's 64 KiB
/// stack against hostile bodies.
const MAX_DEPTH: usize = 17;

/// The body is not one JSON object (or nests deeper than we accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotJson;

/// The values of the top-level fields named in `names` (the last occurrence
/// of each), in the same order; `None` for a field that is absent.
pub fn fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Value<'a>>; N], NotJson> {
    match crate::json::named_fields(body, MAX_DEPTH, names) {
        Ok(named) => Ok(named.values),
        Err(_) => Err(NotJson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_fields_come_back_in_order_last_one_winning() {
        let body = br#"{"b":true,"x":[1],"a":1,"\u0062":false}"#;
        let found = fields(body, ["a", "b", "c"]).unwrap();
        assert_eq!(
            found,
            [Some(Value::Number(b"1")), Some(Value::Bool(false)), None]
        );
        assert_eq!(fields(b"{", ["a"]), Err(NotJson));
        assert_eq!(fields(b"[]", ["a"]), Err(NotJson));
    }

    #[test]
    fn nesting_is_bounded_at_sixteen_levels_inside_the_object() {
        let nested = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        assert!(fields(nested(16).as_bytes(), ["a"]).is_ok());
        assert_eq!(fields(nested(17).as_bytes(), ["a"]), Err(NotJson));
    }
}
