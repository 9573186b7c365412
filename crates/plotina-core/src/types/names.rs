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
/// `ооо` and Latin `ooo` are listed).
const LEGAL_FORM_WORDS: [&str; 13] = [
    "ооо", "оао", "зао", "пао", "ао", "ип", "нко", "ooo", "llc", "ltd", "inc", "jsc", "gmbh",
];

/// Spelled-out legal forms, matched as whole-word sequences (longest first).
const LEGAL_FORM_PHRASES: [&[&str]; 10] = [
    &["общество", "с", "ограниченной", "ответственностью"],
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
    let all_lookalikes = word.chars().all(|c| cyrillic_twin(c).is_some());
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
    fn search_text_joins_parts() {
        assert_eq!(
            search_text(&["ООО «Ёлка»", "", "  Пётр  Иванов ", "ivan@Example.ru"]),
            "ооо «елка» петр иванов ivan@example.ru"
        );
        assert_eq!(search_text(&[]), "");
        assert_eq!(search_text(&["", "  "]), "");
    }
}
