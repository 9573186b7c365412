//! Russian and English texts through Fluent (with its CLDR plural rules). Message ids are
//! the API's error codes, `problem-<code>` for problem titles and `field-<name>` for
//! field labels.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::langid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first of ru/en in an Accept-Language header, by quality; Russian otherwise.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ru") => Lang::Ru,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ru, |(_, l)| l)
    }
}

pub struct I18n {
    ru: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

fn bundle(lang: unic_langid::LanguageIdentifier, sources: &[&str]) -> FluentBundle<FluentResource> {
    let mut b = FluentBundle::new_concurrent(vec![lang]);
    // Unicode isolation marks would end up inside JSON and plain-text messages.
    b.set_use_isolating(false);
    for src in sources {
        let res = FluentResource::try_new(src.to_string()).unwrap_or_else(|(res, errs)| {
            tracing::error!(?errs, "message file has errors");
            res
        });
        if let Err(errs) = b.add_resource(res) {
            tracing::error!(?errs, "duplicate messages");
        }
    }
    b
}

impl I18n {
    pub fn get() -> &'static I18n {
        static I18N: OnceLock<I18n> = OnceLock::new();
        I18N.get_or_init(|| I18n {
            ru: bundle(
                langid!("ru"),
                &[
                    include_str!("../i18n/ru.ftl"),
                    include_str!("../i18n/fields-ru.ftl"),
                    include_str!("../i18n/ui-ru.ftl"),
                    include_str!("../i18n/notebook-ru.ftl"),
                    include_str!("../i18n/automation-ru.ftl"),
                    include_str!("../i18n/transfer-ru.ftl"),
                    include_str!("../i18n/reports-ru.ftl"),
                    include_str!("../i18n/abc-ru.ftl"),
                    include_str!("../i18n/importpage-ru.ftl"),
                    include_str!("../i18n/importjobs-ru.ftl"),
                    include_str!("../i18n/dashboard-ru.ftl"),
                    include_str!("../i18n/sources-ru.ftl"),
                ],
            ),
            en: bundle(
                langid!("en"),
                &[
                    include_str!("../i18n/en.ftl"),
                    include_str!("../i18n/fields-en.ftl"),
                    include_str!("../i18n/ui-en.ftl"),
                    include_str!("../i18n/notebook-en.ftl"),
                    include_str!("../i18n/automation-en.ftl"),
                    include_str!("../i18n/transfer-en.ftl"),
                    include_str!("../i18n/reports-en.ftl"),
                    include_str!("../i18n/abc-en.ftl"),
                    include_str!("../i18n/importpage-en.ftl"),
                    include_str!("../i18n/importjobs-en.ftl"),
                    include_str!("../i18n/dashboard-en.ftl"),
                    include_str!("../i18n/sources-en.ftl"),
                ],
            ),
        })
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::Ru => &self.ru,
            Lang::En => &self.en,
        }
    }

    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundle(lang).has_message(id)
    }

    /// The text of a message; the id itself when it is missing (never panics).
    pub fn text(&self, lang: Lang, id: &str, args: &[(&str, String)]) -> String {
        let b = self.bundle(lang);
        let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
            return id.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            // Numbers go in as numbers so that plural rules apply.
            match v.parse::<f64>() {
                Ok(n) if !v.is_empty() && !v.starts_with('+') => {
                    fargs.set(*k, FluentValue::from(n))
                }
                _ => fargs.set(*k, FluentValue::from(v.clone())),
            }
        }
        let mut errors = Vec::new();
        b.format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }

    pub fn field_label(&self, lang: Lang, field: &str) -> String {
        let id = format!("field-{field}");
        if self.has(lang, &id) {
            self.text(lang, &id, &[])
        } else {
            field.to_string()
        }
    }
}

pub fn t(lang: Lang, id: &str) -> String {
    I18n::get().text(lang, id, &[])
}

pub fn t_args(lang: Lang, id: &str, args: &[(&str, String)]) -> String {
    I18n::get().text(lang, id, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_best_quality() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ru;q=0.8"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("ru-RU,ru;q=0.9,en;q=0.5"),
            Lang::Ru
        );
        assert_eq!(Lang::from_accept_language("de-DE"), Lang::Ru);
        assert_eq!(Lang::from_accept_language("de;q=1, en;q=0.1"), Lang::En);
    }

    #[test]
    fn every_error_message_exists_in_both_languages() {
        let i = I18n::get();
        for id in [
            "inn_checksum",
            "stage_skip_forbidden",
            "problem-not_found",
            "field-inn",
            "filter_unknown_field",
        ] {
            assert!(i.has(Lang::Ru, id) && i.has(Lang::En, id), "{id}");
        }
        let msg = i.text(Lang::Ru, "text_too_long", &[("max", "255".into())]);
        assert_eq!(msg, "Слишком длинный текст (не более 255 символов)");
    }
}
