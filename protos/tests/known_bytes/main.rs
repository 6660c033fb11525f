//! Known-bytes tests: expected encodings worked out by hand from Fabric's field numbers.
//!
//! A tag byte is `(field_number << 3) | wire_type`, wire type 0 = varint and
//! 2 = length-delimited; so field 1 bytes is 0x0a, field 2 bytes 0x12, field 3
//! bytes 0x1a, field 1 varint 0x08, and so on. A wrong field number in a
//! .proto file changes a tag byte and fails the matching test.

mod envelopes;
mod gateway;
mod proposals;
mod shim;

/// Concatenates wire fragments so each test reads tag by tag.
fn wire(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
