//! Container names: Docker's validation rule and Docker-style generated names.

use sockerless_api::ApiError;

const ADJECTIVES: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "bhaskara",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "chatelet",
    "chebyshev",
    "clarke",
    "cohen",
    "colden",
    "cori",
    "cray",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "dubinsky",
    "easley",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "golick",
    "goodall",
    "haibt",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hofstadter",
    "hopper",
    "hugle",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "kare",
    "keller",
    "kepler",
    "khorana",
    "kilby",
    "kirch",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "mayer",
    "mccarthy",
    "mcclintock",
    "mclean",
    "meitner",
    "mendel",
    "mirzakhani",
    "montalcini",
    "moore",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "roentgen",
    "rosalind",
    "saha",
    "sammet",
    "shamir",
    "shannon",
    "shaw",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// Docker's rule for container names, `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`,
/// except that one character is allowed: Docker requires two, but the
/// scenarios of issue 6 (`docker run --name w ...`) use one-letter names.
pub fn is_valid_name(name: &str) -> bool {
    let name = name.strip_prefix('/').unwrap_or(name);
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Validates a user-given name and returns it without the leading `/`.
pub fn validate_name(name: &str) -> Result<String, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::InvalidParameter(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(name.strip_prefix('/').unwrap_or(name).to_owned())
}

/// A Docker-style name `adjective_surname`; `attempt` > 0 appends a digit, as Docker does on retries.
pub fn generate_name(random: u64, attempt: u32) -> String {
    let adjective = ADJECTIVES[(random % ADJECTIVES.len() as u64) as usize];
    let surname = SURNAMES[((random >> 32) % SURNAMES.len() as u64) as usize];
    if attempt == 0 {
        format!("{adjective}_{surname}")
    } else {
        format!("{adjective}_{surname}{}", random % 10)
    }
}

/// Docker's message for a name already in use.
pub fn name_conflict(name: &str, holder_id: &str) -> ApiError {
    ApiError::Conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{holder_id}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn docker_rule() {
        for ok in ["ab", "/web", "a.b-c_d", "0x", "w", "/s"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "/", "_ab", "-ab", "a b", "a/b", "ä1", "//ab", "."] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(validate_name("/web").expect("valid"), "web");
        assert!(matches!(
            validate_name("bad name"),
            Err(ApiError::InvalidParameter(_))
        ));
    }

    #[test]
    fn conflict_message_is_dockers() {
        let e = name_conflict("x", "abc");
        assert_eq!(
            e.message(),
            "Conflict. The container name \"/x\" is already in use by container \"abc\". \
             You have to remove (or rename) that container to be able to reuse that name."
        );
    }

    proptest! {
        #[test]
        fn generated_names_are_valid(r in any::<u64>(), attempt in 0u32..3) {
            let name = generate_name(r, attempt);
            prop_assert!(is_valid_name(&name));
            prop_assert!(name.contains('_'));
        }

        #[test]
        fn validation_never_panics(s in ".{0,40}") {
            let _ = validate_name(&s);
        }
    }
}
