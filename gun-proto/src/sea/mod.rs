//! SEA: Gun.js's users, signatures and encryption, byte-compatible with
//! Gun.js SEA 0.2020.1241 (feature `sea`, on by default).
//!
//! - Key pairs ([`Pair`]: P-256, `pub`/`priv` to sign, `epub`/`epriv` to
//!   agree keys), [`sign()`]/[`verify()`], [`encrypt`]/[`decrypt`] (AES-GCM),
//!   [`work`] (PBKDF2, or [`work_sha256`]), [`secret`] (ECDH) and
//!   [`certify`]: the same texts Gun.js's `SEA.*` make and read.
//! - The rules of the graph's protected spaces ([`space`]): what may be
//!   written into a user's `~<pub>` souls, the alias lists, content-addressed
//!   `#` souls and expiring `<?` souls. The engine applies them to every put
//!   it takes, and asks its driver to verify the signatures they stand on
//!   ([`crate::Output::Verify`]); it signs its own user's writes
//!   ([`space::pack`]).
//!
//! Pure computation: no I/O and no randomness of its own. Functions that
//! need random bytes (a new pair, an encryption's salt and IV) take a
//! `fill` that supplies them from the caller's CSPRNG.
//!
//! ```
//! use gun_proto::sea::{self, Pair};
//! # let mut n = 0u8;
//! # let mut fill = |b: &mut [u8]| for x in b { n = n.wrapping_add(71); *x = n; };
//! let alice = Pair::generate(&mut fill);
//! let signed = sea::sign(&serde_json::json!("hello"), &alice)?;
//! assert_eq!(sea::verify(&signed, &alice.pub_key)?, "hello");
//! let sealed = sea::encrypt(&serde_json::json!({"x": 1}), &alice.epriv, &mut fill)?;
//! assert_eq!(sea::decrypt(&sealed, &alice.epriv)?, serde_json::json!({"x": 1}));
//! # Ok::<(), sea::SeaError>(())
//! ```
//!
//! The crates: `p256` (keys, signing with RFC 6979 nonces, ECDH) and
//! `ring` (verification: its assembly P-256 verifies several times faster,
//! and relays verify every user write; it is already built for TLS),
//! `aes-gcm` 0.10 (audited; SEA's 15-byte IV needs its generic nonce size,
//! which `ring` lacks), `pbkdf2`, `sha2` and `base64`.

mod b64;
mod cert;
mod cipher;
mod json;
mod keys;
mod sign;
pub mod space;

pub use cert::{Certificants, certify};
pub use cipher::{decrypt, encrypt, secret, work, work_sha256};
pub use json::Js;
pub use keys::{Pair, public_key_bytes};
pub use sign::{Proof, sign, sign_js, verify, verify_js};

/// What a SEA call cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeaError {
    /// A key that is not a P-256 key in SEA's form.
    #[error("invalid {0}")]
    BadKey(&'static str),
    /// Not `{m, s}` signed data.
    #[error("not signed data")]
    NotSigned,
    /// The signature does not match the key.
    #[error("Signature did not match.")]
    BadSignature,
    /// Not `{ct, iv, s}` encrypted data.
    #[error("not encrypted data")]
    NotEncrypted,
    /// Encryption failed, or decryption with the wrong key.
    #[error("Could not decrypt")]
    Cipher,
    /// A certificate for no one.
    #[error("No certificant found.")]
    NoCertificant,
}
