//! Base64 as SEA writes it (standard with padding for signatures and
//! ciphertexts, base64url without padding for keys) and as node's
//! `Buffer.from(text, 'base64')` reads it: either alphabet, padding or not.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose};

/// Reads both alphabets, with or without padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 with padding (signatures, ciphertexts, `work`).
pub(crate) fn std(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

/// Base64url without padding (keys, `secret`).
pub(crate) fn url(bytes: &[u8]) -> String {
    general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes either alphabet, padded or not; `None` if it is not base64.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    if text.contains(['-', '_']) {
        let std: String = text
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        LENIENT.decode(std).ok()
    } else {
        LENIENT.decode(text).ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_both_alphabets() {
        let bytes = [0xfb, 0xff, 0x01];
        assert_eq!(super::decode(&super::std(&bytes)), Some(bytes.to_vec()));
        assert_eq!(super::decode(&super::url(&bytes)), Some(bytes.to_vec()));
        assert_eq!(super::decode("+/8"), Some(vec![0xfb, 0xff]));
        assert_eq!(super::decode("-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(super::decode("not base64!"), None);
    }
}
