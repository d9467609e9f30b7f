//! The `array` directive: one submission, many tasks. Its value is read
//! here once (`1-100`, `1-100:2`, `1,3,5-9`, each with an optional `%10`
//! throttle); each scheduler's file writes it in its own syntax with the
//! helpers below, and names the variable that holds the task index
//! (`Traits::array_index`), which the generated script exports as
//! [`INDEX_VAR`] on every scheduler.

use crate::error::{Error, Result};
use crate::script::translate::Joint;

/// The task index of an array job, under one name on every scheduler.
pub const INDEX_VAR: &str = "TROIKA_ARRAY_INDEX";

/// The largest task index troika accepts (schedulers cap theirs lower:
/// Slurm's `MaxArraySize`, Grid Engine's `max_aj_tasks`).
const MAX_INDEX: u64 = 10_000_000;

/// One range of indices: `start-end:step` (`start` alone is one index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    pub step: u64,
}

impl Range {
    /// `1-9:2`, `1-9`, `4`.
    fn text(&self) -> String {
        match (self.start == self.end, self.step) {
            (true, _) => self.start.to_string(),
            (false, 1) => format!("{}-{}", self.start, self.end),
            (false, s) => format!("{}-{}:{s}", self.start, self.end),
        }
    }
}

/// An array request: its ranges, and how many tasks may run at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub ranges: Vec<Range>,
    pub limit: Option<u64>,
}

fn invalid(v: &[u8], why: &str) -> Error {
    Error::Script(format!(
        "invalid array {}: {why} (expected ranges such as 1-100, 1-100:2 or 1,3,5-9, with an optional %N for at most N tasks at once)",
        crate::util::quote_bytes(v)
    ))
}

impl Spec {
    /// Reads `1-100:2%10`, `1,3,5-9`, `7`.
    pub fn parse(v: &[u8]) -> Result<Spec> {
        let text = std::str::from_utf8(v).map_err(|_| invalid(v, "not text"))?.trim();
        let (ranges, limit) = match text.split_once('%') {
            Some((r, l)) => {
                let l: u64 = l
                    .trim()
                    .parse()
                    .map_err(|_| invalid(v, "the limit after % is not a number"))?;
                if l == 0 {
                    return Err(invalid(v, "a limit of 0 tasks at once runs nothing"));
                }
                (r, Some(l))
            }
            None => (text, None),
        };
        let number = |s: &str| -> Result<u64> {
            let n: u64 = s
                .trim()
                .parse()
                .map_err(|_| invalid(v, &format!("{} is not an index", crate::util::quote(s.trim()))))?;
            if n > MAX_INDEX {
                return Err(invalid(v, &format!("{n} is beyond the largest index, {MAX_INDEX}")));
            }
            Ok(n)
        };
        let mut out = Vec::new();
        for item in ranges.split(',') {
            if item.trim().is_empty() {
                return Err(invalid(v, "an empty range"));
            }
            let (span, step) = match item.split_once(':') {
                Some((s, st)) => (s, number(st)?),
                None => (item, 1),
            };
            if step == 0 {
                return Err(invalid(v, "a step of 0"));
            }
            let (start, end) = match span.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(span)?;
                    (n, n)
                }
            };
            if end < start {
                return Err(invalid(v, &format!("the range {} ends before it starts", item.trim())));
            }
            out.push(Range { start, end, step });
        }
        Ok(Spec { ranges: out, limit })
    }

    /// `%N` for a limit of N tasks at once (Slurm, PBS, Torque, LSF), or
    /// nothing.
    pub fn limit_suffix(&self) -> String {
        self.limit.map(|l| format!("%{l}")).unwrap_or_default()
    }

    /// The ranges as Slurm and LSF write them: `1-9:2,12`.
    pub fn ranges_text(&self) -> String {
        self.ranges.iter().map(Range::text).collect::<Vec<_>>().join(",")
    }

    /// The one range of a scheduler that takes a single `start-end[:step]`
    /// (Grid Engine, PBS); `who` names the scheduler in the error.
    pub fn single_range(&self, v: &[u8], who: &str) -> Result<Range> {
        match self.ranges[..] {
            [r] => Ok(r),
            _ => Err(invalid(
                v,
                &format!("{who} takes one range start-end[:step], not a list"),
            )),
        }
    }

    /// The indices one by one, with ranges of consecutive indices: for a
    /// scheduler without steps (Torque), `1-9:4` is `1,5,9`.
    pub fn without_steps(&self) -> String {
        let mut parts = Vec::new();
        for r in &self.ranges {
            if r.step == 1 || r.start == r.end {
                parts.push(r.text());
            } else {
                parts.extend((r.start..=r.end).step_by(r.step as usize).map(|i| i.to_string()));
            }
        }
        parts.join(",")
    }
}

