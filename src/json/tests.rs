//! The scanner's table tests: what it hands over, what it refuses, how deep it goes.

use super::*;

const DEPTH: usize = 8;

fn fields(body: &str) -> Result<Vec<(String, Value<'_>)>, JsonError> {
    let mut seen = Vec::new();
    for_each_field(body.as_bytes(), DEPTH, |key, value| {
        seen.push((String::from_utf8_lossy(key.raw).into_owned(), value))
    })?;
    Ok(seen)
}

fn str(raw: &[u8], escaped: bool) -> Value<'_> {
    Value::Str(JsonStr { raw, escaped })
}

#[test]
fn top_level_members_are_handed_over_raw_in_order() {
    let seen = fields(
        " \t\r\n{ \"a\" : \"x\\\"y\" , \"b\":-1.5e+3, \"c\":true, \"d\":false, \"e\":null, \
         \"f\":{\"g\":[1,{\"h\":[]}]}, \"a\":\"\", \"\\u0061\":[] } \n",
    )
    .unwrap();
    let expected = [
        ("a", str(br#"x\"y"#, true)),
        ("b", Value::Number(b"-1.5e+3")),
        ("c", Value::Bool(true)),
        ("d", Value::Bool(false)),
        ("e", Value::Null),
        ("f", Value::Nested),
        ("a", str(b"", false)),
        (r"\u0061", Value::Nested),
    ];
    assert_eq!(seen.len(), expected.len());
    for ((key, value), (want_key, want_value)) in seen.iter().zip(expected) {
        assert_eq!((key.as_str(), *value), (want_key, want_value));
    }
    assert!(fields("{}").unwrap().is_empty());
}

#[test]
fn bodies_that_are_not_one_object_are_told_apart() {
    let cases: &[(&str, JsonError)] = &[
        ("", JsonError::Invalid),
        ("   ", JsonError::Invalid),
        ("[]", JsonError::NotAnObject),
        (" \"{}\" ", JsonError::NotAnObject),
        ("19.90", JsonError::NotAnObject),
        ("null", JsonError::NotAnObject),
        ("[1,]", JsonError::Invalid),
        ("01", JsonError::Invalid),
        ("\u{feff}{}", JsonError::Invalid),
    ];
    for &(body, expected) in cases {
        assert_eq!(fields(body).err(), Some(expected), "{body:?}");
    }
}

#[test]
fn malformed_bodies_are_invalid() {
    let mut cases: Vec<Vec<u8>> = [
        "{",
        "}",
        "{}}",
        "{} {}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1} x",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":1-2}",
        "{\"a\":NaN}",
        "{\"a\":tru}",
        "{\"a\":True}",
        "{\"a\":nul}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"open}",
        "{\"a\":[1 2]}",
        "{\"a\":[1,]}",
        "{\"a\":{\"b\"}}",
        "{\"a\":1}\0",
    ]
    .iter()
    .map(|body| body.as_bytes().to_vec())
    .collect();
    cases.push(b"{\"a\":\"\xff\xfe\"}".to_vec());
    cases.push(b"{\"\xc3\":1}".to_vec());
    for body in cases {
        let scanned = for_each_field(&body, DEPTH, |_, _| {});
        assert_eq!(
            scanned,
            Err(JsonError::Invalid),
            "{:?}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn nesting_is_bounded_by_the_callers_depth() {
    let nested = |arrays: usize| format!("{{\"x\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays));
    // The object itself is one level, so DEPTH - 1 arrays fit inside it.
    assert!(fields(&nested(DEPTH - 1)).is_ok());
    assert_eq!(fields(&nested(DEPTH)).err(), Some(JsonError::Invalid));
    assert!(for_each_field(nested(DEPTH).as_bytes(), DEPTH + 1, |_, _| {}).is_ok());
    assert_eq!(
        for_each_field(b"{\"x\":{}}", 1, |_, _| {}),
        Err(JsonError::Invalid)
    );
    assert!(for_each_field(b"{\"x\":1}", 1, |_, _| {}).is_ok());
    // A top-level array counts the same way.
    let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert_eq!(fields(&arrays(DEPTH)).err(), Some(JsonError::NotAnObject));
    assert_eq!(fields(&arrays(DEPTH + 1)).err(), Some(JsonError::Invalid));
    // Hostile input: no stack overflow, just an error.
    for hostile in ["[".repeat(1_000_000), r#"{"a":"#.repeat(100_000)] {
        assert_eq!(fields(&hostile).err(), Some(JsonError::Invalid));
    }
}

#[test]
fn strings_compare_and_unescape_as_json_reads_them() {
    let mut keys = Vec::new();
    for_each_field(
        br#"{"amount":1,"\u0061mount":2,"Amount":3,"am\"ount":4}"#,
        DEPTH,
        |key, _| keys.push(key),
    )
    .unwrap();
    let is_amount: Vec<bool> = keys.iter().map(|key| key.is("amount")).collect();
    assert_eq!(is_amount, [true, true, false, false]);
    assert!(keys[3].is("am\"ount"));

    let mut buffer = [0; 8];
    let ascii = JsonStr {
        raw: br"\u0034a\/\t",
        escaped: true,
    };
    assert_eq!(ascii.unescape_ascii(&mut buffer), Some(&b"4a/\t"[..]));
    let too_long = JsonStr {
        raw: b"123456789",
        escaped: false,
    };
    assert_eq!(too_long.unescape_ascii(&mut buffer), None);
    let not_ascii = JsonStr {
        raw: br"\u00e9",
        escaped: true,
    };
    assert_eq!(not_ascii.unescape_ascii(&mut buffer), None);
    let raw_utf8 = JsonStr {
        raw: "é".as_bytes(),
        escaped: false,
    };
    assert_eq!(raw_utf8.unescape_ascii(&mut buffer), None);
}

#[test]
fn named_fields_come_back_in_order_with_repeats_reported() {
    let named = named_fields(
        br#"{"b":true,"x":[1],"a":1,"\u0062":false}"#,
        DEPTH,
        ["a", "b", "c"],
    );
    assert_eq!(
        named,
        Ok(Named {
            values: [Some(Value::Number(b"1")), Some(Value::Bool(false)), None],
            repeated: true,
        })
    );
    let once = named_fields(br#"{"a":1,"x":1,"x":2}"#, DEPTH, ["a"]).unwrap();
    assert!(!once.repeated, "only the names asked for count");
    assert_eq!(
        named_fields(b"[]", DEPTH, ["a"]),
        Err(JsonError::NotAnObject)
    );
    assert_eq!(
        named_fields(br#"{"a":1"#, DEPTH, ["a"]),
        Err(JsonError::Invalid)
    );
}
