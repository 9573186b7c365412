//! Stage rules of a pipeline: which moves are allowed and what they require.

use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn parse(s: &str) -> StageKind {
        match s {
            "won" => StageKind::Won,
            "lost" => StageKind::Lost,
            _ => StageKind::Open,
        }
    }
    pub fn is_closed(self) -> bool {
        self != StageKind::Open
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageInfo {
    pub id: i64,
    pub pipeline_id: i64,
    pub name: String,
    pub kind: StageKind,
    pub position: i64,
    pub probability: i64,
    pub rotten_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRules {
    pub id: i64,
    pub forbid_skip: bool,
    pub lost_reasons: Vec<String>,
    /// Stages of the pipeline ordered by position.
    pub stages: Vec<StageInfo>,
}

impl PipelineRules {
    pub fn stage(&self, id: i64) -> Option<&StageInfo> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The stage a new deal starts in: the first open one.
    pub fn first_stage(&self) -> Option<&StageInfo> {
        self.stages
            .iter()
            .find(|s| s.kind == StageKind::Open)
            .or(self.stages.first())
    }

    /// Checks a move from `from` (None for a new deal) to `to`.
    ///
    /// With `forbid_skip`, a deal may move forward one open stage at a time and reach
    /// "won" only from the last open stage; moving back and losing are always allowed
    /// (a deal can be lost at any point, and a lost reason is then required).
    pub fn check_move(
        &self,
        from: Option<i64>,
        to: i64,
        lost_reason: Option<&str>,
    ) -> Result<&StageInfo, FieldError> {
        let target = self
            .stage(to)
            .ok_or_else(|| FieldError::new("stage_id", "stage_not_in_pipeline"))?;
        if target.kind == StageKind::Lost {
            let reason = lost_reason.map(str::trim).filter(|r| !r.is_empty());
            match reason {
                None => return Err(FieldError::new("lost_reason", "lost_reason_required")),
                Some(r)
                    if !self.lost_reasons.is_empty()
                        && !self.lost_reasons.iter().any(|x| x == r) =>
                {
                    return Err(FieldError::new("lost_reason", "lost_reason_unknown")
                        .with("options", self.lost_reasons.join(", ")))
                }
                _ => {}
            }
        }
        if !self.forbid_skip || from == Some(to) {
            return Ok(target);
        }
        let open: Vec<&StageInfo> = self
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .collect();
        let index_of = |id: i64| open.iter().position(|s| s.id == id);
        let current = match from {
            None => None,
            Some(id) => match self.stage(id) {
                // A closed deal being reopened may go to any stage.
                Some(s) if s.kind.is_closed() => return Ok(target),
                Some(_) => index_of(id),
                None => None,
            },
        };
        let allowed = match (target.kind, current) {
            (StageKind::Lost, _) => true,
            (StageKind::Open, None) => index_of(to) == Some(0),
            (StageKind::Open, Some(cur)) => index_of(to).is_some_and(|t| t <= cur + 1),
            (StageKind::Won, None) => open.is_empty(),
            (StageKind::Won, Some(cur)) => cur + 1 == open.len(),
        };
        if allowed {
            Ok(target)
        } else {
            let next = current
                .map_or(Some(0), |c| Some(c + 1))
                .and_then(|i| open.get(i));
            Err(FieldError::new("stage_id", "stage_skip_forbidden")
                .with("stage", &target.name)
                .with("next", next.map_or(String::new(), |s| s.name.clone())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(forbid_skip: bool) -> PipelineRules {
        let st = |id, name: &str, kind, position| StageInfo {
            id,
            pipeline_id: 1,
            name: name.into(),
            kind,
            position,
            probability: 10,
            rotten_days: None,
        };
        PipelineRules {
            id: 1,
            forbid_skip,
            lost_reasons: vec!["Дорого".into()],
            stages: vec![
                st(1, "Новая", StageKind::Open, 0),
                st(2, "КП", StageKind::Open, 1),
                st(3, "Договор", StageKind::Open, 2),
                st(4, "Успех", StageKind::Won, 3),
                st(5, "Провал", StageKind::Lost, 4),
            ],
        }
    }

    #[test]
    fn forbidden_skip_names_the_next_stage() {
        let r = rules(true);
        let e = r.check_move(Some(1), 3, None).unwrap_err();
        assert_eq!(e.code, "stage_skip_forbidden");
        assert!(e.args.contains(&("next", "КП".to_string())));
        assert!(r.check_move(Some(1), 2, None).is_ok());
        assert!(
            r.check_move(Some(3), 1, None).is_ok(),
            "moving back is allowed"
        );
        assert!(
            r.check_move(Some(2), 4, None).is_err(),
            "won only from the last open stage"
        );
        assert!(r.check_move(Some(3), 4, None).is_ok());
        assert!(
            r.check_move(None, 2, None).is_err(),
            "a new deal starts at the first stage"
        );
    }

    #[test]
    fn skipping_is_fine_when_allowed() {
        assert!(rules(false).check_move(Some(1), 4, None).is_ok());
    }

    #[test]
    fn lost_needs_a_known_reason() {
        let r = rules(false);
        assert_eq!(
            r.check_move(Some(1), 5, None).unwrap_err().code,
            "lost_reason_required"
        );
        assert_eq!(
            r.check_move(Some(1), 5, Some(" ")).unwrap_err().code,
            "lost_reason_required"
        );
        assert_eq!(
            r.check_move(Some(1), 5, Some("Марс")).unwrap_err().code,
            "lost_reason_unknown"
        );
        assert!(r.check_move(Some(1), 5, Some("Дорого")).is_ok());
        assert!(
            rules(true).check_move(Some(1), 5, Some("Дорого")).is_ok(),
            "lose at any point"
        );
    }

    #[test]
    fn unknown_stage_is_refused() {
        assert_eq!(
            rules(false).check_move(Some(1), 99, None).unwrap_err().code,
            "stage_not_in_pipeline"
        );
    }
}
