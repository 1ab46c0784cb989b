//! Plain-scalar resolution as PyYAML does it (YAML 1.1), because Chaos Toolkit files are read by
//! PyYAML: `yes`/`no`/`on`/`off` are booleans, `0755` is octal, `1e3` (no dot) is a string.

use super::node::NodeValue;

/// How PyYAML reads a plain scalar, and a note when YAML 1.2 (core schema) would read it differently.
pub(super) fn resolve_plain(text: &str) -> (NodeValue, Option<String>) {
    let value = resolve_yaml11(text);
    let yaml12 = resolve_yaml12(text);
    let differs = match (&value, &yaml12) {
        (NodeValue::Float(a), NodeValue::Float(b)) => !(a == b || a.is_nan() && b.is_nan()),
        (a, b) => a != b,
    };
    let note = differs.then(|| {
        format!(
            "plain scalar {text:?} reads as {} (YAML 1.1, like Chaos Toolkit) but as {} in YAML 1.2; quote it to be explicit",
            describe(&value),
            describe(&yaml12)
        )
    });
    (value, note)
}

fn describe(v: &NodeValue) -> String {
    match v {
        NodeValue::Null => "null".into(),
        NodeValue::Bool(b) => format!("boolean {b}"),
        NodeValue::Int(i) => format!("integer {i}"),
        NodeValue::Float(f) => format!("float {f}"),
        NodeValue::Str(s) => format!("string {s:?}"),
        _ => "a collection".into(),
    }
}

/// PyYAML's implicit resolvers for plain scalars.
pub(super) fn resolve_yaml11(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeValue::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeValue::Bool(false);
        }
        _ => {}
    }
    if let Some(i) = int11(text) {
        return i;
    }
    if let Some(f) = float11(text) {
        return NodeValue::Float(f);
    }
    NodeValue::Str(text.to_string())
}

fn split_sign(text: &str) -> (i64, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    }
}

/// `[-+]?(0b[01_]+|0[0-7_]+|(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)`
fn int11(text: &str) -> Option<NodeValue> {
    let (sign, body) = split_sign(text);
    if body.is_empty() {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let parse = |digits: &str, radix: u32| -> Option<NodeValue> {
        if digits.is_empty() {
            return None;
        }
        match i64::from_str_radix(digits, radix) {
            Ok(v) => Some(NodeValue::Int(sign * v)),
            // Larger than i64: keep the magnitude as a float rather than failing.
            Err(_) => u128::from_str_radix(digits, radix)
                .ok()
                .map(|v| NodeValue::Float(sign as f64 * v as f64)),
        }
    };
    if let Some(bin) = body.strip_prefix("0b") {
        return bin
            .chars()
            .all(|c| c == '0' || c == '1' || c == '_')
            .then(|| parse(&bin.replace('_', ""), 2))
            .flatten();
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '_')
            .then(|| parse(&hex.replace('_', ""), 16))
            .flatten();
    }
    if body.contains(':') {
        // Sexagesimal: 1:30 = 90, 190:20:30 = 685230.
        let mut parts = body.split(':');
        let first = parts.next()?;
        if first.is_empty()
            || first.starts_with('0')
            || !first.chars().all(|c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        let mut total: i64 = first.replace('_', "").parse().ok()?;
        for p in parts {
            if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: i64 = p.parse().ok()?;
            if v > 59 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(v)?;
        }
        return Some(NodeValue::Int(sign * total));
    }
    if !body.chars().all(|c| c.is_ascii_digit() || c == '_')
        || !body.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    if body.len() > 1 && body.starts_with('0') {
        return clean
            .chars()
            .all(|c| ('0'..='7').contains(&c))
            .then(|| parse(&clean, 8))
            .flatten();
    }
    parse(&clean, 10)
}

/// `[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?`, sexagesimal floats, `.inf`, `.nan`.
fn float11(text: &str) -> Option<f64> {
    let (sign, body) = split_sign(text);
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign as f64 * f64::INFINITY),
        _ => {}
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    if body.contains(':') {
        let mut parts = body.split(':');
        let first = parts.next()?;
        if first.is_empty() || !first.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        let mut total: f64 = first.replace('_', "").parse().ok()?;
        let rest: Vec<&str> = parts.collect();
        for (i, p) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            let ok = if last {
                p.contains('.')
                    && p.chars()
                        .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
            } else {
                !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit())
            };
            if !ok {
                return None;
            }
            total = total * 60.0 + p.replace('_', "").parse::<f64>().ok()?;
        }
        return Some(sign as f64 * total);
    }
    let dot = body.find('.')?;
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(e) => (&body[..e], Some(&body[e + 1..])),
        None => (body, None),
    };
    if dot > mantissa.len() {
        return None;
    }
    let int_part = &mantissa[..dot];
    let frac_part = &mantissa[dot + 1..];
    if !int_part.is_empty()
        && (!int_part.starts_with(|c: char| c.is_ascii_digit())
            || !int_part.chars().all(|c| c.is_ascii_digit() || c == '_'))
    {
        return None;
    }
    if !frac_part
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
    {
        return None;
    }
    if let Some(exp) = exponent {
        // PyYAML requires an explicit sign in the exponent.
        let digits = exp.strip_prefix('+').or_else(|| exp.strip_prefix('-'))?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    // "1.2.3" matches PyYAML's regex but Python's float() rejects it; PyYAML then errors. Keep a string.
    clean.parse::<f64>().ok().map(|f| sign as f64 * f)
}

