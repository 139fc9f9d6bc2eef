//! Prefixed, time-ordered public identifiers such as `ws_01jd5x…`: readable in logs, opaque to
//! guessing, and sortable by creation time (UUIDv7 underneath, Crockford base32 on the outside).

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub struct PublicId;

impl PublicId {
    /// A new id such as `ws_01jd5x3k8q2m4n6p8r0t2v4w6y` (prefix, underscore, 26 characters).
    pub fn generate(prefix: &str) -> String {
        let value = uuid::Uuid::now_v7().as_u128();
        let mut out = String::with_capacity(prefix.len() + 27);
        out.push_str(prefix);
        out.push('_');
        for i in (0..26).rev() {
            let index = ((value >> (i * 5)) & 0x1f) as usize;
            out.push(ALPHABET[index] as char);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::PublicId;

    #[test]
    fn generated_ids_carry_their_prefix_and_sort_by_creation() {
        let first = PublicId::generate("ws");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = PublicId::generate("ws");
        assert!(first.starts_with("ws_") && first.len() == 29);
        assert!(first < second);
    }
}
