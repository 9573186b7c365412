//! Text normalisation for duplicate detection and search.
//!
//! These are lossy keys, never shown to users: two company names that
//! normalise to the same string are probably the same company
//! (`ООО «Ромашка»` vs `Ромашка, ооо` vs `"POMAШKA" LLC` typed with Latin
//! look-alike letters).

/// Latin letters that look like Cyrillic ones (lowercase), and their Cyrillic twin.
const LOOKALIKES: [(char, char); 12] = [
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('o', 'о'),
    ('p', 'р'),
    ('x', 'х'),
    ('y', 'у'),
    ('k', 'к'),
    ('m', 'м'),
    ('t', 'т'),
    ('h', 'н'),
    ('b', 'в'),
];

/// One-word legal forms, compared after look-alike mapping (so both Cyrillic
/// `ооо` and Latin `ooo` are listed). Latin transliterations of the Russian
/// forms are listed too (`ZAO`, `OAO`, `PAO`); `PAO` written with Latin
/// letters inside a Cyrillic name maps to `рао`, itself the old form of
/// a Russian joint-stock company (`РАО «ЕЭС России»`). `IP` is *not* removed:
/// in Latin names it is far more often part of the name (`IP Telecom`).
const LEGAL_FORM_WORDS: [&str; 30] = [
    "ооо", "оао", "зао", "пао", "ао", "рао", "нао", "ип", "нко", "ано", "гуп", "муп", "фгуп",
    "тоо", "ooo", "zao", "oao", "pao", "ao", "llc", "llp", "ltd", "limited", "inc", "corp", "co",
    "jsc", "gmbh", "ag", "plc",
];

/// Spelled-out legal forms, matched as whole-word sequences (longest first).
const LEGAL_FORM_PHRASES: [&[&str]; 16] = [
    &["федеральное", "государственное", "унитарное", "предприятие"],
    &["общество", "с", "ограниченной", "ответственностью"],
    &["товарищество", "с", "ограниченной", "ответственностью"],
    &["автономная", "некоммерческая", "организация"],
    &["государственное", "унитарное", "предприятие"],
    &["муниципальное", "унитарное", "предприятие"],
    &["private", "limited", "company"],
    &["непубличное", "акционерное", "общество"],
    &["публичное", "акционерное", "общество"],
    &["открытое", "акционерное", "общество"],
    &["закрытое", "акционерное", "общество"],
    &["limited", "liability", "company"],
    &["joint", "stock", "company"],
    &["акционерное", "общество"],
    &["индивидуальный", "предприниматель"],
    &["некоммерческая", "организация"],
];

/// Lowercase and fold `ё` into `е` (people write both).
fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

fn cyrillic_twin(c: char) -> Option<char> {
    LOOKALIKES.iter().find(|(l, _)| *l == c).map(|(_, k)| *k)
}

/// Maps look-alike Latin letters to Cyrillic in a word that contains
/// Cyrillic letters (`pомашка` → `ромашка`). A word made *only* of
/// look-alikes (`TEXHO`, `OOO`) is mapped when another word of the name is
/// Cyrillic, so `TEXHO-Сервис` matches `Техно-Сервис` while a purely Latin
/// name like `Max Group` stays Latin.
fn map_lookalikes(word: &str, name_is_cyrillic: bool) -> String {
    let has_cyrillic = word.chars().any(is_cyrillic);
    // Digits do not count: `1C` (Latin C) in a Cyrillic name is `1С`.
    let mut letters = word.chars().filter(|c| c.is_alphabetic()).peekable();
    let all_lookalikes = letters.peek().is_some() && letters.all(|c| cyrillic_twin(c).is_some());
    if has_cyrillic || (name_is_cyrillic && all_lookalikes) {
        word.chars()
            .map(|c| cyrillic_twin(c).unwrap_or(c))
            .collect()
    } else {
        word.to_owned()
    }
}