/// The YAML 1.2 core schema, only to warn where it differs.
fn resolve_yaml12(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | "+.inf" | ".Inf" | "+.Inf" | ".INF" | "+.INF" => {
            return NodeValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    let (sign, body) = split_sign(text);
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(v) = i64::from_str_radix(oct, 8)
    {
        return NodeValue::Int(v);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(v) = i64::from_str_radix(hex, 16)
    {
        return NodeValue::Int(v);
    }
    if !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit())
        && let Ok(v) = body.parse::<i64>()
    {
        return NodeValue::Int(sign * v);
    }
    let is_float_syntax = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if is_float_syntax && let Ok(f) = text.parse::<f64>() {
        return NodeValue::Float(f);
    }
    NodeValue::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> NodeValue {
        resolve_yaml11(s)
    }

    #[test]
    fn booleans_and_nulls_like_pyyaml() {
        for t in ["yes", "Yes", "on", "ON", "true", "True"] {
            assert_eq!(r(t), NodeValue::Bool(true), "{t}");
        }
        for f in ["no", "NO", "off", "Off", "false"] {
            assert_eq!(r(f), NodeValue::Bool(false), "{f}");
        }
        assert_eq!(
            r("y"),
            NodeValue::Str("y".into()),
            "y is not a boolean in PyYAML"
        );
        for n in ["", "~", "null", "NULL"] {
            assert_eq!(r(n), NodeValue::Null);
        }
    }

    #[test]
    fn integers_in_every_yaml11_form() {
        assert_eq!(r("0755"), NodeValue::Int(493));
        assert_eq!(r("0x1F"), NodeValue::Int(31));
        assert_eq!(r("0b101"), NodeValue::Int(5));
        assert_eq!(r("1_000"), NodeValue::Int(1000));
        assert_eq!(r("-42"), NodeValue::Int(-42));
        assert_eq!(r("1:30"), NodeValue::Int(90));
        assert_eq!(r("190:20:30"), NodeValue::Int(685230));
        assert_eq!(r("0"), NodeValue::Int(0));
        assert_eq!(
            r("089"),
            NodeValue::Str("089".into()),
            "not octal, not decimal"
        );
    }

    #[test]
    fn floats_need_a_dot() {
        assert_eq!(r("1e3"), NodeValue::Str("1e3".into()));
        assert_eq!(r("1.0e+3"), NodeValue::Float(1000.0));
        assert_eq!(r("1.5"), NodeValue::Float(1.5));
        assert_eq!(r(".5"), NodeValue::Float(0.5));
        assert_eq!(r("-.inf"), NodeValue::Float(f64::NEG_INFINITY));
        assert!(matches!(r(".nan"), NodeValue::Float(f) if f.is_nan()));
        assert_eq!(r("1:30.5"), NodeValue::Float(90.5));
        assert_eq!(r("1.2.3"), NodeValue::Str("1.2.3".into()));
        assert_eq!(r("abc"), NodeValue::Str("abc".into()));
    }

    #[test]
    fn yaml12_differences_are_noted() {
        assert!(resolve_plain("on").1.is_some());
        assert!(resolve_plain("0755").1.is_some());
        assert!(resolve_plain("1e3").1.is_some());
        assert!(resolve_plain("true").1.is_none());
        assert!(resolve_plain("42").1.is_none());
        assert!(resolve_plain("hello").1.is_none());
    }
}
