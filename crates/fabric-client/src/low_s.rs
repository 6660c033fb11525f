//! Low-S form of DER ECDSA P-256 signatures: Fabric rejects signatures whose S is above half the curve order.

use thiserror::Error;

/// Order n of the P-256 group, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// floor(n / 2): the largest S Fabric accepts.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// A DER signature that is not a P-256 `SEQUENCE { INTEGER r, INTEGER s }`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed DER ECDSA P-256 signature ({0}); expected SEQUENCE {{ INTEGER r, INTEGER s }}")]
pub struct MalformedSignature(&'static str);

/// The two integers of an ECDSA signature as 32-byte big-endian values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
}

impl RawSignature {
    /// Parses a DER `ECDSA-Sig-Value` for P-256.
    pub fn from_der(der: &[u8]) -> Result<Self, MalformedSignature> {
        let body = match der {
            [0x30, len, body @ ..] if usize::from(*len) == body.len() && *len < 0x80 => body,
            _ => return Err(MalformedSignature("bad SEQUENCE header or length")),
        };
        let (r, rest) = read_integer(body)?;
        let (s, rest) = read_integer(rest)?;
        if !rest.is_empty() {
            return Err(MalformedSignature("trailing bytes after s"));
        }
        Ok(Self { r, s })
    }

    /// Encodes as minimal DER.
    pub fn to_der(&self) -> Vec<u8> {
        let r = integer_der(&self.r);
        let s = integer_der(&self.s);
        let mut out = Vec::with_capacity(2 + r.len() + s.len());
        out.push(0x30);
        // at most 2 * 35 bytes, so the short length form always fits
        out.push((r.len() + s.len()) as u8);
        out.extend_from_slice(&r);
        out.extend_from_slice(&s);
        out
    }

    /// True when S <= n/2, the form Fabric verifies.
    pub fn is_low_s(&self) -> bool {
        self.s <= HALF_ORDER
    }

    /// The other valid signature of the same message: (r, n - s).
    pub fn twin(&self) -> Self {
        Self {
            r: self.r,
            s: sub(&ORDER, &self.s),
        }
    }

    /// This signature in low-S form.
    pub fn normalized(self) -> Self {
        if self.is_low_s() { self } else { self.twin() }
    }
}

/// Returns `der` in low-S form (unchanged when it already is).
pub fn normalize_der(der: &[u8]) -> Result<Vec<u8>, MalformedSignature> {
    let raw = RawSignature::from_der(der)?;
    if raw.is_low_s() {
        return Ok(der.to_vec());
    }
    Ok(raw.normalized().to_der())
}

/// True when `der` is a well-formed P-256 signature with S <= n/2.
pub fn is_low_s_der(der: &[u8]) -> bool {
    RawSignature::from_der(der).is_ok_and(|raw| raw.is_low_s())
}

fn read_integer(input: &[u8]) -> Result<([u8; 32], &[u8]), MalformedSignature> {
    let (len, rest) = match input {
        [0x02, len, rest @ ..] if usize::from(*len) <= rest.len() => (usize::from(*len), rest),
        _ => return Err(MalformedSignature("bad INTEGER header or length")),
    };
    let (mut value, rest) = rest.split_at(len);
    if value.is_empty() || value[0] & 0x80 != 0 {
        return Err(MalformedSignature("INTEGER empty or negative"));
    }
    // one leading zero is allowed, and only to keep the sign bit clear
    if value.len() > 1 && value[0] == 0 {
        if value[1] & 0x80 == 0 {
            return Err(MalformedSignature("INTEGER not minimally encoded"));
        }
        value = &value[1..];
    }
    if value.len() > 32 {
        return Err(MalformedSignature("INTEGER wider than 256 bits"));
    }
    let mut out = [0u8; 32];
    out[32 - value.len()..].copy_from_slice(value);
    Ok((out, rest))
}

fn integer_der(value: &[u8; 32]) -> Vec<u8> {
    let first = value.iter().position(|&b| b != 0).unwrap_or(31);
    let digits = &value[first..];
    let pad = digits[0] & 0x80 != 0;
    let mut out = Vec::with_capacity(3 + digits.len());
    out.push(0x02);
    out.push((digits.len() + usize::from(pad)) as u8);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// a - b for 256-bit big-endian values with a >= b.
fn sub(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_order_shifted_right() {
        // n is odd, so n - floor(n/2) = floor(n/2) + 1
        let mut plus_one = HALF_ORDER;
        for byte in plus_one.iter_mut().rev() {
            let (v, carry) = byte.overflowing_add(1);
            *byte = v;
            if !carry {
                break;
            }
        }
        assert_eq!(sub(&ORDER, &HALF_ORDER), plus_one);
    }

    #[test]
    fn boundary_values() {
        let at_half = RawSignature {
            r: [1; 32],
            s: HALF_ORDER,
        };
        assert!(at_half.is_low_s());
        let mut above = HALF_ORDER;
        above[31] += 1;
        let high = RawSignature {
            r: [1; 32],
            s: above,
        };
        assert!(!high.is_low_s());
        let low = high.normalized();
        assert!(low.is_low_s());
        assert_eq!(low.s, HALF_ORDER);
    }

    #[test]
    fn der_round_trip_with_padding_and_short_integers() {
        let mut r = [0u8; 32];
        r[31] = 5; // short integer
        let s = [0x90; 32]; // high bit set: needs a 0x00 pad
        let raw = RawSignature { r, s };
        let der = raw.to_der();
        assert_eq!(&der[..5], &[0x30, 3 + 35, 0x02, 0x01, 0x05]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(RawSignature::from_der(&der), Ok(raw));
    }

    #[test]
    fn rejects_malformed_der() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], // negative r
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], // non-minimal r
            &[0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00], // trailing
        ] {
            assert!(RawSignature::from_der(bad).is_err(), "{bad:02x?}");
        }
    }
}
