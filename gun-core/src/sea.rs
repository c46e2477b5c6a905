//! `gun::sea`: Gun.js's SEA for applications (the functions of
//! [`gun_proto::sea`], with randomness from the OS where they need it),
//! and users ([`crate::User`], from [`crate::Gun::user`]).
//!
//! ```
//! use gun_core::sea;
//! let alice = sea::pair();
//! let signed = sea::sign(&serde_json::json!({"hello": "world"}), &alice)?;
//! assert_eq!(sea::verify(&signed, &alice.pub_key)?["hello"], "world");
//! let bob = sea::pair();
//! // Alice encrypts for Bob with their shared secret; Bob decrypts with his.
//! let key = sea::secret(&bob.epub, &alice)?;
//! let sealed = sea::encrypt(&serde_json::json!("for Bob"), &key)?;
//! assert_eq!(sea::decrypt(&sealed, &sea::secret(&alice.epub, &bob)?)?, "for Bob");
//! # Ok::<(), sea::SeaError>(())
//! ```

pub use gun_proto::sea::{
    Certificants, Js, Pair, Proof, SeaError, certify, decrypt, secret, sign, space, verify, work,
    work_sha256,
};

/// Fills `bytes` from the OS's CSPRNG. There is no sane way on without it:
/// keys and nonces from anything weaker would be guessable.
///
/// # Panics
/// If the OS has no randomness to give (`getrandom` fails), as `OsRng` does.
pub(crate) fn fill(bytes: &mut [u8]) {
    if let Err(e) = getrandom::fill(bytes) {
        panic!("the OS gave no random bytes for a key or nonce: {e}");
    }
}

/// `SEA.pair()`: a new key pair, from the OS's CSPRNG.
pub fn pair() -> Pair {
    Pair::generate(fill)
}

/// `SEA.encrypt(data, key)` with a random salt and IV from the OS: `key` is
/// a pair's `epriv`, a [`secret`], a [`work`] proof or a passphrase.
pub fn encrypt(data: &serde_json::Value, key: &str) -> Result<String, SeaError> {
    gun_proto::sea::encrypt(data, key, fill)
}

/// Gun.js's `String.random(n)`: `n` characters of `[0-9A-Za-z]`.
pub(crate) fn random_text(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; n];
    fill(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}