/// The option `flag` (`-o `, `--output=`) with the value of an output or
/// error file directive, and `.` and the scheduler's placeholder of the
/// task index (`%a`, `$TASK_ID`) after it when the job is an array: each
/// task writes its own file.
pub fn per_task_option(j: &Joint, flag: &str, placeholder: &str) -> Result<Vec<Vec<u8>>> {
    let mut arg = [flag.as_bytes(), j.value].concat();
    if j.get("array").is_some() {
        arg.push(b'.');
        arg.extend_from_slice(placeholder.as_bytes());
    }
    Ok(vec![arg])
}

/// The line that exports the task index of an array job to the job's
/// shell under [`INDEX_VAR`], from the scheduler's own variable.
pub fn index_prologue(native_var: &str) -> Vec<u8> {
    format!("{INDEX_VAR}=${{{native_var}-}}; export {INDEX_VAR}\n").into_bytes()
}

/// The line that sets another scheduler's variable of the task index
/// (`PBS_ARRAY_INDEX`) from [`INDEX_VAR`], for a script written for it.
pub fn alias_prologue(var: &str) -> Vec<u8> {
    format!("{var}=${INDEX_VAR}; export {var}\n").into_bytes()
}

/// The task of an array job an answer line is about: `123_4` is task 4 of
/// job 123 (Slurm), `123[4]` (LSF, PBS: `123[4].server`); the parent's id
/// and the index, or `None` for a job that is no task.
pub fn split_task(id: &str) -> Option<(String, String)> {
    if let Some((parent, index)) = id.split_once('_') {
        let index = index.trim_start_matches('[').trim_end_matches(']');
        return Some((parent.to_string(), index.to_string()));
    }
    let open = id.find('[')?;
    let close = open + id[open..].find(']')?;
    let index = &id[open + 1..close];
    if index.is_empty() {
        return None;
    }
    Some((format!("{}[]{}", &id[..open], &id[close + 1..]), index.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_steps_lists_and_limits() {
        let s = Spec::parse(b"1-100:2%10").unwrap();
        assert_eq!(
            s.ranges,
            vec![Range {
                start: 1,
                end: 100,
                step: 2
            }]
        );
        assert_eq!(s.limit, Some(10));
        let s = Spec::parse(b" 1,3, 5-9 ").unwrap();
        assert_eq!(s.ranges_text(), "1,3,5-9");
        assert_eq!(s.limit, None);
        assert_eq!(Spec::parse(b"0-8:4").unwrap().without_steps(), "0,4,8");
        assert_eq!(Spec::parse(b"1-5,7-9:2").unwrap().without_steps(), "1-5,7,9");
        for bad in [
            "",
            "1-",
            "5-1",
            "1-10:0",
            "1-10%0",
            "a-b",
            "1,,2",
            "1-99999999999",
            "1%x",
        ]
        .map(str::as_bytes)
        {
            let e = Spec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid array"), "{bad:?}: {e}");
        }
        let e = Spec::parse(b"1,2")
            .unwrap()
            .single_range(b"1,2", "Grid Engine")
            .unwrap_err();
        assert!(e.to_string().contains("Grid Engine takes one range"), "{e}");
    }

    #[test]
    fn tasks_are_told_from_jobs() {
        assert_eq!(split_task("123_4"), Some(("123".into(), "4".into())));
        assert_eq!(split_task("123_[3-5%2]"), Some(("123".into(), "3-5%2".into())));
        assert_eq!(split_task("77[2]"), Some(("77[]".into(), "2".into())));
        assert_eq!(split_task("77[2].pbs1"), Some(("77[].pbs1".into(), "2".into())));
        assert_eq!(split_task("77[].pbs1"), None);
        assert_eq!(split_task("123"), None);
        assert_eq!(
            index_prologue("SGE_TASK_ID"),
            b"TROIKA_ARRAY_INDEX=${SGE_TASK_ID-}; export TROIKA_ARRAY_INDEX\n"
        );
    }
}