/// Duplicate-detection key for a company name: lowercase, `ё`→`е`,
/// look-alike Latin letters mapped to Cyrillic, quotes and other punctuation
/// turned into word breaks, legal forms (`ООО`, `ИП`, `LLC`, `общество с
/// ограниченной ответственностью`, …) removed as whole words, whitespace
/// collapsed. May return an empty string (e.g. for just `ООО`).
pub fn normalize_company_name(s: &str) -> String {
    let folded = fold(s);
    // Quotes («»"'“”„ …) and all other non-alphanumerics separate words.
    let raw: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let name_is_cyrillic = raw.iter().any(|w| w.chars().any(is_cyrillic));
    let words: Vec<String> = raw
        .iter()
        .map(|w| map_lookalikes(w, name_is_cyrillic))
        .collect();

    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let phrase = LEGAL_FORM_PHRASES
            .iter()
            .find(|p| words.len() - i >= p.len() && p.iter().zip(&words[i..]).all(|(a, b)| a == b));
        if let Some(p) = phrase {
            i += p.len();
        } else {
            if !LEGAL_FORM_WORDS.contains(&words[i].as_str()) {
                kept.push(&words[i]);
            }
            i += 1;
        }
    }
    kept.join(" ")
}

/// Duplicate-detection key for a person's name: lowercase, `ё`→`е`,
/// whitespace collapsed and trimmed.
pub fn normalize_person_name(s: &str) -> String {
    fold(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Duplicate-detection key for a person: the words of the name lowercased,
/// `ё`→`е`, look-alike Latin letters mapped as in company names, punctuation
/// dropped, and the words **sorted**, so `Иванов Иван Петрович` and `Иван
/// Петрович ИВАНОВ` give one key. Initials stay initials (`Иванов И. П.` is
/// another key): only the order of whole words is ignored. Empty when there is
/// no name at all.
pub fn person_key(s: &str) -> String {
    let folded = fold(s);
    let raw: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let name_is_cyrillic = raw.iter().any(|w| w.chars().any(is_cyrillic));
    let mut words: Vec<String> = raw
        .iter()
        .map(|w| map_lookalikes(w, name_is_cyrillic))
        .collect();
    words.sort();
    words.join(" ")
}

/// Content of a record's search column: the non-empty parts lowercased,
/// `ё`→`е`, whitespace collapsed, joined with single spaces.
pub fn search_text(parts: &[&str]) -> String {
    let folded: Vec<String> = parts.iter().map(|p| fold(p)).collect();
    folded
        .iter()
        .flat_map(|p| p.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_company_name(s)
    }

    #[test]
    fn legal_form_and_quotes_removed() {
        assert_eq!(n("ООО «Ромашка»"), "ромашка");
        assert_eq!(n("ООО\"Ромашка\""), "ромашка");
        assert_eq!(n("Ромашка, ООО"), "ромашка");
        assert_eq!(n("ООО “Ромашка”"), "ромашка");
        assert_eq!(n("ООО „Ромашка“"), "ромашка");
        assert_eq!(n("'Ромашка' ООО"), "ромашка");
        assert_eq!(n("ПАО Сбербанк"), "сбербанк");
        assert_eq!(n("ОАО «РЖД»"), "ржд");
        assert_eq!(n("ЗАО Альфа"), "альфа");
        assert_eq!(n("АО «Тинькофф Банк»"), "тинькофф банк");
        assert_eq!(n("ИП Иванов Иван Иванович"), "иванов иван иванович");
        assert_eq!(n("НКО Фонд"), "фонд");
    }

    #[test]
    fn spelled_out_forms_removed() {
        assert_eq!(
            n("Общество с ограниченной ответственностью «Ромашка»"),
            "ромашка"
        );
        assert_eq!(
            n("ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ РОМАШКА"),
            "ромашка"
        );
        assert_eq!(
            n("Индивидуальный предприниматель Петров П.П."),
            "петров п п"
        );
        assert_eq!(
            n("Публичное акционерное общество «Сбербанк России»"),
            "сбербанк россии"
        );
        assert_eq!(n("Акционерное общество Альфа"), "альфа");
        // A lone "общество" is part of the name, not a legal form.
        assert_eq!(n("Общество любителей чая"), "общество любителей чая");
    }

    #[test]
    fn latin_forms_removed() {
        assert_eq!(n("Acme LLC"), "acme");
        assert_eq!(n("Acme, Inc."), "acme");
        assert_eq!(n("Acme Ltd"), "acme");
        assert_eq!(n("Siemens GmbH"), "siemens");
        assert_eq!(n("JSC Acme"), "acme");
        assert_eq!(n("OOO Acme"), "acme");
        assert_eq!(n("Acme Limited Liability Company"), "acme");
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(n("Аокси"), "аокси");
        assert_eq!(n("Ипподром"), "ипподром");
        assert_eq!(n("Incom"), "incom");
        assert_eq!(n("Zoooom"), "zoooom");
    }

    #[test]
    fn yo_and_case() {
        assert_eq!(n("ООО «Ёлка»"), "елка");
        assert_eq!(n("ЁЛКА"), n("елка"));
    }

    #[test]
    fn lookalikes_mapped_in_cyrillic_words() {
        // Latin P, O, A inside Cyrillic words.
        assert_eq!(n("ООО «PОМАШКA»"), "ромашка");
        assert_eq!(n("Pомашка"), n("Ромашка"));
        // Latin OOO in a Cyrillic name, and an all-look-alike word.
        assert_eq!(n("OOO «Ромашка»"), "ромашка");
        assert_eq!(n("TEXHO-Сервис"), n("Техно-Сервис"));
        assert_eq!(n("Техно-Сервис"), "техно сервис");
        // Latin-only names stay Latin.
        assert_eq!(n("Max Group"), "max group");
        assert_eq!(n("TEXHO"), "texho");
        // Non-look-alike Latin letters are kept as they are.
        assert_eq!(n("Qрошка"), "qрошка");
    }

    #[test]
    fn punctuation_and_whitespace_collapsed() {
        assert_eq!(n("  Рога   и\tКопыта!!! "), "рога и копыта");
        assert_eq!(n("Рога & Копыта"), "рога копыта");
        assert_eq!(n("Альфа-Банк"), n("Альфа Банк"));
        assert_eq!(n("ООО «1С-Софт»"), "1с софт");
        // Latin C next to a digit in a Cyrillic name.
        assert_eq!(n("ООО «1C-Софт»"), "1с софт");
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(n(""), "");
        assert_eq!(n("ООО"), "");
        assert_eq!(n("«»"), "");
        assert_eq!(n("   "), "");
    }

    #[test]
    fn person_names() {
        assert_eq!(normalize_person_name("  Пётр   ИВАНОВ "), "петр иванов");
        assert_eq!(normalize_person_name("Семён\tСемёнович"), "семен семенович");
        assert_eq!(normalize_person_name("John  Smith"), "john smith");
        assert_eq!(normalize_person_name(""), "");
    }

    #[test]
    fn person_keys_ignore_word_order_case_and_lookalikes() {
        assert_eq!(person_key("Иванов Иван Петрович"), "иван иванов петрович");
        assert_eq!(person_key("Иван Петрович ИВАНОВ"), "иван иванов петрович");
        assert_eq!(person_key("Фёдоров, Пётр"), "петр федоров");
        // Latin "o" and "a" inside a Cyrillic surname.
        assert_eq!(person_key("Сoколoва Анна"), person_key("Соколова Анна"));
        assert_eq!(person_key("John Smith"), "john smith");
        assert_eq!(person_key("  "), "");
        // Initials are different words from the full name: not the same key.
        assert_ne!(
            person_key("Иванов И. П."),
            person_key("Иванов Иван Петрович")
        );
    }

    #[test]
    fn more_legal_forms() {
        assert_eq!(n("ZAO Alfa"), "alfa");
        assert_eq!(n("PAO «Сбербанк»"), "сбербанк");
        assert_eq!(n("РАО «ЕЭС России»"), "еэс россии");
        assert_eq!(n("ГУП «Мосгортранс»"), "мосгортранс");
        assert_eq!(
            n("Федеральное государственное унитарное предприятие «Почта России»"),
            "почта россии"
        );
        assert_eq!(
            n("Муниципальное унитарное предприятие Водоканал"),
            "водоканал"
        );
        assert_eq!(n("ТОО «Казахмыс»"), "казахмыс");
        assert_eq!(
            n("Товарищество с ограниченной ответственностью Казахмыс"),
            "казахмыс"
        );
        assert_eq!(n("АНО «Школа»"), "школа");
        assert_eq!(n("Автономная некоммерческая организация Школа"), "школа");
        assert_eq!(n("Siemens AG"), "siemens");
        assert_eq!(n("Acme Co."), "acme");
        assert_eq!(n("Acme Corp"), "acme");
        assert_eq!(n("Acme Limited"), "acme");
        assert_eq!(n("Acme Private Limited Company"), "acme");
        assert_eq!(n("Tesco PLC"), "tesco");
        // Latin IP stays (it is usually part of the name), Cyrillic ИП goes.
        assert_eq!(n("IP Telecom"), "ip telecom");
        assert_eq!(n("ИП Сидоров"), "сидоров");
    }

    /// The table of the issue: every spelling of one company gives one key.
    #[test]
    fn one_company_many_spellings() {
        let spellings = [
            "ООО «Ромашка»",
            "ооо \"ромашка\"",
            "OOO \"Ромашка\"",
            "Ромашка ООО",
            "Ромашка, LLC",
            "«Ромашка» Ltd.",
            "Общество с ограниченной ответственностью «Ромашка»",
            "ООО 'Pомашкa'",
            "ООО ''Ромашка''",
            "  ООО   «РОМАШКА»  ",
            "ООО «Ромашка»!",
            "Ромашка GmbH",
        ];
        for s in spellings {
            assert_eq!(n(s), "ромашка", "{s}");
        }
        let yo = ["Ёлочка", "Елочка", "ЁЛОЧКА", "AO «Ёлочка»", "ЗАО Елочка"];
        for s in yo {
            assert_eq!(n(s), "елочка", "{s}");
        }
        // Different companies stay different.
        assert_ne!(n("ООО «Ромашка»"), n("ООО «Ромашка-2»"));
        assert_ne!(n("ООО «Ромашка»"), n("ООО «Лютик»"));
    }

    /// Tiny deterministic PRNG (xorshift64*), so the tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    const CORES: [&str; 10] = [
        "ромашка",
        "техно сервис",
        "альфа",
        "северный ветер",
        "сибирь",
        "мир",
        "1с софт",
        "торговый дом восток",
        "электро",
        "кама",
    ];
    const FORMS: [&str; 10] = [
        "ООО",
        "OOO",
        "ЗАО",
        "АО",
        "ПАО",
        "ИП",
        "LLC",
        "Ltd",
        "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ",
        "",
    ];
    const QUOTES: [(&str, &str); 6] = [
        ("«", "»"),
        ("\"", "\""),
        ("'", "'"),
        ("“", "”"),
        ("„", "“"),
        ("", ""),
    ];

    /// Spells a core name the way people do: random case per letter, `е` as `ё`
    /// sometimes, Cyrillic letters replaced by their Latin twins, a legal form
    /// before or after, any quotes, extra spaces and punctuation.
    fn garble(rng: &mut Rng, core: &str) -> String {
        let mut body = String::new();
        for c in core.chars() {
            let c = match c {
                'е' if rng.next().is_multiple_of(3) => 'ё',
                ' ' if rng.next().is_multiple_of(3) => '-',
                c => c,
            };
            let c = match LOOKALIKES.iter().find(|(_, k)| *k == c) {
                Some((l, _)) if rng.next().is_multiple_of(4) => *l,
                _ => c,
            };
            if rng.next().is_multiple_of(2) {
                body.extend(c.to_uppercase());
            } else {
                body.push(c);
            }
        }
        let (open, close) = QUOTES[(rng.next() % QUOTES.len() as u64) as usize];
        let form = rng.pick(&FORMS);
        let pad = rng.pick(&["", " ", "  ", "\t"]);
        if rng.next().is_multiple_of(2) {
            format!("{pad}{form} {open}{body}{close}{pad}")
        } else {
            format!("{open}{body}{close}, {form}.{pad}")
        }
    }

    #[test]
    fn generated_spellings_normalise_to_the_core() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5000 {
            let core = rng.pick(&CORES);
            let spelled = garble(&mut rng, core);
            let key = n(&spelled);
            assert_eq!(key, n(core), "{spelled:?}");
            // The key is a fixed point and has no leading, trailing or double spaces.
            assert_eq!(n(&key), key, "{spelled:?}");
            assert_eq!(key.trim(), key);
            assert!(!key.contains("  "), "{key:?}");
            assert!(!key.contains('ё'));
        }
    }

    #[test]
    fn generated_keys_are_idempotent_on_arbitrary_text() {
        let alphabet: Vec<char> = "аеорсхукмтнвёЁAEOPCXYKMTHBabqz019 .,-«»\"'()&!\t"
            .chars()
            .collect();
        let mut rng = Rng(42);
        for _ in 0..5000 {
            let len = (rng.next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let key = n(&s);
            assert_eq!(n(&key), key, "{s:?}");
            assert_eq!(n(&s.to_uppercase()), key, "{s:?}");
            let p = person_key(&s);
            assert_eq!(person_key(&p), p, "{s:?}");
        }
    }

    #[test]
    fn search_text_joins_parts() {
        assert_eq!(
            search_text(&["ООО «Ёлка»", "", "  Пётр  Иванов ", "ivan@Example.ru"]),
            "ооо «елка» петр иванов ivan@example.ru"
        );
        assert_eq!(search_text(&[]), "");
        assert_eq!(search_text(&["", "  "]), "");
    }
}
