//! Strict reading and canonical writing of the one PEM block a device key is submitted as, so every stored key has a single spelling.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::public_key::KeyError;

/// Largest PEM text accepted for a key (an 8192-bit RSA key needs about 1.5 KiB).
pub const MAX_PEM_BYTES: usize = 16 * 1024;

/// Characters per base64 line in the canonical form (RFC 7468).
const LINE_WIDTH: usize = 64;

/// Reads exactly one PEM block surrounded by nothing but whitespace; returns its label and DER.
pub(crate) fn parse_single_block(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    if text.len() > MAX_PEM_BYTES {
        return Err(KeyError::TooLarge {
            bytes: text.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let not_pem = |reason: &str| KeyError::NotPem {
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let begins = trimmed.matches("-----BEGIN ").count();
    if begins > 1 {
        return Err(KeyError::MultiplePemBlocks { count: begins });
    }
    let Some(after_begin) = trimmed.strip_prefix("-----BEGIN ") else {
        return Err(not_pem(
            "the text must start with a -----BEGIN line (nothing but whitespace before it)",
        ));
    };
    let Some((label, body)) = after_begin.split_once("-----") else {
        return Err(not_pem("the BEGIN line is not closed by -----"));
    };
    let end_line = format!("-----END {label}-----");
    let Some(body) = body.strip_suffix(end_line.as_str()) else {
        return Err(not_pem(&format!(
            "the text must end with {end_line} (nothing but whitespace after it)"
        )));
    };
    if body.contains("-----") || body.contains(':') {
        // Headers (RFC 1421 "Proc-Type:" etc.) and stray boundaries have no place in a key.
        return Err(not_pem("the block holds headers or a second boundary line"));
    }
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| not_pem(&format!("the body is not base64: {e}")))?;
    Ok((label.to_string(), der))
}

/// The canonical PEM text: one block, 64-character lines, LF line ends, a final LF.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(LINE_WIDTH) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
