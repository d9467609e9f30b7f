//! The `depends_on` directive: start a job only after others. Its value is
//! read here once: groups `[TYPE:]JOB[:JOB...]` separated by commas or
//! blanks, TYPE one of `afterok` (the default), `afterany`, `afternotok`,
//! each JOB a job id or the path of a script troika submitted (its job id is
//! read from `<script>.jid`). Each scheduler's file writes the result in its
//! own syntax.

use std::path::Path;

use crate::error::{Error, Result};
use crate::util::quote;

/// When the dependent job may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// After the jobs ended with exit code 0.
    Ok,
    /// After the jobs ended, however.
    Any,
    /// After the jobs ended with a failure.
    NotOk,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Ok, Kind::Any, Kind::NotOk];

    /// The word in `depends_on`, which is Slurm's, PBS's and Flux's too.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Ok => "afterok",
            Kind::Any => "afterany",
            Kind::NotOk => "afternotok",
        }
    }
}

/// One group: a kind and the job ids it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub kind: Kind,
    pub jobs: Vec<String>,
}

fn invalid(v: &[u8], why: &str) -> Error {
    Error::Script(format!(
        "invalid depends_on {}: {why} (expected [afterok|afterany|afternotok:]JOB[:JOB...], JOB a job id or a submitted script, groups separated by commas)",
        crate::util::quote_bytes(v)
    ))
}

/// The job id of a dependency: a script troika submitted has it in its
/// `.jid` file; anything else is taken as a job id.
fn job_id(v: &[u8], item: &str) -> Result<String> {
    let path = Path::new(item);
    if !path.is_file() {
        if item.contains('/') {
            return Err(invalid(v, &format!("there is no script {}", quote(item))));
        }
        return Ok(item.to_string());
    }
    let jid_file = crate::util::with_suffix(path, ".jid");
    let text = std::fs::read_to_string(&jid_file).map_err(|e| {
        invalid(
            v,
            &format!(
                "script {} has no job id in {} ({}): submit it first, or give its job id",
                quote(item),
                quote(&jid_file.display().to_string()),
                crate::error::io_reason(&e)
            ),
        )
    })?;
    let jid = text.trim();
    if jid.is_empty() || jid.contains(char::is_whitespace) {
        return Err(invalid(
            v,
            &format!("{} holds no job id", quote(&jid_file.display().to_string())),
        ));
    }
    Ok(jid.to_string())
}

/// Reads a `depends_on` value.
pub fn parse(v: &[u8]) -> Result<Vec<Group>> {
    let text = std::str::from_utf8(v).map_err(|_| invalid(v, "not text"))?;
    let mut groups: Vec<Group> = Vec::new();
    for word in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let mut parts = word.split(':').peekable();
        let kind = match parts
            .peek()
            .and_then(|p| Kind::ALL.into_iter().find(|k| k.word() == *p))
        {
            Some(k) => {
                parts.next();
                k
            }
            None => Kind::Ok,
        };
        let mut jobs = Vec::new();
        for item in parts {
            if item.is_empty() {
                return Err(invalid(v, &format!("an empty job in {}", quote(word))));
            }
            jobs.push(job_id(v, item)?);
        }
        if jobs.is_empty() {
            return Err(invalid(v, &format!("no job after {}", quote(word))));
        }
        match groups.iter_mut().find(|g| g.kind == kind) {
            Some(g) => g.jobs.extend(jobs),
            None => groups.push(Group { kind, jobs }),
        }
    }
    if groups.is_empty() {
        return Err(invalid(v, "no job"));
    }
    Ok(groups)
}

/// `afterok:1:2,afterany:3`: Slurm's `--dependency`, PBS's and Torque's
/// `-W depend=`.
pub fn colon_lists(groups: &[Group]) -> String {
    groups
        .iter()
        .map(|g| format!("{}:{}", g.kind.word(), g.jobs.join(":")))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kinds_ids_and_scripts() {
        let g = parse(b"12:13 afterany:14,afterok:15").unwrap();
        assert_eq!(
            g,
            vec![
                Group {
                    kind: Kind::Ok,
                    jobs: vec!["12".into(), "13".into(), "15".into()]
                },
                Group {
                    kind: Kind::Any,
                    jobs: vec!["14".into()]
                }
            ]
        );
        assert_eq!(colon_lists(&g), "afterok:12:13:15,afterany:14");

        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("first.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let value = format!("afternotok:{}", script.display());
        let e = parse(value.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("has no job id") && e.contains("submit it first"), "{e}");
        std::fs::write(dir.path().join("first.sh.jid"), "4242\n").unwrap();
        assert_eq!(
            parse(value.as_bytes()).unwrap(),
            vec![Group {
                kind: Kind::NotOk,
                jobs: vec!["4242".into()]
            }]
        );
        for bad in ["", "afterok", "afterok:", "1::2", "afterok:/no/such/script.sh"].map(str::as_bytes) {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid depends_on"), "{bad:?}: {e}");
        }
    }
}
