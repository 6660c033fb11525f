//! CSRF tokens: where a request carries one (header or form field) and how it is compared.

/// Header a script sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field a page's forms send the token in.
pub const CSRF_FIELD: &str = "csrf";

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of `field` in an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], field: &str) -> Option<String> {
    body.split(|b| *b == b'&')
        .filter_map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            Some((it.next()?, it.next().unwrap_or(b"")))
        })
        .find(|(name, _)| percent_decode(name).as_deref() == Some(field))
        .and_then(|(_, value)| percent_decode(value))
}

fn percent_decode(bytes: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(tokens_match("abcd", "abcd"));
        assert!(!tokens_match("abcd", "abce"));
        assert!(!tokens_match("abcd", "abc"));
        assert!(!tokens_match("", ""));
    }

    #[test]
    fn form_fields_are_found_and_decoded() {
        let body = b"reason=key+leaked%21&csrf=00ff&x=";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("00ff"));
        assert_eq!(form_field(body, "reason").as_deref(), Some("key leaked!"));
        assert_eq!(form_field(body, "x").as_deref(), Some(""));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field(b"csrf=%zz", "csrf"), None);
    }
}
