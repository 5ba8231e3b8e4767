//! The weight file's integrity digest: SHA-256 over every byte of the file but the digest's
//! own value, stored as 64 lowercase hex digits under [`DIGEST_KEY`].
//!
//! The structural checks (`gguf/`, `graph.rs`) catch a file that is malformed, but not one whose
//! bytes are well formed and wrong: a flipped weight, scale or bias still parses, and changes the
//! kernel's decisions without a word. The digest closes that gap. It covers the header, every
//! metadata entry (the digest's key, type and length included, only its 64 value bytes left
//! out), every tensor descriptor, the padding and all tensor data up to the last byte, so a
//! change anywhere, a truncation or an appended byte is a mismatch. The comparison is on the
//! exact bytes (lowercase only): a case flip in the stored digest is a mismatch too.
//!
//! The writer ([`crate::writer::GgufWriter`]) writes a placeholder value and then [`seal`]s the
//! file in place; [`verify`] is what [`crate::Model::from_gguf`] runs, once per load. It is the
//! portable software SHA-256 of the `sha2` crate (`force-soft`: the kernel target must not run
//! SHA-NI/SSE code outside its inference section; the soft code uses general registers only).
//! Measured with `cargo bench -p model-runtime` on a model the size of the default one
//! (7520 bytes): 20.9 µs, 54 k TSC ticks (7.2 per byte), of a 65.6 µs `Model::from_gguf`, once
//! per boot.
//!
//! # Notes
//! SHA-256 here guards against corruption (a bad copy, a flipped bit, a hand edit), not against
//! an attacker: anyone who can write the file can write a matching digest.
//!
//! # Resources
//! - FIPS 180-4, Secure Hash Standard: <https://csrc.nist.gov/pubs/fips/180-4/upd1/final>

use core::ops::Range;

use sha2::{Digest, Sha256};

use crate::error::{LoadError, Name};
use crate::gguf::{Gguf, Value};

/// The metadata key holding the file's digest (a GGUF string of [`DIGEST_HEX_LEN`] digits).
pub const DIGEST_KEY: &str = "augur.digest.sha256";
/// Length of the stored digest: SHA-256 in lowercase hex.
pub const DIGEST_HEX_LEN: usize = 64;
/// What the writer stores before sealing (any 64 bytes would do; zeros read as "unsealed").
pub const DIGEST_PLACEHOLDER: [u8; DIGEST_HEX_LEN] = [b'0'; DIGEST_HEX_LEN];
/// Digits of a digest shown in an error message.
pub const PREFIX_LEN: usize = 8;

/// A SHA-256 digest.
pub type Sha256Bytes = [u8; 32];

/// The digest's value bytes in the file, or why there is none.
fn span(gguf: &Gguf<'_>) -> Result<Range<usize>, LoadError> {
    match gguf.get(DIGEST_KEY) {
        None => return Err(LoadError::MissingDigest),
        Some(Value::Str(_)) => {}
        Some(other) => {
            return Err(LoadError::WrongKeyType {
                key: Name::new(DIGEST_KEY),
                expected: "string",
                found: other.type_name(),
            });
        }
    }
    gguf.str_span(DIGEST_KEY).ok_or(LoadError::MissingDigest)
}

/// SHA-256 of `bytes` without the bytes in `skip`.
pub fn digest_without(bytes: &[u8], skip: Range<usize>) -> Sha256Bytes {
    let mut h = Sha256::new();
    h.update(bytes.get(..skip.start).unwrap_or(&[]));
    h.update(bytes.get(skip.end..).unwrap_or(&[]));
    h.finalize().into()
}

/// `digest` as 64 lowercase hex digits.
pub fn to_hex(digest: &Sha256Bytes) -> [u8; DIGEST_HEX_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; DIGEST_HEX_LEN];
    for (pair, byte) in out.as_chunks_mut::<2>().0.iter_mut().zip(digest) {
        *pair = [
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0xf)],
        ];
    }
    out
}

/// The first [`PREFIX_LEN`] bytes of `s`, `?` where it is shorter.
fn prefix(s: &[u8]) -> [u8; PREFIX_LEN] {
    let mut out = [b'?'; PREFIX_LEN];
    for (o, &b) in out.iter_mut().zip(s) {
        *o = b;
    }
    out
}

/// Checks the digest of a parsed file and returns it. Refuses a file without the key
/// ([`LoadError::MissingDigest`]) or whose bytes do not hash to it
/// ([`LoadError::DigestMismatch`]).
pub fn verify(gguf: &Gguf<'_>) -> Result<Sha256Bytes, LoadError> {
    let bytes = gguf.bytes();
    let at = span(gguf)?;
    let stored = bytes.get(at.clone()).unwrap_or(&[]);
    let digest = digest_without(bytes, at);
    let computed = to_hex(&digest);
    if stored != computed {
        return Err(LoadError::DigestMismatch {
            stored: prefix(stored),
            computed: prefix(&computed),
        });
    }
    Ok(digest)
}

/// Writes the digest of `bytes` into its [`DIGEST_KEY`] value (which must be a string of
/// [`DIGEST_HEX_LEN`] bytes already) and returns it. The writer calls this after serialising;
/// tests and the fuzzer's sealed mode call it after changing bytes on purpose.
pub fn seal(bytes: &mut [u8]) -> Result<Sha256Bytes, LoadError> {
    let at = {
        let gguf = Gguf::parse(bytes)?;
        span(&gguf)?
    };
    if at.len() != DIGEST_HEX_LEN {
        return Err(LoadError::BadGraph {
            what: Name::new(DIGEST_KEY),
            why: "must be a string of 64 hex digits",
        });
    }
    let digest = digest_without(bytes, at.clone());
    if let Some(slot) = bytes.get_mut(at) {
        slot.copy_from_slice(&to_hex(&digest));
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-4 example "abc" (NIST CSRC example values), so the digest is SHA-256 itself.
    #[test]
    fn sha256_of_abc_is_the_standard_value() {
        let d = digest_without(b"xxabc", 0..2);
        assert_eq!(
            &to_hex(&d),
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn errors_name_the_key() {
        use std::string::ToString;
        assert!(LoadError::MissingDigest.to_string().contains(DIGEST_KEY));
        let e = LoadError::DigestMismatch {
            stored: *b"0123abcd",
            computed: *b"ffff\n000",
        };
        let text = e.to_string();
        assert!(
            text.contains(DIGEST_KEY) && text.contains("corrupt"),
            "{text}"
        );
        assert!(
            text.contains("0123abcd") && text.contains("ffff\\n000"),
            "{text}"
        );
    }

    #[test]
    fn skipping_the_middle_hashes_the_rest() {
        assert_eq!(
            digest_without(b"ab0000c", 2..6),
            digest_without(b"abc", 3..3)
        );
    }
}
